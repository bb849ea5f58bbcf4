"""The StyleGAN3 generator's config (names and defaults as NVIDIA's `networks_stylegan3`), its
checks, its config.json round trip, and the layer schedule it implies (Karras et al. 2021,
"Alias-Free Generative Adversarial Networks", Sec. 3.2 and Appendix F)."""

from __future__ import annotations

import dataclasses
import math
from typing import Any, ClassVar

GENERATOR_TYPE = "stylegan3-generator"  # the `model_type` of config.json

# what a config.json may ask for: the model is built (its weights allocated) before they load
MIN_RESOLUTION, MAX_RESOLUTION = 8, 2048
MAX_FEATURES = 2048  # channels, z_dim, w_dim (StyleGAN3-R doubles channel_max to 1024)
MAX_LAYERS = 32
MAX_MAPPING_LAYERS = 16
MAX_MARGIN = 64
MAX_FILTER_SIZE = 16
MAX_LRELU_UPSAMPLING = 4


@dataclasses.dataclass(frozen=True)
class LayerSpec:
    """One synthesis layer's sizes, sampling rates and filter band (Appendix F's table)."""

    name: str
    in_channels: int
    out_channels: int
    in_size: int
    out_size: int
    in_sampling_rate: int
    out_sampling_rate: int
    in_cutoff: float
    out_cutoff: float
    in_half_width: float
    out_half_width: float
    is_torgb: bool
    is_critically_sampled: bool
    use_fp16: bool


