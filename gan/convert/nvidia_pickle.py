"""NVIDIA stylegan2-ada-pytorch network pickles, read without running anything from the file.

Those pickles hold `dict(G=..., D=..., G_ema=..., training_set_kwargs=..., augment_pipe=...)`,
each network saved by `torch_utils.persistence` as a call to `_reconstruct_persistent_obj(meta)`
whose `meta` carries the module's whole source code, its class name and its `__dict__`
(`_parameters`, `_buffers`, `_modules`, `_init_kwargs`, ...). NVIDIA's loader `exec`s that source;
this one never looks at it. `gan.convert.safe_pickle` reads the file as strictly as torch's
weights-only loader (the persistent call becomes a `PersistentStub`, tensors stay unread
`TensorRef`s); this module walks the G_ema and D stubs (depth-limited, each layer once), reads
their configs with typed checks and caps, checks every tensor's shape against the config, and
only then copies the float tensors.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, BinaryIO

import torch

from gan.convert import checks, layout, limits, stylegan3_pickle
from gan.convert.errors import ConversionError
from gan.convert.layout import FIR_TAPS
from gan.convert.network_reader import load_network_pickle
from gan.convert.standins import PersistentStub, TensorRef

log = logging.getLogger(__name__)


def _dict(stub: PersistentStub, key: str, where: str) -> dict:
    return checks.read_dict(stub.state.get(key), f"{where}.{key}")


def child(stub: PersistentStub, name: str, where: str) -> PersistentStub:
    node = _dict(stub, "_modules", where).get(name)
    if not isinstance(node, PersistentStub):
        raise ConversionError(f"{where} ({stub.class_name}) has no sub-network {name!r}")
    return node


def load_networks(f: BinaryIO) -> dict:
    """The pickle's top-level dict, with a `PersistentStub` G_ema."""
    data = load_network_pickle(f)
    if not isinstance(data, dict) or not isinstance(data.get("G_ema"), PersistentStub):
        raise ConversionError(
            "the pickle holds no 'G_ema' network (a TensorFlow-era pickle? convert it with "
            "NVIDIA's stylegan2-ada-pytorch legacy.py first)"
        )
    return data


# --- Stub tree -> flat state dict (unread tensors) ---------------------------------------------


def _name(key: Any, where: str) -> str:
    if type(key) is not str or not key.isidentifier() or len(key) > limits.MAX_NAME:
        raise ConversionError(f"{where} has a parameter or layer name that is not an identifier")
    return key


def _tensors(stub: PersistentStub, prefix: str, where: str) -> dict[str, TensorRef]:
    out: dict[str, TensorRef] = {}
    skip = stub.state.get("_non_persistent_buffers_set") or set()
    if not isinstance(skip, set | frozenset):
        raise ConversionError(f"{where}._non_persistent_buffers_set is not a set")
    for group in ("_parameters", "_buffers"):
        for key, t in _dict(stub, group, where).items():
            name = _name(key, where)
            if t is None or (group == "_buffers" and name in skip):
                continue
            if not isinstance(t, TensorRef):
                raise ConversionError(f"{where}.{name} is not a tensor")
            out[prefix + name] = t
    return out


def flat_refs(root: PersistentStub, where: str) -> dict[str, TensorRef]:
    """The `state_dict()` the network would have had (params, buffers, then sub-modules), as
    unread tensors; each layer visited once, at most `MAX_NETWORK_DEPTH` deep."""
    out: dict[str, TensorRef] = {}
    seen: set[int] = set()
    todo: list[tuple[PersistentStub, str, int]] = [(root, "", 0)]
    while todo:
        stub, prefix, depth = todo.pop()
        here = f"{where}.{prefix[:-1]}" if prefix else where
        if id(stub) in seen:
            raise ConversionError(f"{here} is a layer that appears twice in the network")
        if depth > limits.MAX_NETWORK_DEPTH:
            raise ConversionError(f"{here} is nested over {limits.MAX_NETWORK_DEPTH} layers deep")
        seen.add(id(stub))
        out |= _tensors(stub, prefix, here)
        if len(out) > limits.MAX_NETWORK_TENSORS:
            raise ConversionError(f"{where} has over {limits.MAX_NETWORK_TENSORS} tensors")
        subs = list(_dict(stub, "_modules", here).items())
        for key, sub in reversed(subs):  # a stack: reversed keeps the file's order
            name = _name(key, here)
            if sub is None:
                continue
            if not isinstance(sub, PersistentStub):
                raise ConversionError(f"{here}.{name} is not a network layer")
            todo.append((sub, f"{prefix}{name}.", depth + 1))
    return out


