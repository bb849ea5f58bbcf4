"""Generators from the model store: a model folder's config.json picks the architecture."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from core import store
from core.errors import UserInputError
from gan import models
from gan.convert import zoo

zoo.install()  # configured Hub network files (.pkl/.pt) convert on first use


def _generator_type(
    config: dict, name: str, model_types: tuple[str, ...] = models.GENERATOR_TYPES
) -> str:
    """The config's `model_type` (DCGAN when absent: the oldest folders have none), which
    must be one of `model_types` (by default the generators the tabs run)."""
    model_type = config.get("model_type", models.dcgan.GENERATOR_TYPE)
    if model_type not in model_types:
        raise store.ModelLoadError(f"{name} is a {config.get('model_type')}, not a face generator")
    return model_type


def generator_from_folder(
    folder: Path,
    name: str,
    weights: str = store.WEIGHTS_NAME,
    model_types: tuple[str, ...] = models.GENERATOR_TYPES,
) -> nn.Module:
    """Build a generator (on the CPU) from a model folder's config.json and `weights`."""
    config, tensors = store.from_pretrained(folder, weights)
    model_type = _generator_type(config, name, model_types)
    try:
        generator = models.build(model_type, config)
        generator.load_state_dict(tensors)
    except (TypeError, ValueError, RuntimeError) as e:
        raise store.ModelLoadError(f"{name}: the weights do not match its config ({e})") from e
    return generator


def load_generator(name: str, device: torch.device) -> nn.Module:
    """A model by name (local or Hub), ready for inference on `device`."""
    generator = generator_from_folder(store.resolve(name), name)
    return generator.to(device).eval().requires_grad_(False)


def image_size(name: str) -> int:
    """The output resolution of generator `name`, from its config.json (no weights loaded)."""
    if not name:
        raise UserInputError("choose a model")
    config = store.read_config(store.resolve(name))
    model_type = _generator_type(config, name)
    values = models.config_from_dict(model_type, config)
    return int(getattr(values, "image_size", None) or values.img_resolution)
