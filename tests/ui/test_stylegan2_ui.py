"""The StyleGAN2 UI helpers: gallery thumbnails, request settings, layer spans."""

import numpy as np

from gan.studio import SG2Settings
from ui.generate import THUMBNAIL_SIZE, sg2_settings, thumbnail
from ui.style_mix import _span


def test_large_faces_are_thumbnails_and_small_ones_upscaled():
    big = thumbnail(np.zeros((1024, 1024, 3), np.uint8))
    assert big.size == (THUMBNAIL_SIZE, THUMBNAIL_SIZE)
    assert thumbnail(np.zeros((64, 64, 3), np.uint8)).size == (256, 256)


def test_request_settings_read_the_api_values():
    assert sg2_settings(0.7, "none", 0.0, 2.0) == SG2Settings(0.7, 0, "none", 2)
    assert sg2_settings(1.0, "const", None, None) == SG2Settings(1.0, 0, "const", 0)


def test_layer_spans():
    assert _span([0, 1, 2, 5]) == "0-2, 5"
    assert _span([8]) == "8" and _span([4, 5, 6, 7]) == "4-7"
