"""The family registry (gan/models/families.py): what a model is and can do, one loader and one
saver for every module, D's config always saved."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import save_file

from core import store
from gan.models import families
from gan.models.dcgan import Discriminator, DiscriminatorConfig
from tests.conftest import tiny_generator
from tests.gan.sg2_tiny import tiny_stylegan2, tiny_stylegan2_d


def test_each_module_and_config_names_its_family_and_capabilities():
    G, sg2 = tiny_generator(), tiny_stylegan2()
    assert families.family_of(G) is families.DCGAN
    assert families.family_of(sg2) is families.STYLEGAN2
    assert families.family_of(tiny_stylegan2_d()) is families.STYLEGAN2
    assert families.family_of({}) is families.DCGAN  # the oldest folders have no model_type
    assert not families.DCGAN.has_w and families.STYLEGAN2.style_mixing
    assert families.w_shape(G) == (0, 0) and families.w_shape(sg2) == (sg2.num_ws, sg2.w_dim)
    assert families.DCGAN.recipe == "dcgan" and families.STYLEGAN2.recipe == "stylegan2"
    with pytest.raises(KeyError, match="no model family"):
        families.family_of(torch.nn.Linear(2, 2))


def test_sefa_layers_are_one_weight_per_w_entry_or_the_first_layer():
    sg2 = tiny_stylegan2()
    assert len(families.STYLEGAN2.sefa_layers(sg2)) == sg2.num_ws
    (first,) = families.DCGAN.sefa_layers(tiny_generator())
    assert first.shape[1] == 8  # (outputs, nz)


@pytest.mark.parametrize(
    ("G", "D"),
    [
        (tiny_generator(), Discriminator(DiscriminatorConfig(ndf=4, image_size=16))),
        (tiny_stylegan2(), tiny_stylegan2_d()),
    ],
)
def test_save_then_load_gives_the_same_modules_and_keeps_other_files(tmp_path, G, D):
    folder = tmp_path / "m"
    families.save(folder, G, "G", card="# m\n")
    (folder / "notes.txt").write_text("kept")
    families.save(folder, D, "D")
    meta = store.read_safetensors_metadata(folder / store.DISCRIMINATOR_NAME)
    assert json.loads(meta["config"])["model_type"] == families.family_of(D).discriminator_type
    assert (folder / "notes.txt").read_text() == "kept" and (folder / "README.md").is_file()
    G2, D2 = families.load(folder, "G"), families.load(folder, "D")
    assert type(G2) is type(G) and type(D2) is type(D)
    for a, b in ((G, G2), (D, D2)):
        for (k, v), (k2, v2) in zip(a.state_dict().items(), b.state_dict().items(), strict=True):
            assert k == k2 and torch.equal(v, v2)


def test_a_dcgan_d_saved_without_its_config_still_loads(tmp_path):
    folder = tmp_path / "old"
    families.save(folder, tiny_generator(), "G")
    D = Discriminator(DiscriminatorConfig(ndf=4, image_size=16))
    save_file(D.state_dict(), str(folder / store.DISCRIMINATOR_NAME))
    assert families.load(folder, "D").config == D.config


def test_a_g_is_not_loaded_as_d_nor_d_as_g(tmp_path):
    folder = tmp_path / "d"
    config = {**DiscriminatorConfig(ndf=4, image_size=16).to_dict()}
    store.save_pretrained(
        folder, config, Discriminator(DiscriminatorConfig(4, 3, 16)).state_dict(), ""
    )
    with pytest.raises(store.ModelLoadError, match="not a face generator"):
        families.load(folder, "G")
