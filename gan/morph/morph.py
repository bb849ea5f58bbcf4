"""The morph between two projected photos: a looping walk A -> B -> A and its settings.

The walk is one small function (`looping_walk`) so that another walk (e.g. a cubic looping
one) can take its place: it gets the keyframe latents and the frame count, and returns the
frames' latents, the first equal to the last.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from core.errors import UserInputError

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


def looping_walk(a: torch.Tensor, b: torch.Tensor, frames: int) -> torch.Tensor:
    """`frames` latents along straight lines A -> B -> A (B in the middle, the last frame
    equal to the first): (frames, *a.shape[1:]) from two (1, ...) latents."""
    if a.shape != b.shape:
        raise UserInputError("the two latents have different shapes: project both on one model")
    position = torch.linspace(0.0, 2.0, frames, dtype=torch.float64)
    t = (1.0 - (1.0 - position).abs()).to(a.dtype)  # 0 -> 1 -> 0
    t = t.view(-1, *([1] * (a.dim() - 1)))
    return a + (b - a) * t
