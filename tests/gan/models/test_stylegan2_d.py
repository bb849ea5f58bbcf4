"""StyleGAN2 discriminator on tiny random configs."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from gan.models.stylegan2_d import (
    StyleGAN2Discriminator,
    StyleGAN2DiscriminatorConfig,
    minibatch_stddev,
)


def tiny_d(seed: int = 0, **kw) -> StyleGAN2Discriminator:
    base = dict(img_resolution=16, channel_base=128, channel_max=8, mapping_layers=2)
    torch.manual_seed(seed)
    D = StyleGAN2Discriminator(StyleGAN2DiscriminatorConfig(**{**base, **kw})).eval()
    with torch.no_grad():
        for name, p in D.named_parameters():
            if name.endswith("bias"):
                p.add_(torch.randn(p.shape) * 0.3)
    return D


def images(n: int = 4, seed: int = 1, res: int = 16) -> torch.Tensor:
    return torch.randn(n, 3, res, res, generator=torch.Generator().manual_seed(seed)).clamp(-1, 1)


def test_shapes_determinism_and_keys():
    D = tiny_d()
    logits = D(images())
    assert logits.shape == (4, 1)
    assert torch.equal(logits, D(images()))
    keys = set(D.state_dict())
    for key in [
        "b16.fromrgb.weight",
        "b16.resample_filter",
        "b16.conv0.weight",
        "b16.conv1.resample_filter",
        "b16.skip.weight",
        "b8.conv1.bias",
        "b4.conv.weight",
        "b4.fc.weight",
        "b4.out.bias",
    ]:
        assert key in keys
    assert "b8.fromrgb.weight" not in keys and not any(k.startswith("mapping.") for k in keys)


def test_bad_image_shape():
    with pytest.raises(ValueError, match="shape"):
        tiny_d()(images(res=8))


@pytest.mark.parametrize("architecture", ["orig", "skip", "resnet"])
def test_architectures(architecture):
    D = tiny_d(architecture=architecture, conv_clamp=0.5)
    keys = set(D.state_dict())
    assert ("b8.fromrgb.weight" in keys) == (architecture == "skip")
    assert ("b4.fromrgb.weight" in keys) == (architecture == "skip")
    assert ("b8.skip.weight" in keys) == (architecture == "resnet")
    assert torch.isfinite(D(images())).all()


def test_conditional_projection():
    D = tiny_d(c_dim=3)
    assert "mapping.embed.weight" in D.state_dict() and "mapping.fc1.weight" in D.state_dict()
    assert D.b4.out.weight.shape[0] == 8  # cmap_dim defaults to the 4 px channels
    x = images()
    c0 = F.one_hot(torch.zeros(4, dtype=torch.long), 3).float()
    c1 = F.one_hot(torch.ones(4, dtype=torch.long), 3).float()
    assert not torch.allclose(D(x, c0), D(x, c1))
    with pytest.raises(ValueError, match="conditional"):
        D(x)


def test_minibatch_stddev_hand_computation():
    torch.manual_seed(0)
    x = torch.randn(4, 2, 3, 3)
    y = minibatch_stddev(x, group_size=2, num_channels=1)
    assert y.shape == (4, 3, 3, 3) and torch.equal(y[:, :2], x)
    # Group size 2 on 4 samples: groups are samples {0, 2} and {1, 3}.
    for members in ([0, 2], [1, 3]):
        std = (x[members].var(dim=0, unbiased=False) + 1e-8).sqrt().mean()
        for i in members:
            assert torch.allclose(y[i, 2], std.expand(3, 3), atol=1e-6)


def test_minibatch_stddev_group_sizes():
    x = torch.randn(3, 4, 2, 2)
    whole = minibatch_stddev(x, None, 1)
    assert torch.allclose(whole, minibatch_stddev(x, 8, 1))  # group capped at the batch size
    assert minibatch_stddev(torch.randn(4, 4, 2, 2), 4, 2).shape == (4, 6, 2, 2)
    with pytest.raises(ValueError, match="divisible"):
        minibatch_stddev(x, 2, 1)


def test_mbstd_couples_only_samples_in_the_same_group():
    D = tiny_d(mbstd_group_size=2)
    x = images()
    base = D(x)
    x2 = x.clone()
    x2[1] = -x2[1]
    moved = D(x2)
    assert torch.allclose(moved[0], base[0], atol=1e-6)
    assert torch.allclose(moved[2], base[2], atol=1e-6)
    assert not torch.allclose(moved[3], base[3])


def test_no_mbstd_layer():
    D = tiny_d(mbstd_num_channels=0)
    assert D.b4.mbstd is None and D.b4.conv.weight.shape[1] == 8
    assert D(images(3)).shape == (3, 1)


def test_config_round_trip_and_blocks():
    cfg = StyleGAN2DiscriminatorConfig(img_resolution=32, c_dim=2, conv_clamp=256)
    d = cfg.to_dict()
    assert d["model_type"] == "stylegan2-discriminator"
    assert StyleGAN2DiscriminatorConfig.from_dict(d) == cfg
    assert len(tiny_d().blocks()) == 3
