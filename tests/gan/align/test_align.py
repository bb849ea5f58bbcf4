"""Face alignment: FFHQ's crop found on the app's own faces pasted into larger photos at a
known place and angle; a photo without a face and one with two get clear answers."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from core import media
from core.errors import UserInputError
from gan.align.align import Landmarks, aligned_crop, ffhq_quad, quad_side
from gan.align.service import Aligner
from gan.generate.service import FaceStudio

FACE_SIDE = 128  # the bundled DCGAN's 64 px faces, upscaled
BACKGROUND = (90, 120, 150)
CANVAS = (400, 300)


@pytest.fixture(scope="module")
def aligner() -> Aligner:
    return Aligner()


@pytest.fixture(scope="module")
def face(tmp_path_factory) -> Image.Image:
    studio = FaceStudio("cpu", tmp_path_factory.mktemp("faces"))
    image = studio.generate("dcgan-digiface", seeds=[7]).images[0]
    return media.upscale(image, FACE_SIDE).convert("RGB")


def place(face: Image.Image, angle: float, at: tuple[int, int]) -> tuple[Image.Image, Callable]:
    """`face` turned by `angle` degrees (counter-clockwise) and pasted at `at` on a plain
    canvas; and the map from the face's own pixels to the canvas's."""
    turned = face.convert("RGBA").rotate(angle, Image.Resampling.BICUBIC, expand=True)
    canvas = Image.new("RGB", CANVAS, BACKGROUND)
    canvas.paste(turned, at, turned)
    a = np.deg2rad(angle)
    rotation = np.array([[np.cos(a), np.sin(a)], [-np.sin(a), np.cos(a)]])
    centre = np.array(turned.size) / 2 + at

    def to_canvas(points: np.ndarray) -> np.ndarray:
        return (points - FACE_SIDE / 2) @ rotation.T + centre

    return canvas, to_canvas


def test_the_quad_is_ffhqs_square_from_the_eyes_and_the_mouth():
    """Level eyes 40 px apart, the mouth 40 px below: a 160 px square (half its side is twice
    eye-to-eye), its centre a tenth of the way from the eyes to the mouth."""
    points = np.array([[80, 100], [120, 100], [100, 120], [85, 140], [115, 140]], float)
    quad = ffhq_quad(Landmarks(points))
    assert quad_side(quad) == pytest.approx(160.0)
    np.testing.assert_allclose(quad.mean(0), [100, 104])
    np.testing.assert_allclose(quad[0], [20, 24])  # top-left, then bottom-left, ...
    np.testing.assert_allclose(quad[1], [20, 184])


def test_a_turned_face_is_turned_back_and_padded_where_the_square_leaves_the_photo():
    points = np.array([[10, 10], [50, 30], [0, 0], [10, 60], [40, 70]], float)
    image = Image.new("RGB", (64, 64), (200, 10, 10))
    out = aligned_crop(image, ffhq_quad(Landmarks(points)), 32)
    red = np.asarray(out)[..., 0]
    assert out.size == (32, 32) and red.min() > 100  # filled by the padding: no black corners


@pytest.fixture(scope="module")
def level_quad(aligner, face) -> np.ndarray:
    """The square found on the face level in the middle of the canvas, in the face's pixels."""
    reference, _ = place(face, 0, (136, 86))
    return ffhq_quad(aligner.faces(reference)[0].landmarks) - [136, 86]


@pytest.mark.parametrize(("angle", "at"), [(12, (200, 100)), (-10, (30, 20))])
def test_the_crop_found_is_within_a_few_pixels_of_the_expected_one(
    aligner, face, level_quad, angle, at
):
    photo, to_canvas = place(face, angle, at)
    found = aligner.align(photo, 64)
    expected = to_canvas(level_quad)
    assert len(found.faces) == 1 and found.image.size == (64, 64)
    side = quad_side(expected)
    assert np.abs(found.quad - expected).max() < max(8.0, 0.05 * side), (found.quad, expected)
    tilt = np.degrees(np.arctan2(*(found.quad[3] - found.quad[0])[::-1]))
    assert tilt == pytest.approx(-angle, abs=3.0)


@pytest.mark.parametrize("photo", ["golden_gate.jpg", None])
def test_a_photo_without_a_face_gets_a_clear_message(aligner, images_dir: Path, photo):
    source = Image.new("RGB", (200, 160), (120, 120, 120))
    if photo:  # a landscape, small: detection time grows with the pixels
        source = Image.open(images_dir / photo).convert("RGB")
        source.thumbnail((320, 320))
    with pytest.raises(UserInputError, match="no face was found") as caught:
        aligner.align(source, 64)
    assert "/" not in str(caught.value) and caught.value.phrase.key == "msg.error.no_face"


def test_two_faces_give_a_choice_largest_first(aligner, face):
    photo = Image.new("RGB", CANVAS, BACKGROUND)
    photo.paste(face, (10, 60))
    photo.paste(face.resize((90, 90), Image.Resampling.LANCZOS), (260, 40))
    first, second = aligner.align(photo, 64), aligner.align(photo, 64, face=1)
    assert len(first.faces) == 2 and first.faces[0].area > first.faces[1].area
    assert first.quad.mean(0)[0] < 200 < second.quad.mean(0)[0]  # the big face is on the left
    preview, count = aligner.preview(photo, 1)
    assert count == 2 and preview.size == photo.size
    with pytest.raises(UserInputError, match="no face number 3: the photo has 2"):
        aligner.align(photo, 64, face=2)


def test_the_detector_reads_tensors_only(monkeypatch):
    """Its weights load with `torch.load(weights_only=True)`, on the CPU."""
    from gan.align import detector

    calls = []
    load = torch.load

    def spy(*args, **kwargs):
        calls.append(kwargs)
        return load(*args, **kwargs)

    monkeypatch.setattr(torch, "load", spy)
    detector.load_networks()
    assert len(calls) == 3 and all(c.get("weights_only") is True for c in calls)
    assert all(str(c.get("map_location")) == "cpu" for c in calls)


def test_face_models_are_known_by_their_config_or_name():
    from gan.models.families import is_face_model

    assert is_face_model({"model_type": "dcgan-generator", "dataset": "DigiFace-1M"})
    assert is_face_model({"model_type": "stylegan2-generator"}, "stylegan2-ffhq-1024")
    assert not is_face_model({"dataset": "FFHQ", "faces": False})
    assert not is_face_model({"model_type": "stylegan2-generator"}, "afhq-cats")
