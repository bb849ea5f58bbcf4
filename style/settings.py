"""The settings of one style-transfer run: a dataclass, validated once (`checked`)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

import torch

from core.errors import UserInputError

OPTIMIZERS = ("lbfgs", "adam")
INITS = ("content_color", "content", "noise", "coarse", "fast")  # coarse/fast: style/transfer.py
COLOR_MODES = ("none", "luminance", "match")
MIN_SIZE = 64
MAX_SIZE_GPU = 2048
MAX_SIZE_CPU = 1024
MAX_STEPS = 2000
MAX_WEIGHT = 1e9
MAX_STYLES = 8


def max_size(device: torch.device) -> int:
    """Largest output side (px) allowed on `device`."""
    return MAX_SIZE_GPU if device.type == "cuda" else MAX_SIZE_CPU


@dataclass
class StyleSettings:
    """Everything a run needs besides the images and the network (paper names)."""

    steps: int = 100
    size: int = 256  # longer side of the output, aspect ratio kept
    content_weight: float = 1.0
    style_weight: float = 300.0
    tv_weight: float = 1.0
    optimizer: str = "lbfgs"
    lr: float | None = None  # None: 1.0 for L-BFGS, 0.02 for Adam
    init: str = "content_color"
    preserve_colors: str = "none"
    style_blend: Sequence[float] | None = None  # one weight per style image, default equal
    style_scale: float = 1.0  # style images resized to style_scale * output size
    multiscale: bool = True
    preview_every: int = 10
    seed: int = 0
    normalize_losses: bool = True
    amp: bool | None = None  # None: on for CUDA
    cuda_graph: bool | None = None  # None: on for CUDA
    history_size: int | None = None  # None: as torch's LBFGS (100), fewer for huge images

    def checked(self, device: torch.device, num_styles: int) -> StyleSettings:
        """A copy with whole numbers as ints; `UserInputError` for values no run can use."""
        _check_int("steps", self.steps, 1, MAX_STEPS)
        _check_int("size", self.size, MIN_SIZE, max_size(device))
        for name in ("content_weight", "style_weight", "tv_weight"):
            value = getattr(self, name)
            if not _finite(value) or not 0 <= value <= MAX_WEIGHT:
                raise UserInputError(f"{name} must be a number between 0 and {MAX_WEIGHT:g}")
        if self.content_weight == 0 and self.style_weight == 0:
            raise UserInputError("content_weight and style_weight cannot both be 0")
        if self.optimizer not in OPTIMIZERS:
            raise UserInputError(f"optimizer must be one of {OPTIMIZERS}")
        if self.init not in INITS:
            raise UserInputError(f"init must be one of {INITS}")
        if self.preserve_colors not in COLOR_MODES:
            raise UserInputError(f"preserve_colors must be one of {COLOR_MODES}")
        if self.lr is not None and (not _finite(self.lr) or not 0 < self.lr <= 10):
            raise UserInputError("lr must be in (0, 10]")
        if not _finite(self.style_scale) or not 0.1 <= self.style_scale <= 4:
            raise UserInputError("style_scale must be between 0.1 and 4")
        if not 1 <= num_styles <= MAX_STYLES:
            raise UserInputError(f"upload between 1 and {MAX_STYLES} style images")
        if self.style_blend is not None:
            blend = list(self.style_blend)
            if len(blend) != num_styles:
                raise UserInputError(
                    f"{num_styles} style image(s) but {len(blend)} blend weight(s)"
                )
            if not all(_finite(b) and 0 <= b <= MAX_WEIGHT for b in blend) or sum(blend) <= 0:
                raise UserInputError("blend weights must be >= 0 and not all 0")
        return replace(self, steps=int(self.steps), size=int(self.size))


def _finite(value: object) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)


def _check_int(name: str, value: object, lo: int, hi: int) -> None:
    if not _finite(value) or int(value) != value or not lo <= value <= hi:  # type: ignore[arg-type]
        raise UserInputError(f"{name} must be a whole number between {lo} and {hi}")
