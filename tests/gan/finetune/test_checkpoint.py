"""The run checkpoint: D's config is read back from what was saved beside its weights."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import save_file

from core import store
from gan.finetune.checkpoint import load_discriminator
from gan.models.dcgan import Discriminator, DiscriminatorConfig


def _saved_d(path, config: DiscriminatorConfig, metadata: bool = True):
    D = Discriminator(config)
    meta = {"config": json.dumps(config.to_dict())} if metadata else None
    save_file(D.state_dict(), str(path), metadata=meta)
    return D


def test_d_is_rebuilt_from_its_saved_config(tmp_path):
    path = tmp_path / "d.safetensors"
    saved = _saved_d(path, DiscriminatorConfig(ndf=4, nc=1, image_size=16))
    D, pretrained = load_discriminator(path, 16)
    assert pretrained and D.config == saved.config
    assert torch.equal(D.state_dict()["main.0.weight"], saved.state_dict()["main.0.weight"])


def test_a_d_for_another_resolution_is_a_clear_error(tmp_path):
    path = tmp_path / "d.safetensors"
    _saved_d(path, DiscriminatorConfig(ndf=4, image_size=32))
    with pytest.raises(store.ModelLoadError, match="32px images, the generator makes 16px"):
        load_discriminator(path, 16)


def test_a_file_saved_elsewhere_without_a_config_still_loads(tmp_path):
    path = tmp_path / "d.safetensors"
    _saved_d(path, DiscriminatorConfig(ndf=4, image_size=16), metadata=False)
    D, pretrained = load_discriminator(path, 16)
    assert pretrained and D.config.ndf == 4


def test_a_fresh_d_when_there_is_none():
    D, pretrained = load_discriminator(None, 16)
    assert not pretrained and D.config == DiscriminatorConfig(image_size=16)
