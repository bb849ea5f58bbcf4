"""NVIDIA stylegan2-ada-pytorch network pickles, read without running anything from the file.

Those pickles hold `dict(G=..., D=..., G_ema=..., training_set_kwargs=..., augment_pipe=...)`,
each network saved by `torch_utils.persistence` as a call to `_reconstruct_persistent_obj(meta)`
whose `meta` carries the module's whole source code, its class name and its `__dict__`
(`_parameters`, `_buffers`, `_modules`, `_init_kwargs`, ...). NVIDIA's loader `exec`s that source;
this one never looks at it. Its unpickler resolves only a fixed table of globals: the persistent
call becomes a `PersistentStub` recording class name and state, `dnnlib.util.EasyDict` becomes a
plain dict, tensors are rebuilt by torch's own weights-only loader, and every other global
(`os.system`, `builtins.eval`, NVIDIA's classes themselves, ...) is refused.
"""

from __future__ import annotations

import collections
import io
import logging
import pickle
from dataclasses import dataclass, field
from typing import Any, BinaryIO

import numpy as np
import torch

from gan.convert import layout
from gan.convert.errors import ConversionError
from gan.convert.layout import FIR_TAPS

log = logging.getLogger(__name__)


@dataclass
class PersistentStub:
    """What a persistent NVIDIA object left in the pickle: its class name and its state."""

    class_name: str
    state: dict = field(repr=False)

    @property
    def init_kwargs(self) -> dict:
        return dict(self.state.get("_init_kwargs") or {})

    @property
    def init_args(self) -> tuple:
        return tuple(self.state.get("_init_args") or ())

    def children(self) -> dict[str, PersistentStub | None]:
        return dict(self.state.get("_modules") or {})

    def child(self, name: str) -> PersistentStub:
        node = self.children().get(name)
        if not isinstance(node, PersistentStub):
            raise ConversionError(f"{self.class_name} has no sub-network {name!r}")
        return node


def _reconstruct_persistent_obj(meta: Any) -> PersistentStub:
    """Stand-in for `torch_utils.persistence._reconstruct_persistent_obj`; ignores `module_src`."""
    if not isinstance(meta, dict) or meta.get("type") != "class":
        raise ConversionError("malformed persistent object in the pickle")
    name, state = meta.get("class_name"), meta.get("state")
    if not isinstance(name, str) or not isinstance(state, dict):
        raise ConversionError("malformed persistent object in the pickle")
    return PersistentStub(name, state)


def _load_storage(data: bytes) -> torch.storage.TypedStorage:
    """`torch.storage._load_from_bytes`, but through torch's weights-only loader."""
    if not isinstance(data, bytes | bytearray):
        raise ConversionError("malformed tensor storage in the pickle")
    try:
        storage = torch.load(io.BytesIO(data), weights_only=True)
    except Exception as e:
        raise ConversionError(f"unreadable tensor storage in the pickle ({e})") from e
    if not isinstance(storage, torch.storage.TypedStorage | torch.UntypedStorage):
        raise ConversionError("a tensor storage in the pickle holds something else")
    return storage


def _rebuild_tensor(storage, storage_offset, size, stride, *_ignored) -> torch.Tensor:
    """`torch._utils._rebuild_tensor_v2` without backward hooks or metadata."""
    if isinstance(storage, torch.UntypedStorage):
        storage = torch.storage.TypedStorage(
            wrap_storage=storage, dtype=torch.uint8, _internal=True
        )
    if not isinstance(storage, torch.storage.TypedStorage):
        raise ConversionError("a tensor in the pickle has no storage")
    try:
        t = torch.empty((0,), dtype=storage.dtype)
        return t.set_(storage._untyped_storage, storage_offset, tuple(size), tuple(stride))
    except (RuntimeError, TypeError) as e:
        raise ConversionError(f"a tensor in the pickle is out of bounds ({e})") from e


def _rebuild_parameter(data, *_ignored) -> torch.Tensor:
    """`torch._utils._rebuild_parameter(_with_state)`: keep the data, drop hooks and state."""
    if not isinstance(data, torch.Tensor):
        raise ConversionError("a parameter in the pickle holds no tensor")
    return data


def _rebuild_from_type(func, _new_type, args, _state) -> torch.Tensor:
    """`torch._tensor._rebuild_from_type_v2`, for our own rebuild functions only."""
    if func not in (_rebuild_tensor, _rebuild_parameter):
        raise ConversionError("refusing a tensor rebuilt by an unknown function")
    return func(*args)


