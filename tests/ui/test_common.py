"""ui.common: errors reach the page as messages, inputs and settings are matched by name."""

from __future__ import annotations

import gradio as gr
import pytest
import torch

from core.errors import UserInputError
from style.settings import StyleSettings
from ui.common import friendly, inputs_for, session_key, settings_from


def test_user_errors_and_out_of_memory_become_messages():
    released = []

    def bad(x: float):
        raise UserInputError(f"x is {x}")

    def oom():
        raise torch.OutOfMemoryError("CUDA out of memory")

    with pytest.raises(gr.Error, match="x is 2"):
        friendly(bad)(2.0)
    with pytest.raises(gr.Error, match="must be a finite number"):
        friendly(bad)(float("nan"))
    with pytest.raises(gr.Error, match="ran out of memory"):
        friendly(oom, lambda: released.append(1))()
    assert released == [1]


def test_generators_are_wrapped_too():
    def stream(n: int):
        yield 1
        raise RuntimeError("boom")

    wrapped = friendly(stream)
    with pytest.raises(gr.Error, match="Something went wrong \\(RuntimeError\\)"):
        list(wrapped(1))


def test_inputs_follow_the_handler_parameters_by_name():
    def handler(b, a, request=None, progress=None):
        return a, b

    assert inputs_for(handler, {"a": "A", "b": "B", "unused": "U"}) == ["B", "A"]
    with pytest.raises(KeyError):
        inputs_for(handler, {"a": "A"})


def test_settings_are_built_by_field_name():
    settings = settings_from(StyleSettings, {"steps": 7, "tv_weight": 0.5, "network": "x"})
    assert settings == StyleSettings(steps=7, tv_weight=0.5)


def test_the_session_key_falls_back_to_api():
    assert session_key(None) == "api"
