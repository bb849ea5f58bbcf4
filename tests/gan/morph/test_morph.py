"""The morph's walk and settings (the service runs end to end in tests/ui/test_morph_api.py)."""

from __future__ import annotations

import pytest
import torch

from core.errors import UserInputError
from gan.morph.morph import MorphSettings, looping_walk


@pytest.mark.parametrize("shape", [(1, 8), (1, 4, 6)])  # z, and W+
def test_the_walk_loops_through_b_in_straight_lines(shape):
    a, b = torch.randn(shape), torch.randn(shape)
    path = looping_walk(a, b, 9)
    assert path.shape == (9, *shape[1:])
    assert torch.equal(path[0], a[0]) and torch.equal(path[-1], a[0])  # ends where it starts
    torch.testing.assert_close(path[4], b[0])  # B in the middle
    torch.testing.assert_close(path[2], (a[0] + b[0]) / 2)
    torch.testing.assert_close(path[1:5] - path[:4], path[1:2] - path[:1] + 0 * path[:4])


def test_latents_of_two_models_do_not_walk():
    with pytest.raises(UserInputError, match="different shapes"):
        looping_walk(torch.zeros(1, 8), torch.zeros(1, 4, 8), 5)


@pytest.mark.parametrize("kw", [{"steps": 0}, {"frames": 2}, {"frames": 10_000}, {"fps": 1.5}])
def test_settings_out_of_range_are_clear(kw):
    with pytest.raises(UserInputError, match="must be a whole number"):
        MorphSettings(**kw)