@dataclasses.dataclass
class StyleGAN3Config:
    """Generator hyper-parameters. T: `conv_kernel=3`; R: `conv_kernel=1`,
    `use_radial_filters=True` (and doubled channels, as NVIDIA's train.py sets)."""

    MODEL_TYPE: ClassVar[str] = GENERATOR_TYPE
    z_dim: int = 512
    c_dim: int = 0
    w_dim: int = 512
    img_resolution: int = 1024
    img_channels: int = 3
    mapping_layers: int = 2
    mapping_lr_multiplier: float = 0.01
    w_avg_beta: float = 0.998
    channel_base: int = 32768
    channel_max: int = 512
    num_layers: int = 14  # layers between the Fourier features and ToRGB
    num_critical: int = 2  # critically sampled layers at the end
    first_cutoff: float = 2.0
    first_stopband: float = 2**2.1
    last_stopband_rel: float = 2**0.3
    margin_size: int = 10
    output_scale: float = 0.25
    num_fp16_res: int = 4  # fp16 for layers sampled above img_resolution / 2**num_fp16_res (GPU)
    conv_kernel: int = 3
    filter_size: int = 6
    lrelu_upsampling: int = 2
    use_radial_filters: bool = False
    conv_clamp: float | None = 256.0
    magnitude_ema_beta: float = 0.999

    def __post_init__(self) -> None:
        res = self.img_resolution
        if not MIN_RESOLUTION <= res <= MAX_RESOLUTION or res & (res - 1):
            raise ValueError(
                f"img_resolution must be a power of two from {MIN_RESOLUTION} to {MAX_RESOLUTION}"
            )
        _check_ints(self)
        _check_floats(self)
        _check_band(self)
        if any(not 1 <= spec.in_channels <= MAX_FEATURES for spec in self.layers()):
            raise ValueError(f"channels must be from 1 to {MAX_FEATURES}")

    @property
    def num_ws(self) -> int:
        """ws the synthesis takes: the input's, one per layer, ToRGB's."""
        return self.num_layers + 2

    def layers(self) -> list[LayerSpec]:
        """The synthesis layers L0 .. L{num_layers} (the last is ToRGB)."""
        return layer_schedule(self)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict with `model_type`."""
        return {"model_type": self.MODEL_TYPE, **dataclasses.asdict(self)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> StyleGAN3Config:
        """Inverse of to_dict; unknown keys (and `model_type`) are ignored."""
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


def _check_ints(cfg: StyleGAN3Config) -> None:
    bounds = {
        "z_dim": (1, MAX_FEATURES),
        "w_dim": (1, MAX_FEATURES),
        "c_dim": (0, 1_000_000),
        "img_channels": (1, 4),
        "mapping_layers": (1, MAX_MAPPING_LAYERS),
        "channel_base": (1, 1 << 20),
        "channel_max": (1, MAX_FEATURES),
        "num_layers": (2, MAX_LAYERS),
        "num_critical": (0, cfg.num_layers - 1 if type(cfg.num_layers) is int else 0),
        "margin_size": (0, MAX_MARGIN),
        "num_fp16_res": (0, 16),
        "conv_kernel": (1, 7),
        "filter_size": (1, MAX_FILTER_SIZE),
        "lrelu_upsampling": (1, MAX_LRELU_UPSAMPLING),
    }
    for key, (lo, hi) in bounds.items():
        value = getattr(cfg, key)
        if type(value) is not int or not lo <= value <= hi:
            raise ValueError(f"{key} must be an integer from {lo} to {hi}")


def _check_floats(cfg: StyleGAN3Config) -> None:
    for key in ("first_cutoff", "first_stopband", "last_stopband_rel", "output_scale"):
        value = float(getattr(cfg, key))
        if not math.isfinite(value) or value <= 0 or value > 1e4:
            raise ValueError(f"{key} must be a positive number")
        setattr(cfg, key, value)
    if cfg.first_cutoff >= cfg.img_resolution / 2:
        raise ValueError("first_cutoff must be below img_resolution / 2")
    for key in ("mapping_lr_multiplier", "w_avg_beta", "magnitude_ema_beta"):
        value = float(getattr(cfg, key))
        if not 0 <= value <= 1 or (key == "mapping_lr_multiplier" and value == 0):
            raise ValueError(f"{key} must be from 0 to 1")
        setattr(cfg, key, value)
    if cfg.conv_clamp is not None:
        cfg.conv_clamp = float(cfg.conv_clamp)
        if not 0 < cfg.conv_clamp < math.inf:
            raise ValueError("conv_clamp must be a positive number or null")
    if type(cfg.use_radial_filters) is not bool:
        raise ValueError("use_radial_filters must be true or false")


def _check_band(cfg: StyleGAN3Config) -> None:
    """Every layer sampled at 2 or more and at least twice its cutoff (the input strictly:
    its out-of-band fade divides by the gap)."""
    cutoffs, _, rates = _band(cfg)
    nyquist = all(fc <= r / 2 * (1 + 1e-9) for fc, r in zip(cutoffs, rates, strict=True))
    if min(rates) < 2 or not nyquist or cutoffs[0] >= rates[0] / 2:
        raise ValueError(
            "first_cutoff, first_stopband and last_stopband_rel give a layer sampled below "
            "twice its cutoff"
        )


def _band(cfg: StyleGAN3Config) -> tuple[list[float], list[float], list[int]]:
    """Per-layer cutoff f_c, minimum stopband f_t (a geometric progression up to the critically
    sampled layers) and sampling rate s (the power of two above 2 f_t, at most the image's)."""
    n, res = cfg.num_layers, cfg.img_resolution
    last_cutoff = res / 2
    last_stopband = last_cutoff * cfg.last_stopband_rel
    exps = [min(i / (n - cfg.num_critical), 1.0) for i in range(n + 1)]
    cutoffs = [cfg.first_cutoff * (last_cutoff / cfg.first_cutoff) ** e for e in exps]
    stopbands = [cfg.first_stopband * (last_stopband / cfg.first_stopband) ** e for e in exps]
    rates = [int(2 ** math.ceil(math.log2(min(2 * t, res)))) for t in stopbands]
    return cutoffs, stopbands, rates


def layer_schedule(cfg: StyleGAN3Config) -> list[LayerSpec]:
    """Every layer's spec, as NVIDIA's SynthesisNetwork derives it (names `L{i}_{size}_{ch}`)."""
    n, res = cfg.num_layers, cfg.img_resolution
    cutoffs, stopbands, rates = _band(cfg)
    half_widths = [max(t, s / 2) - fc for t, s, fc in zip(stopbands, rates, cutoffs, strict=True)]
    sizes = [s + 2 * cfg.margin_size for s in rates[:-2]] + [res, res]
    channels = [round(min(cfg.channel_base / 2 / fc, cfg.channel_max)) for fc in cutoffs]
    channels[-1] = cfg.img_channels
    specs = []
    for i in range(n + 1):
        p = max(i - 1, 0)
        specs.append(
            LayerSpec(
                name=f"L{i}_{sizes[i]}_{channels[i]}",
                in_channels=channels[p],
                out_channels=channels[i],
                in_size=sizes[p],
                out_size=sizes[i],
                in_sampling_rate=rates[p],
                out_sampling_rate=rates[i],
                in_cutoff=cutoffs[p],
                out_cutoff=cutoffs[i],
                in_half_width=half_widths[p],
                out_half_width=half_widths[i],
                is_torgb=i == n,
                is_critically_sampled=i >= n - cfg.num_critical,
                use_fp16=rates[i] * 2**cfg.num_fp16_res > res,
            )
        )
    return specs


@dataclasses.dataclass(frozen=True)
class Resampling:
    """A layer's up/down factors around its leaky ReLU, filter lengths and padding."""

    tmp_sampling_rate: int
    up: int
    down: int
    up_taps: int
    down_taps: int
    down_radial: bool
    conv_kernel: int
    padding: tuple[int, int, int, int]  # x0, x1, y0, y1


def resampling(spec: LayerSpec, cfg: StyleGAN3Config) -> Resampling:
    """The leaky ReLU runs at `lrelu_upsampling` times the higher of the two rates (ToRGB:
    at that rate); filters of `filter_size` taps per factor; the padding places samples
    symmetrically (the paper's Appendix C.3)."""
    tmp = max(spec.in_sampling_rate, spec.out_sampling_rate)
    tmp *= 1 if spec.is_torgb else cfg.lrelu_upsampling
    up, down = round(tmp / spec.in_sampling_rate), round(tmp / spec.out_sampling_rate)
    up_taps, down_taps = (
        1 if spec.is_torgb or factor == 1 else cfg.filter_size * factor for factor in (up, down)
    )
    kernel = 1 if spec.is_torgb else cfg.conv_kernel
    total = (spec.out_size - 1) * down + 1 - (spec.in_size + kernel - 1) * up
    total += up_taps + down_taps - 2
    lo = (total + up) // 2
    radial = cfg.use_radial_filters and not spec.is_critically_sampled
    return Resampling(tmp, up, down, up_taps, down_taps, radial, kernel, (lo, total - lo) * 2)


def input_spec(cfg: StyleGAN3Config) -> tuple[int, int, int, float]:
    """The Fourier-feature input's (channels, size, sampling rate, bandwidth): layer 0's input."""
    first = layer_schedule(cfg)[0]
    return first.in_channels, first.in_size, first.in_sampling_rate, first.in_cutoff
