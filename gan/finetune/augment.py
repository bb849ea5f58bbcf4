"""DiffAugment (Zhao et al. 2020, "Differentiable Augmentation for Data-Efficient GAN Training").

The same random, differentiable augmentation is applied to every image the discriminator sees,
real and generated, in both the D and the G step, so D cannot overfit a small training set and
G still gets gradients through the augmentation. Policies: `color` (brightness, saturation,
contrast), `translation` (1/8 of the side, zero padded) and `cutout` (a square of half the side).
Follows the authors' reference implementation (BSD-2); images are in [-1, 1], NCHW.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from core.errors import UserInputError


def rand_brightness(x: torch.Tensor) -> torch.Tensor:
    return x + (torch.rand(x.size(0), 1, 1, 1, dtype=x.dtype, device=x.device) - 0.5)


def rand_saturation(x: torch.Tensor) -> torch.Tensor:
    mean = x.mean(dim=1, keepdim=True)
    factor = torch.rand(x.size(0), 1, 1, 1, dtype=x.dtype, device=x.device) * 2
    return (x - mean) * factor + mean


def rand_contrast(x: torch.Tensor) -> torch.Tensor:
    mean = x.mean(dim=[1, 2, 3], keepdim=True)
    factor = torch.rand(x.size(0), 1, 1, 1, dtype=x.dtype, device=x.device) + 0.5
    return (x - mean) * factor + mean


def rand_translation(x: torch.Tensor, ratio: float = 0.125) -> torch.Tensor:
    """Shift each image by up to `ratio` of its side; uncovered pixels are zero."""
    n, _, h, w = x.shape
    sh, sw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    tx = torch.randint(-sh, sh + 1, size=(n, 1, 1), device=x.device)
    ty = torch.randint(-sw, sw + 1, size=(n, 1, 1), device=x.device)
    gb, gx, gy = torch.meshgrid(
        torch.arange(n, device=x.device),
        torch.arange(h, device=x.device),
        torch.arange(w, device=x.device),
        indexing="ij",
    )
    gx = torch.clamp(gx + tx + 1, 0, h + 1)
    gy = torch.clamp(gy + ty + 1, 0, w + 1)
    padded = F.pad(x, [1, 1, 1, 1])
    return padded.permute(0, 2, 3, 1)[gb, gx, gy].permute(0, 3, 1, 2)


def rand_cutout(x: torch.Tensor, ratio: float = 0.5) -> torch.Tensor:
    """Zero one random square of `ratio` of the side in each image."""
    n, _, h, w = x.shape
    ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    ox = torch.randint(0, h + (1 - ch % 2), size=(n, 1, 1), device=x.device)
    oy = torch.randint(0, w + (1 - cw % 2), size=(n, 1, 1), device=x.device)
    gb, gx, gy = torch.meshgrid(
        torch.arange(n, device=x.device),
        torch.arange(ch, device=x.device),
        torch.arange(cw, device=x.device),
        indexing="ij",
    )
    gx = torch.clamp(gx + ox - ch // 2, min=0, max=h - 1)
    gy = torch.clamp(gy + oy - cw // 2, min=0, max=w - 1)
    mask = torch.ones(n, h, w, dtype=x.dtype, device=x.device)
    mask[gb, gx, gy] = 0
    return x * mask.unsqueeze(1)


POLICIES: dict[str, list[Callable[[torch.Tensor], torch.Tensor]]] = {
    "color": [rand_brightness, rand_saturation, rand_contrast],
    "translation": [rand_translation],
    "cutout": [rand_cutout],
}
DEFAULT_POLICY = "color,translation,cutout"


def parse_policy(policy: str | None) -> tuple[str, ...]:
    """`"color,translation"` -> ("color", "translation"); "" or "none" -> (); bad names raise."""
    if policy is None:
        return ()
    names = tuple(p.strip().lower() for p in policy.replace("+", ",").split(",") if p.strip())
    if names in {(), ("none",), ("off",)}:
        return ()
    unknown = [n for n in names if n not in POLICIES]
    if unknown:
        raise UserInputError(
            f"unknown DiffAugment policy {', '.join(unknown)}: use {', '.join(POLICIES)} or none"
        )
    return names


def diff_augment(x: torch.Tensor, policy: str | tuple[str, ...] = DEFAULT_POLICY) -> torch.Tensor:
    """Apply the policy's augmentations in order; the result keeps x's shape and gradient."""
    names = parse_policy(policy) if isinstance(policy, str) else policy
    for name in names:
        for fn in POLICIES[name]:
            x = fn(x)
    return x.contiguous()
