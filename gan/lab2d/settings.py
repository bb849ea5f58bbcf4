"""The settings of a 2D run, checked once, and its presets (one table)."""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

from core.errors import UserInputError
from gan.lab2d.distributions import NAMES
from gan.lab2d.losses import LOSSES

OPTIMIZERS = ("adam", "sgd")
MAX_HIDDEN = 128
MAX_LAYERS = 4
MAX_BATCH = 512
MAX_STEPS = 20_000  # steps of one Play


@dataclass(frozen=True)
class Lab2DSettings:
    """One 2D run: the data, the loss, the optimiser and its learning rates, D steps per G
    step (`d_steps`), the MLPs' size, and the steps one Play trains (`steps`)."""

    data: str = "ring"
    loss: str = "non_saturating"
    optimizer: str = "adam"
    lr_d: float = 2e-3
    lr_g: float = 2e-3
    beta1: float = 0.5  # Adam's (Radford et al. 2016's choice for GANs)
    d_steps: int = 1
    hidden: int = 64
    layers: int = 2
    batch: int = 256
    gp_weight: float = 0.1  # WGAN-GP's lambda: 0.1, as in Gulrajani et al.'s 2D toy runs
    steps: int = 1000
    seed: int = 0

    def checked(self) -> Lab2DSettings:
        """These settings, or a `UserInputError` that names the first bad one."""
        _one_of("data", self.data, NAMES)
        _one_of("loss", self.loss, LOSSES)
        _one_of("optimizer", self.optimizer, OPTIMIZERS)
        for name in ("lr_d", "lr_g"):
            _within(name, getattr(self, name), 1e-6, 1.0)
        _within("beta1", self.beta1, 0.0, 0.999)
        _within("gp_weight", self.gp_weight, 0.0, 100.0)
        for name, top in (("d_steps", 10), ("hidden", MAX_HIDDEN), ("layers", MAX_LAYERS)):
            _within(name, getattr(self, name), 1, top)
        _within("batch", self.batch, 8, MAX_BATCH)
        _within("steps", self.steps, 1, MAX_STEPS)
        _within("seed", self.seed, 0, 2**31 - 1)
        ints = {f.name for f in fields(self) if f.type == "int"}
        return type(self)(**{k: int(v) if k in ints else v for k, v in vars(self).items()})


def _one_of(name: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise UserInputError(f"{name} must be one of {list(choices)}")


def _within(name: str, value: float, low: float, high: float) -> None:
    if not isinstance(value, int | float) or not math.isfinite(value) or not low <= value <= high:
        raise UserInputError(f"{name} must be a number between {low:g} and {high:g}")


# The presets, one row each. "ring": the non-saturating loss at a sane learning rate covers
# all 8 modes well within its 1000 steps (seed 0: from step ~250). "collapse": G's learning
# rate ten times D's, with Adam's momentum at 0.9: G outruns D and chases the one spot D
# likes most, hopping from mode to mode; with seed 0 the meter flags it at step 1000.
PRESETS: dict[str, Lab2DSettings] = {
    "ring": Lab2DSettings(),
    "collapse": Lab2DSettings(lr_g=1e-2, lr_d=1e-3, beta1=0.9, batch=128),
    "minimax": Lab2DSettings(loss="minimax"),
    "least_squares": Lab2DSettings(loss="least_squares"),
    "wgan_gp": Lab2DSettings(loss="wgan_gp", lr_d=1e-3, lr_g=1e-3, d_steps=3, steps=600),
    "grid": Lab2DSettings(data="grid", steps=3000),
    "moons": Lab2DSettings(data="moons"),
}
