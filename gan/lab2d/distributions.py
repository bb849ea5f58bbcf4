"""The real data of the 2D lab: a distribution to sample from, and its modes for the collapse
meter (a mode is covered by samples within `radius` of its centre)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch

from core.errors import UserInputError

NAMES = ("ring", "grid", "moons", "line", "drawn")
MIN_DRAWN = 3  # points the visitor's own data needs
MAX_DRAWN = 256  # points kept of the visitor's own
VIEW = 2.0  # every distribution lies inside [-VIEW, VIEW]^2, the views' window
K_SIGMA = 3.0  # a sample within K_SIGMA standard deviations of a mode is "high quality"
RING_SIGMA = 0.05
Sampler = Callable[[int, torch.Generator], torch.Tensor]


@dataclass(frozen=True)
class Distribution:
    """A named 2D distribution: `sample(n, generator)` -> (n, 2); `modes` (K, 2) and the
    `radius` around each within which a sample counts for it."""

    name: str
    sample: Sampler
    modes: torch.Tensor
    radius: float


def _mixture(centres: torch.Tensor, sigma: float) -> Sampler:
    def sample(n: int, generator: torch.Generator) -> torch.Tensor:
        pick = torch.randint(len(centres), (n,), generator=generator)
        return centres[pick] + sigma * torch.randn(n, 2, generator=generator)

    return sample


def ring(k: int = 8, r: float = 1.0, sigma: float = RING_SIGMA) -> Distribution:
    """`k` Gaussians of std `sigma` evenly on a circle of radius `r` (Metz et al. 2017)."""
    angles = torch.arange(k, dtype=torch.float32) * (2 * math.pi / k)
    centres = r * torch.stack([torch.cos(angles), torch.sin(angles)], dim=1)
    return Distribution("ring", _mixture(centres, sigma), centres, K_SIGMA * sigma)


def grid(side: int = 5, span: float = 1.2, sigma: float = 0.05) -> Distribution:
    """`side` x `side` Gaussians of std `sigma` on a square grid in [-span, span]^2."""
    axis = torch.linspace(-span, span, side)
    centres = torch.cartesian_prod(axis, axis)
    return Distribution("grid", _mixture(centres, sigma), centres, K_SIGMA * sigma)


def _along(curve: Callable[[torch.Tensor], torch.Tensor], noise: float) -> Sampler:
    def sample(n: int, generator: torch.Generator) -> torch.Tensor:
        t = torch.rand(n, generator=generator)
        return curve(t) + noise * torch.randn(n, 2, generator=generator)

    return sample


def _moons_curve(t: torch.Tensor) -> torch.Tensor:
    """t in [0, 1): the first half on the upper moon, the second on the lower one."""
    upper = t < 0.5
    a = (t % 0.5) * 2 * math.pi
    x = torch.where(upper, torch.cos(a), 1 - torch.cos(a))
    y = torch.where(upper, torch.sin(a), 0.5 - torch.sin(a))
    return torch.stack([x - 0.5, y - 0.25], dim=1)


def moons(noise: float = 0.05, anchors: int = 8) -> Distribution:
    """Two interleaved half circles; its "modes" are `anchors` points spread along them."""
    t = (torch.arange(anchors, dtype=torch.float32) + 0.5) / anchors
    return Distribution("moons", _along(_moons_curve, noise), _moons_curve(t), 0.35)


def line(noise: float = 0.03, anchors: int = 6) -> Distribution:
    """A straight segment from (-1.2, -0.6) to (1.2, 0.6); its "modes" are `anchors` points
    evenly along it."""
    start, end = torch.tensor([-1.2, -0.6]), torch.tensor([1.2, 0.6])

    def curve(t: torch.Tensor) -> torch.Tensor:
        return start + t[:, None] * (end - start)

    t = (torch.arange(anchors, dtype=torch.float32) + 0.5) / anchors
    spacing = float((end - start).norm()) / anchors
    return Distribution("line", _along(curve, noise), curve(t), spacing / 2)


def drawn(points: torch.Tensor, noise: float = 0.03, anchors: int = 8) -> Distribution:
    """The visitor's points (N, 2) in the view's window, jittered by `noise`; its "modes"
    are `anchors` of them spread by farthest-point sampling."""
    if points.ndim != 2 or points.shape[1] != 2 or len(points) < MIN_DRAWN:
        raise UserInputError(f"click at least {MIN_DRAWN} points on the pad first")
    points = points[:MAX_DRAWN].float().clamp(-VIEW, VIEW)
    modes = farthest_points(points, anchors)
    spread = torch.cdist(modes, modes) + 1e9 * torch.eye(len(modes))
    radius = max(float(spread.min(dim=1).values.median()) / 2, 3 * noise)

    def sample(n: int, generator: torch.Generator) -> torch.Tensor:
        pick = torch.randint(len(points), (n,), generator=generator)
        return points[pick] + noise * torch.randn(n, 2, generator=generator)

    return Distribution("drawn", sample, modes, radius)


def farthest_points(points: torch.Tensor, k: int) -> torch.Tensor:
    """`k` of `points` chosen greedily, each the farthest from those already chosen."""
    chosen = [0]
    distance = (points - points[0]).norm(dim=1)
    for _ in range(min(k, len(points)) - 1):
        chosen.append(int(distance.argmax()))
        distance = torch.minimum(distance, (points - points[chosen[-1]]).norm(dim=1))
    return points[chosen]


def distribution(name: str, points: torch.Tensor | None = None) -> Distribution:
    """The distribution called `name` (`drawn` needs the drawn `points`)."""
    makers = {"ring": ring, "grid": grid, "moons": moons, "line": line}
    if name == "drawn":
        return drawn(points if points is not None else torch.zeros(0, 2))
    if name not in makers:
        raise UserInputError(f"data must be one of {list(NAMES)}")
    return makers[name]()
