"""Keeping a GAN lab run: the timelapse frames, the saved folder, its G and D loading back."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from PIL import Image

from core import store
from core.errors import UserInputError
from gan.finetune.checkpoint import load_discriminator
from gan.lab import train as lab_train
from gan.lab.keep import TIMELAPSE_NAME, check_name, save_lab_model
from gan.lab.service import Lab
from gan.lab.toy import toy_dataset
from gan.lab.train import LabConfig, run_steps, start
from gan.loading import generator_from_folder

TINY = LabConfig(
    steps=12, image_size=16, nz=8, ngf=4, ndf=4, batch_size=4, n_samples=4, preview_every=3
)


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def images() -> np.ndarray:
    return toy_dataset(16, 16, seed=0)


def _finished(config: LabConfig, images: np.ndarray):
    run, meter = start(config, images)
    for _ in run_steps(run, meter):
        pass
    return run


def test_the_timelapse_keeps_one_frame_every_preview(images):
    run = _finished(TINY, images)
    assert len(run.frames) == 4  # steps 3, 6, 9, 12
    assert run.frames[0].shape == (16, 64, 3)  # 4 samples of 16 px in one row, not enlarged
    assert not np.array_equal(run.frames[0], run.frames[-1])


def test_a_long_run_keeps_a_bounded_evenly_spaced_timelapse(images, monkeypatch):
    monkeypatch.setattr(lab_train, "MAX_TIMELAPSE_FRAMES", 4)
    run = _finished(dataclasses.replace(TINY, steps=20, preview_every=1), images)
    assert 2 <= len(run.frames) <= 4 and run.frame_every == 8  # thinned twice: 1, 9, 17
    assert len(run.frames) == 3


def test_a_saved_run_loads_as_a_dcgan_with_its_discriminator_and_timelapse(images, tmp_path):
    run = _finished(TINY, images)
    folder = save_lab_model(run, tmp_path / "my-lab")
    G = generator_from_folder(folder, "my-lab").eval()
    assert G.config.image_size == 16 and G.config.nz == 8
    out = G(torch.randn(2, 8))
    assert out.shape == (2, 3, 16, 16) and torch.isfinite(out).all()
    # the running statistics were recomputed: eval mode makes what training mode makes
    with torch.no_grad():
        train_mode = run.G(run.z_fixed).float()
        assert (G(run.z_fixed) - train_mode).abs().mean() < 0.25
    D, pretrained = load_discriminator(folder / store.DISCRIMINATOR_NAME, 16)
    assert pretrained and D.config.ndf == 4
    gif = Image.open(folder / TIMELAPSE_NAME)
    assert gif.n_frames == len(run.frames) == 4


def test_a_model_name_is_never_overwritten(checkpoints, images):
    save_lab_model(_finished(dataclasses.replace(TINY, steps=3), images), checkpoints / "taken")
    with pytest.raises(UserInputError, match="already exists"):
        check_name("taken")
    with pytest.raises(UserInputError):
        check_name("../escape")


def test_the_service_saves_a_stopped_run_too(checkpoints, images, tmp_path):
    lab = Lab(output_dir=lambda: tmp_path)
    config = dataclasses.replace(TINY, steps=50)
    events = list(lab.train(config, images, save_as="stopped-run", out_of_time=lambda: True))
    assert events[-1].done and events[-1].step == 1
    gif = Image.open(checkpoints / "stopped-run" / TIMELAPSE_NAME)
    assert gif.n_frames == 1  # no preview step yet: the final samples
    assert events[-1].output == tmp_path / TIMELAPSE_NAME and events[-1].output.is_file()
