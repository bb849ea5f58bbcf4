"""NVIDIA stylegan3 generator stubs (`networks_stylegan3.Generator`, configs T and R): which
family a pickle's G_ema is, its config from the init kwargs (typed, every key known), and the
keys and shapes of its state dict, all without running anything from the file.

NVIDIA's StyleGAN3 G takes its synthesis arguments flat (`Generator(z_dim, ..., channel_base=,
conv_kernel=, ...)`), and so does the StyleGAN2 G of the stylegan3 repository
(`networks_stylegan2`); stylegan2-ada-pytorch nests them in `synthesis_kwargs`.
"""

from __future__ import annotations

from gan.convert import checks, layout, limits
from gan.convert.errors import ConversionError
from gan.convert.standins import PersistentStub, plain
from gan.models.stylegan3_config import (  # noqa: F401 (GENERATOR_TYPE re-exported)
    GENERATOR_TYPE,
    StyleGAN3Config,
    resampling,
)

STYLEGAN2, STYLEGAN3 = "stylegan2", "stylegan3"
SUPPORTED = (
    "StyleGAN2 (stylegan2-ada-pytorch's networks.py and stylegan3's networks_stylegan2.py) and "
    "StyleGAN3-T/-R (stylegan3's networks_stylegan3.py)"
)
_G_ARGS = ("z_dim", "c_dim", "w_dim", "img_resolution", "img_channels")
_INTS = (
    "channel_base",
    "channel_max",
    "num_layers",
    "num_critical",
    "margin_size",
    "num_fp16_res",
    "conv_kernel",
    "filter_size",
    "lrelu_upsampling",
)
_FLOATS = (
    "first_cutoff",
    "first_stopband",
    "last_stopband_rel",
    "output_scale",
    "conv_clamp",
    "magnitude_ema_beta",
)
_DEFAULTS = StyleGAN3Config.__dataclass_fields__


def _modules(stub: PersistentStub) -> dict:
    return checks.read_dict(stub.state.get("_modules"), f"the {plain(stub.class_name)}")


def _found(stub: PersistentStub, what: str) -> str:
    names = [plain(str(k), 40) for k in list(_modules(stub))[:6]]
    return f"{what} is a {plain(stub.class_name, 60)} with sub-networks {names}"


def family(G: PersistentStub) -> str:
    """'stylegan2' or 'stylegan3' from the layers G_ema is made of; else an error naming what
    was found and which families are read."""
    synthesis = _modules(G).get("synthesis")
    if isinstance(synthesis, PersistentStub):
        layers = _modules(synthesis)
        first = layers.get("input")
        if isinstance(first, PersistentStub) and first.class_name == "SynthesisInput":
            return STYLEGAN3
        if isinstance(layers.get("b4"), PersistentStub):
            return STYLEGAN2
        found = _found(synthesis, "its synthesis network")
    else:
        found = _found(G, "G_ema")
    raise ConversionError(
        f"this pickle's generator is of no family this converter reads: {found}. Supported: "
        f"{SUPPORTED}"
    )


def synthesis_kwargs(kw: dict, where: str) -> tuple[dict, str]:
    """(the synthesis arguments, where they are): nested (stylegan2-ada-pytorch) or flat."""
    if "synthesis_kwargs" in kw:
        at = f"{where}.synthesis_kwargs"
        return checks.read_dict(kw["synthesis_kwargs"], at), at
    skip = {*_G_ARGS, "mapping_kwargs", "class_name"}
    return {k: v for k, v in kw.items() if k not in skip}, where


def _synthesis_fields(kw: dict, where: str) -> dict:
    """StyleGAN3Config's synthesis fields; an argument NVIDIA's code takes but this one does not
    know is refused (it could change the network)."""
    syn, at = synthesis_kwargs(kw, where)
    unknown = sorted(set(syn) - {*_INTS, *_FLOATS, "use_radial_filters"})
    if unknown:
        names = [plain(k, 40) for k in unknown[:5]]
        raise ConversionError(f"{at} has arguments this converter does not know: {names}")
    out: dict = {}
    for key in _INTS:
        out[key] = checks.read_int(syn.get(key), f"{at}.{key}", _DEFAULTS[key].default)
    for key in _FLOATS:
        default = None if key == "conv_clamp" and "conv_clamp" in syn else _DEFAULTS[key].default
        out[key] = checks.read_float(syn.get(key), f"{at}.{key}", default)
    out["use_radial_filters"] = checks.read_bool(
        syn.get("use_radial_filters"), f"{at}.use_radial_filters", False
    )
    return out


