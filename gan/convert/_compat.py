"""The project pieces this package leans on, imported in one place.

The converter reaches the store and the error type only through this module.
"""

from __future__ import annotations

from pathlib import Path

import torch

from core import store
from core.errors import UserInputError

__all__ = ["UserInputError", "checkpoints_dir", "hub_endpoint", "save_model", "store"]


def save_model(
    target: Path,
    config: dict,
    tensors: dict[str, torch.Tensor],
    card: str,
    extra: dict[str, dict[str, torch.Tensor]],
    extra_metadata: dict[str, dict[str, str]],
) -> Path:
    """config.json + model.safetensors + README.md + `extra` safetensors files, atomically,
    through the store's one `save_pretrained`."""
    meta = {"format": "pt"}
    return store.save_pretrained(
        target, config, tensors, card, extra, metadata=meta, extra_metadata=extra_metadata
    )


def checkpoints_dir() -> Path:
    return store.checkpoints_dir()


def validate_name(name: str) -> str:
    return store.validate_name(name)


def hub_endpoint() -> str:
    return store.hub_endpoint()
