"""Typed reads of values from a file, and the caps every converted config must meet.

The readers never call `str()`, `int()` or `float()` on a value of the file's choosing: a value
of the wrong type is an error that names where it was found. `check_generator_config` and
`check_discriminator_config` then hold the finished configs to `gan.convert.limits`, for both
source formats, before any tensor is copied.
"""

from __future__ import annotations

import math
from typing import Any

from gan.convert import limits
from gan.convert.errors import ConversionError

ARCHITECTURES = ("orig", "skip", "resnet")  # what gan.models.stylegan2 builds
ACTIVATIONS = ("linear", "relu", "lrelu")


def read_int(value: Any, where: str, default: int | None = None) -> int | None:
    """An int (not a bool) or, when absent, `default`."""
    if value is None:
        return default
    if type(value) is not int:
        raise ConversionError(f"{where} is a {type(value).__name__}, not an integer")
    return value


def read_float(value: Any, where: str, default: float | None = None) -> float | None:
    """A finite number as a float or, when absent, `default`."""
    if value is None:
        return default
    if type(value) not in (int, float):
        raise ConversionError(f"{where} is a {type(value).__name__}, not a number")
    if not math.isfinite(value):
        raise ConversionError(f"{where} is not a finite number")
    return float(value)


def read_bool(value: Any, where: str, default: bool) -> bool:
    if value is None:
        return default
    if type(value) is not bool:
        raise ConversionError(f"{where} is a {type(value).__name__}, not true/false")
    return value


def read_choice(value: Any, where: str, choices: tuple[str, ...], default: str) -> str:
    """One of `choices` (the file's value itself is never echoed)."""
    if value is None:
        return default
    if type(value) is not str or value not in choices:
        raise ConversionError(f"{where} is not one of {list(choices)}")
    return value


def read_filter(value: Any, where: str, default: tuple[float, ...]) -> list[float]:
    """A short list of finite taps."""
    if value is None:
        return list(default)
    if type(value) not in (list, tuple) or not 1 <= len(value) <= limits.MAX_FILTER_TAPS:
        raise ConversionError(f"{where} is not a list of 1 to {limits.MAX_FILTER_TAPS} numbers")
    return [_bounded(read_float(v, where), where) for v in value]


def read_dict(value: Any, where: str) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ConversionError(f"{where} is a {type(value).__name__}, not a dict")
    return value


def _bounded(value: float | None, where: str) -> float:
    if value is None or abs(value) > limits.MAX_ABS_FLOAT:
        raise ConversionError(f"{where} is missing or over {limits.MAX_ABS_FLOAT:g}")
    return value


def _in_range(config: dict, key: str, lo: int, hi: int, what: str, optional: bool = False) -> None:
    value = config.get(key)
    if optional and value is None:
        return
    if type(value) is not int or not lo <= value <= hi:
        raise ConversionError(f"the {what}'s {key} must be an integer from {lo} to {hi}")


def _check_resolution(config: dict, what: str) -> None:
    res = config.get("img_resolution")
    if type(res) is not int or not limits.MIN_RESOLUTION <= res <= limits.MAX_RESOLUTION:
        raise ConversionError(
            f"the {what}'s img_resolution must be a power of two from "
            f"{limits.MIN_RESOLUTION} to {limits.MAX_RESOLUTION}"
        )
    if res & (res - 1):
        raise ConversionError(f"the {what}'s img_resolution must be a power of two")


