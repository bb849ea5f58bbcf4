"""Acceptance of the recipes (issue: model families as plug-ins): the toy third family of
tests/gan/models/toy_family.py fine-tunes with a toy recipe registered by this test alone,
through the same loop as DCGAN and StyleGAN2, and its saved model moves toward the data."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from core.images import to_uint8
from gan.finetune import recipes
from gan.finetune.config import FinetuneConfig, FinetuneJob
from gan.finetune.loop import run_finetune
from gan.finetune.trainer import StepLosses
from gan.models import families
from tests.gan.models.toy_family import TOY, toy_modules

CPU = torch.device("cpu")


class ToyTrainer:
    """Non-saturating GAN steps on the toy MLPs, with an EMA copy of G."""

    def __init__(self, G: nn.Module, D: nn.Module, lr: float) -> None:
        self.G, self.D, self.G_ema = G.train(), D.train(), copy.deepcopy(G).eval()
        self.nz, self.step = G.config.z_dim, 0
        self.opt_g = torch.optim.Adam(G.parameters(), lr, betas=(0.5, 0.999))
        self.opt_d = torch.optim.Adam(D.parameters(), lr, betas=(0.5, 0.999))

    def train_step(self, real: torch.Tensor) -> StepLosses:
        real = real.float() / 127.5 - 1
        z = torch.randn(len(real), self.nz)
        loss_d = nn.functional.softplus(self.D(self.G(z).detach())).mean()
        loss_d = loss_d + nn.functional.softplus(-self.D(real)).mean()
        self.opt_d.zero_grad()
        loss_d.backward()
        self.opt_d.step()
        loss_g = nn.functional.softplus(-self.D(self.G(z))).mean()
        self.opt_g.zero_grad()
        loss_g.backward()
        self.opt_g.step()
        with torch.no_grad():
            for ema, p in zip(self.G_ema.parameters(), self.G.parameters(), strict=True):
                ema.lerp_(p, 0.5)
        self.step += 1
        return StepLosses(loss_d.item(), loss_g.item(), False)

    def samples(self, z: torch.Tensor) -> np.ndarray:
        with torch.no_grad():
            return to_uint8(self.G_ema(z).numpy())


class ToyRecipe:
    """The toy family's fine-tune: build, step and save through `families` alone."""

    key = TOY.recipe

    def defaults(self, resolution: int, device: torch.device | str) -> FinetuneConfig:
        lr = 0.01
        return FinetuneConfig(steps=400, batch_size=8, lr_g=lr, lr_d=lr, n_samples=4, kid_samples=0)

    def build(self, job: FinetuneJob, device: torch.device, folder: Path):
        G, D = families.load(folder, "G"), families.load(folder, "D")
        return ToyTrainer(G, D, job.config.lr_g), {"history": [], "kid": {}}, []

    def step(self, trainer: ToyTrainer, real: torch.Tensor | None) -> StepLosses:
        return trainer.train_step(real)

    def save(self, target: Path, trainer: ToyTrainer, state: dict, resume: dict | None) -> Path:
        families.save(target, trainer.G_ema, "G", card="# toy fine-tune\n")
        return families.save(target, trainer.D, "D")


@pytest.fixture
def toy_base(checkpoints: Path):
    families.register(TOY)
    recipes.register_recipe(ToyRecipe.key, ToyRecipe())
    G, D = toy_modules(5)
    families.save(checkpoints / "toy-base", G, "G", card="# toy\n")
    families.save(checkpoints / "toy-base", D, "D")
    yield "toy-base"
    recipes.unregister_recipe(ToyRecipe.key)
    families.unregister(TOY.name)


def mean_colour(G: nn.Module) -> np.ndarray:
    with torch.no_grad():
        images = G(torch.randn(64, G.config.z_dim, generator=torch.Generator().manual_seed(0)))
    return images.mean(dim=(0, 2, 3)).numpy()


def test_the_toy_family_fine_tunes_with_its_own_recipe_toward_the_data(toy_base, checkpoints):
    red = torch.zeros(32, 3, 8, 8, dtype=torch.uint8)
    red[:, 0] = 230  # the data: red squares, (0.8, -1, -1) in [-1, 1]
    config = ToyRecipe().defaults(8, CPU)
    job = FinetuneJob(red, "toy-tuned", toy_base, config)
    events = list(run_finetune(job, CPU, report_every_s=0))
    assert events[-1].done and events[-1].output == checkpoints / "toy-tuned"
    target = np.array([230 / 127.5 - 1, -1, -1])
    before = families.load(checkpoints / toy_base, "G")
    after = families.load(checkpoints / "toy-tuned", "G")
    assert families.family_of(after) is TOY
    distance_before = np.abs(mean_colour(before) - target).sum()
    distance_after = np.abs(mean_colour(after) - target).sum()
    assert distance_after < 0.7 * distance_before, (distance_before, distance_after)