def _latin1_bytes(text: str, encoding: str = "latin1") -> bytes:
    """`_codecs.encode`, as protocol-2 pickles write bytes; latin-1 only."""
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise ConversionError("refusing a codec call in the pickle")
    return text.encode("latin1")


class _TensorClass:
    """Placeholder for `torch.Tensor` / `torch.nn.Parameter` named as a type argument."""


_NUMPY = {"_reconstruct", "scalar"}
_SAFE_GLOBALS: dict[tuple[str, str], Any] = {
    ("torch_utils.persistence", "_reconstruct_persistent_obj"): _reconstruct_persistent_obj,
    ("dnnlib.util", "EasyDict"): dict,
    ("dnnlib", "EasyDict"): dict,
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("builtins", "set"): set,
    ("builtins", "frozenset"): frozenset,
    ("__builtin__", "set"): set,  # protocol <= 2 writes Python 2 names
    ("__builtin__", "frozenset"): frozenset,
    ("_codecs", "encode"): _latin1_bytes,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
    ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter,
    ("torch._tensor", "_rebuild_from_type_v2"): _rebuild_from_type,
    ("torch.storage", "_load_from_bytes"): _load_storage,
    ("torch", "Tensor"): _TensorClass,
    ("torch._tensor", "Tensor"): _TensorClass,
    ("torch.nn.parameter", "Parameter"): _TensorClass,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
}
_multiarray = getattr(np, "_core", None) or np.core  # numpy 2 renamed numpy.core
for _mod in ("numpy.core.multiarray", "numpy._core.multiarray"):
    for _name in _NUMPY:
        _SAFE_GLOBALS[(_mod, _name)] = getattr(_multiarray.multiarray, _name)


class RestrictedUnpickler(pickle.Unpickler):
    """Resolves only `_SAFE_GLOBALS`; imports nothing, so nothing in the file can run."""

    def find_class(self, module: str, name: str) -> Any:
        try:
            return _SAFE_GLOBALS[(module, name)]
        except KeyError:
            raise ConversionError(
                f"refusing to load {module}.{name}: the pickle asks for code this converter "
                "does not allow (only NVIDIA network pickles of tensors and plain data are read)"
            ) from None

    def persistent_load(self, pid: Any) -> Any:
        raise ConversionError("the pickle refers to external storages: not a network pickle")


def load_network_pickle(f: BinaryIO) -> dict:
    """Unpickle an NVIDIA network pickle into plain data with `PersistentStub` networks."""
    try:
        data = RestrictedUnpickler(f).load()
    except ConversionError:
        raise
    except Exception as e:  # truncated or corrupt streams
        raise ConversionError(f"not a readable network pickle ({type(e).__name__}: {e})") from e
    if not isinstance(data, dict) or not isinstance(data.get("G_ema"), PersistentStub):
        raise ConversionError(
            "the pickle holds no 'G_ema' network (a TensorFlow-era pickle? convert it with "
            "NVIDIA's stylegan2-ada-pytorch legacy.py first)"
        )
    return data


# --- Stub tree -> flat state dict and config ----------------------------------------------


def flat_state(stub: PersistentStub, prefix: str = "") -> dict[str, torch.Tensor]:
    """The `state_dict()` the network would have had: params, buffers, then sub-modules."""
    state, out = stub.state, {}
    skip = set(state.get("_non_persistent_buffers_set") or ())
    for group in ("_parameters", "_buffers"):
        for name, t in (state.get(group) or {}).items():
            if t is None or (group == "_buffers" and name in skip):
                continue
            if not isinstance(t, torch.Tensor):
                raise ConversionError(f"{prefix}{name} is not a tensor")
            out[prefix + name] = t.detach().clone().contiguous()
    for name, child in stub.children().items():
        if child is None:
            continue
        if not isinstance(child, PersistentStub):
            raise ConversionError(f"{prefix}{name} is not a network layer")
        out |= flat_state(child, f"{prefix}{name}.")
    return out


_G_ARGS = ("z_dim", "c_dim", "w_dim", "img_resolution", "img_channels")
_D_ARGS = ("c_dim", "img_resolution", "img_channels")


def _kwargs(stub: PersistentStub, positional: tuple[str, ...]) -> dict:
    kwargs = dict(zip(positional, stub.init_args, strict=False))
    return kwargs | stub.init_kwargs


def _state_float(stub: PersistentStub, key: str, default: float) -> float:
    value = stub.state.get(key, default)
    return float(value) if value is not None else default


def _clamp(value: Any) -> float | None:
    return None if value is None else float(value)


