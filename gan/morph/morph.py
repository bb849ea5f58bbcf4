"""The morph between two projected photos: a looping walk A -> B -> A (the video room's cubic
Catmull-Rom loop, `gan.video.walks`) and its settings."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from core.errors import UserInputError
from gan.video.walks import looping_walk

MAX_MORPH_STEPS = 1000  # per photo; the page's default is a quick preset
MIN_FRAMES, MAX_FRAMES = 3, 241


@dataclass(frozen=True)
class MorphSettings:
    """One morph: projection steps per photo, frames of the looping video, its frame rate,
    W+ projection (StyleGAN) and face alignment (`align`: FFHQ crop of the largest face)."""

    steps: int = 100
    frames: int = 33
    fps: int = 12
    w_plus: bool = False
    align: bool = True

    def __post_init__(self) -> None:
        _check("steps", self.steps, 1, MAX_MORPH_STEPS)
        _check("frames", self.frames, MIN_FRAMES, MAX_FRAMES)
        _check("fps", self.fps, 1, 60)


def _check(name: str, value: object, lo: int, hi: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise UserInputError(f"{name} must be a whole number from {lo} to {hi}, not {value!r}")


def morph_walk(a: torch.Tensor, b: torch.Tensor, frames: int) -> torch.Tensor:
    """The cubic looping walk A -> B -> A in `frames` latents (an even count gets one less):
    frame 0 and the last are A, the middle one is B; (frames, *a.shape[1:]) from two (1, ...)
    latents."""
    if a.shape != b.shape:
        raise UserInputError("the two latents have different shapes: project both on one model")
    walk = looping_walk(torch.cat([a, b]), (int(frames) - 1) // 2)
    return torch.cat([walk, walk[:1]])
