"""A tiny random loss network and small images for fast style-transfer tests."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image
from torch import nn

from style.networks import LossNetwork, NetworkSpec
from style.settings import StyleSettings


class TinyNet(nn.Module):
    """Two conv layers: enough for Gram matrices and content features, fast on any CPU."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.c1 = nn.Conv2d(3, 8, 3, padding=1)
        self.c2 = nn.Conv2d(8, 8, 3, padding=1, stride=2)

    def feature_maps(self, x, layers):
        a = torch.relu(self.c1(x))
        b = torch.relu(self.c2(a))
        return {k: v for k, v in (("a", a), ("b", b)) if k in layers}


def tiny_network() -> LossNetwork:
    spec = NetworkSpec("tiny", "Tiny (test)", ("b",), {"a": 1.0, "b": 1.0})
    return LossNetwork(TinyNet().eval().requires_grad_(False), spec, "test")


def img(seed: int, size=(48, 40)) -> Image.Image:
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 255, (size[1] // 8, size[0] // 8, 3), dtype=np.uint8)
    return Image.fromarray(base).resize(size, Image.Resampling.BICUBIC)


def settings(**kw) -> StyleSettings:
    return StyleSettings(**{"steps": 12, "size": 64, "preview_every": 4, **kw})
