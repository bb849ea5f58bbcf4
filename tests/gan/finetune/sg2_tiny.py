"""Tiny random StyleGAN2 G and D (16 px, a few channels) for the StyleGAN2 training tests."""

from __future__ import annotations

import pytest
import torch

from gan.models.stylegan2 import StyleGAN2Config, StyleGAN2Generator
from gan.models.stylegan2_d import StyleGAN2Discriminator, StyleGAN2DiscriminatorConfig

RES = 16


def tiny_g(seed: int = 0) -> StyleGAN2Generator:
    torch.manual_seed(seed)
    config = StyleGAN2Config(
        z_dim=8, w_dim=8, img_resolution=RES, mapping_layers=2, channel_base=32, channel_max=8
    )
    return StyleGAN2Generator(config)


def tiny_d(seed: int = 1) -> StyleGAN2Discriminator:
    torch.manual_seed(seed)
    config = StyleGAN2DiscriminatorConfig(
        img_resolution=RES, channel_base=32, channel_max=8, mbstd_group_size=2
    )
    return StyleGAN2Discriminator(config)


def tiny_images(n: int = 6, seed: int = 2) -> torch.Tensor:
    """uint8 images (n, 3, 16, 16): smooth blobs, so that D has something to learn."""
    g = torch.Generator().manual_seed(seed)
    low = torch.rand(n, 3, 4, 4, generator=g)
    up = torch.nn.functional.interpolate(low, size=(RES, RES), mode="bilinear")
    return (up * 255).round().to(torch.uint8)


@pytest.fixture(autouse=True)
def one_thread():
    """One intra-op thread: tiny models gain nothing from more, and the CPU is shared."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
