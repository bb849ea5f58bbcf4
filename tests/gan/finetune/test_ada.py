"""ADA: NVIDIA's outputs on the same draws, the transforms' conventions, differentiability, RNG
state, p control."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from gan.finetune.ada import PIPELINES, AdaAugment, AdaptiveP
from tests.gan.finetune.sg2_tiny import one_thread

__all__ = ["one_thread"]  # autouse fixture


def images(n: int = 8, c: int = 3, seed: int = 0) -> torch.Tensor:
    return torch.rand(n, c, 16, 16, generator=torch.Generator().manual_seed(seed)) * 2 - 1


# NVIDIA's AugmentPipe (stylegan2-ada-pytorch, training/augment.py) on 6 images of 16 x 12 px,
# 'bgc' and 'geom' at p 0, 0.5, 1 and 1.3, each after torch.manual_seed(123); with each output
# the next 3 numbers of the global RNG (so the draws are the same ones, in the same order).
NVIDIA_ADA = Path(__file__).parent / "fixtures" / "ada_nvidia.safetensors"


@pytest.mark.parametrize("pipeline", ["bgc", "geom"])
@pytest.mark.parametrize("p", [0.0, 0.5, 1.0, 1.3])
def test_equals_nvidia_on_the_same_draws(pipeline, p):
    ref = load_file(NVIDIA_ADA)
    torch.manual_seed(123)
    out = AdaAugment(pipeline, p)(ref["x"].clone())  # the global RNG, as NVIDIA's
    assert (out - ref[f"{pipeline}_p{p}"]).abs().max() < 1e-4
    assert torch.equal(torch.rand(3), ref[f"{pipeline}_p{p}_after"])


@pytest.mark.parametrize("pipeline", sorted(PIPELINES))
def test_nearly_identity_at_p_zero_and_the_same_draws(pipeline):
    aug, other = AdaAugment(pipeline, p=0.0, seed=3), AdaAugment(pipeline, p=0.9, seed=3)
    x = images()
    assert torch.allclose(aug(x), x, atol=1e-5)  # sym6 up and down: a perfect reconstruction
    other(x)
    assert torch.equal(aug.generator.get_state(), other.generator.get_state())


def only(name: str, p: float = 1.0, seed: int = 0) -> AdaAugment:
    aug = AdaAugment("bgc", p=p, seed=seed)
    aug.multipliers = {name: 1.0}
    return aug


def near(a: torch.Tensor, b: torch.Tensor) -> bool:
    """Equal up to the blur of NVIDIA's resampling (noise in [-1, 1]: ~0.65 from another image)."""
    return bool((a - b).abs().mean() < 0.2)


def test_xflip_gives_the_image_or_its_mirror():
    x = images(16)
    y = only("xflip")(x)
    # NVIDIA's sym6 filter is not symmetric: a mirror through it is a little blurred.
    flipped = [near(b, a.flip(2)) for a, b in zip(x, y, strict=True)]
    same = [torch.allclose(b, a, atol=1e-4) for a, b in zip(x, y, strict=True)]
    assert all(f or s for f, s in zip(flipped, same, strict=True))
    assert any(flipped) and any(same)


def test_rotate90_gives_quarter_turns():
    x = images(16)
    y = only("rotate90")(x)
    for a, b in zip(x, y, strict=True):
        assert any(near(b, a.rot90(k, (1, 2))) for k in range(4))


def test_integer_translation_moves_whole_pixels():
    x = images(8)
    y = only("xint")(x)
    for a, b in zip(x, y, strict=True):  # the centre of a shifted image is a shifted crop
        shifts = [(dy, dx) for dy in range(-2, 3) for dx in range(-2, 3)]
        centre = b[:, 4:12, 4:12]
        assert any(
            torch.allclose(centre, a[:, 4 - dy : 12 - dy, 4 - dx : 12 - dx], atol=1e-5)
            for dy, dx in shifts
        )


def test_brightness_adds_one_offset_per_image():
    x = images(8)
    d = only("brightness")(x) - x
    assert torch.allclose(d, d[:, :1, :1, :1].expand_as(d), atol=1e-6)
    assert d.abs().amax() > 0


def test_saturation_keeps_the_luma_and_hue_keeps_the_grey():
    x = images(8)
    y = only("saturation")(x)
    assert torch.allclose(y.mean(1), x.mean(1), atol=1e-5)  # luma axis (1,1,1)/sqrt(3) kept
    grey = images(8, 1).expand(8, 3, 16, 16)
    assert torch.allclose(only("hue")(grey), grey, atol=1e-5)


