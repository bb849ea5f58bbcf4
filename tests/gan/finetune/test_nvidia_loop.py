"""The StyleGAN2 recipe against NVIDIA's own training loop (stylegan2-ada-pytorch, run outside
the project on the same tiny G and D, the same images in the same order and the same random
state): 8 steps with every default of the recipe (train.py --resume's settings: ADA at p 0
with ada_kimg 100, path length 2 every 4 steps, lazy R1 with NVIDIA's auto γ, no EMA ramp-up,
Adam's lazy-regularisation correction) give the same G, D, G_ema, p and pl_mean.

The fixture holds NVIDIA's results after the 8 steps: `G.*`, `D.*`, `G_ema.*`, `p`, `pl_mean`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from gan.finetune import sg2_run
from gan.finetune.recipes import recipe_for
from gan.finetune.sg2_trainer import StyleGAN2Trainer
from tests.gan.finetune.sg2_tiny import one_thread, tiny_d, tiny_g, tiny_images

__all__ = ["one_thread"]  # autouse fixture

NVIDIA_LOOP = Path(__file__).parent / "fixtures" / "loop_nvidia.safetensors"


def test_eight_steps_with_the_recipe_defaults_equal_nvidias_loop():
    defaults = recipe_for("stylegan2").defaults(16, "cpu")
    assert defaults.batch_size == 4
    trainer = StyleGAN2Trainer(
        tiny_g(0), tiny_d(1), sg2_run.train_config(defaults), tiny_images(6), d_pretrained=True
    )
    torch.manual_seed(2024)
    np.random.seed(2024)
    for _ in range(8):
        trainer.train_step()
    ref = load_file(NVIDIA_LOOP)
    for prefix, module in (("G", trainer.G), ("D", trainer.D), ("G_ema", trainer.G_ema)):
        for key, value in module.state_dict().items():
            expected = ref[f"{prefix}.{key}"]
            assert torch.allclose(value, expected, rtol=1e-4, atol=1e-5), f"{prefix}.{key}"
    assert trainer.augment.p == pytest.approx(float(ref["p"]), abs=1e-7)
    assert float(trainer.loss.pl_mean) == pytest.approx(float(ref["pl_mean"]), rel=1e-4)
