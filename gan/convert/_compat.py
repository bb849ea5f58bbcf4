"""The project pieces this package leans on, imported in one place.

`store` and `UserInputError` live in `core/` since the issue-8 refactor and in `gan/` before it;
this module is the only one that knows which.
"""

from __future__ import annotations

import inspect
import json
from pathlib import Path

import torch
from safetensors.torch import save_file

try:
    from core import store
    from core.errors import UserInputError
except ImportError:  # a tree from before the core/ package
    from gan import store
    from gan.errors import UserInputError

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
    through the store's one `save_pretrained` when it takes per-file metadata."""
    meta = {"format": "pt"}
    if "extra_metadata" in inspect.signature(store.save_pretrained).parameters:
        return store.save_pretrained(
            target, config, tensors, card, extra, metadata=meta, extra_metadata=extra_metadata
        )

    def write(folder: Path) -> None:  # the older store: same files, same atomic swap
        (folder / store.CONFIG_NAME).write_text(json.dumps(config, indent=2) + "\n")
        save_file(tensors, str(folder / store.WEIGHTS_NAME), metadata=meta)
        for name, more in extra.items():
            save_file(more, str(folder / name), metadata=extra_metadata.get(name))
        (folder / store.CARD_NAME).write_text(card)

    return store.atomic_write_dir(target, write)


def checkpoints_dir() -> Path:
    return store.checkpoints_dir()


def validate_name(name: str) -> str:
    return store.validate_name(name)


def hub_endpoint() -> str:
    return store.hub_endpoint()
