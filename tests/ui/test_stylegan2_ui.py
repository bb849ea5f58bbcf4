"""The StyleGAN2 UI helpers: gallery thumbnails, request settings, layer spans."""

import numpy as np

from core.media import thumbnail
from gan.generate.faces import SG2Settings
from gan.generate.service import THUMBNAIL_SIZE
from ui.components import sg2_settings
from ui.style_mix import _span


def test_large_faces_are_thumbnails_and_small_ones_native():
    big = thumbnail(np.zeros((1024, 1024, 3), np.uint8), THUMBNAIL_SIZE)
    assert big.shape == (THUMBNAIL_SIZE, THUMBNAIL_SIZE, 3)
    small = np.arange(64 * 64 * 3, dtype=np.uint8).reshape(64, 64, 3)
    assert thumbnail(small, THUMBNAIL_SIZE) is small  # the page scales it up crisply (CSS)


def test_request_settings_read_the_api_values():
    assert sg2_settings(0.7, "none", 0.0, 2.0) == SG2Settings(0.7, 0, "none", 2)
    assert sg2_settings(1.0, "const", None, None) == SG2Settings(1.0, 0, "const", 0)


def test_layer_spans():
    assert _span([0, 1, 2, 5]) == "0-2, 5"
    assert _span([8]) == "8" and _span([4, 5, 6, 7]) == "4-7"
