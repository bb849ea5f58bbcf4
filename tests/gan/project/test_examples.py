"""The Project tab's built-in examples: a face rendered once by the app, a shipped painting."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from core.errors import UserInputError
from gan import DEFAULT_MODEL
from gan.generate.service import DISPLAY_SIZE, FaceStudio
from gan.project.examples import EXAMPLES_DIR, PROJECT_EXAMPLES, project_example
from gan.project.service import Projector


@pytest.fixture
def projector(tmp_path) -> Projector:
    studio = FaceStudio(torch.device("cpu"), tmp_path / "outputs")
    return Projector(studio, loss_factory=lambda: None, example_dir=tmp_path / "examples")


def test_the_example_face_is_the_bundled_models_face_at_its_seed(projector):
    path = projector.example_photo("seed7")
    face = projector.studio.generate(DEFAULT_MODEL, seeds=[7]).images[0]
    with Image.open(path) as image:
        assert image.size == (DISPLAY_SIZE, DISPLAY_SIZE)
        small = np.asarray(image.convert("RGB").resize(face.shape[:2][::-1], Image.NEAREST))
    assert np.array_equal(small, face)


def test_the_face_is_written_once_and_again_when_removed(projector):
    path = projector.example_photo("seed7")
    written = path.stat().st_mtime_ns
    assert projector.example_photo("seed7") == path and path.stat().st_mtime_ns == written
    path.unlink()  # e.g. Gradio's cache clean-up
    assert projector.example_photo("seed7").is_file()
    assert not list(path.parent.glob("*.part"))


def test_a_painting_example_is_the_shipped_file(projector):
    painting = next(e for e in PROJECT_EXAMPLES if e.painting)
    assert projector.example_photo(painting.name) == EXAMPLES_DIR / painting.painting
    assert (EXAMPLES_DIR / painting.painting).is_file()


def test_an_unknown_example_is_a_clear_error(projector):
    with pytest.raises(UserInputError, match="no project example 'seed8'; known: seed7"):
        project_example("seed8")
    with pytest.raises(UserInputError, match="no project example"):
        projector.example_photo("../../etc/passwd")