def materialize(refs: dict[str, TensorRef], where: str) -> dict[str, torch.Tensor]:
    """Copy the checked views into float tensors (the only copy of file data)."""
    return {k: ref.materialize(f"{where} tensor {k}") for k, ref in refs.items()}


# --- configs ------------------------------------------------------------------------------------

_G_ARGS = ("z_dim", "c_dim", "w_dim", "img_resolution", "img_channels")
_D_ARGS = ("c_dim", "img_resolution", "img_channels")


def _kwargs(stub: PersistentStub, positional: tuple[str, ...], where: str) -> dict:
    args = stub.state.get("_init_args") or ()
    if type(args) not in (tuple, list) or len(args) > len(positional):
        raise ConversionError(f"{where}._init_args is malformed")
    kwargs = _dict(stub, "_init_kwargs", where)
    if any(type(k) is not str for k in kwargs):
        raise ConversionError(f"{where}._init_kwargs has a key that is not a name")
    return dict(zip(positional, args, strict=False)) | kwargs


def _required_int(kwargs: dict, key: str, where: str) -> int:
    value = kwargs.get(key)
    if type(value) is not int:
        raise ConversionError(f"{where} in the pickle has no integer init kwarg {key!r}")
    return value


def _mapping_lr(G: PersistentStub, mapping: dict, where: str) -> float:
    """The gain the mapping layers really apply (fc0's bias gain is the lr multiplier)."""
    fc0 = child(child(G, "mapping", where), "fc0", f"{where}.mapping")
    m_at = f"{where}.mapping_kwargs"
    lr = checks.read_float(mapping.get("lr_multiplier"), f"{m_at}.lr_multiplier", 0.01)
    return checks.read_float(fc0.state.get("bias_gain"), f"{where}.mapping.fc0.bias_gain", lr)


def generator_config(G: PersistentStub, where: str = "G_ema") -> dict:
    """G config from NVIDIA's init kwargs: the keys of this project's StyleGAN2Config, or of
    StyleGAN3Config for a StyleGAN3 G_ema (any other family is refused, naming what it is)."""
    kw = _kwargs(G, _G_ARGS, where)
    m_at = f"{where}.mapping_kwargs"
    mapping = checks.read_dict(kw.get("mapping_kwargs"), m_at)
    if stylegan3_pickle.family(G) == stylegan3_pickle.STYLEGAN3:
        return stylegan3_pickle.generator_config(G, kw, _mapping_lr(G, mapping, where), where)
    synthesis, s_at = stylegan3_pickle.synthesis_kwargs(kw, where)
    nested = "synthesis_kwargs" in kw  # stylegan2-ada-pytorch; flat: the stylegan3 repo's
    if not nested:  # whose SynthesisBlock clamps at 256 unless told otherwise
        synthesis = {"conv_clamp": 256.0, **synthesis}
    config = {
        "model_type": "stylegan2-generator",
        **{k: _required_int(kw, k, where) for k in _G_ARGS},
        "mapping_layers": checks.read_int(mapping.get("num_layers"), f"{m_at}.num_layers", 8),
        "mapping_lr_multiplier": _mapping_lr(G, mapping, where),
        "mapping_embed_features": checks.read_int(
            mapping.get("embed_features"), f"{m_at}.embed_features"
        ),
        "mapping_layer_features": checks.read_int(
            mapping.get("layer_features"), f"{m_at}.layer_features"
        ),
        "mapping_activation": checks.read_choice(
            mapping.get("activation"), f"{m_at}.activation", checks.ACTIVATIONS, "lrelu"
        ),
        **_synthesis_fields(synthesis, s_at),
        "w_avg_beta": checks.read_float(
            mapping.get("w_avg_beta", 0.995 if nested else 0.998), f"{m_at}.w_avg_beta"
        ),
    }
    return checks.check_generator_config(config)


def _synthesis_fields(kw: dict, at: str) -> dict:
    return {
        "channel_base": checks.read_int(kw.get("channel_base"), f"{at}.channel_base", 32768),
        "channel_max": checks.read_int(kw.get("channel_max"), f"{at}.channel_max", 512),
        "channels": None,
        # NVIDIA runs these top resolutions in fp16 on the GPU; kept for the record only
        "num_fp16_res": checks.read_int(kw.get("num_fp16_res"), f"{at}.num_fp16_res", 0),
        "conv_clamp": checks.read_float(kw.get("conv_clamp"), f"{at}.conv_clamp"),
        "architecture": checks.read_choice(
            kw.get("architecture"), f"{at}.architecture", checks.ARCHITECTURES, "skip"
        ),
        "resample_filter": checks.read_filter(
            kw.get("resample_filter"), f"{at}.resample_filter", FIR_TAPS
        ),
        "use_noise": checks.read_bool(kw.get("use_noise"), f"{at}.use_noise", True),
    }


