"""Cubic walks through keyframe latents: uniform Catmull-Rom splines (Catmull & Rom 1974),
looping (the walk ends where it starts) or open (the ends held)."""

from __future__ import annotations

import torch


def catmull_rom(
    p0: torch.Tensor, p1: torch.Tensor, p2: torch.Tensor, p3: torch.Tensor, t: torch.Tensor
) -> torch.Tensor:
    """The uniform Catmull-Rom segment from `p1` (t = 0) to `p2` (t = 1), its tangents
    (p2 - p0) / 2 and (p3 - p1) / 2; `t` (T,) -> (T, *p.shape)."""
    t = t.to(p1.dtype).view(-1, *([1] * p1.dim()))
    return 0.5 * (
        2 * p1
        + (p2 - p0) * t
        + (2 * p0 - 5 * p1 + 4 * p2 - p3) * t**2
        + (3 * p1 - p0 - 3 * p2 + p3) * t**3
    )


def looping_walk(keyframes: torch.Tensor, frames_per_transition: int) -> torch.Tensor:
    """A closed cubic walk through `keyframes` (K, ...) in order and back to the first:
    K * `frames_per_transition` latents, frame i * frames_per_transition is keyframe i, and
    the frame after the last would be the first again (so the video loops without a jump)."""
    k, n = len(keyframes), int(frames_per_transition)
    if k < 1 or n < 1:
        raise ValueError("a walk needs a keyframe and a frame per transition")
    t = torch.arange(n, dtype=torch.float64) / n
    points = keyframes.double()
    segments = [
        catmull_rom(points[i - 1], points[i], points[(i + 1) % k], points[(i + 2) % k], t)
        for i in range(k)
    ]
    return torch.cat(segments).to(keyframes.dtype)


def open_walk(keyframes: torch.Tensor, frames: int) -> torch.Tensor:
    """An open cubic walk: `frames` per segment, endpoints included once (the first and last
    keyframes held, so the walk starts and stops at them)."""
    points = keyframes.double()
    padded = torch.cat([points[:1], points, points[-1:]])
    t = torch.arange(frames - 1, dtype=torch.float64) / (frames - 1)
    segments = [
        catmull_rom(padded[i], padded[i + 1], padded[i + 2], padded[i + 3], t)
        for i in range(len(points) - 1)
    ]
    return torch.cat([*segments, points[-1:]]).to(keyframes.dtype)
