"""The morph's walk and settings (the service runs end to end in tests/ui/test_morph_api.py)."""

from __future__ import annotations

import pytest
import torch

from core.errors import UserInputError
from gan.morph.morph import MorphSettings, morph_walk


@pytest.mark.parametrize("shape", [(1, 8), (1, 4, 6)])  # z, and W+
def test_the_walk_loops_through_b_on_a_cubic_path(shape):
    a, b = torch.randn(shape), torch.randn(shape)
    path = morph_walk(a, b, 9)
    assert path.shape == (9, *shape[1:])
    assert torch.equal(path[0], a[0]) and torch.equal(path[-1], a[0])  # ends where it starts
    torch.testing.assert_close(path[4], b[0])  # B in the middle
    torch.testing.assert_close(path[2], (a[0] + b[0]) / 2)  # halfway by symmetry
    steps = (path[1:5] - path[:4]).flatten(1).norm(dim=1)
    assert steps[0] < steps[1] and steps[3] < steps[2]  # eases in and out: not straight lines


def test_latents_of_two_models_do_not_walk():
    with pytest.raises(UserInputError, match="different shapes"):
        morph_walk(torch.zeros(1, 8), torch.zeros(1, 4, 8), 5)


@pytest.mark.parametrize("kw", [{"steps": 0}, {"frames": 2}, {"frames": 10_000}, {"fps": 1.5}])
def test_settings_out_of_range_are_clear(kw):
    with pytest.raises(UserInputError, match="must be a whole number"):
        MorphSettings(**kw)
