"""The collapse signal in 2D: how many of the known modes G's samples cover, and the share
of samples that are "high quality" (within a mode's radius, Srivastava et al. 2017)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

MIN_SHARE = 0.2  # a mode is covered by at least this share of its fair share of samples
QUALITY_FOR_COLLAPSE = 0.5  # collapse: samples mostly good, yet at most half the modes
BUNCHED = 0.25  # ... or bunched: spread below this share of the real data's spread


@dataclass(frozen=True)
class Coverage:
    """Modes covered of `modes`; `quality`: the share of samples near some mode; `spread`:
    the samples' spread over the real data's; `collapsed`: at most half of the modes
    covered while the samples are mostly good (G settled on a few modes) or bunched
    together (G hops from mode to mode)."""

    covered: int
    modes: int
    quality: float
    spread: float
    collapsed: bool


def spread(points: torch.Tensor) -> float:
    """The mean distance of `points` to their centroid."""
    return float((points - points.mean(dim=0)).norm(dim=1).mean()) if len(points) else 0.0


def mode_coverage(
    samples: torch.Tensor, modes: torch.Tensor, radius: float, real_spread: float
) -> Coverage:
    """The coverage of `modes` (K, 2) by `samples` (N, 2): a sample counts for its nearest
    mode when within `radius` of it; a mode is covered with at least
    max(1, MIN_SHARE * N / K) samples. `real_spread`: the real data's `spread`."""
    distance = torch.cdist(samples.float(), modes.float())
    nearest, which = distance.min(dim=1)
    good = nearest <= radius
    counts = torch.bincount(which[good], minlength=len(modes))
    need = max(1, math.ceil(MIN_SHARE * len(samples) / len(modes)))
    covered = int((counts >= need).sum())
    quality = float(good.float().mean()) if len(samples) else 0.0
    relative = spread(samples) / max(real_spread, 1e-8)
    narrow = quality >= QUALITY_FOR_COLLAPSE or relative < BUNCHED
    collapsed = narrow and covered <= len(modes) // 2
    return Coverage(covered, len(modes), quality, relative, collapsed)
