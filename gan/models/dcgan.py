"""DCGAN generator and discriminator (Radford et al. 2016), pure `nn.Module`s.

The layer layout at 64x64 is that of the PyTorch DCGAN tutorial, so the tutorial's and
`gan-face-generate`'s state dicts load unchanged (`main.0.weight`, ...). Other power-of-two
resolutions add or remove one up/down-sampling block per octave.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
from torch import nn

GENERATOR_TYPE = "dcgan-generator"  # the `model_type` of config.json
DISCRIMINATOR_TYPE = "dcgan-discriminator"


@dataclass
class GeneratorConfig:
    """Hyper-parameters saved as `config.json` beside the weights."""

    nz: int = 100  # size of the latent vector z
    ngf: int = 64  # feature maps in the last hidden layer
    nc: int = 3  # image channels
    image_size: int = 64

    def __post_init__(self) -> None:
        _check_size(self.image_size)

    def to_dict(self) -> dict:
        return {"model_type": GENERATOR_TYPE, **asdict(self)}


@dataclass
class DiscriminatorConfig:
    ndf: int = 64
    nc: int = 3
    image_size: int = 64

    def __post_init__(self) -> None:
        _check_size(self.image_size)

    def to_dict(self) -> dict:
        return {"model_type": DISCRIMINATOR_TYPE, **asdict(self)}


def _check_size(image_size: int) -> None:
    if image_size < 16 or image_size & (image_size - 1):
        raise ValueError(f"image_size must be a power of two >= 16, got {image_size}")


def _n_blocks(image_size: int) -> int:
    """Hidden (de)convolution blocks between 4x4 and the image: 3 at 64x64."""
    return int(math.log2(image_size)) - 3


class Generator(nn.Module):
    """z of shape (N, nz) or (N, nz, 1, 1) -> images in [-1, 1] of shape (N, nc, S, S)."""

    def __init__(self, config: GeneratorConfig) -> None:
        super().__init__()
        self.config = config
        n = _n_blocks(config.image_size)
        width = config.ngf * 2**n
        layers: list[nn.Module] = [
            nn.ConvTranspose2d(config.nz, width, 4, 1, 0, bias=False),
            nn.BatchNorm2d(width),
            nn.ReLU(True),
        ]
        for _ in range(n):
            layers += [
                nn.ConvTranspose2d(width, width // 2, 4, 2, 1, bias=False),
                nn.BatchNorm2d(width // 2),
                nn.ReLU(True),
            ]
            width //= 2
        layers += [nn.ConvTranspose2d(width, config.nc, 4, 2, 1, bias=False), nn.Tanh()]
        self.main = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        if z.dim() == 2:
            z = z[:, :, None, None]
        return self.main(z)


class Discriminator(nn.Module):
    """Images (N, nc, S, S) -> real/fake logits (N,); no sigmoid, losses take logits."""

    def __init__(self, config: DiscriminatorConfig) -> None:
        super().__init__()
        self.config = config
        n = _n_blocks(config.image_size)
        width = config.ndf
        layers: list[nn.Module] = [
            nn.Conv2d(config.nc, width, 4, 2, 1, bias=False),
            nn.LeakyReLU(0.2, inplace=True),
        ]
        for _ in range(n):
            layers += [
                nn.Conv2d(width, width * 2, 4, 2, 1, bias=False),
                nn.BatchNorm2d(width * 2),
                nn.LeakyReLU(0.2, inplace=True),
            ]
            width *= 2
        layers += [nn.Conv2d(width, 1, 4, 1, 0, bias=False)]
        self.main = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.main(x).flatten()


def init_weights(module: nn.Module) -> None:
    """DCGAN initialisation: conv weights N(0, 0.02), batch-norm scale N(1, 0.02)."""
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
        nn.init.normal_(module.weight, 0.0, 0.02)
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)
