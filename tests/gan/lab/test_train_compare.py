"""From-scratch training steps, the balance rule's marks and side-by-side runs."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch

from core.errors import UserInputError
from gan.lab.compare import SETTINGS, side_by_side, variant
from gan.lab.toy import toy_dataset
from gan.lab.train import PRESETS, LabConfig, LabRun, images_from_uploads, sample_grid, train

TINY = LabConfig(
    steps=4, image_size=16, nz=8, ngf=4, ndf=4, batch_size=4, n_samples=4, preview_every=2
)


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def images() -> np.ndarray:
    return toy_dataset(16, 16, seed=0)


def test_a_few_steps_give_finite_losses_and_previews(images):
    events = list(train(TINY, images))
    assert [e.step for e in events] == [1, 2, 3, 4]
    assert all(e.total == 4 for e in events)
    for e in events:
        assert all(math.isfinite(v) for v in e.losses.values())
        assert 0 < e.losses["d_real"] < 1 and 0 < e.losses["d_fake"] < 1
        assert e.message.startswith(f"step {e.step}/4")
    previews = [e for e in events if e.preview is not None]
    assert [e.step for e in previews] == [2, 4]
    assert previews[0].preview.shape == (16 * 2, 4 * 16 * 2, 3)  # 4 samples in a row, 2x
    assert previews[0].collapse is not None and "diversity" in previews[0].losses


def test_skipped_d_steps_stay_in_the_history_marked(images):
    # A threshold above any possible loss skips every D step; D's weights then never change.
    run = LabRun(dataclasses.replace(TINY, d_loss_threshold=100.0), images)
    before = [p.clone() for p in run.D.parameters()]
    g_before = [p.clone() for p in run.G.parameters()]
    records = [run.step() for _ in range(3)]
    assert [r.step for r in records] == [1, 2, 3]
    assert all(r.d_skipped for r in records)
    assert all(torch.equal(a, b) for a, b in zip(before, run.D.parameters(), strict=True))
    assert not all(torch.equal(a, b) for a, b in zip(g_before, run.G.parameters(), strict=True))
    assert run.history == records
    assert records[0].losses()["d_skipped"] == 1.0


def test_without_the_balance_rule_no_step_is_skipped(images):
    run = LabRun(TINY, images)
    before = [p.clone() for p in run.D.parameters()]
    record = run.step()
    assert not record.d_skipped and record.losses()["d_skipped"] == 0.0
    assert not all(torch.equal(a, b) for a, b in zip(before, run.D.parameters(), strict=True))


def test_the_d_loss_is_the_bce_of_the_recorded_probabilities(images):
    # The recorded D(x), D(G(z)) are batch means of sigmoid(logits) and the losses are batch
    # means of -log p: by Jensen's inequality each loss is at least -log of the mean p.
    run = LabRun(TINY, images)
    r = run.step()
    assert r.loss_d >= -math.log(r.d_real) - math.log(1 - r.d_fake) - 1e-6  # Jensen
    assert r.loss_g >= -math.log(r.d_fake_after) - 1e-6


def test_runs_are_deterministic_per_seed(images):
    a = [e.losses for e in train(TINY, images)]
    b = [e.losses for e in train(TINY, images)]
    assert a == b
    c = [e.losses for e in train(dataclasses.replace(TINY, seed=1), images)]
    assert a != c


def test_the_toy_set_is_the_default_data():
    events = list(train(dataclasses.replace(TINY, steps=1, toy_images=8)))
    assert len(events) == 1


def test_should_stop_ends_the_run(images):
    events = list(train(dataclasses.replace(TINY, steps=50), images, should_stop=lambda: True))
    assert len(events) == 1


@pytest.mark.parametrize(
    "setting, values, changed",
    [
        ("lr", (2e-4, 2e-3), {"lr_g", "lr_d"}),
        ("d_loss_threshold", (0.0, 0.5), {"d_loss_threshold"}),
        ("lr_ratio", (1.0, 4.0), {"lr_g"}),
    ],
)
def test_side_by_side_configs_differ_only_in_the_setting(setting, values, changed):
    assert setting in SETTINGS
    a, b = (dataclasses.asdict(variant(TINY, setting, v)) for v in values)
    assert {k for k in a if a[k] != b[k]} == changed


def test_lr_ratio_keeps_lr_d():
    config = variant(TINY, "lr_ratio", 4.0)
    assert config.lr_d == TINY.lr_d and config.lr_g == pytest.approx(4 * TINY.lr_d)


def test_side_by_side_interleaves_two_runs(images):
    pairs = list(side_by_side(TINY, "lr", (2e-4, 2e-3), images))
    assert [(a.step, b.step) for a, b in pairs] == [(1, 1), (2, 2), (3, 3), (4, 4)]
    # Same seed, same first batch: before any update the two runs see the same D(x).
    assert pairs[0][0].losses["d_real"] == pytest.approx(pairs[0][1].losses["d_real"])
    assert pairs[-1][0].losses != pairs[-1][1].losses


def test_side_by_side_with_equal_values_gives_equal_runs(images):
    pairs = list(side_by_side(TINY, "d_loss_threshold", (0.1, 0.1), images))
    assert all(a.losses == b.losses for a, b in pairs)


def test_bad_settings_raise_user_errors(images):
    with pytest.raises(UserInputError):
        next(side_by_side(TINY, "beta1", (0.5, 0.9), images))
    with pytest.raises(UserInputError):
        next(side_by_side(TINY, "lr", (2e-4, 1.0), images))
    with pytest.raises(UserInputError):
        next(train(dataclasses.replace(TINY, batch_size=1), images))
    with pytest.raises(UserInputError):
        LabRun(TINY, toy_dataset(4, 32))  # wrong image size


def test_presets_are_valid():
    for config in PRESETS.values():
        assert config.checked() == config


def test_sample_grid_tiles_in_order():
    samples = np.arange(3, dtype=np.uint8)[:, None, None, None].repeat(2, 1).repeat(2, 2)
    grid = sample_grid(samples.repeat(3, 3), columns=2, scale=1)
    assert grid.shape == (4, 4, 3)
    assert grid[0, 0, 0] == 0 and grid[0, 2, 0] == 1 and grid[2, 0, 0] == 2 and grid[2, 2, 0] == 0


def test_training_leaves_the_global_random_state_alone(images):
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    LabRun(TINY, images).step()
    assert torch.equal(torch.rand(3), expected)


def test_uploads_become_training_images(images_dir):
    files = sorted(str(p) for p in images_dir.glob("*.jpg"))[:3]
    data, skipped = images_from_uploads([*files, __file__], 16, min_images=2)
    assert data.shape == (3, 16, 16, 3) and data.dtype == np.uint8
    assert "test_train_compare.py" in skipped  # listed by name
    assert len(list(train(dataclasses.replace(TINY, steps=1), data))) == 1
    with pytest.raises(UserInputError):
        images_from_uploads(files[:1], 16, min_images=2)


def test_lab_steps_give_way_to_cheap_work(images):
    """A lab run is heavy work: it calls the priority gate's `pause()` before every step (a
    comparison before every pair of steps)."""
    pauses = []
    list(train(TINY, images, pause=lambda: pauses.append("run")))
    list(side_by_side(TINY, "lr", (2e-4, 2e-3), images, pause=lambda: pauses.append("pair")))
    assert pauses == ["run"] * TINY.steps + ["pair"] * TINY.steps


def test_preparing_uploads_stops_at_the_deadline(images_dir):
    from core.quotas import Deadline

    paths = sorted(images_dir.glob("*.jpg"))[:8]
    with pytest.raises(UserInputError, match="preparing the images reached"):
        images_from_uploads(paths, 16, deadline=Deadline(0))