def generator_config(G: PersistentStub) -> dict:
    """G config (the keys of this project's StyleGAN2Config) from NVIDIA's init kwargs."""
    kw = _kwargs(G, _G_ARGS)
    mapping, synthesis = (
        dict(kw.get("mapping_kwargs") or {}),
        dict(kw.get("synthesis_kwargs") or {}),
    )
    fc0 = G.child("mapping").child("fc0")
    return {
        "model_type": "stylegan2-generator",
        **{k: _required_int(kw, k, G) for k in _G_ARGS},
        "mapping_layers": int(mapping.get("num_layers", 8)),
        # the gain the layer really applies (its bias gain is the lr multiplier)
        "mapping_lr_multiplier": _state_float(fc0, "bias_gain", mapping.get("lr_multiplier", 0.01)),
        "mapping_embed_features": _optional_int(mapping.get("embed_features")),
        "mapping_layer_features": _optional_int(mapping.get("layer_features")),
        "mapping_activation": str(mapping.get("activation", "lrelu")),
        "channel_base": int(synthesis.get("channel_base", 32768)),
        "channel_max": int(synthesis.get("channel_max", 512)),
        "channels": None,
        # NVIDIA runs these top resolutions in fp16 on the GPU; kept for the record only
        "num_fp16_res": int(synthesis.get("num_fp16_res", 0)),
        "conv_clamp": _clamp(synthesis.get("conv_clamp")),
        "architecture": str(synthesis.get("architecture", "skip")),
        "w_avg_beta": _optional_float(mapping.get("w_avg_beta", 0.995)),
        "resample_filter": [float(v) for v in synthesis.get("resample_filter", FIR_TAPS)],
        "use_noise": bool(synthesis.get("use_noise", True)),
    }


def discriminator_config(D: PersistentStub) -> dict:
    """D config (model_type stylegan2-discriminator) from NVIDIA's init kwargs."""
    kw = _kwargs(D, _D_ARGS)
    epilogue, mapping = dict(kw.get("epilogue_kwargs") or {}), dict(kw.get("mapping_kwargs") or {})
    block = dict(kw.get("block_kwargs") or {})
    config = {
        "model_type": "stylegan2-discriminator",
        **{k: _required_int(kw, k, D) for k in _D_ARGS},
        "architecture": str(kw.get("architecture", "resnet")),
        "channel_base": int(kw.get("channel_base", 32768)),
        "channel_max": int(kw.get("channel_max", 512)),
        "num_fp16_res": int(kw.get("num_fp16_res", 0)),
        "conv_clamp": _clamp(kw.get("conv_clamp")),
        "mbstd_group_size": _optional_int(epilogue.get("mbstd_group_size", 4)),
        "mbstd_num_channels": int(epilogue.get("mbstd_num_channels", 1)),
        "mapping_layers": int(mapping.get("num_layers", 8)),
        "mapping_lr_multiplier": float(mapping.get("lr_multiplier", 0.01)),
        "channels": None,
        "resample_filter": [float(v) for v in block.get("resample_filter", FIR_TAPS)],
    }
    cmap = kw.get("cmap_dim")
    ch4 = layout.channels_at(config, 4)
    config["cmap_dim"] = 0 if config["c_dim"] == 0 else int(cmap if cmap is not None else ch4)
    return config


def _required_int(kwargs: dict, key: str, stub: PersistentStub) -> int:
    if not isinstance(kwargs.get(key), int | np.integer):
        raise ConversionError(f"{stub.class_name} in the pickle has no integer init kwarg {key!r}")
    return int(kwargs[key])


def _optional_int(value: Any) -> int | None:
    return None if value is None else int(value)


def _optional_float(value: Any) -> float | None:
    return None if value is None else float(value)


@dataclass
class Converted:
    """A converted network pair: G_ema (config + NVIDIA-keyed tensors) and optionally D."""

    config: dict
    state: dict[str, torch.Tensor]
    d_config: dict | None = None
    d_state: dict[str, torch.Tensor] | None = None
    notes: list[str] = field(default_factory=list)


def convert_network_pickle(f: BinaryIO) -> Converted:
    """Read an NVIDIA pickle and check both networks against their configs."""
    data = load_network_pickle(f)
    G = data["G_ema"]
    config, state = generator_config(G), flat_state(G)
    layout.check_state(state, layout.generator_shapes(config), "generator (G_ema)")
    out = Converted(config, state)
    D = data.get("D")
    if isinstance(D, PersistentStub):
        out.d_config, out.d_state = discriminator_config(D), flat_state(D)
        layout.check_state(out.d_state, layout.discriminator_shapes(out.d_config), "discriminator")
    log.info("read NVIDIA pickle: %s, D %s", G.class_name, "yes" if out.d_state else "no")
    return out
