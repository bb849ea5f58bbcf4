"""The 2D lab: losses against hand computations, the collapse signal, the two phases, presets."""

from __future__ import annotations

import math

import pytest
import torch

from core.errors import UserInputError
from gan.lab2d.coverage import mode_coverage
from gan.lab2d.distributions import ring
from gan.lab2d.losses import d_loss, g_loss, gradient_penalty
from gan.lab2d.service import Lab2D
from gan.lab2d.settings import PRESETS, Lab2DSettings
from gan.lab2d.trainer import Trainer2D


@pytest.fixture(autouse=True)
def one_thread():
    """A tiny MLP runs fastest on one thread (as the service runs it)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


REAL = torch.tensor([2.0, -1.0])  # D's logits on two real points
FAKE = torch.tensor([0.5, -3.0])  # ... and on two fake ones


def _sig(v: float) -> float:
    return 1 / (1 + math.exp(-v))


def _mean(values) -> float:
    return sum(values) / len(values)


def test_logistic_d_loss_is_the_cross_entropy_by_hand():
    by_hand = _mean([-math.log(_sig(r)) for r in REAL.tolist()])
    by_hand += _mean([-math.log(1 - _sig(f)) for f in FAKE.tolist()])
    for loss in ("non_saturating", "minimax"):
        assert d_loss(loss, REAL, FAKE).item() == pytest.approx(by_hand, rel=1e-6)


def test_g_losses_by_hand():
    fakes = FAKE.tolist()
    cases = {
        "non_saturating": _mean([-math.log(_sig(f)) for f in fakes]),
        "minimax": _mean([math.log(1 - _sig(f)) for f in fakes]),
        "least_squares": _mean([(f - 1) ** 2 / 2 for f in fakes]),
        "wgan_gp": -_mean(fakes),
    }
    for loss, by_hand in cases.items():
        assert g_loss(loss, FAKE).item() == pytest.approx(by_hand, rel=1e-6), loss


def test_least_squares_and_wasserstein_d_losses_by_hand():
    r, f = REAL.tolist(), FAKE.tolist()
    lsgan = _mean([(v - 1) ** 2 for v in r]) / 2 + _mean([v**2 for v in f]) / 2
    assert d_loss("least_squares", REAL, FAKE).item() == pytest.approx(lsgan, rel=1e-6)
    assert d_loss("wgan_gp", REAL, FAKE).item() == pytest.approx(_mean(f) - _mean(r))


def test_gradient_penalty_by_hand():
    """A linear critic w.x has gradient w everywhere; a quadratic one |x|^2 has 2 x_hat."""
    real = torch.tensor([[1.0, 0.0], [0.0, 2.0]])
    fake = torch.tensor([[0.0, 0.0], [0.0, 0.0]])
    eps = torch.tensor([[0.5], [0.25]])
    w = torch.tensor([3.0, 4.0])  # |w| = 5: penalty (5 - 1)^2 = 16
    assert gradient_penalty(lambda x: x @ w, real, fake, eps).item() == pytest.approx(16.0)
    # x_hat = (0.5, 0) and (0, 0.5): |2 x_hat| = 1 for both, so no penalty
    assert gradient_penalty(lambda x: (x**2).sum(1), real, fake, eps).item() == pytest.approx(0)
    # x_hat = (0.5, 0), (0, 0.5) with eps doubled to (1, 0.5): (0.5, 0)->|.|=2, (0,1)->2: 1
    eps2 = torch.tensor([[1.0], [0.5]])
    got = gradient_penalty(lambda x: (x**2).sum(1), real, fake, eps2).item()
    assert got == pytest.approx(_mean([(2 - 1) ** 2, (2 - 1) ** 2]))


def _on_modes(modes: torch.Tensor, which: list[int], per_mode: int = 64) -> torch.Tensor:
    return torch.cat([modes[i].repeat(per_mode, 1) for i in which])


def test_mode_coverage_counts_hand_made_point_sets():
    data = ring()
    real = _on_modes(data.modes, list(range(8)))
    spread = float((real - real.mean(0)).norm(dim=1).mean())
    all_modes = mode_coverage(real, data.modes, data.radius, spread)
    assert (all_modes.covered, all_modes.quality, all_modes.collapsed) == (8, 1.0, False)
    one = mode_coverage(_on_modes(data.modes, [3], 512), data.modes, data.radius, spread)
    assert (one.covered, one.quality, one.collapsed) == (1, 1.0, True)
    five = mode_coverage(_on_modes(data.modes, [0, 1, 2, 3, 4]), data.modes, data.radius, spread)
    assert (five.covered, five.collapsed) == (5, False)
    far = torch.full((256, 2), 1.9)  # bunched, off every mode
    off = mode_coverage(far, data.modes, data.radius, spread)
    assert (off.covered, off.quality, off.collapsed) == (0, 0.0, True)
    wide = mode_coverage(torch.randn(512, 2) * 3, data.modes, data.radius, spread)
    assert not wide.collapsed  # spread out and poor: not yet a collapse


def _parameters(net: torch.nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in net.parameters()]


def _same(a: list[torch.Tensor], b: list[torch.Tensor]) -> bool:
    return all(torch.equal(x, y) for x, y in zip(a, b, strict=True))


@pytest.mark.parametrize("loss", ["non_saturating", "minimax", "least_squares", "wgan_gp"])
def test_step_d_changes_only_d_and_step_g_only_g(loss):
    run = Trainer2D(Lab2DSettings(loss=loss, batch=32).checked())
    g0, d0 = _parameters(run.G), _parameters(run.D)
    run.step_d()
    assert _same(_parameters(run.G), g0) and not _same(_parameters(run.D), d0)
    g1, d1 = _parameters(run.G), _parameters(run.D)
    run.step_g()
    assert _same(_parameters(run.D), d1) and not _same(_parameters(run.G), g1)
    assert (run.counters.d_steps, run.counters.g_steps) == (1, 1)


def _trained(name: str) -> Trainer2D:
    run = Trainer2D(PRESETS[name])
    for _ in range(PRESETS[name].steps):
        run.step()
    return run


@pytest.mark.slow
def test_the_ring_preset_covers_at_least_six_of_eight_modes():
    reading = _trained("ring").coverage()
    assert reading.modes == 8 and reading.covered >= 6 and not reading.collapsed


@pytest.mark.slow
def test_the_collapse_preset_is_flagged():
    reading = _trained("collapse").coverage()
    assert reading.collapsed and reading.covered <= 4


def test_bad_settings_are_refused_clearly():
    for bad in ({"loss": "hinge"}, {"lr_d": float("nan")}, {"steps": 0}, {"data": "spiral"}):
        with pytest.raises(UserInputError):
            Lab2DSettings(**bad).checked()
    with pytest.raises(UserInputError, match="click"):
        Lab2D().show("s", Lab2DSettings(data="drawn").checked(), None)


def test_runs_are_per_session_and_bounded():
    lab = Lab2D(max_runs=2)
    s = Lab2DSettings(batch=16).checked()
    a = lab.step_d("a", s)
    assert a.counters.d_steps == 1 and lab.show("b", s).counters.d_steps == 0
    lab.show("c", s)
    assert list(lab.runs) == ["b", "c"]  # "a", the oldest, was dropped


def test_play_trains_in_slices_up_to_its_steps_and_pause_stops_it():
    lab = Lab2D()
    s = Lab2DSettings(batch=16, steps=30).checked()
    frame = lab.play("p", s)
    while frame.playing:
        frame = lab.tick("p", s)
    assert frame.counters.g_steps == 30
    lab.play("p", s)
    lab.pause_run("p")
    assert not lab.tick("p", s).playing


def test_clicked_points_become_their_own_distribution():
    points = [[x / 10, 0.5] for x in range(-10, 10)]
    frame = Lab2D().show("d", Lab2DSettings(data="drawn").checked(), points)
    assert frame.coverage.modes == 8 and frame.d_view.shape == (320, 320, 3)
