"""LPIPS (style.lpips): properties, a hand computation, the converted weights, Hub and fallback."""

from __future__ import annotations

import functools

import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import save

from style import lpips as L
from tests.gan.sg2_tiny import one_thread

_one_thread = pytest.fixture(autouse=True)(one_thread)


@functools.cache
def random_lpips(seed: int = 0) -> L.LPIPS:
    """A random LPIPS (VGG16 init is the slow part, so each seed is built once)."""
    torch.manual_seed(seed)
    model = L.LPIPS()
    with torch.no_grad():
        for k in range(5):
            getattr(model, f"lin{k}").weight.uniform_(0, 1)
    return model.eval().requires_grad_(False)


def images(seed: int, n: int = 2, size: int = 32) -> torch.Tensor:
    return torch.rand(n, 3, size, size, generator=torch.Generator().manual_seed(seed))


def hand_lpips(model: L.LPIPS, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Zhang et al.'s formula written out: ImageNet-normalise, VGG16 taps, unit-normalise,
    weight the squared difference per channel, average over space, sum over layers."""
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)

    def taps(a):
        out, h = [], (a - mean) / std
        for i, layer in enumerate(model.backbone.features):
            if isinstance(layer, torch.nn.Conv2d):
                h = F.conv2d(h, layer.weight, layer.bias, padding=1)
            elif isinstance(layer, torch.nn.ReLU):
                h = h.clamp_min(0)
            else:
                h = F.max_pool2d(h, 2)
            if i in (3, 8, 15, 22, 29):
                out.append(h / (torch.linalg.vector_norm(h, dim=1, keepdim=True) + 1e-10))
        return out

    total = torch.zeros(x.shape[0])
    for k, (a, b) in enumerate(zip(taps(x), taps(y), strict=True)):
        w = getattr(model, f"lin{k}").weight.flatten()
        total += torch.einsum("nchw,c->nhw", (a - b) ** 2, w).mean(dim=(1, 2))
    return total


def test_zero_for_identical_images_and_symmetric():
    model, x, y = random_lpips(), images(1), images(2)
    assert torch.equal(model(x, x), torch.zeros(2))
    torch.testing.assert_close(model(x, y), model(y, x))
    assert (model(x, y) > 0).all()


def test_matches_a_hand_computation_on_a_random_backbone():
    model, x, y = random_lpips(), images(4), images(5)
    torch.testing.assert_close(model(x, y), hand_lpips(model, x, y), rtol=1e-4, atol=1e-6)
    fx = model.features(x)
    assert [f.shape[1] for f in fx] == list(L.LPIPS_CHANNELS)
    torch.testing.assert_close(model.distance(fx, model.features(y)), model(x, y))


def test_converted_linear_weights_are_non_negative_and_load():
    lin = L.load_lin_weights()
    assert sorted(lin) == [f"lin{k}.weight" for k in range(5)]
    for k, c in enumerate(L.LPIPS_CHANNELS):
        assert lin[f"lin{k}.weight"].shape == (1, c, 1, 1)
        assert (lin[f"lin{k}.weight"] >= 0).all() and lin[f"lin{k}.weight"].sum() > 0
    vgg = {k: v for k, v in L.VGG16Features().state_dict().items()}
    model = L.build_lpips(vgg, lin)
    torch.testing.assert_close(model.lin4.weight, lin["lin4.weight"])


def fake_vgg16_safetensors() -> bytes:
    """Random VGG16 `features.*` tensors with timm's names, plus a classifier tensor."""
    tensors = dict(L.VGG16Features().state_dict())
    tensors["head.fc.weight"] = torch.zeros(2, 2)
    return save(tensors)


def test_lpips_from_the_hub(hub, monkeypatch):
    losses = L.PerceptualLosses("cpu")
    ref = L.vgg16_ref()
    hub.add(ref.repo_id, "model.safetensors", fake_vgg16_safetensors(), revision=ref.revision)
    loss = losses.load()
    assert loss.is_lpips and loss.kind == L.LPIPS_VGG16 and "LPIPS" in loss.label
    x = images(6)
    assert torch.equal(loss(x, x), torch.zeros(2))
    assert losses.load() is loss


def test_offline_falls_back_to_efficientnet_and_says_so(offline_hub):
    losses = L.PerceptualLosses("cpu")
    loss = losses.load()
    assert not loss.is_lpips and loss.kind == L.EFFICIENTNET
    assert "fallback" in loss.label and "not LPIPS" in loss.label
    x, y = images(7, size=64), images(8, size=64)
    assert torch.equal(loss(x, x), torch.zeros(2))
    torch.testing.assert_close(loss(x, y), loss(y, x))
    assert (loss(x, y) > 0).all()
    assert losses.load(prefer=L.EFFICIENTNET) is loss


def test_unknown_choice_is_refused():
    with pytest.raises(ValueError, match="unknown perceptual loss"):
        L.load_perceptual_loss("cpu", prefer="alexnet")
    with pytest.raises(ValueError, match="unknown perceptual loss"):
        L.PerceptualLosses("cpu").load(prefer="alexnet")


def test_corrupt_vgg16_falls_back(hub):
    ref = L.vgg16_ref()
    hub.add(ref.repo_id, "model.safetensors", b"junk" * 10, revision=ref.revision)
    assert L.load_perceptual_loss("cpu").kind == L.EFFICIENTNET


def test_unit_normalize():
    f = torch.tensor([[[[3.0]], [[4.0]]]])
    torch.testing.assert_close(L.unit_normalize(f).flatten(), torch.tensor([0.6, 0.8]))