def discriminator_config(D: PersistentStub, where: str = "D") -> dict:
    """D config (model_type stylegan2-discriminator) from NVIDIA's init kwargs."""
    kw = _kwargs(D, _D_ARGS, where)
    e_at, m_at, b_at = (f"{where}.{k}_kwargs" for k in ("epilogue", "mapping", "block"))
    epilogue, mapping = (
        checks.read_dict(kw.get("epilogue_kwargs"), e_at),
        checks.read_dict(kw.get("mapping_kwargs"), m_at),
    )
    block = checks.read_dict(kw.get("block_kwargs"), b_at)
    config = {
        "model_type": "stylegan2-discriminator",
        **{k: _required_int(kw, k, where) for k in _D_ARGS},
        "architecture": checks.read_choice(
            kw.get("architecture"), f"{where}.architecture", checks.ARCHITECTURES, "resnet"
        ),
        "channel_base": checks.read_int(kw.get("channel_base"), f"{where}.channel_base", 32768),
        "channel_max": checks.read_int(kw.get("channel_max"), f"{where}.channel_max", 512),
        "num_fp16_res": checks.read_int(kw.get("num_fp16_res"), f"{where}.num_fp16_res", 0),
        "conv_clamp": checks.read_float(kw.get("conv_clamp"), f"{where}.conv_clamp"),
        "mbstd_group_size": checks.read_int(
            epilogue.get("mbstd_group_size", 4), f"{e_at}.mbstd_group_size"
        ),
        "mbstd_num_channels": checks.read_int(
            epilogue.get("mbstd_num_channels"), f"{e_at}.mbstd_num_channels", 1
        ),
        "mapping_layers": checks.read_int(mapping.get("num_layers"), f"{m_at}.num_layers", 8),
        "mapping_lr_multiplier": checks.read_float(
            mapping.get("lr_multiplier"), f"{m_at}.lr_multiplier", 0.01
        ),
        "channels": None,
        "resample_filter": checks.read_filter(
            block.get("resample_filter"), f"{b_at}.resample_filter", FIR_TAPS
        ),
        "cmap_dim": 0,
    }
    checks.check_discriminator_config(config)  # channel counts are sane before channels_at
    cmap = checks.read_int(kw.get("cmap_dim"), f"{where}.cmap_dim")
    ch4 = layout.channels_at(config, 4)
    config["cmap_dim"] = 0 if config["c_dim"] == 0 else (cmap if cmap is not None else ch4)
    return checks.check_discriminator_config(config)


def generator_shapes(config: dict, family: str) -> layout.Shapes:
    """The state-dict keys and shapes NVIDIA's G of this config has (`family`: the pickle's,
    `stylegan3_pickle.STYLEGAN2` or `.STYLEGAN3`)."""
    if family == stylegan3_pickle.STYLEGAN3:
        return stylegan3_pickle.generator_shapes(config)
    return layout.generator_shapes(config)


@dataclass
class Converted:
    """A converted network pair: G_ema (config + NVIDIA-keyed tensors) and optionally D."""

    config: dict
    state: dict[str, torch.Tensor]
    d_config: dict | None = None
    d_state: dict[str, torch.Tensor] | None = None
    g_train_state: dict[str, torch.Tensor] | None = None  # the raw G, which training resumes
    notes: list[str] = field(default_factory=list)
    family: str = stylegan3_pickle.STYLEGAN2  # what the pickle's G is (the model card says)


def _network(stub: PersistentStub, shapes: layout.Shapes, where: str) -> dict:
    refs = flat_refs(stub, where)
    layout.check_state(refs, shapes, where)  # shapes first: nothing is copied before this
    return materialize(refs, where)


def convert_network_pickle(f: BinaryIO) -> Converted:
    """Read an NVIDIA pickle and check both networks against their configs."""
    data = load_networks(f)
    G = data["G_ema"]
    config, family = generator_config(G), stylegan3_pickle.family(G)
    g_shapes = generator_shapes(config, family)
    out = Converted(config, _network(G, g_shapes, "G_ema"), family=family)
    D = data.get("D")
    if isinstance(D, PersistentStub):
        out.d_config = discriminator_config(D)
        out.d_state = _network(D, layout.discriminator_shapes(out.d_config), "D")
    raw = data.get("G")
    if isinstance(raw, PersistentStub) and generator_config(raw, "G") == config:
        # NVIDIA's --resume trains the raw G and keeps G_ema apart: fine-tuning resumes both.
        out.g_train_state = _network(raw, g_shapes, "G")  # the same layout
    log.info(
        "read NVIDIA pickle: G_ema, D %s, G %s",
        "yes" if out.d_state else "no",
        "yes" if out.g_train_state else "no",
    )
    return out
