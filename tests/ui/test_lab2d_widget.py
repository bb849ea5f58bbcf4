"""The 2D lab widget's own logic: the form into settings, clicks into points, the meter's text."""

from __future__ import annotations

import gradio as gr
import numpy as np
import pytest

from core.errors import UserInputError
from gan.lab2d.coverage import Coverage
from gan.lab2d.distributions import VIEW
from gan.lab2d.render import SIZE
from gan.lab2d.service import Frame
from gan.lab2d.trainer import Counters
from ui.lab2d_widget import add_point, settings_of, status_text


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


def test_the_status_shows_a_dash_for_a_loss_not_yet_computed():
    view = np.zeros((2, 2, 3), np.uint8)
    cover = Coverage(covered=0, modes=8, quality=0.0, spread=1.0, collapsed=False)
    fresh = status_text(Frame(view, view, Counters(), cover, False))
    assert "nan" not in fresh and "D loss –, G loss –" in fresh
    stepped = status_text(Frame(view, view, Counters(1, 0, 1.3344, float("nan")), cover, False))
    assert "D loss 1.334, G loss –" in stepped
