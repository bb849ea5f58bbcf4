"""Looping and open Catmull-Rom walks: through every keyframe, back to the start, and equal to
the spline computed by hand."""

import pytest
import torch

from gan import latents
from gan.video.walks import catmull_rom, looping_walk, open_walk


def test_catmull_rom_matches_a_hand_computation():
    p = [torch.tensor([0.0]), torch.tensor([1.0]), torch.tensor([3.0]), torch.tensor([2.0])]
    # t = 0.5: 0.5 * (2*1 + (3-0)*0.5 + (0 - 5 + 12 - 2)*0.25 + (3 - 0 - 9 + 2)*0.125)
    #        = 0.5 * (2 + 1.5 + 1.25 - 0.5) = 2.125
    out = catmull_rom(*p, torch.tensor([0.0, 0.5, 1.0]))
    assert out.flatten().tolist() == pytest.approx([1.0, 2.125, 3.0])


def test_catmull_rom_tangents_at_the_keyframes():
    p0, p1, p2, p3 = (torch.tensor([v], dtype=torch.float64) for v in (0.0, 1.0, 3.0, 2.0))
    eps = 1e-4
    ends = catmull_rom(
        p0, p1, p2, p3, torch.tensor([0.0, eps, 1 - eps, 1.0], dtype=torch.float64)
    ).flatten()
    assert (ends[1] - ends[0]) / eps == pytest.approx((3.0 - 0.0) / 2, rel=1e-3)
    assert (ends[3] - ends[2]) / eps == pytest.approx((2.0 - 1.0) / 2, rel=1e-3)


def test_looping_walk_passes_every_keyframe_and_ends_where_it_starts():
    keys = torch.randn(4, 3, 5)  # four W+ keyframes
    walk = looping_walk(keys, 6)
    assert walk.shape == (24, 3, 5)
    for i in range(4):
        torch.testing.assert_close(walk[6 * i], keys[i])
    # The frame after the last is the first: the last step is as short as a middle one.
    last_step = (walk[0] - walk[-1]).norm()
    middle_step = (walk[7] - walk[6]).norm()
    assert last_step < 3 * middle_step
    again = looping_walk(keys.roll(-1, dims=0), 6)  # the same loop, started one keyframe on
    torch.testing.assert_close(again, walk.roll(-6, dims=0))


def test_open_walk_and_the_cubic_interpolation_path():
    keys = torch.randn(3, 4)
    walk = open_walk(keys, 5)
    assert walk.shape == (9, 4)
    torch.testing.assert_close(walk[[0, 4, 8]], keys)
    path = latents.interpolation_path(keys, 5, "cubic", loop=True)
    assert len(path) == 12 and torch.equal(path[0], keys[0])
