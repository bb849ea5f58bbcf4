"""The `/stylize` API, offline (EfficientNet-Lite0)."""

from __future__ import annotations

import io

import pytest
import torch
from PIL import Image

from tests.style.helpers import img as _img

CPU = torch.device("cpu")


# --- The API -----------------------------------------------------------------------------------


def _png_file(path, image: Image.Image) -> str:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    path.write_bytes(buffer.getvalue())
    return str(path)


def test_stylize_api_offline(client, tmp_path, images_dir):
    from gradio_client import handle_file

    content = _png_file(
        tmp_path / "c.png", Image.open(images_dir / "tubingen.jpg").resize((96, 72))
    )
    style = _png_file(
        tmp_path / "s.png", Image.open(images_dir / "starry_night.jpg").resize((96, 76))
    )
    image, info, plot = client.predict(
        handle_file(content),
        handle_file(style),
        steps=6,
        size=64,
        content_weight=1.0,
        style_weight=300.0,
        tv_weight=1.0,
        api_name="/stylize",
    )
    assert Image.open(image).size == (64, 48)
    assert "EfficientNet-Lite0" in info and "Done" in info
    assert plot is not None


def test_stylize_api_bad_input_is_clear(client, tmp_path):
    from gradio_client import handle_file

    good = _png_file(tmp_path / "g.png", _img(0, (64, 64)))
    tiny = _png_file(tmp_path / "t.png", _img(0, (16, 16)))
    with pytest.raises(Exception, match="at least 32"):
        client.predict(handle_file(good), handle_file(tiny), steps=2, size=64, api_name="/stylize")
    with pytest.raises(Exception, match="style_weight|minimum value 0"):
        client.predict(
            handle_file(good),
            handle_file(good),
            steps=2,
            size=64,
            style_weight=-5,
            api_name="/stylize",
        )
    with pytest.raises(Exception, match="size|maximum"):
        client.predict(
            handle_file(good), handle_file(good), steps=2, size=10**5, api_name="/stylize"
        )
    # The app still serves.
    image, _, _ = client.predict(
        handle_file(good), handle_file(good), steps=2, size=64, api_name="/stylize"
    )
    assert Image.open(image).size == (64, 64)
