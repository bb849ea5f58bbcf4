"""High resolution as an experiment: progressive fade-in, MSG-GAN's scales, the three runs."""

from __future__ import annotations

import dataclasses
import time

import pytest
import torch
import torch.nn.functional as F

from core.errors import UserInputError
from gan.finetune.kid import KID
from gan.lab.growing import GrowingConfig, GrowingDiscriminator, GrowingGenerator
from gan.lab.highres import (
    METHODS,
    PRESETS,
    Evaluation,
    HighresConfig,
    experiment,
    progressive_phase,
    verdict,
)

TINY = PRESETS["tiny (3 x 1 s)"]
NET = GrowingConfig(nz=8, width=4, minibatch_stddev=True)


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def nets():
    torch.manual_seed(0)
    return GrowingGenerator(NET), GrowingDiscriminator(NET), GrowingDiscriminator(NET, msg=True)


@pytest.mark.parametrize("res", [32, 64])
def test_fade_in_at_alpha_0_is_the_upsampled_lower_resolution_and_at_1_the_new_layer(nets, res):
    G, D, _ = nets
    z = torch.randn(3, NET.nz)
    with torch.no_grad():
        low = G(z, res // 2, 1.0)
        assert torch.equal(G(z, res, 0.0), F.interpolate(low, scale_factor=2, mode="nearest"))
        new_layer = G.rgb(G._features(z, res)[res], res)
        assert torch.equal(G(z, res, 1.0), new_layer)
        half = G(z, res, 0.5)
        assert torch.allclose(half, 0.5 * F.interpolate(low, scale_factor=2) + 0.5 * new_layer)
        image = G(z, res, 1.0)
        # D mirrors it: at alpha=0 it reads the average-pooled image with the old fromRGB
        assert torch.allclose(D(image, 0.0), D(F.avg_pool2d(image, 2), 1.0), atol=1e-6)
        assert not torch.allclose(D(image, 0.0), D(image, 1.0))


def test_msg_gan_outputs_and_reads_every_scale(nets):
    G, _, D = nets
    images = G.multi_scale(torch.randn(5, NET.nz))
    assert [tuple(x.shape) for x in images] == [(5, 3, r, r) for r in (16, 32, 64)]
    assert all(x.abs().max() <= 1 for x in images)
    logits = D.multi_scale(images)
    assert logits.shape == (5,)
    logits.sum().backward()  # D's loss reaches G's layers at every scale, from the start
    for res in ("16", "32", "64"):
        assert G.to_rgb[res].weight.grad.abs().sum() > 0
    G.zero_grad(set_to_none=True)


def test_the_progressive_schedule_grows_16_32_64_fading_each_new_resolution_in():
    assert progressive_phase(0.0) == (16, 1.0)
    res, alpha = progressive_phase(0.275)  # halfway through the 32 px fade-in
    assert res == 32 and alpha == pytest.approx(0.5)
    assert progressive_phase(0.45) == (32, 1.0)
    assert progressive_phase(0.99) == (64, 1.0)


def test_the_three_runs_finish_a_tiny_preset_within_its_budget_with_kid_over_time():
    started = time.perf_counter()
    events = list(experiment(TINY))
    wall = time.perf_counter() - started
    points = [e.evaluation for e in events if e.evaluation is not None]
    for method in METHODS:
        mine = [p for p in points if p.method == method]
        assert len(mine) >= 3 and mine[0].seconds == 0  # 0 s, each 0.5 s, the end
        assert mine[-1].seconds >= TINY.budget_s and mine[-1].steps > 0
        assert all(p.kid.mean == p.kid.mean for p in mine)  # finite, not NaN
    progressive = [p.resolution for p in points if p.method == "progressive"]
    assert progressive[0] == 16 and progressive[-1] == 64
    last = events[-1]
    assert last.done and not last.stopped and set(last.verdict.final) == set(METHODS)
    # 3 x 1 s of training (about 3 s here), the KIDs and the toy set: generous room for CI
    assert wall < 60


def test_a_stop_request_ends_all_three_runs_early():
    config = dataclasses.replace(TINY, budget_s=30.0, eval_every_s=10.0)
    events = list(experiment(config, should_stop=lambda: True))
    assert events[-1].done and events[-1].stopped
    assert max(e.metrics.get("seconds", 0) for e in events) < 30


def test_the_verdict_says_when_the_lessons_claim_does_not_hold():
    def point(method, kid, std=0.001):
        return Evaluation(method, 10.0, 5, 64, 1.0, KID(kid, std))

    result = verdict([point("dcgan", 0.05), point("progressive", 0.02), point("msg", 0.049)])
    assert result.holds == {"progressive": True, "msg": False}  # msg: within the noise
    assert result.final["dcgan"] == 0.05


@pytest.mark.parametrize(
    "change", [{"budget_s": 0}, {"budget_s": 1e4}, {"eval_every_s": 1e-3}, {"width": 1.5}]
)
def test_bad_settings_are_clear_errors(change):
    with pytest.raises(UserInputError):
        dataclasses.replace(HighresConfig(), **change).checked()