def generator_config(G: PersistentStub, kw: dict, lr: float, where: str = "G_ema") -> dict:
    """A checked StyleGAN3 config dict (with `model_type`) from G_ema's init kwargs; `lr` is
    the mapping layers' own gain (their bias_gain)."""
    m_at = f"{where}.mapping_kwargs"
    mapping = checks.read_dict(kw.get("mapping_kwargs"), m_at)
    values = {key: kw.get(key) for key in _G_ARGS}
    if any(type(v) is not int for v in values.values()):
        raise ConversionError(f"{where} in the pickle lacks an integer init kwarg of {_G_ARGS}")
    values |= {
        "mapping_layers": checks.read_int(mapping.get("num_layers"), f"{m_at}.num_layers", 2),
        "mapping_lr_multiplier": lr,
        "w_avg_beta": checks.read_float(mapping.get("w_avg_beta"), f"{m_at}.w_avg_beta", 0.998),
        **_synthesis_fields(kw, where),
    }
    _check_caps(values)
    try:
        config = StyleGAN3Config(**values)
    except (TypeError, ValueError) as e:
        raise ConversionError(f"the StyleGAN3 generator's config is out of range: {e}") from None
    return config.to_dict()


def _check_caps(values: dict) -> None:
    """The converter's own caps (`gan.convert.limits`) on top of the config's checks."""
    res = values["img_resolution"]
    if not limits.MIN_RESOLUTION <= res <= limits.MAX_RESOLUTION:
        raise ConversionError(f"the generator's img_resolution is over {limits.MAX_RESOLUTION}")
    caps = {"z_dim": limits.MAX_CHANNELS, "w_dim": limits.MAX_CHANNELS}
    caps |= {"channel_max": limits.MAX_CHANNELS, "c_dim": limits.MAX_CLASSES}
    caps |= {"img_channels": limits.MAX_IMG_CHANNELS, "num_fp16_res": limits.MAX_FP16_RES}
    for key, cap in caps.items():
        if not 0 <= values[key] <= cap:
            raise ConversionError(f"the generator's {key} must be from 0 to {cap}")


def generator_shapes(config: dict) -> layout.Shapes:
    """Every key and shape of NVIDIA's StyleGAN3 `Generator.state_dict()` for this config."""
    cfg = StyleGAN3Config.from_dict(config)
    specs = cfg.layers()
    ch, w_dim = specs[0].in_channels, cfg.w_dim
    shapes: layout.Shapes = {
        "synthesis.input.weight": (ch, ch),
        "synthesis.input.transform": (3, 3),
        "synthesis.input.freqs": (ch, 2),
        "synthesis.input.phases": (ch,),
        "synthesis.input.affine.weight": (4, w_dim),
        "synthesis.input.affine.bias": (4,),
    }
    for spec in specs:
        r, p = resampling(spec, cfg), f"synthesis.{spec.name}"
        k = r.conv_kernel
        shapes[f"{p}.weight"] = (spec.out_channels, spec.in_channels, k, k)
        shapes[f"{p}.bias"] = (spec.out_channels,)
        shapes[f"{p}.magnitude_ema"] = ()
        if r.up_taps > 1:
            shapes[f"{p}.up_filter"] = (r.up_taps,)
        if r.down_taps > 1:
            shapes[f"{p}.down_filter"] = (r.down_taps,) * (2 if r.down_radial else 1)
        shapes[f"{p}.affine.weight"] = (spec.in_channels, w_dim)
        shapes[f"{p}.affine.bias"] = (spec.in_channels,)
    dims = (cfg.z_dim, cfg.c_dim, w_dim, cfg.mapping_layers)
    return shapes | layout.mapping_shapes("mapping", *dims, True)
