"""The project pieces this package leans on, imported in one place (they move to `core/`)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from gan import store
from gan.errors import UserInputError

__all__ = ["UserInputError", "checkpoints_dir", "hub_endpoint", "validate_name", "write_dir"]


def write_dir(target: Path, write: Callable[[Path], None]) -> Path:
    """Fill a model folder atomically (`write(tmp)` then a rename swap)."""
    return store.atomic_write_dir(target, write)


def checkpoints_dir() -> Path:
    return store.checkpoints_dir()


def validate_name(name: str) -> str:
    return store.validate_name(name)


def hub_endpoint() -> str:
    return store.hub_endpoint()
