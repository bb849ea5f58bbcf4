"""Crops per image: the centre crop first, then seeded random crops; bad counts are refused."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from core.errors import UserInputError
from gan.finetune import data


def _image() -> Image.Image:
    rng = np.random.default_rng(0)
    return Image.fromarray(rng.integers(0, 256, (40, 60, 3), dtype=np.uint8))


def test_crops_are_the_centre_crop_then_seeded_random_ones():
    image = _image()
    crops = data.crops_of(image, 16, 4, seed=3)
    assert len(crops) == 4 and all(c.shape == (16, 16, 3) for c in crops)
    assert np.array_equal(crops[0], np.asarray(data.center_crop_resize(image, 16)))
    again = data.crops_of(image, 16, 4, seed=3)
    assert all(np.array_equal(a, b) for a, b in zip(crops, again, strict=True))
    other = data.crops_of(image, 16, 4, seed=4)
    assert not np.array_equal(crops[1], other[1])
    assert len({c.tobytes() for c in crops}) == 4


def test_prepare_multiplies_the_set_and_refuses_bad_counts(tmp_path):
    paths = []
    for i in range(3):
        path = tmp_path / f"{i}.png"
        Image.fromarray(np.full((40, 40, 3), 60 * i, dtype=np.uint8)).save(path)
        paths.append(str(path))
    with pytest.raises(UserInputError, match="at least 8 images"):
        data.prepare(paths, 16)
    assert len(data.prepare(paths, 16, crops=3)) == 9
    for bad in (0, 17, 2.5):
        with pytest.raises(UserInputError, match="crops per image"):
            data.prepare(paths, 16, crops=bad)
