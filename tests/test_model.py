"""DCGAN modules, the bundled default weights, and the FaceStudio model class."""

import numpy as np
import pytest
import torch

from gan.models.dcgan import (
    Discriminator,
    DiscriminatorConfig,
    Generator,
    GeneratorConfig,
    init_weights,
)
from gan.studio import DEFAULT_MODEL, FaceStudio, load_generator


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


@pytest.fixture(scope="module")
def studio():
    return FaceStudio(torch.device("cpu"))


def test_default_weights_make_varied_faces(studio):
    faces = studio.generate(DEFAULT_MODEL, seeds=[1, 2, 3, 4])
    assert faces.images.shape == (4, 64, 64, 3) and faces.images.dtype == np.uint8
    per_face = faces.images.reshape(4, -1).astype(float)
    assert per_face.std(axis=1).min() > 20  # not blank or flat
    distances = [np.abs(per_face[i] - per_face[j]).mean() for i in range(4) for j in range(i)]
    assert min(distances) > 10  # no mode collapse across these seeds


def test_default_weights_are_the_trained_ones(studio):
    """The bundled weights are the converted, trained ones, not a fresh initialisation."""
    trained = load_generator(DEFAULT_MODEL, torch.device("cpu"))
    assert trained.config.nz == 100 and trained.config.ngf == 64
    # BatchNorm running statistics were learned (a fresh model has mean 0, var 1).
    bn = trained.main[1]
    assert not torch.allclose(bn.running_var, torch.ones_like(bn.running_var))


def test_a_seed_gives_the_same_face_alone_or_in_a_batch(studio):
    alone = studio.generate(DEFAULT_MODEL, seeds=[42]).images[0]
    in_batch = studio.generate(DEFAULT_MODEL, seeds=[7, 42, 9]).images[1]
    assert np.abs(alone.astype(int) - in_batch.astype(int)).max() <= 1


def test_truncation_zero_gives_the_mean_face_for_every_seed(studio):
    faces = studio.generate(DEFAULT_MODEL, seeds=[1, 2], truncation_psi=0.0)
    assert np.array_equal(faces.images[0], faces.images[1])


def test_interpolation_frames_start_and_end_at_the_keyframes(studio):
    frames = studio.interpolate(DEFAULT_MODEL, [3, 4], frames=5, mode="slerp")
    ends = studio.generate(DEFAULT_MODEL, seeds=[3, 4]).images
    assert frames.shape == (5, 64, 64, 3)
    assert np.abs(frames[0].astype(int) - ends[0]).max() <= 1
    assert np.abs(frames[-1].astype(int) - ends[1]).max() <= 1


def test_generators_are_cached_and_reloaded_when_weights_change(checkpoints, studio):
    from core import store
    from tests.conftest import tiny_generator

    g = tiny_generator(seed=1)
    store.save_pretrained(checkpoints / "tiny", g.config.to_dict(), g.state_dict(), "")
    first = studio.generator("tiny")
    assert studio.generator("tiny") is first
    g2 = tiny_generator(seed=2)
    store.save_pretrained(checkpoints / "tiny", g2.config.to_dict(), g2.state_dict(), "")
    assert studio.generator("tiny") is not first
