"""Fine-tune recipes: what a model family's fine-tune is (its defaults for a resolution and a
device, how a run is built, stepped and saved), registered by
key ("dcgan", "stylegan2", "stylegan3").

A family names its recipe's key; `recipe_for(key)` gives the recipe. The defaults come from
one table per recipe (`gan.finetune.specs`, in the shape of NVIDIA's `cfg_specs`): the tab,
the API and the CLI all start from `Recipe.defaults`.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any, Protocol

import torch

from core.errors import UserInputError
from gan.finetune import checkpoint, sg2_run
from gan.finetune.config import FinetuneConfig, FinetuneJob
from gan.finetune.specs import (
    DCGAN_SPECS,
    SG2_SPECS,
    SG3_SPECS,
    device_kind,
    gpu_batch,
    nvidia_auto,
)
from gan.finetune.trainer import StepLosses, world
from gan.models import families


class Recipe(Protocol):
    """One family's fine-tune."""

    key: str

    def defaults(self, resolution: int, device: torch.device | str) -> FinetuneConfig:
        """The run's settings at `resolution` on `device`, before the user's."""
        ...

    def build(self, job: FinetuneJob, device: torch.device, folder: Path) -> tuple[Any, dict, list]:
        """(trainer, state, notes) for a new run from `folder`, or the resume of it."""
        ...

    def step(self, trainer: Any, real: torch.Tensor | None) -> StepLosses:
        """One training step (on `real`, or the trainer's own sampler when None)."""
        ...

    def save(self, target: Path, trainer: Any, state: dict, resume: dict | None) -> Path:
        """The whole run, atomically, in `target`."""
        ...


_REGISTRY: dict[str, Recipe] = {}


def register_recipe(key: str, recipe: Recipe) -> None:
    """Make `recipe` the fine-tune of the families that name `key`."""
    _REGISTRY[key] = recipe


def unregister_recipe(key: str) -> None:
    """Forget the recipe registered as `key` (a test's own)."""
    _REGISTRY.pop(key, None)


def recipe_for(key: str) -> Recipe:
    """The recipe registered as `key`."""
    try:
        return _REGISTRY[key]
    except KeyError:
        raise UserInputError(f"no fine-tune recipe for {key!r} models") from None


def key_of(folder: Path) -> str:
    """The recipe key of the model in `folder`: its family's."""
    return families.family_of(folder).recipe


class DCGANRecipe:
    """The lesson's DCGAN fine-tune (`gan.finetune.trainer`): FinetuneConfig's own values,
    with the run's length, batch and KID size from `DCGAN_SPECS` for the device."""

    key = "dcgan"

    def defaults(self, resolution: int, device: torch.device | str) -> FinetuneConfig:
        return FinetuneConfig(**DCGAN_SPECS[device_kind(device)])

    def build(self, job: FinetuneJob, device: torch.device, folder: Path) -> tuple[Any, dict, list]:
        return checkpoint.start_dcgan(job, device)

    def step(self, trainer: Any, real: torch.Tensor | None) -> StepLosses:
        return trainer.train_step(real)

    def save(self, target: Path, trainer: Any, state: dict, resume: dict | None) -> Path:
        return checkpoint.save_run(target, trainer, state, resume)


class StyleGAN2Recipe:
    """NVIDIA's StyleGAN2-ADA fine-tune (`train.py --resume`), from `SG2_SPECS`."""

    key = "stylegan2"
    specs = SG2_SPECS

    def defaults(self, resolution: int, device: torch.device | str) -> FinetuneConfig:
        kind = device_kind(device)
        spec, auto = self.specs[kind], nvidia_auto(resolution, world()[1])
        batch = gpu_batch(resolution) if spec["mb"] == -1 else spec["mb"]
        steps = spec["steps"] if resolution <= 256 or kind == "cpu" else spec["steps"] // 2
        lr = auto["lrate"] if spec["lrate"] == -1 else spec["lrate"]
        lr_d = spec.get("dlr", lr)
        return FinetuneConfig(
            steps=steps, batch_size=batch, sample_every=max(1, steps // 10),
            d_warmup=spec["d_warmup"], kid_samples=spec["kid_samples"], lr_g=lr, lr_d=lr_d,
            beta1_g=spec["betas"][0], beta2_g=spec["betas"][1],
            beta1_d=spec["betas"][0], beta2_d=spec["betas"][1],
            r1_gamma=auto["gamma"] if spec["gamma"] == -1 else spec["gamma"],
            ema_kimg=auto["ema"] if spec["ema"] == -1 else spec["ema"],
            ema_rampup=spec["ramp"] or 0.0, ada_kimg=spec["ada_kimg"],
            ada_target=spec["ada_target"], augment=spec["augment"], augment_p=spec["augment_p"],
            pl_weight=spec["pl_weight"], pl_batch_shrink=spec["pl_batch_shrink"],
            pl_decay=spec["pl_decay"], g_reg_interval=spec["g_reg_interval"],
            d_reg_interval=spec["d_reg_interval"], style_mixing_prob=spec["style_mixing_prob"],
            freezed=spec["freezed"], freeze_d=None, d_loss_threshold=spec["d_loss_threshold"],
        )  # fmt: skip

    def build(self, job: FinetuneJob, device: torch.device, folder: Path) -> tuple[Any, dict, list]:
        return sg2_run.start(job, device, folder)

    def step(self, trainer: Any, real: torch.Tensor | None) -> StepLosses:
        return trainer.train_step(None)  # its own sampler, as NVIDIA's loop

    def save(self, target: Path, trainer: Any, state: dict, resume: dict | None) -> Path:
        return sg2_run.save(target, trainer, state, resume)


class StyleGAN3Recipe(StyleGAN2Recipe):
    """NVIDIA stylegan3's `train.py --cfg=stylegan3-t|r --resume` (ADA, R1, Freeze-D; no
    style mixing, path length or blur), from `SG3_SPECS`, on the StyleGAN2 trainer (the same
    loss, D and loop; StyleGAN3's G has the same `mapping`/`synthesis`)."""

    key = "stylegan3"
    specs = SG3_SPECS

    def defaults(self, resolution: int, device: torch.device | str) -> FinetuneConfig:
        """As StyleGAN2's, but γ and the EMA follow the run's own batch, as stylegan3's
        train.py (ema_kimg = batch * 10 / 32; γ: see `SG3_SPECS`)."""
        config = super().defaults(resolution, device)
        batch = config.batch_size * world()[1]
        return replace(config, ema_kimg=batch * 10 / 32, r1_gamma=0.0002 * resolution**2 / batch)


register_recipe(DCGANRecipe.key, DCGANRecipe())
register_recipe(StyleGAN2Recipe.key, StyleGAN2Recipe())
register_recipe(StyleGAN3Recipe.key, StyleGAN3Recipe())


def start(job: FinetuneJob, device: torch.device) -> tuple[Recipe, Any, dict, list]:
    """(recipe, trainer, state, notes) of the run: from the base model, or the resume of
    `checkpoints/<name>/`."""
    folder = checkpoint.run_folder(job)
    recipe = recipe_for(key_of(folder))
    return (recipe, *recipe.build(job, device, folder))