@pytest.mark.parametrize("channels", [1, 3])
def test_differentiable_with_finite_gradients(channels):
    x = images(8, channels).requires_grad_(True)
    y = AdaAugment("bgc", p=1.0, seed=1)(x)
    assert y.shape == x.shape and torch.isfinite(y).all()
    (grad,) = torch.autograd.grad((y * torch.linspace(-1, 1, 16)).square().sum(), x)
    assert torch.isfinite(grad).all() and grad.abs().sum() > 0


def test_second_order_gradient_for_r1_through_the_augmentation():
    x = images(4).requires_grad_(True)
    y = AdaAugment("bgc", p=1.0, seed=1)(x)
    (grad,) = torch.autograd.grad(y.square().sum(), x, create_graph=True)
    w = torch.randn(4, 3, 16, 16, requires_grad=True)
    (grad * w).sum().backward()
    assert torch.isfinite(w.grad).all()


def test_gradcheck_on_a_small_batch():
    x = (torch.rand(2, 3, 8, 8, dtype=torch.float64) * 2 - 1).requires_grad_(True)

    def fn(inp):
        aug = AdaAugment("bgc", p=1.0, seed=5)
        return aug(inp)

    assert torch.autograd.gradcheck(fn, (x,), eps=1e-6, atol=1e-5, fast_mode=True)


def test_seeded_and_resumable():
    a, b = AdaAugment("bgc", p=0.5, seed=7), AdaAugment("bgc", p=0.5, seed=7)
    x = images()
    assert torch.equal(a(x), b(x))
    state = a.state_dict()
    first = a(x)
    c = AdaAugment("bgc", p=0.1, seed=99)
    c.load_state_dict(state)
    assert c.p == 0.5 and torch.equal(c(x), first)


def test_unknown_pipeline_and_bad_channels():
    with pytest.raises(ValueError, match="pipeline"):
        AdaAugment("nope")
    aug = AdaAugment("color", p=1.0)
    aug.multipliers = {"brightness": 1.0}
    with pytest.raises(ValueError, match="RGB"):
        aug(torch.zeros(2, 2, 8, 8))


def controller(p: float = 0.5, batch: int = 8) -> AdaptiveP:
    return AdaptiveP(AdaAugment("bgc", p=p), batch_size=batch, target=0.6, interval=4, ada_kimg=1)


def feed(ada: AdaptiveP, sign: float, steps: int) -> None:
    for _ in range(steps):
        ada.observe(torch.full((8, 1), sign))
        ada.step()


def test_p_rises_when_d_overfits_and_falls_when_not():
    ada = controller()
    feed(ada, 1.0, 4)  # D right on every real: r_t = 1 > 0.6
    assert ada.p == pytest.approx(0.5 + 8 * 4 / 1000)
    feed(ada, -1.0, 8)  # r_t = -1 < 0.6: two adjustments down
    assert ada.p == pytest.approx(0.5 + 8 * 4 / 1000 - 2 * 8 * 4 / 1000)


def test_p_moves_every_interval_is_not_capped_at_one_and_stays_above_zero():
    ada = controller(p=0.99)
    feed(ada, 1.0, 3)
    assert ada.p == 0.99  # not yet an interval
    feed(ada, 1.0, 400)
    assert ada.p == pytest.approx(0.99 + 100 * 8 * 4 / 1000)  # NVIDIA caps p at 0 only
    feed(ada, -1.0, 4000)
    assert ada.p == 0.0


def test_p_rises_when_a_d_memorises_a_tiny_set_and_falls_on_unseen_reals():
    """A linear D trained to tell 4 fixed reals from noise is sure of them (p rises); on reals
    it has never seen, drawn like the noise, its signs are a coin toss (p falls)."""
    g = torch.Generator().manual_seed(0)
    reals = torch.randn(4, 48, generator=g)
    D = torch.nn.Linear(48, 1)
    opt = torch.optim.SGD(D.parameters(), lr=0.1)
    for _ in range(200):
        fakes = torch.randn(16, 48, generator=g)
        loss = torch.nn.functional.softplus(-D(reals)).mean()
        loss = loss + torch.nn.functional.softplus(D(fakes)).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    ada = controller(p=0.2)
    for _ in range(8):
        ada.observe(D(reals))
        ada.step()
    assert ada.last_rt > 0.6 and ada.p > 0.2
    high = ada.p
    for _ in range(8):
        ada.observe(D(torch.randn(8, 48, generator=g)))
        ada.step()
    assert ada.last_rt < 0.6 and ada.p < high


def test_controller_state_round_trip():
    ada = controller()
    feed(ada, 1.0, 6)
    other = controller(p=0.0)
    other.load_state_dict(ada.state_dict())
    feed(ada, 1.0, 2)
    feed(other, 1.0, 2)
    assert other.p == ada.p and other.steps == ada.steps
