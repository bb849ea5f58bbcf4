"""Tiny random StyleGAN2 model folders for the studio, API and browser tests."""

from __future__ import annotations

from pathlib import Path

import torch

from core import store
from gan.models.stylegan2 import StyleGAN2Config, StyleGAN2Generator


def tiny_config(resolution: int = 32, c_dim: int = 0) -> StyleGAN2Config:
    """32 px gives 8 ws: the coarse (0-3) and middle (4-7) presets both apply."""
    return StyleGAN2Config(
        z_dim=16,
        c_dim=c_dim,
        w_dim=16,
        img_resolution=resolution,
        mapping_layers=2,
        channel_base=256,
        channel_max=16,
    )


def tiny_generator(seed: int = 0, resolution: int = 32, c_dim: int = 0) -> StyleGAN2Generator:
    """Random weights, with visible noise and a w_avg away from 0 (so truncation shows)."""
    torch.manual_seed(seed)
    G = StyleGAN2Generator(tiny_config(resolution, c_dim)).eval()
    with torch.no_grad():
        for name, p in G.named_parameters():
            if name.endswith("noise_strength"):
                p.fill_(0.1)
        G.mapping.w_avg.normal_()
    return G


def save_tiny(folder: Path, name: str = "sg2-tiny", **kwargs) -> StyleGAN2Generator:
    """Write a tiny StyleGAN2 model folder `folder/name` (config.json, model.safetensors)."""
    G = tiny_generator(**kwargs)
    card = "# Tiny random StyleGAN2\n\nRandom weights, for tests.\n"
    store.save_pretrained(folder / name, G.config.to_dict(), G.state_dict(), card)
    return G
