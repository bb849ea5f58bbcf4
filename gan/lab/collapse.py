"""A mode-collapse meter: how varied are the generator's fixed-seed samples?

Diversity is the mean pairwise L2 distance between the samples' features divided by the same
mean over real images: about 1 when the samples vary as much as the data, 0 when they are all
the same image (mode collapse). A sample is a near-duplicate when another sample lies within
`duplicate_fraction` of the real set's mean distance. The samples count as collapsed when the
diversity is below `threshold`, or when at least `duplicate_share` of them are near-duplicates
(a partial collapse onto a few images keeps some distance between those few).

Features (`kind`):
- "random_conv" (default): a tiny convolution net with fixed random weights (seeded, never
  trained): 3 -> 16 -> 32 channels, 3x3 convolutions of stride 2 with ReLU, then 4x4 average
  pooling, 512 numbers per image. Random conv features are a known cheap stand-in for learned
  ones at this scale: they respond to shapes and edges, not only to the average colour.
- "pixels": the image averaged down to 8x8 (192 numbers), for comparison.
Both are computed on images in [-1, 1] and do not depend on torch's global random state.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from core.errors import UserInputError

FEATURE_KINDS = ("random_conv", "pixels")
FEATURE_SEED = 1234
DEFAULT_THRESHOLD = 0.35  # diversity below this fraction of the real set's is "collapsed"
DEFAULT_DUPLICATE_FRACTION = 0.1
DEFAULT_DUPLICATE_SHARE = 0.5
MAX_REAL = 256  # real images used for the reference distance


class RandomConvFeatures(nn.Module):
    """Fixed random features: two strided 3x3 convolutions + ReLU, 4x4 average pooling."""

    def __init__(self, seed: int = FEATURE_SEED) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.conv1 = nn.Conv2d(3, 16, 3, 2, 1)
        self.conv2 = nn.Conv2d(16, 32, 3, 2, 1)
        for conv in (self.conv1, self.conv2):
            fan_in = conv.in_channels * 9
            # He initialisation, so the ReLU activations keep their scale through the layers
            conv.weight.data = torch.randn(conv.weight.shape, generator=g) * (2 / fan_in) ** 0.5
            conv.bias.data.zero_()
        self.requires_grad_(False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.conv2(F.relu(self.conv1(x))))
        return F.adaptive_avg_pool2d(x, 4).flatten(1)


def to_float(images: np.ndarray | torch.Tensor) -> torch.Tensor:
    """uint8 (N, H, W, 3) arrays or float (N, 3, H, W) tensors in [-1, 1] -> float NCHW."""
    if isinstance(images, np.ndarray):
        if images.ndim != 4 or images.shape[-1] != 3:
            raise UserInputError(f"expected images (N, H, W, 3); got shape {images.shape}")
        return torch.from_numpy(images).permute(0, 3, 1, 2).float() / 127.5 - 1.0
    return images.detach().float().cpu()


@torch.no_grad()
def features(
    images: np.ndarray | torch.Tensor,
    kind: str = "random_conv",
    net: RandomConvFeatures | None = None,
) -> torch.Tensor:
    """(N, D) feature vectors of a batch of images (`net`: the meter's own feature net; a
    fresh one, with the same fixed weights, when none is given)."""
    if kind not in FEATURE_KINDS:
        raise UserInputError(f"feature kind must be one of {FEATURE_KINDS}; got {kind!r}")
    x = to_float(images)
    if kind == "pixels":
        return F.adaptive_avg_pool2d(x, 8).flatten(1)
    return (net or RandomConvFeatures())(x)


def pairwise_distances(feats: torch.Tensor) -> torch.Tensor:
    """The N(N-1)/2 L2 distances between distinct rows."""
    d = torch.cdist(feats.double(), feats.double())
    i, j = torch.triu_indices(len(feats), len(feats), offset=1)
    return d[i, j]


def mean_pairwise_distance(feats: torch.Tensor) -> float:
    if len(feats) < 2:
        raise UserInputError("the collapse meter needs at least two images")
    return float(pairwise_distances(feats).mean())


def near_duplicates(feats: torch.Tensor, eps: float) -> int:
    """How many rows have another row within distance `eps`."""
    d = torch.cdist(feats.double(), feats.double())
    d.fill_diagonal_(float("inf"))
    return int((d.min(dim=1).values <= eps).sum())


@dataclass
class CollapseReading:
    diversity: float  # mean pairwise distance of the samples / the real set's
    mean_distance: float
    real_distance: float
    near_duplicates: int  # samples with a near-identical other sample
    n_samples: int
    collapsed: bool


class CollapseMeter:
    """Scores sample batches against the diversity of a real set (computed once)."""

    def __init__(
        self,
        real: np.ndarray | torch.Tensor,
        threshold: float = DEFAULT_THRESHOLD,
        duplicate_fraction: float = DEFAULT_DUPLICATE_FRACTION,
        duplicate_share: float = DEFAULT_DUPLICATE_SHARE,
        kind: str = "random_conv",
    ) -> None:
        for name, value in (
            ("threshold", threshold),
            ("duplicate_fraction", duplicate_fraction),
            ("duplicate_share", duplicate_share),
        ):
            if not 0 < value <= 1:
                raise UserInputError(f"{name} must be in (0, 1]; got {value}")
        self.kind, self.threshold, self.duplicate_share = kind, threshold, duplicate_share
        self.net = RandomConvFeatures()  # built with the meter, not at import
        self.real_distance = mean_pairwise_distance(features(real[:MAX_REAL], kind, self.net))
        if self.real_distance <= 0:
            raise UserInputError("the real images are all identical: nothing to compare with")
        self.eps = duplicate_fraction * self.real_distance

    def __call__(self, samples: np.ndarray | torch.Tensor) -> CollapseReading:
        feats = features(samples, self.kind, self.net)
        mean = mean_pairwise_distance(feats)
        diversity = mean / self.real_distance
        duplicates = near_duplicates(feats, self.eps)
        return CollapseReading(
            diversity=diversity,
            mean_distance=mean,
            real_distance=self.real_distance,
            near_duplicates=duplicates,
            n_samples=len(feats),
            collapsed=diversity < self.threshold or duplicates >= self.duplicate_share * len(feats),
        )
