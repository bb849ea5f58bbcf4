"""Kernel Inception Distance (Bińkowski et al. 2018, "Demystifying MMD GANs").

KID is the squared maximum mean discrepancy between the features of two image sets under the
cubic polynomial kernel k(x, y) = (x·y / d + 1)^3, estimated without bias and averaged over
random subsets. Unlike FID it is unbiased for small sets, which suits fine-tuning on a few
dozen images. Features are ImageNet-network features: the 1280-d pooled features of
EfficientNet-Lite0 (offline weights under `checkpoints/efficientnet-lite0/`) rather than
Inception-v3's 2048-d, so absolute values are not comparable with published KIDs, only with
each other. Lower is better; 0 means indistinguishable.

The feature network is passed in (`FeatureNet`): the composition root (the app's services, the
CLI) loads it; this module imports no network.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import torch

log = logging.getLogger(__name__)


class FeatureNet(Protocol):
    def pooled_features(self, x: torch.Tensor) -> torch.Tensor: ...


class OutOfTimeError(Exception):
    """A KID pass gave up: its `out_of_time()` said so between two batches."""


def _on_time(out_of_time: Callable[[], bool] | None) -> None:
    if out_of_time is not None and out_of_time():
        raise OutOfTimeError


@dataclass(frozen=True)
class KID:
    mean: float
    std: float

    def __str__(self) -> str:
        return f"{self.mean * 1e3:.2f} ± {self.std * 1e3:.2f} (×10⁻³)"


def polynomial_mmd2(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Unbiased MMD² between feature sets x (m, d) and y (n, d) under the cubic kernel."""
    m, n, d = x.shape[0], y.shape[0], x.shape[1]
    if m < 2 or n < 2:
        raise ValueError("KID needs at least two samples in each set")
    k_xx = (x @ x.T / d + 1) ** 3
    k_yy = (y @ y.T / d + 1) ** 3
    k_xy = (x @ y.T / d + 1) ** 3
    sum_xx = (k_xx.sum() - k_xx.diagonal().sum()) / (m * (m - 1))
    sum_yy = (k_yy.sum() - k_yy.diagonal().sum()) / (n * (n - 1))
    return sum_xx + sum_yy - 2 * k_xy.mean()


def kid_from_features(
    real: torch.Tensor,
    fake: torch.Tensor,
    n_subsets: int = 100,
    subset_size: int = 1000,
    seed: int = 0,
) -> KID:
    """KID mean and standard deviation over `n_subsets` random subsets of both sets."""
    real, fake = real.double().cpu(), fake.double().cpu()
    size = min(subset_size, len(real), len(fake))
    g = torch.Generator().manual_seed(seed)
    if size == len(real) == len(fake):
        n_subsets = 1  # every subset would be the whole of both sets
    values = torch.stack(
        [
            polynomial_mmd2(
                real[torch.randperm(len(real), generator=g)[:size]],
                fake[torch.randperm(len(fake), generator=g)[:size]],
            )
            for _ in range(n_subsets)
        ]
    )
    std = values.std().item() if n_subsets > 1 else 0.0
    return KID(values.mean().item(), std)


@torch.no_grad()
def features(
    net: FeatureNet,
    images: torch.Tensor,
    device: torch.device,
    batch_size: int = 64,
    out_of_time: Callable[[], bool] | None = None,
) -> torch.Tensor:
    """Features (N, d) of images given as uint8 (N, 3, H, W) or floats in [-1, 1];
    `OutOfTimeError` as soon as `out_of_time()` is true before a batch."""
    out = []
    for chunk in images.split(batch_size):
        _on_time(out_of_time)
        chunk = chunk.to(device)
        x = chunk.float() / 255.0 if chunk.dtype == torch.uint8 else (chunk.float() + 1) / 2
        out.append(net.pooled_features(x.clamp(0, 1)).float().cpu())
    return torch.cat(out)


class KIDScorer:
    """Scores a generator against one image set, with the real features computed once."""

    def __init__(
        self,
        net: FeatureNet,
        real: torch.Tensor,
        device: torch.device,
        n_fake: int = 128,
        max_real: int = 2000,
        seed: int = 0,
        out_of_time: Callable[[], bool] | None = None,
    ) -> None:
        self.net, self.device, self.n_fake, self.seed = net, device, n_fake, seed
        g = torch.Generator().manual_seed(seed)
        if len(real) > max_real:
            real = real[torch.randperm(len(real), generator=g)[:max_real]]
        self.real = features(net, real, device, out_of_time=out_of_time)

    @torch.no_grad()
    def __call__(
        self, generator: torch.nn.Module, nz: int, out_of_time: Callable[[], bool] | None = None
    ) -> KID:
        """KID of `n_fake` samples from fixed latents (the same ones every call);
        `OutOfTimeError` as soon as `out_of_time()` is true between two batches."""
        z = torch.randn(self.n_fake, nz, generator=torch.Generator().manual_seed(self.seed + 1))
        was_training = generator.training
        generator.eval()
        fake = []
        try:
            for chunk in z.split(64):
                _on_time(out_of_time)
                fake.append(generator(chunk.to(self.device)).float())
        finally:
            generator.train(was_training)
        fake_features = features(self.net, torch.cat(fake), self.device, out_of_time=out_of_time)
        return kid_from_features(self.real, fake_features, seed=self.seed)
