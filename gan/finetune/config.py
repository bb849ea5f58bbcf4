"""Fine-tuning settings: one validated dataclass per run, the host's caps, and the job."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field, replace

import torch

from core.errors import UserInputError
from core.quotas import Deadline
from gan import DEFAULT_MODEL
from gan.finetune.augment import DEFAULT_POLICY, parse_policy
from gan.finetune.specs import DCGAN_SPECS, SG2_SPECS, device_kind


def _env_number(name: str, default: float) -> float:
    try:
        return float(os.environ.get(name, default))
    except ValueError:
        return default


# Shared-hosting caps, per run (a longer job is split into resumable runs).
MAX_STEPS = int(_env_number("GAN_STUDIO_MAX_TRAIN_STEPS", 20_000))
MAX_SECONDS = _env_number("GAN_STUDIO_MAX_TRAIN_SECONDS", 900)
MAX_BATCH = 512
MAX_LR = 0.05
AUGMENTS = ("ada", "diffaugment", "none")


# Settings whose default follows the model (its recipe, resolution) and the device: each
# recipe's table in `gan.finetune.specs`, read by `gan.finetune.recipes`. A caller leaves them
# unset with None, or 0 for steps and batch_size (never valid values).
MODEL_DEFAULTS = (
    "steps", "batch_size", "lr_g", "lr_d", "beta1_g", "beta2_g", "beta1_d", "beta2_d",
    "d_loss_threshold", "freeze_d", "freezed", "d_warmup", "sample_every", "r1_gamma",
    "ema_kimg", "ema_rampup", "ada_kimg", "pl_weight",
)  # fmt: skip
UNSET_AT_ZERO = ("steps", "batch_size")


def is_unset(name: str, value: object) -> bool:
    """Whether `value` leaves setting `name` to its default (the model's, for MODEL_DEFAULTS)."""
    return value is None or (name in UNSET_AT_ZERO and value == 0)


@dataclass
class FinetuneConfig:
    """Hyper-parameters of one run (saved in `training_state.json`). The field defaults are
    the DCGAN lesson's recipe and NVIDIA's StyleGAN2 loss; `gan.finetune.recipes` gives each
    family's (`Recipe.defaults`)."""

    steps: int = 200
    batch_size: int = 32  # per process
    lr_g: float = 2e-4
    lr_d: float = 2e-4
    beta1_g: float = 0.5
    beta2_g: float = 0.999
    beta1_d: float = 0.5
    beta2_d: float = 0.999
    d_loss_threshold: float = 0.2  # balance rule: skip the D step while its loss is below
    diffaugment: str = DEFAULT_POLICY
    hflip: bool = True
    # Freeze-D, when D comes from a checkpoint: DCGAN counts D blocks; StyleGAN2 counts D
    # layers as NVIDIA's --freezed, and takes a block count (an older call) as `freeze_d`.
    freeze_d: int | None = 1
    freezed: int = 0
    ema_decay: float = 0.995
    d_warmup: int = 20  # D-only steps first, when D starts fresh
    sample_every: int = 50
    n_samples: int = 16
    max_seconds: float = MAX_SECONDS
    seed: int = 0
    kid_samples: int = 128  # generated images per KID estimate; 0 turns KID off
    crops_per_image: int = 1  # data: 1 = the centre crop; more adds random crops (data.crops_of)
    precision: str = "fp32"  # or "bf16" (autocast); fp32 (TF32 on GPUs) was faster for DCGAN
    # StyleGAN2 only (the DCGAN path always uses `diffaugment`); 0 means ADA's "auto" value.
    augment: str = "ada"  # "ada", "diffaugment" (the `diffaugment` policy) or "none"
    augment_p: float = 0.0  # ADA's initial p
    ada_target: float = 0.6  # ADA raises p while E[sign(D(real))] is above this
    r1_gamma: float = 0.0  # R1 weight; 0: auto, 0.0002 * resolution^2 / batch
    d_reg_interval: int = 16  # lazy R1 every K steps
    style_mixing_prob: float = 0.9
    ema_kimg: float = 0.0  # G_ema half-life in kimg; 0: NVIDIA's auto, auto batch * 10 / 32
    ema_rampup: float = 0.0  # EMA ramp-up (NVIDIA's from-scratch 0.05); 0: none, as on resume
    ada_kimg: float = SG2_SPECS["cpu"]["ada_kimg"]  # kimg for p to move by 1
    pl_weight: float = SG2_SPECS["cpu"]["pl_weight"]  # path-length weight; 0: off
    pl_batch_shrink: int = SG2_SPECS["cpu"]["pl_batch_shrink"]
    pl_decay: float = SG2_SPECS["cpu"]["pl_decay"]
    g_reg_interval: int = SG2_SPECS["cpu"]["g_reg_interval"]

    @classmethod
    def for_device(cls, device: torch.device | str, **values: object) -> FinetuneConfig:
        """The DCGAN recipe's defaults for a run on `device`, then `values`."""
        return cls(**{**DCGAN_SPECS[device_kind(device)], **values})  # type: ignore[arg-type]

    def wall_seconds(self) -> float:
        """The run's wall-time cap: `max_seconds`, or this host's cap when it is not in
        (0, MAX_SECONDS]."""
        seconds = _number(self.max_seconds, "max_seconds")
        return seconds if 0 < seconds <= MAX_SECONDS else MAX_SECONDS

    def checked(self, n_images: int) -> tuple[FinetuneConfig, list[str]]:
        """Validate: absurd values raise `UserInputError`, fixable ones are corrected (noted)."""
        self._check_optimisation()
        fixed, notes = self._capped(n_images)
        if self.freeze_d is not None and not 0 <= _whole(self.freeze_d, "freeze_d") <= 8:
            raise UserInputError(
                f"freeze_d (D blocks) must be between 0 and 8; got {self.freeze_d}"
            )
        for name, low, high in (
            ("freezed", 0, 64),
            ("pl_batch_shrink", 1, 64),
            ("g_reg_interval", 1, 1000),
            ("sample_every", 1, 10**6),
            ("d_warmup", 0, 10**6),
            ("crops_per_image", 1, 16),
        ):
            value = _whole(getattr(self, name), name)
            if not low <= value <= high:
                raise UserInputError(f"{name} must be between {low} and {high}; got {value}")
        n_samples = min(max(_whole(self.n_samples, "n_samples"), 1), 64)
        kid_samples = min(max(_whole(self.kid_samples, "kid_samples"), 0), 10_000)
        values = {"steps": _whole(self.steps, "steps")}
        values["batch_size"] = _whole(self.batch_size, "batch_size")
        values |= {"n_samples": n_samples, "kid_samples": kid_samples}
        values["seed"] = _whole(self.seed, "seed")
        return replace(self, **(values | fixed)), notes

    def _check_optimisation(self) -> None:
        """Learning rates, Adam betas, EMA decay, balance threshold, DiffAugment, precision."""
        for name in ("lr_g", "lr_d"):
            value = _number(getattr(self, name), name)
            if not 0 < value <= MAX_LR:
                raise UserInputError(
                    f"{name} must be a learning rate in (0, {MAX_LR}]; got {value}"
                )
        for name in ("beta1_g", "beta2_g", "beta1_d", "beta2_d", "ema_decay"):
            value = _number(getattr(self, name), name)
            if not 0 <= value < 1:
                raise UserInputError(f"{name} must be in [0, 1); got {value}")
        threshold = _number(self.d_loss_threshold, "d_loss_threshold")
        if threshold < 0:
            raise UserInputError("d_loss_threshold must be >= 0 (0 turns the balance rule off)")
        parse_policy(self.diffaugment)
        self._check_stylegan2()
        if self.precision not in {"fp32", "bf16"}:
            raise UserInputError("precision must be fp32 or bf16")

    def _check_stylegan2(self) -> None:
        """The StyleGAN2 settings: augmentation, ADA target and p, R1, mixing, EMA."""
        if self.augment not in AUGMENTS:
            raise UserInputError(f"augment must be one of {', '.join(AUGMENTS)}")
        for name in ("augment_p", "ada_target", "style_mixing_prob"):
            if not 0 <= _number(getattr(self, name), name) <= 1:
                raise UserInputError(f"{name} must be in [0, 1]")
        for name in ("r1_gamma", "ema_kimg"):
            if _number(getattr(self, name), name) < 0:
                raise UserInputError(f"{name} must be >= 0 (0 picks the automatic value)")
        for name, high in (("ema_rampup", 1), ("pl_weight", 1e3), ("pl_decay", 1)):
            if not 0 <= _number(getattr(self, name), name) <= high:
                raise UserInputError(f"{name} must be between 0 and {high:g} (0 turns it off)")
        if not 0 < _number(self.ada_kimg, "ada_kimg") <= 1e6:
            raise UserInputError("ada_kimg must be a positive number of thousands of images")
        if not 1 <= _whole(self.d_reg_interval, "d_reg_interval") <= 1000:
            raise UserInputError("d_reg_interval must be between 1 and 1000")

    def _capped(self, n_images: int) -> tuple[dict[str, float], list[str]]:
        """Steps, batch size and wall time: absurd ones raise, too large ones are capped."""
        steps = _whole(self.steps, "steps")
        batch = _whole(self.batch_size, "batch_size")
        fixed: dict[str, float] = {}
        notes: list[str] = []
        if steps < 1:
            raise UserInputError("steps must be at least 1")
        if steps > MAX_STEPS:
            fixed["steps"] = MAX_STEPS
            notes.append(f"steps capped at {MAX_STEPS:,} per run on this host (resume to go on)")
        if batch < 2:
            raise UserInputError("batch_size must be at least 2 (batch norm needs two images)")
        if batch > min(MAX_BATCH, n_images):
            fixed["batch_size"] = min(MAX_BATCH, n_images)
            notes.append(
                f"batch_size {batch} is larger than "
                + (f"the {n_images} images" if n_images < MAX_BATCH else f"{MAX_BATCH}")
                + f": using {fixed['batch_size']}"
            )
        if self.wall_seconds() != _number(self.max_seconds, "max_seconds"):
            fixed["max_seconds"] = MAX_SECONDS
            notes.append(f"wall time capped at {MAX_SECONDS:g} s per run on this host")
        return fixed, notes


def _number(value: object, name: str) -> float:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError) as e:
        raise UserInputError(f"{name} must be a number; got {value!r}") from e
    if not math.isfinite(number):
        raise UserInputError(f"{name} must be a finite number; got {value!r}")
    return number


def _whole(value: object, name: str) -> int:
    number = _number(value, name)
    if number != int(number):
        raise UserInputError(f"{name} must be a whole number; got {value!r}")
    return int(number)


@dataclass
class FinetuneJob:
    """One run: data, where to start, where to save."""

    images: torch.Tensor  # uint8 (N, 3, S, S), already at the model's resolution
    name: str
    base: str = DEFAULT_MODEL
    config: FinetuneConfig = field(default_factory=FinetuneConfig)
    resume: bool = False
    skipped: list[str] = field(default_factory=list)
    # The wall-time cap, counted from when the job was admitted (data preparation and KID
    # inside it); None: a `Deadline` of `config.max_seconds` from when the run starts.
    deadline: Deadline | None = None
