"""A tiny random StyleGAN2 generator and discriminator for the Edit/Project/Judge tests."""

from __future__ import annotations

import torch

from gan.models.stylegan2 import StyleGAN2Config, StyleGAN2Generator
from gan.models.stylegan2_d import StyleGAN2Discriminator, StyleGAN2DiscriminatorConfig


def tiny_stylegan2(seed: int = 0, resolution: int = 16) -> StyleGAN2Generator:
    torch.manual_seed(seed)
    config = StyleGAN2Config(
        z_dim=16,
        w_dim=16,
        img_resolution=resolution,
        mapping_layers=2,
        channel_base=128,
        channel_max=16,
    )
    G = StyleGAN2Generator(config).eval()
    with torch.no_grad():  # visible noise, so that the noise maps matter
        for name, p in G.named_parameters():
            if name.endswith("noise_strength"):
                p.fill_(0.1)
    return G


def tiny_stylegan2_d(seed: int = 0, resolution: int = 16) -> StyleGAN2Discriminator:
    torch.manual_seed(seed)
    config = StyleGAN2DiscriminatorConfig(
        img_resolution=resolution, channel_base=128, channel_max=16
    )
    return StyleGAN2Discriminator(config).eval()


def one_thread():
    """Fixture body: run a test on one thread (tiny models gain nothing from more, and a
    shared CPU makes extra threads spin), then restore the setting."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
