"""StyleGAN2 fine-tuning settings: the model's defaults fill what the caller leaves unset (one
place for each default), and a conditional StyleGAN2 is refused with a clear message, before
any data is prepared or any training runs."""

from __future__ import annotations

import json
import threading

import pytest
import torch

from core import store
from core.errors import UserInputError
from gan.finetune import recipes, sg2_run
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


def test_a_256px_batch_32_run_saves_nvidias_resume_settings(checkpoints):
    """NVIDIA's `train.py --cfg=auto --batch=32 --resume=...` at 256 px: γ and ema_kimg from
    its auto batch (16), not the run's 32; ada_kimg 100; lr 0.0025 and Adam (0, 0.99) with
    the lazy-regularisation correction; path length at weight 2; no EMA ramp-up."""
    torch.manual_seed(0)
    config = StyleGAN2Config(
        z_dim=4, w_dim=4, img_resolution=256, mapping_layers=1, channel_base=256, channel_max=2
    )
    _save(checkpoints / "sg2-256", StyleGAN2Generator(config))
    tuner = FineTuner(CPU)
    values = {"batch_size": 32, "steps": 1, "kid_samples": 0, "n_samples": 1}
    settings = tuner.settings("sg2-256", values)
    images = torch.randint(0, 256, (32, 3, 256, 256), dtype=torch.uint8)
    stop = threading.Event()
    stop.set()  # stopped before its first step (a step at 256 px takes a minute here): it saves
    job = FinetuneJob(images, "ft-256", "sg2-256", settings)
    events = list(run_finetune(job, CPU, stop))
    assert events[-1].done
    state = json.loads((checkpoints / "ft-256" / "training_state.json").read_text())
    cfg = state["sg2_config"]
    assert cfg["batch_size"] == 32
    assert cfg["r1_gamma"] == pytest.approx(0.0002 * 256**2 / 16) == pytest.approx(0.8192)
    assert cfg["ema_kimg"] == pytest.approx(16 * 10 / 32) and cfg["ema_rampup"] is None
    assert cfg["ada_kimg"] == 100 and cfg["pl_weight"] == 2 and cfg["pl_batch_shrink"] == 2
    assert cfg["lr_g"] == cfg["lr_d"] == 0.0025
    assert (cfg["beta1_g"], cfg["beta2_g"], cfg["beta1_d"], cfg["beta2_d"]) == (0, 0.99, 0, 0.99)
    assert (cfg["g_reg_interval"], cfg["d_reg_interval"], cfg["d_loss_threshold"]) == (4, 16, 0)


def test_a_base_with_its_raw_g_resumes_both_g_and_g_ema(checkpoints):
    """As NVIDIA's --resume: the raw G trains, G_ema goes on from the saved G_ema."""
    G_ema, raw = tiny_g(0), tiny_g(5)
    store.save_pretrained(
        checkpoints / "sg2-both", G_ema.config.to_dict(), G_ema.state_dict(), "# tiny\n",
        extra={store.GENERATOR_TRAIN_NAME: raw.state_dict()},
    )  # fmt: skip
    config = recipes.recipe_for("stylegan2").defaults(16, CPU)
    job = FinetuneJob(tiny_images(4), "ft-both", "sg2-both", config)
    adapter, state, _ = sg2_run.start(job, CPU, checkpoints / "sg2-both")
    trainer = adapter.trainer
    assert all(torch.equal(v, raw.state_dict()[k]) for k, v in trainer.G.state_dict().items())
    assert all(torch.equal(v, G_ema.state_dict()[k]) for k, v in trainer.G_ema.state_dict().items())
    assert state["generator_origin"] == "the raw G and G_ema"
    _save(checkpoints / "sg2-ema", G_ema)  # without a raw G, both start from G_ema
    job = FinetuneJob(tiny_images(4), "ft-ema", "sg2-ema", config)
    adapter, _, _ = sg2_run.start(job, CPU, checkpoints / "sg2-ema")
    assert all(
        torch.equal(v, G_ema.state_dict()[k]) for k, v in adapter.trainer.G.state_dict().items()
    )
