"""The toy set and the mode-collapse meter."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from core.errors import UserInputError
from gan.lab import collapse
from gan.lab.collapse import CollapseMeter, mean_pairwise_distance, near_duplicates
from gan.lab.toy import PALETTE, toy_dataset


@pytest.fixture(scope="module")
def real() -> np.ndarray:
    return toy_dataset(128, 32, seed=0)


def test_toy_set_is_deterministic_per_seed():
    a, b = toy_dataset(24, 32, seed=3), toy_dataset(24, 32, seed=3)
    assert a.shape == (24, 32, 32, 3) and a.dtype == np.uint8
    assert np.array_equal(a, b)
    assert not np.array_equal(a, toy_dataset(24, 32, seed=4))
    assert np.array_equal(toy_dataset(30, 32, seed=3)[:24], a)  # a larger set extends it


def test_toy_images_differ_and_show_a_shape_on_a_palette_background(real):
    flat = real.reshape(len(real), -1)
    assert len(np.unique(flat, axis=0)) == len(real)
    assert (real.std(axis=(1, 2)).max(axis=1) > 5).all()  # never a flat colour
    palette = {tuple(c) for c in PALETTE}
    # a shape never fills all four corners (its box lies inside the image)
    corners = real[:, [0, 0, -1, -1], [0, -1, 0, -1]]
    assert all(any(tuple(c) in palette for c in image) for image in corners)


@pytest.mark.parametrize("n, size", [(0, 32), (10, 20), (10, 8)])
def test_toy_set_rejects_bad_sizes(n, size):
    with pytest.raises(UserInputError):
        toy_dataset(n, size)


def test_pairwise_distance_matches_hand_computation():
    feats = torch.tensor([[0.0, 0.0], [3.0, 4.0], [0.0, 8.0]])
    # distances 5, 8, 5 -> mean 6
    assert mean_pairwise_distance(feats) == pytest.approx(6.0)
    assert near_duplicates(feats, eps=5.0) == 3
    assert near_duplicates(feats, eps=4.9) == 0


@pytest.mark.parametrize("kind", collapse.FEATURE_KINDS)
def test_identical_images_score_as_collapsed(real, kind):
    meter = CollapseMeter(real, kind=kind)
    reading = meter(np.repeat(real[5:6], 16, axis=0))
    assert reading.diversity == pytest.approx(0.0, abs=1e-9)
    assert reading.near_duplicates == 16
    assert reading.collapsed


@pytest.mark.parametrize("kind", collapse.FEATURE_KINDS)
def test_a_diverse_set_does_not(real, kind):
    meter = CollapseMeter(real, kind=kind)
    reading = meter(toy_dataset(16, 32, seed=1))  # other images of the same distribution
    assert 0.7 < reading.diversity < 1.4
    assert reading.near_duplicates == 0
    assert not reading.collapsed


def test_collapse_onto_two_images_is_caught_by_the_duplicate_count(real):
    meter = CollapseMeter(real)
    reading = meter(np.repeat(real[:2], 8, axis=0))
    assert reading.diversity > meter.threshold  # two distinct images keep some distance
    assert reading.near_duplicates == 16
    assert reading.collapsed


def test_meter_takes_float_tensors_in_minus_one_one(real):
    meter = CollapseMeter(real)
    x = torch.from_numpy(real[:16]).permute(0, 3, 1, 2).float() / 127.5 - 1
    assert meter(x).diversity == pytest.approx(meter(real[:16]).diversity, rel=1e-5)


def test_features_do_not_depend_on_the_global_seed(real):
    torch.manual_seed(0)
    a = collapse.features(real[:4])
    torch.manual_seed(99)
    assert torch.equal(a, collapse.features(real[:4]))
    assert torch.equal(a, collapse.RandomConvFeatures()(collapse.to_float(real[:4])))


def test_meter_rejects_bad_input(real):
    with pytest.raises(UserInputError):
        CollapseMeter(np.repeat(real[:1], 4, axis=0))  # nothing to compare with
    with pytest.raises(UserInputError):
        CollapseMeter(real, threshold=0)
    with pytest.raises(UserInputError):
        CollapseMeter(real)(real[:1])
    with pytest.raises(UserInputError):
        collapse.features(real[:2], kind="vgg")
