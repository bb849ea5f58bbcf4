"""The 2D lab widget's own logic: the form into settings, clicks into points, the meter's text."""

from __future__ import annotations

import gradio as gr
import pytest

from core.errors import UserInputError
from gan.lab2d.distributions import VIEW
from gan.lab2d.render import SIZE
from ui.lab2d_widget import add_point, settings_of


def test_the_form_overrides_the_preset_and_keeps_its_other_fields():
    s = settings_of("collapse", loss="least_squares", steps=50.0, seed=3.0)
    assert (s.loss, s.steps, s.seed, s.beta1, s.batch) == ("least_squares", 50, 3, 0.9, 128)
    with pytest.raises(UserInputError):
        settings_of("ring", lr_d=-1.0)


def test_a_click_adds_the_point_under_it():
    corner = gr.SelectData(None, {"index": [0, 0], "value": None})
    centre = gr.SelectData(None, {"index": [SIZE / 2, SIZE / 2], "value": None})
    points, view = add_point(None, corner)
    assert points == [[-VIEW, VIEW]] and view.shape == (SIZE, SIZE, 3)
    points, _ = add_point(points, centre)
    assert points[-1] == [0.0, 0.0] and len(points) == 2
