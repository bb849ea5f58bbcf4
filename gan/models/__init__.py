"""Model architectures, one pure `nn.Module` file each, and the registry that maps a
config.json's `model_type` to its (config class, module class).

A new architecture: add `gan/models/<name>.py` (torch and the standard library only) and
register its family in `gan/models/families.py` (which registers its types here).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from torch import nn

from gan.models import dcgan, stylegan2, stylegan2_d, stylegan3

REGISTRY: dict[str, tuple[type, type[nn.Module]]] = {
    dcgan.GENERATOR_TYPE: (dcgan.GeneratorConfig, dcgan.Generator),
    dcgan.DISCRIMINATOR_TYPE: (dcgan.DiscriminatorConfig, dcgan.Discriminator),
    stylegan2.GENERATOR_TYPE: (stylegan2.StyleGAN2Config, stylegan2.StyleGAN2Generator),
    stylegan2_d.DISCRIMINATOR_TYPE: (
        stylegan2_d.StyleGAN2DiscriminatorConfig,
        stylegan2_d.StyleGAN2Discriminator,
    ),
    stylegan3.GENERATOR_TYPE: (stylegan3.StyleGAN3Config, stylegan3.StyleGAN3Generator),
}


def register(model_type: str, config_class: type, module_class: type[nn.Module]) -> None:
    """Add an architecture: `module_class(config_class(**fields))` builds it."""
    REGISTRY[model_type] = (config_class, module_class)


def lookup(model_type: str) -> tuple[type, type[nn.Module]]:
    """(config class, module class) of a `model_type`; KeyError names the known ones."""
    try:
        return REGISTRY[model_type]
    except KeyError:
        raise KeyError(f"unknown model_type {model_type!r}; known: {sorted(REGISTRY)}") from None


def config_from_dict(model_type: str, values: dict[str, Any]) -> Any:
    """The config dataclass of `model_type` from a config.json dict (unknown keys ignored)."""
    config_class, _ = lookup(model_type)
    if hasattr(config_class, "from_dict"):  # configs with their own JSON rules (StyleGAN2)
        return config_class.from_dict(values)
    known = {f.name for f in dataclasses.fields(config_class)}
    return config_class(**{k: v for k, v in values.items() if k in known})


def build(model_type: str, values: dict[str, Any]) -> nn.Module:
    """A fresh (randomly initialised) module of `model_type` from config values."""
    _, module_class = lookup(model_type)
    return module_class(config_from_dict(model_type, values))
