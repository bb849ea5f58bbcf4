"""Generators from the model store: a model folder's config.json picks its family
(`gan.models.families`), which builds and loads it."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from core import store
from core.errors import UserInputError
from gan.convert import zoo
from gan.models import families

zoo.install()  # configured Hub network files (.pkl/.pt) convert on first use


def generator_from_folder(folder: Path, name: str, weights: str = store.WEIGHTS_NAME) -> nn.Module:
    """Build a generator (on the CPU) from a model folder's config.json and `weights`."""
    return families.load(folder, "G", weights, label=name)


def load_generator(name: str, device: torch.device) -> nn.Module:
    """A model by name (local or Hub), ready for inference on `device`."""
    generator = generator_from_folder(store.resolve(name), name)
    return generator.to(device).eval().requires_grad_(False)


def family(name: str) -> families.Family:
    """The family of model `name`, from its config.json alone (no weights loaded)."""
    if not name:
        raise UserInputError("choose a model")
    try:
        return families.family_of(store.read_config(store.resolve(name)))
    except KeyError:
        raise store.ModelLoadError(f"{name} is not a face generator") from None


def image_size(name: str) -> int:
    """The output resolution of generator `name`, from its config.json (no weights loaded)."""
    family(name)
    return families.image_size_of(store.resolve(name))
