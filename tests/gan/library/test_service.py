"""The latent library service on a tiny DCGAN and a tiny StyleGAN2: every origin's one call,
shapes checked against the model, the files the tabs take."""

from __future__ import annotations

import json

import pytest
import torch

from core.errors import UserInputError
from core.library import ItemStore
from core.quotas import Quotas
from gan import latents
from gan.library.service import LatentLibrary, Origin
from tests.conftest import tiny_generator
from tests.gan.sg2_tiny import tiny_stylegan2

OWNER = "anon-" + "c" * 32


@pytest.fixture
def library(tmp_path) -> LatentLibrary:
    models = {"dc": tiny_generator(1), "sg2": tiny_stylegan2(2)}
    out = tmp_path / "out"

    def output_dir():
        folder = out / str(len(list(out.glob("*"))) if out.exists() else 0)
        folder.mkdir(parents=True)
        return folder

    return LatentLibrary(ItemStore(tmp_path / "lib", Quotas()), models.__getitem__, output_dir)


def test_a_walk_point_and_a_projection_go_in_with_one_call(library):
    G = library.generator("sg2")
    w = G.mapping(torch.randn(1, G.z_dim), None)
    point = library.add(OWNER, "sg2", latents.Latent("w", w), Origin("walk"))
    text = latents.w_json(w)
    projected = library.add_text(OWNER, "sg2", text, Origin("projection"))
    assert point.entry_id == projected.entry_id  # the same latent of the same model: kept once
    assert (point.space, point.origin, point.family) == ("w", "walk", "StyleGAN2")
    assert point.shape == f"z {G.z_dim}, W+ {G.num_ws}×{G.w_dim}"
    [path] = library.latent_files(OWNER, [point.entry_id])
    meta = json.loads(path.read_text())["model"]
    assert meta == {"name": "sg2", "family": "StyleGAN2", "z_dim": G.z_dim} | {
        "num_ws": G.num_ws,
        "w_dim": G.w_dim,
    }
    read = latents.read_latent(path, "", G.z_dim, G.num_ws, G.w_dim)
    assert torch.allclose(read.value, w)


def test_a_latent_of_the_wrong_shape_is_refused(library):
    G = library.generator("dc")
    with pytest.raises(UserInputError, match="StyleGAN2"):
        library.add(OWNER, "dc", latents.Latent("w", torch.zeros(1, 2, 4)), Origin("edit"))
    with pytest.raises(UserInputError):
        library.add(
            OWNER, "dc", latents.Latent("z", torch.zeros(1, G.config.nz + 1)), Origin("edit")
        )
    assert library.entries(OWNER) == []