def _check_channels(config: dict, what: str) -> None:
    """Each resolution's channel count from 1 to MAX_CHANNELS."""
    _in_range(config, "channel_base", 1, limits.MAX_CHANNEL_BASE, what)
    _in_range(config, "channel_max", 1, limits.MAX_CHANNELS, what)
    override = config.get("channels") or {}
    if not isinstance(override, dict) or len(override) > 16:
        raise ConversionError(f"the {what}'s channels override is malformed")
    for key, value in override.items():
        if type(key) is not str or not key.isdigit() or type(value) is not int:
            raise ConversionError(f"the {what}'s channels override is malformed")
        if not 1 <= value <= limits.MAX_CHANNELS:
            raise ConversionError(f"the {what}'s channels must be from 1 to {limits.MAX_CHANNELS}")
    res = 4
    while res <= config["img_resolution"]:
        ch = int(override.get(str(res), min(config["channel_base"] // res, config["channel_max"])))
        if not 1 <= ch <= limits.MAX_CHANNELS:
            raise ConversionError(
                f"the {what} has {ch} channels at {res} px: 1 to {limits.MAX_CHANNELS} are read"
            )
        res *= 2


def _check_common(config: dict, what: str) -> None:
    _check_resolution(config, what)
    _in_range(config, "c_dim", 0, limits.MAX_CLASSES, what)
    _in_range(config, "img_channels", 1, limits.MAX_IMG_CHANNELS, what)
    _in_range(config, "num_fp16_res", 0, limits.MAX_FP16_RES, what)
    _check_channels(config, what)
    if config.get("architecture") not in ARCHITECTURES:
        raise ConversionError(f"the {what}'s architecture must be one of {list(ARCHITECTURES)}")
    clamp = config.get("conv_clamp")
    if clamp is not None and (type(clamp) is not float or not 0 < clamp <= limits.MAX_ABS_FLOAT):
        raise ConversionError(f"the {what}'s conv_clamp must be a positive finite number")
    taps = config.get("resample_filter")
    if type(taps) is not list or not 1 <= len(taps) <= limits.MAX_FILTER_TAPS:
        raise ConversionError(f"the {what}'s resample_filter must have 1 to 8 taps")
    for tap in taps:
        if type(tap) is not float or not math.isfinite(tap) or abs(tap) > limits.MAX_ABS_FLOAT:
            raise ConversionError(f"the {what}'s resample_filter taps must be finite numbers")
    if sum(taps) == 0:
        raise ConversionError(f"the {what}'s resample_filter sums to 0")


def check_generator_config(config: dict) -> dict:
    """Raise unless a finished G config is within the caps; returns it."""
    what = "generator"
    _check_common(config, what)
    for key in ("z_dim", "w_dim"):
        _in_range(config, key, 1, limits.MAX_CHANNELS, what)
    for key in ("mapping_embed_features", "mapping_layer_features"):
        _in_range(config, key, 1, limits.MAX_CHANNELS, what, optional=True)
    _in_range(config, "mapping_layers", *limits.MAPPING_LAYERS, what)
    if config.get("mapping_activation") not in ACTIVATIONS:
        raise ConversionError(f"the {what}'s mapping activation must be one of {list(ACTIVATIONS)}")
    lr = config.get("mapping_lr_multiplier")
    if type(lr) is not float or not 0 < lr <= limits.MAX_ABS_FLOAT:
        raise ConversionError(f"the {what}'s mapping lr multiplier must be a positive number")
    beta = config.get("w_avg_beta")
    if beta is not None and (type(beta) is not float or not 0 <= beta <= 1):
        raise ConversionError(f"the {what}'s w_avg_beta must be from 0 to 1")
    if type(config.get("use_noise")) is not bool:
        raise ConversionError(f"the {what}'s use_noise must be true or false")
    return config


def check_discriminator_config(config: dict) -> dict:
    """Raise unless a finished D config is within the caps; returns it."""
    what = "discriminator"
    _check_common(config, what)
    _in_range(config, "mapping_layers", *limits.D_MAPPING_LAYERS, what)
    _in_range(config, "cmap_dim", 0, limits.MAX_CHANNELS, what)
    _in_range(config, "mbstd_group_size", 1, limits.MAX_MBSTD[0], what, optional=True)
    _in_range(config, "mbstd_num_channels", 0, limits.MAX_MBSTD[1], what)
    lr = config.get("mapping_lr_multiplier")
    if type(lr) is not float or not 0 < lr <= limits.MAX_ABS_FLOAT:
        raise ConversionError(f"the {what}'s mapping lr multiplier must be a positive number")
    return config
