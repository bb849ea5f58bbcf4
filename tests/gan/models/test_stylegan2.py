"""StyleGAN2 generator and ops on tiny random configs."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from gan.models.stylegan2 import StyleGAN2Config, StyleGAN2Generator, mix_styles
from gan.models.stylegan2_ops import (
    FullyConnectedLayer,
    bias_act,
    modulated_conv2d,
    setup_filter,
    upfirdn2d,
    upsample2d,
)


def tiny_config(**kw) -> StyleGAN2Config:
    base = dict(
        z_dim=16, w_dim=16, img_resolution=16, mapping_layers=2, channel_base=128, channel_max=8
    )
    return StyleGAN2Config(**{**base, **kw})


def tiny_generator(seed: int = 0, **kw) -> StyleGAN2Generator:
    """A tiny G with non-zero biases, noise strengths and w_avg, so every path matters."""
    torch.manual_seed(seed)
    G = StyleGAN2Generator(tiny_config(**kw)).eval()
    with torch.no_grad():
        for name, p in G.named_parameters():
            if name.endswith("bias") or name.endswith("noise_strength"):
                p.add_(torch.randn(p.shape) * 0.3)
        G.mapping.w_avg.normal_()
    return G


def z_batch(n: int = 2, seed: int = 1) -> torch.Tensor:
    return torch.randn(n, 16, generator=torch.Generator().manual_seed(seed))


# ----------------------------------------------------------------------------- generator


def test_shapes_and_num_ws():
    G = tiny_generator()
    assert G.num_ws == 2 * int(math.log2(16)) - 2
    ws = G.mapping(z_batch(3))
    assert ws.shape == (3, G.num_ws, 16)
    assert G.synthesis(ws).shape == (3, 3, 16, 16)
    assert G(z_batch(3)).shape == (3, 3, 16, 16)


def test_state_dict_has_reference_keys():
    keys = set(tiny_generator().state_dict())
    for key in [
        "mapping.fc0.weight",
        "mapping.fc1.bias",
        "mapping.w_avg",
        "synthesis.b4.const",
        "synthesis.b4.resample_filter",
        "synthesis.b4.conv1.affine.weight",
        "synthesis.b4.conv1.noise_const",
        "synthesis.b4.conv1.noise_strength",
        "synthesis.b4.torgb.weight",
        "synthesis.b8.conv0.resample_filter",
        "synthesis.b16.torgb.affine.bias",
    ]:
        assert key in keys
    assert "synthesis.b4.conv0.weight" not in keys


def test_resolution_4_and_bad_resolution():
    G = tiny_generator(img_resolution=4)
    assert G.num_ws == 2
    assert G(z_batch()).shape == (2, 3, 4, 4)
    with pytest.raises(ValueError, match="power of two"):
        tiny_config(img_resolution=24)


def test_const_noise_is_deterministic_and_random_is_not():
    G = tiny_generator()
    z = z_batch()
    assert torch.equal(G(z, noise_mode="const"), G(z, noise_mode="const"))
    assert not torch.allclose(G(z, noise_mode="random"), G(z, noise_mode="random"))
    assert not torch.allclose(G(z, noise_mode="none"), G(z, noise_mode="const"))
    with pytest.raises(ValueError, match="noise_mode"):
        G(z, noise_mode="loud")


def test_noise_none_equals_zero_strength():
    G = tiny_generator()
    z = z_batch()
    img_none = G(z, noise_mode="none")
    with torch.no_grad():
        for name, p in G.named_parameters():
            if name.endswith("noise_strength"):
                p.zero_()
    assert torch.allclose(G(z, noise_mode="random"), img_none, atol=1e-6)


def test_psi_zero_gives_w_avg_image():
    G = tiny_generator()
    img = G(z_batch(2), truncation_psi=0.0)
    ws_avg = G.mapping.w_avg.reshape(1, 1, -1).repeat(2, G.num_ws, 1)
    assert torch.allclose(img, G.synthesis(ws_avg), atol=1e-6)


def test_truncation_cutoff_only_moves_first_layers():
    G = tiny_generator()
    z = z_batch()
    plain = G.mapping(z)
    cut = G.mapping(z, truncation_psi=0.0, truncation_cutoff=3)
    assert torch.allclose(cut[:, :3], G.mapping.w_avg.expand(2, 3, -1))
    assert torch.equal(cut[:, 3:], plain[:, 3:])
    half = G.mapping(z, truncation_psi=0.5)
    assert torch.allclose(half, G.mapping.w_avg + 0.5 * (plain - G.mapping.w_avg), atol=1e-6)


def test_mixing_with_same_ws_gives_plain_image():
    G = tiny_generator()
    ws = G.mapping(z_batch())
    mixed = mix_styles(ws, ws.clone(), range(2, 5))
    assert torch.equal(G.synthesis(mixed), G.synthesis(ws))
    other = G.mapping(z_batch(seed=9))
    mixed = mix_styles(ws, other, [0, 1])
    assert torch.equal(mixed[:, :2], other[:, :2]) and torch.equal(mixed[:, 2:], ws[:, 2:])


def test_conditional_embedding_changes_output():
    G = tiny_generator(c_dim=3)
    assert "mapping.embed.weight" in G.state_dict()
    z = z_batch()
    c0 = F.one_hot(torch.tensor([0, 0]), 3).float()
    c1 = F.one_hot(torch.tensor([1, 1]), 3).float()
    assert not torch.allclose(G(z, c0), G(z, c1))
    assert torch.equal(G(z, c0), G(z, c0))
    with pytest.raises(ValueError, match="conditional"):
        G(z)


def test_w_avg_tracked_in_training_mode_only():
    G = tiny_generator()
    z = z_batch(4)
    before = G.mapping.w_avg.clone()
    G.mapping(z)
    assert torch.equal(G.mapping.w_avg, before)
    G.train()
    w = G.mapping(z)[:, 0]
    expected = before + (w.detach().mean(0) - before) * (1 - G.config.w_avg_beta)
    assert torch.allclose(G.mapping.w_avg, expected, atol=1e-6)


def test_fused_and_unfused_modconv_agree():
    G = tiny_generator(architecture="resnet")
    ws = G.mapping(z_batch())
    a = G.synthesis(ws, fused_modconv=True)
    b = G.synthesis(ws, fused_modconv=False)
    assert torch.allclose(a, b, atol=1e-5)


@pytest.mark.parametrize("architecture", ["orig", "skip", "resnet"])
def test_architectures(architecture):
    G = tiny_generator(architecture=architecture, conv_clamp=0.5)
    keys = set(G.state_dict())
    assert ("synthesis.b8.torgb.weight" in keys) == (architecture == "skip")
    assert ("synthesis.b8.skip.weight" in keys) == (architecture == "resnet")
    assert "synthesis.b16.torgb.weight" in keys
    img = G(z_batch())
    assert img.shape == (2, 3, 16, 16) and torch.isfinite(img).all()


def test_conv_clamp_bounds_torgb_output():
    G = tiny_generator(architecture="orig", conv_clamp=0.05)
    assert G(z_batch()).abs().max() <= 0.05 + 1e-6


def test_config_round_trip():
    cfg = tiny_config(c_dim=2, conv_clamp=256, channels={8: 4})
    d = cfg.to_dict()
    assert d["model_type"] == "stylegan2-generator"
    assert StyleGAN2Config.from_dict(d) == cfg
    G = StyleGAN2Generator(cfg)
    assert G.synthesis.b8.conv1.weight.shape[0] == 4


def test_affine_layers_in_synthesis_order():
    G = tiny_generator()
    names = [name for name, _ in G.affine_layers()]
    first = ["b4.conv1", "b4.torgb", "b8.conv0", "b8.conv1", "b8.torgb"]
    assert names[:5] == [f"{n}.affine" for n in first]
    assert len(names) == len(G.affine_ws_index()) == 8
    assert G.affine_ws_index() == [0, 1, 1, 2, 3, 3, 4, 5]


# ----------------------------------------------------------------------------- ops


def test_setup_filter_is_normalised_outer_product():
    f = setup_filter([1, 3, 3, 1])
    assert f.shape == (4, 4)
    assert torch.allclose(
        f, torch.outer(torch.tensor([1, 3, 3, 1.0]), torch.tensor([1, 3, 3, 1.0])) / 64
    )


def test_upsample_with_box_filter_is_nearest_neighbour():
    x = torch.tensor([[1.0, 2.0], [3.0, 4.0]]).reshape(1, 1, 2, 2)
    y = upsample2d(x, setup_filter([1, 1]))
    expected = [[1, 1, 2, 2], [1, 1, 2, 2], [3, 3, 4, 4], [3, 3, 4, 4]]
    assert torch.equal(y[0, 0], torch.tensor(expected, dtype=torch.float32))


def test_upfirdn2d_is_a_true_convolution_unless_flipped():
    x = torch.tensor([1.0, 2.0, 3.0]).reshape(1, 1, 1, 3)
    f = torch.tensor([[1.0, 2.0]])
    assert upfirdn2d(x, f).flatten().tolist() == [4.0, 7.0]  # 1*2 + 2*1, 2*2 + 3*1
    assert upfirdn2d(x, f, flip_filter=True).flatten().tolist() == [5.0, 8.0]
    assert upfirdn2d(x, None, padding=[-1, 0, 0, 0]).flatten().tolist() == [2.0, 3.0]


def test_downsample_matches_hand_computation():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 4)).astype(np.float32)
    k = np.outer([1, 3, 3, 1], [1, 3, 3, 1]) / 64.0
    xp = np.pad(x, 1)  # reference padding for a 4-tap filter and factor 2
    hand = np.array(
        [[(k * xp[2 * i : 2 * i + 4, 2 * j : 2 * j + 4]).sum() for j in range(2)] for i in range(2)]
    )
    out = upfirdn2d(torch.from_numpy(x)[None, None], setup_filter([1, 3, 3, 1]), down=2, padding=1)
    assert np.allclose(out[0, 0].numpy(), hand, atol=1e-6)


def explicit_modconv(x, weight, styles, demodulate=True, **conv_kw):
    """One F.conv2d per sample with its own modulated (and demodulated) weight."""
    outs = []
    for i in range(x.shape[0]):
        w = weight * styles[i].reshape(1, -1, 1, 1)
        if demodulate:
            w = w / (w.square().sum(dim=[1, 2, 3], keepdim=True) + 1e-8).sqrt()
        outs.append(F.conv2d(x[i : i + 1], w, **conv_kw))
    return torch.cat(outs)


@pytest.mark.parametrize("fused", [True, False])
@pytest.mark.parametrize("demodulate", [True, False])
def test_modulated_conv_equals_per_sample_conv(fused, demodulate):
    torch.manual_seed(0)
    x, weight, styles = torch.randn(3, 4, 6, 6), torch.randn(5, 4, 3, 3), torch.randn(3, 4)
    ours = modulated_conv2d(
        x, weight, styles, padding=1, demodulate=demodulate, fused_modconv=fused
    )
    assert torch.allclose(
        ours, explicit_modconv(x, weight, styles, demodulate, padding=1), atol=1e-5
    )


@pytest.mark.parametrize("fused", [True, False])
def test_modulated_upconv_equals_upsample_then_conv(fused):
    torch.manual_seed(0)
    x, weight, styles = torch.randn(2, 4, 4, 4), torch.randn(5, 4, 3, 3), torch.randn(2, 4)
    f = setup_filter([1, 3, 3, 1])
    ours = modulated_conv2d(
        x,
        weight,
        styles,
        up=2,
        padding=1,
        resample_filter=f,
        flip_weight=False,
        fused_modconv=fused,
    )
    # Zero-insert, pad and FIR-filter (gain 4), then a true convolution without padding.
    up = upfirdn2d(x, f, up=2, padding=[3, 2, 3, 2], gain=4)
    assert torch.allclose(ours, explicit_modconv(up, weight.flip([2, 3]), styles), atol=1e-5)
    assert ours.shape == (2, 5, 8, 8)


def test_bias_act_lrelu_gain_and_clamp():
    x = torch.tensor([[-1.0, 2.0]]).reshape(1, 2, 1, 1)
    y = bias_act(x, torch.tensor([0.0, 1.0]), "lrelu")
    assert torch.allclose(y.flatten(), torch.tensor([-0.2, 3.0]) * math.sqrt(2))
    y = bias_act(x, None, "lrelu", clamp=1.0)
    assert y.flatten().tolist() == [pytest.approx(-0.2 * math.sqrt(2)), 1.0]


def test_fully_connected_equalised_lr():
    torch.manual_seed(0)
    fc = FullyConnectedLayer(4, 3, lr_multiplier=0.01, bias_init=1.0)
    x = torch.randn(2, 4)
    expected = x @ (fc.weight * 0.01 / 2).t() + fc.bias * 0.01
    assert torch.allclose(fc(x), expected, atol=1e-6)


def test_channels_last_and_no_grad_give_the_same_image():
    G = tiny_generator()
    z = z_batch(3)
    plain = G(z)
    with torch.no_grad():
        fast = G.to(memory_format=torch.channels_last)(z)
    assert torch.allclose(plain, fast, atol=1e-5)


@pytest.mark.parametrize(
    "changes",
    [
        {"img_resolution": 2**20},
        {"channel_max": 4096, "channel_base": 2**20},
        {"z_dim": 10**6},
        {"mapping_layers": 30_000_000},
        {"resample_filter": [1.0] * 100},
    ],
)
def test_a_config_json_cannot_ask_for_a_huge_model(changes):
    """The model is built before its weights load: a tiny config.json must not allocate GBs."""
    with pytest.raises(ValueError):
        StyleGAN2Config(**changes)
