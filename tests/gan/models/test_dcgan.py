"""The DCGAN modules: shapes, sizes, the tutorial's state-dict names; the model registry."""

import pytest
import torch

from gan import models
from gan.models.dcgan import (
    Discriminator,
    DiscriminatorConfig,
    Generator,
    GeneratorConfig,
    init_weights,
)


@pytest.mark.parametrize("image_size", [16, 32, 64, 128])
def test_generator_and_discriminator_shapes(image_size):
    g = Generator(GeneratorConfig(nz=8, ngf=4, image_size=image_size))
    d = Discriminator(DiscriminatorConfig(ndf=4, image_size=image_size))
    g.apply(init_weights)
    x = g(torch.randn(3, 8))
    assert x.shape == (3, 3, image_size, image_size)
    assert x.abs().max() <= 1.0  # tanh
    assert d(x).shape == (3,)
    assert g(torch.randn(3, 8, 1, 1)).shape == x.shape  # tutorial-style 4-D z too


@pytest.mark.parametrize("size", [8, 48, 100])
def test_bad_image_sizes_are_rejected(size):
    with pytest.raises(ValueError, match="power of two"):
        GeneratorConfig(image_size=size)


def test_tutorial_state_dict_names_load_unchanged():
    """The 64x64 layout is the PyTorch DCGAN tutorial's: `main.0` ... `main.12`."""
    keys = Generator(GeneratorConfig()).state_dict().keys()
    assert "main.0.weight" in keys and "main.12.weight" in keys
    assert len([k for k in keys if k.endswith("running_mean")]) == 4


def test_the_registry_builds_each_model_type_from_its_config_dict():
    config = GeneratorConfig(nz=8, ngf=4, image_size=16).to_dict()
    G = models.build(config["model_type"], {**config, "unknown_key": 1})
    assert isinstance(G, Generator) and G.config == GeneratorConfig(nz=8, ngf=4, image_size=16)
    D = models.build("dcgan-discriminator", DiscriminatorConfig(ndf=4, image_size=16).to_dict())
    assert isinstance(D, Discriminator) and D.config.ndf == 4
    assert models.lookup("dcgan-generator") == (GeneratorConfig, Generator)
    with pytest.raises(KeyError, match="unknown model_type"):
        models.lookup("no-such-model")
