"""The StyleGAN3 recipe: NVIDIA stylegan3's `train.py --cfg=stylegan3-t|r --resume` defaults,
and a short fine-tune of a tiny random StyleGAN3 that writes a StyleGAN3 model whose samples
move toward the data (the D-free colour-statistics distance of tests/gan/finetune/
test_toward_data.py)."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from core import store
from gan.finetune import data
from gan.finetune.config import FinetuneJob
from gan.finetune.loop import run_finetune
from gan.finetune.recipes import recipe_for
from gan.loading import generator_from_folder
from gan.models import families
from gan.models.stylegan3 import StyleGAN3Config, StyleGAN3Generator
from tests.gan.finetune.sg2_tiny import one_thread  # noqa: F401 (autouse fixture)
from tests.gan.finetune.test_toward_data import distance_to_data
from tests.ui.test_finetune_api import painting_crops

CPU = torch.device("cpu")


def test_the_recipe_is_nvidias_stylegan3_resume():
    d = recipe_for("stylegan3").defaults(1024, "cuda")
    assert (d.lr_g, d.lr_d) == (0.0025, 0.002)  # --glr default for stylegan3, --dlr
    assert (d.beta1_g, d.beta2_g, d.beta1_d, d.beta2_d) == (0.0, 0.99, 0.0, 0.99)
    assert d.pl_weight == 0 and d.style_mixing_prob == 0 and d.g_reg_interval == 1
    assert (d.ada_kimg, d.ema_rampup, d.augment, d.ada_target) == (100, 0.0, "ada", 0.6)
    assert d.d_reg_interval == 16 and d.ema_kimg == pytest.approx(d.batch_size * 10 / 32)
    assert d.r1_gamma == pytest.approx(0.0002 * 1024**2 / d.batch_size)
    assert families.STYLEGAN3.recipe == "stylegan3"


@pytest.fixture
def setting(checkpoints, images_dir, tmp_path):
    torch.manual_seed(0)
    config = StyleGAN3Config(
        z_dim=16, w_dim=16, img_resolution=16, channel_base=512, channel_max=16,
        num_layers=4, margin_size=2, mapping_layers=2,
    )  # fmt: skip
    families.save(checkpoints / "sg3", StyleGAN3Generator(config).eval())
    crops = painting_crops(images_dir, tmp_path, 24)
    return data.prepare([str(p) for p in crops], 16).images


def _tuned(images: torch.Tensor, name: str, steps: int):
    config = replace(
        recipe_for("stylegan3").defaults(16, CPU), steps=steps, batch_size=8, d_warmup=4,
        sample_every=1000, kid_samples=0, n_samples=4, ema_kimg=0.1,
    )  # fmt: skip
    events = list(run_finetune(FinetuneJob(images, name, "sg3", config), CPU, report_every_s=60))
    assert events[-1].done and events[-1].message == "finished"
    return store.checkpoints_dir() / name


def test_a_short_stylegan3_finetune_moves_toward_the_data(setting):
    base = generator_from_folder(store.checkpoints_dir() / "sg3", "sg3")
    before = distance_to_data(base, setting)
    folder = _tuned(setting, "sg3-tuned", 100)
    assert families.family_of(folder) is families.STYLEGAN3
    after = distance_to_data(generator_from_folder(folder, "sg3-tuned"), setting)
    assert after < 0.7 * before, (before, after)
    assert "A StyleGAN3 generator fine-tuned" in (folder / "README.md").read_text()
