"""StyleGAN2 fine-tuning settings: the model's defaults fill what the caller leaves unset (one
place for each default), and a conditional StyleGAN2 is refused with a clear message, before
any data is prepared or any training runs."""

from __future__ import annotations

import json

import pytest
import torch

from core import store
from core.errors import UserInputError
from gan.finetune import recipes
from gan.finetune.config import FinetuneConfig, FinetuneJob, is_unset
from gan.finetune.loop import run_finetune
from gan.finetune.service import FineTuner, model_defaults
from gan.models.stylegan2 import StyleGAN2Config, StyleGAN2Generator
from tests.conftest import tiny_generator
from tests.gan.finetune.sg2_tiny import one_thread, tiny_g, tiny_images  # noqa: F401

CPU = torch.device("cpu")


def _save(folder, G) -> None:
    store.save_pretrained(folder, G.config.to_dict(), G.state_dict(), "# tiny\n")


def _conditional_g() -> StyleGAN2Generator:
    torch.manual_seed(0)
    config = StyleGAN2Config(
        z_dim=8, c_dim=3, w_dim=8, img_resolution=16, mapping_layers=2,
        channel_base=32, channel_max=8,
    )  # fmt: skip
    return StyleGAN2Generator(config)


def test_unset_means_none_or_zero_only_where_zero_is_invalid():
    assert is_unset("lr_g", None) and is_unset("steps", 0) and is_unset("batch_size", 0)
    assert not is_unset("lr_g", 0.0)  # a zero learning rate stays an error
    assert not is_unset("freeze_d", 0) and not is_unset("d_warmup", 0)  # 0 = off
    assert is_unset("ada_target", None) and not is_unset("ada_target", 0)


def test_stylegan2_defaults_fill_only_the_unset_settings(checkpoints):
    _save(checkpoints / "sg2", tiny_g())
    _save(checkpoints / "dc", tiny_generator())
    tuner = FineTuner(CPU)
    sg2 = tuner.settings("sg2", {"steps": 0, "batch_size": 0, "lr_g": None, "lr_d": 0.001})
    expected = recipes.recipe_for("stylegan2").defaults(16, CPU)
    assert (sg2.steps, sg2.batch_size, sg2.lr_g) == (
        expected.steps, expected.batch_size, expected.lr_g,
    )  # fmt: skip
    assert sg2.lr_d == 0.001 and sg2.lr_g == 0.0025 and sg2.batch_size == 4
    dc = tuner.settings("dc", {"steps": 0, "lr_g": None, "sample_every": None})
    assert dc.lr_g == FinetuneConfig().lr_g == 2e-4
    assert dc.steps == recipes.recipe_for("dcgan").defaults(16, CPU).steps == 100
    assert model_defaults("sg2", CPU) == tuner.defaults_for("sg2")


def test_a_conditional_stylegan2_is_refused_before_the_data(checkpoints, tmp_path):
    _save(checkpoints / "cond", _conditional_g())
    tuner = FineTuner(CPU)
    with pytest.raises(UserInputError, match=r"conditional \(3 classes\).*class label"):
        tuner.prepare([str(tmp_path / "never-read.png")], "cond")
    with pytest.raises(UserInputError, match="conditional"):
        tuner.start([str(tmp_path / "never-read.png")], "cond", "cond-ft", FinetuneConfig())


def test_the_loop_refuses_a_conditional_stylegan2_too(checkpoints):
    _save(checkpoints / "cond", _conditional_g())
    config = FinetuneConfig(steps=2, batch_size=2, kid_samples=0, d_warmup=0)
    job = FinetuneJob(tiny_images(4), "cond-ft", "cond", config)
    with pytest.raises(UserInputError, match="uploaded images carry none"):
        list(run_finetune(job, CPU))
    assert not (checkpoints / "cond-ft").exists()
    assert json.loads((checkpoints / "cond" / "config.json").read_text())["c_dim"] == 3
