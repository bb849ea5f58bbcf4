"""The 2D lab's networks: small MLPs, G: z (N, z_dim) -> points (N, 2), D: points -> logits."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class MLPConfig:
    """An MLP: `in_dim` -> `layers` hidden layers of `hidden` units (ReLU) -> `out_dim`."""

    in_dim: int = 2
    hidden: int = 64
    layers: int = 2
    out_dim: int = 2


def _mlp(config: MLPConfig) -> nn.Sequential:
    dims = [config.in_dim] + [config.hidden] * config.layers
    parts: list[nn.Module] = []
    for a, b in itertools.pairwise(dims):
        parts += [nn.Linear(a, b), nn.ReLU()]
    parts.append(nn.Linear(dims[-1], config.out_dim))
    return nn.Sequential(*parts)


class Generator2D(nn.Module):
    """G: z (N, z_dim) -> points (N, 2)."""

    def __init__(self, config: MLPConfig) -> None:
        super().__init__()
        self.config = config
        self.net = _mlp(config)

    @property
    def z_dim(self) -> int:
        return self.config.in_dim

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)


class Discriminator2D(nn.Module):
    """D: points (N, 2) -> one logit each (N,)."""

    def __init__(self, config: MLPConfig) -> None:
        super().__init__()
        self.config = config
        self.net = _mlp(config)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).squeeze(-1)
