"""Acceptance of the family registry: a toy third family (tests/gan/models/toy_family.py),
registered by this test alone, shows in the model list and generates, interpolates, edits
(SeFa over its first layer) and judges through the API, with no change outside its files (its
fine-tune with a test-only recipe: tests/gan/finetune/test_toy_recipe.py)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from gan.models import families
from tests.gan.models.toy_family import TOY, toy_modules
from ui.header import ModelChoices

NAME = "toy-mlp-faces"


@pytest.fixture
def toy(checkpoints: Path):
    """The toy family registered, and one toy model (G and D) saved in the checkpoints."""
    families.register(TOY)
    G, D = toy_modules(3)
    families.save(checkpoints / NAME, G, "G", card="# toy\n")
    families.save(checkpoints / NAME, D, "D")
    yield G, D
    families.unregister(TOY.name)


def pixels(path: str) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"))


def expected_faces(G, seeds: list[int]) -> np.ndarray:
    z = torch.stack([torch.randn(6, generator=torch.Generator().manual_seed(s)) for s in seeds])
    with torch.no_grad():
        images = G(z).clamp(-1, 1)
    return ((images + 1) * 127.5).round().byte().permute(0, 2, 3, 1).numpy()


def test_the_toy_family_shows_in_the_model_list(app_services, toy):
    assert NAME in app_services.studio.model_choices()
    assert NAME in ModelChoices(app_services.studio, app_services.guard).visible()


def test_the_toy_family_generates_and_interpolates(client, toy):
    G, _ = toy
    gallery, _files, info = client.predict(seeds="1, 2", model=NAME, api_name="/generate")
    assert len(gallery) == 2 and NAME in info
    got = pixels(gallery[0]["image"])
    assert got.shape == (8, 8, 3)
    np.testing.assert_allclose(got.astype(int), expected_faces(G, [1])[0].astype(int), atol=1)
    _strip, gif, _mp4, _, _ = client.predict(
        seeds="1, 2", frames=4, mode="lerp", model=NAME, api_name="/interpolate"
    )
    with Image.open(gif) as animation:
        assert animation.n_frames == 4


def test_the_toy_family_edits_along_sefa_directions_of_its_first_layer(client, toy):
    still, *_ = client.predict(model=NAME, seed=3, api_name="/edit")
    moved, _strip, files, latent, info = client.predict(
        model=NAME, seed=3, direction_0=2.0, api_name="/edit"
    )
    assert not np.array_equal(pixels(moved), pixels(still))
    assert len(json.loads(latent)["z"][0]) == 6 and "+2σ on direction #0" in info
    assert {Path(f).name for f in files} >= {"edited.npy", "edited.json"}


def test_the_toy_family_judges_with_its_own_d(client, toy):
    _, D = toy
    logits, gallery, _table = client.predict(images=[], model=NAME, seeds="1-3", api_name="/judge")
    with torch.no_grad():
        faces = torch.from_numpy(expected_faces(toy[0], [1, 2, 3])).permute(0, 3, 1, 2)
        expected = D(faces.float() / 127.5 - 1.0).tolist()
    np.testing.assert_allclose(logits, expected, rtol=1e-4, atol=1e-4)
    assert len(gallery) == 3
