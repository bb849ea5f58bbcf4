"""A toy third model family, for the tests alone: a tiny MLP generator with a z space and an MLP
discriminator. It is registered with `gan.models.families` and nothing else: the acceptance
test (tests/ui/test_third_family_api.py) shows that a family needs nothing outside its folder."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from gan.models import families

GENERATOR_TYPE = "toy-mlp-generator"
DISCRIMINATOR_TYPE = "toy-mlp-discriminator"


@dataclass
class ToyConfig:
    z_dim: int = 6
    hidden: int = 16
    image_size: int = 8


@dataclass
class ToyDConfig:
    hidden: int = 16
    image_size: int = 8


class ToyGenerator(nn.Module):
    """z (N, z_dim) -> images (N, 3, S, S) in [-1, 1] through two linear layers."""

    def __init__(self, config: ToyConfig) -> None:
        super().__init__()
        self.config = config
        side = config.image_size
        self.net = nn.Sequential(
            nn.Linear(config.z_dim, config.hidden),
            nn.ReLU(),
            nn.Linear(config.hidden, 3 * side * side),
            nn.Tanh(),
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        side = self.config.image_size
        return self.net(z).view(-1, 3, side, side)


class ToyDiscriminator(nn.Module):
    """images (N, 3, S, S) -> one logit each."""

    def __init__(self, config: ToyDConfig) -> None:
        super().__init__()
        self.config = config
        side = config.image_size
        self.net = nn.Sequential(
            nn.Flatten(),
            nn.Linear(3 * side * side, config.hidden),
            nn.LeakyReLU(0.2),
            nn.Linear(config.hidden, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).flatten()


TOY = families.Family(
    name="toy-mlp",
    title="Toy MLP",
    generator_type=GENERATOR_TYPE,
    generator_config=ToyConfig,
    generator_class=ToyGenerator,
    discriminator_type=DISCRIMINATOR_TYPE,
    discriminator_config=ToyDConfig,
    discriminator_class=ToyDiscriminator,
    z_dim=lambda G: G.config.z_dim,
    resolution=lambda config: config.image_size,
    channels=lambda config: 3,
    sefa_layers=lambda G: [G.net[0].weight],  # SeFa over the first layer: (hidden, z_dim)
    recipe="toy-mlp",  # the fine-tune recipe's key (gan/finetune)
)


def toy_modules(seed: int = 0) -> tuple[ToyGenerator, ToyDiscriminator]:
    torch.manual_seed(seed)
    return ToyGenerator(ToyConfig()).eval(), ToyDiscriminator(ToyDConfig()).eval()
