"""The built-in content/style pairs: shipped files, unique names, clear errors."""

from __future__ import annotations

import pytest

from core.errors import UserInputError
from style.examples import EXAMPLE_NAMES, EXAMPLE_PAIRS, QUICK_SETTINGS, example_pair
from style.settings import StyleSettings


def test_every_pair_is_shipped_and_named_once():
    assert len(set(EXAMPLE_NAMES)) == len(EXAMPLE_PAIRS)
    for pair in EXAMPLE_PAIRS:
        assert all(path.is_file() for path in pair.paths())
        assert example_pair(pair.name) is pair


def test_the_quick_settings_are_valid_settings():
    assert StyleSettings(**QUICK_SETTINGS).init == "coarse"


def test_an_unknown_pair_is_a_clear_error():
    with pytest.raises(UserInputError, match="no style example 'mine'; known: shipwreck"):
        example_pair("mine")
