"""The header's model list refresh."""

from __future__ import annotations

from gan import DEFAULT_MODEL
from ui.header import ModelChoices


class _Studio:
    def __init__(self, names: list[str]) -> None:
        self.names = names

    def model_choices(self) -> list[str]:
        return list(self.names)


def test_a_valid_choice_is_left_alone_so_a_late_answer_cannot_undo_a_pick():
    update = ModelChoices(_Studio([DEFAULT_MODEL, "mine"]), None).update("mine")
    assert update["choices"] == [DEFAULT_MODEL, "mine"]
    assert "value" not in update


def test_a_vanished_choice_falls_back_to_the_default_then_the_first():
    assert ModelChoices(_Studio(["a", DEFAULT_MODEL]), None).update("gone")["value"] == (
        DEFAULT_MODEL
    )
    assert ModelChoices(_Studio(["a", "b"]), None).update("gone")["value"] == "a"
    assert ModelChoices(_Studio([]), None).update("gone")["value"] is None
