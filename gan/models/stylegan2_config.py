"""The StyleGAN2 generator's and discriminator's configs: one base for their checks and their
config.json round trip (`to_dict` with `model_type`, `from_dict` ignoring unknown keys)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any, ClassVar, TypeVar

GENERATOR_TYPE = "stylegan2-generator"  # the `model_type` of config.json
DISCRIMINATOR_TYPE = "stylegan2-discriminator"

ARCHITECTURES = ("orig", "skip", "resnet")
# what a config.json may ask for: the model is built (its weights allocated) before they load
MAX_RESOLUTION = 2048
MAX_FEATURES = 1024  # channels at any resolution, z_dim, w_dim
MAX_MAPPING_LAYERS = 16
NOISE_MODES = ("const", "random", "none")

C = TypeVar("C", bound="SG2ConfigBase")


def _check_resolution(resolution: int) -> None:
    if resolution < 4 or resolution > MAX_RESOLUTION or resolution & (resolution - 1) != 0:
        raise ValueError(f"img_resolution must be a power of two from 4 to {MAX_RESOLUTION}")


def _check_sizes(config: SG2ConfigBase) -> None:
    """Channels at every resolution, and the G's latent sizes, within MAX_FEATURES."""
    res = [2**i for i in range(2, config.img_resolution.bit_length())]
    base, cmax = getattr(config, "channel_base", 0), getattr(config, "channel_max", 0)
    sizes = channels_per_resolution(res, base, cmax, config.channels).values()
    sizes = [*sizes, *(getattr(config, k, 1) for k in ("z_dim", "w_dim"))]
    if any(not 1 <= int(n) <= MAX_FEATURES for n in sizes):
        raise ValueError(f"channels, z_dim and w_dim must be from 1 to {MAX_FEATURES}")
    if not 0 <= getattr(config, "mapping_layers", 0) <= MAX_MAPPING_LAYERS:
        raise ValueError(f"mapping_layers must be from 0 to {MAX_MAPPING_LAYERS}")


def channels_per_resolution(
    resolutions: Sequence[int], channel_base: int, channel_max: int, channels: dict | None = None
) -> dict[int, int]:
    """min(channel_base // res, channel_max) per resolution; `channels` overrides entries."""
    out = {res: min(channel_base // res, channel_max) for res in resolutions}
    out.update({int(k): int(v) for k, v in (channels or {}).items() if int(k) in out})
    return out


class SG2ConfigBase:
    """What the G and D configs share (both are dataclasses with `img_resolution`,
    `architecture`, `channels` and `resample_filter`); `MODEL_TYPE` names the network."""

    MODEL_TYPE: ClassVar[str] = ""
    img_resolution: int
    architecture: str
    channels: dict[int, int] | None
    resample_filter: tuple[float, ...]

    def __post_init__(self) -> None:
        _check_resolution(self.img_resolution)
        if self.architecture not in ARCHITECTURES:
            raise ValueError(f"architecture must be one of {ARCHITECTURES}")
        if self.channels is not None:
            self.channels = {int(k): int(v) for k, v in self.channels.items()}
        _check_sizes(self)
        self.resample_filter = tuple(float(v) for v in self.resample_filter)
        if not 1 <= len(self.resample_filter) <= 8:
            raise ValueError("resample_filter must have 1 to 8 taps")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict with `model_type`."""
        d = dataclasses.asdict(self)  # type: ignore[call-overload]
        d["resample_filter"] = list(self.resample_filter)
        if self.channels is not None:
            d["channels"] = {str(k): v for k, v in self.channels.items()}
        return {"model_type": self.MODEL_TYPE, **d}

    @classmethod
    def from_dict(cls: type[C], d: dict[str, Any]) -> C:
        """Inverse of to_dict; unknown keys (and `model_type`) are ignored."""
        names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        return cls(**{k: v for k, v in d.items() if k in names})


@dataclasses.dataclass
class StyleGAN2Config(SG2ConfigBase):
    """Generator hyper-parameters (names as in stylegan2-ada-pytorch)."""

    MODEL_TYPE: ClassVar[str] = GENERATOR_TYPE
    z_dim: int = 512
    c_dim: int = 0
    w_dim: int = 512
    img_resolution: int = 1024
    img_channels: int = 3
    mapping_layers: int = 8
    mapping_lr_multiplier: float = 0.01
    mapping_embed_features: int | None = None  # None = w_dim
    mapping_layer_features: int | None = None  # None = w_dim
    mapping_activation: str = "lrelu"
    channel_base: int = 32768
    channel_max: int = 512
    # Per-resolution channel counts that override channel_base/channel_max, e.g. rosinality's
    # channel_multiplier=4 layout (512 up to 32 px, 256*4 at 64 px), which base/max cannot express.
    channels: dict[int, int] | None = None
    conv_clamp: float | None = None
    architecture: str = "skip"
    w_avg_beta: float | None = 0.995
    resample_filter: tuple[float, ...] = (1, 3, 3, 1)
    use_noise: bool = True
