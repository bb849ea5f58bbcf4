"""Files in the layouts the reference code writes, built without the reference code.

`nvidia_pickle_bytes` writes what stylegan2-ada-pytorch's training loop pickles: a dict whose
networks reduce to `torch_utils.persistence._reconstruct_persistent_obj(meta)` (with embedded
module source, class name and the module `__dict__`), `dnnlib.util.EasyDict` init kwargs, numpy
scalars and real torch tensors. The globals are provided by stand-in modules that exist in
`sys.modules` only while pickling. `rosinality_state` gives rosinality's `Generator.state_dict()`
layout (key names and shapes of `model.py`) for any channel counts.
"""

from __future__ import annotations

import io
import math
import pickle
import sys
import types
from collections import OrderedDict
from contextlib import contextmanager

import numpy as np
import torch

from gan.convert import layout

BUFFERS = {"w_avg", "resample_filter", "noise_const"}


def _reconstruct_persistent_obj(meta):  # only its name matters: it is never called here
    raise AssertionError("a stand-in, never called")


class EasyDict(dict):
    pass


@contextmanager
def reference_globals():
    """`torch_utils.persistence` and `dnnlib.util` stand-ins, for the duration of a dump."""
    mods = {
        "torch_utils": types.ModuleType("torch_utils"),
        "torch_utils.persistence": types.ModuleType("torch_utils.persistence"),
        "dnnlib": types.ModuleType("dnnlib"),
        "dnnlib.util": types.ModuleType("dnnlib.util"),
    }
    _reconstruct_persistent_obj.__module__ = "torch_utils.persistence"
    EasyDict.__module__, EasyDict.__qualname__ = "dnnlib.util", "EasyDict"
    mods["torch_utils.persistence"]._reconstruct_persistent_obj = _reconstruct_persistent_obj
    mods["dnnlib.util"].EasyDict = EasyDict
    saved = {k: sys.modules.get(k) for k in mods}
    sys.modules.update(mods)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                sys.modules.pop(k, None)
            else:
                sys.modules[k] = v


class Persistent:
    """Pickles as NVIDIA's persistence decorator does: source text + class name + state."""

    def __init__(self, class_name: str, state: dict, module_src: str) -> None:
        self.class_name, self.state, self.module_src = class_name, state, module_src

    def __reduce__(self):
        meta = dict(
            type="class",
            version=6,
            module_src=self.module_src,
            class_name=self.class_name,
            state=self.state,
        )
        return (_reconstruct_persistent_obj, (meta,))


G_CLASSES = {"synthesis": "SynthesisNetwork", "mapping": "MappingNetwork", "torgb": "ToRGBLayer"}
D_CLASSES = {
    "b4": "DiscriminatorEpilogue",
    "mapping": "MappingNetwork",
    "mbstd": "MinibatchStdLayer",
}


def _class_of(name: str, table: dict[str, str], top: str) -> str:
    if name == "":
        return top
    leaf = name.rsplit(".", 1)[-1]
    if leaf in table:
        return table[leaf]
    if leaf.startswith("b"):
        return "SynthesisBlock" if top == "Generator" else "DiscriminatorBlock"
    if leaf.startswith(("fc", "affine", "embed", "out")):
        return "FullyConnectedLayer"
    return "SynthesisLayer" if top == "Generator" else "Conv2dLayer"


def _as_module_tensor(t, group: str):
    """A buffer (a copy) or a Parameter; anything else (a crafted reduce) as it is."""
    if not isinstance(t, torch.Tensor):
        return t
    if group == "_buffers":
        return t.clone()
    return torch.nn.Parameter(t, requires_grad=t.is_floating_point() or t.is_complex())


def module_tree(
    flat: dict[str, torch.Tensor], top: str, init_kwargs: dict, src: str, lr: float = 0.01
) -> Persistent:
    """Nest a flat NVIDIA state dict into persistent objects with module-like `__dict__`s."""
    table = G_CLASSES if top == "Generator" else D_CLASSES
    nodes: dict[str, dict] = {}

    def node(path: str) -> dict:
        if path not in nodes:
            nodes[path] = {
                "training": False,
                "_parameters": OrderedDict(),
                "_buffers": OrderedDict(),
                "_non_persistent_buffers_set": set(),
                "_forward_hooks": OrderedDict(),
                "_modules": OrderedDict(),
                "_init_args": (),
                "_init_kwargs": {},
            }
            if path.startswith("mapping.fc"):  # FullyConnectedLayer keeps its gains as numpy
                nodes[path]["bias_gain"] = np.float64(lr)
        return nodes[path]

    for key, t in flat.items():
        path, _, leaf = key.rpartition(".")
        group = "_buffers" if leaf in BUFFERS else "_parameters"
        node(path)[group][leaf] = _as_module_tensor(t, group)
        while path:
            node(path.rpartition(".")[0])
            path = path.rpartition(".")[0]
    node("")["_init_kwargs"] = init_kwargs
    objs = {p: Persistent(_class_of(p, table, top), s, src) for p, s in nodes.items()}
    for p, obj in objs.items():
        if p:
            parent, _, leaf = p.rpartition(".")
            nodes[parent]["_modules"][leaf] = obj
    return objs[""]


def random_state(shapes: dict[str, tuple[int, ...]], seed: int = 0) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    out = {k: torch.randn(s, generator=gen) for k, s in shapes.items()}
    for k in out:
        if k.endswith("resample_filter"):
            out[k] = layout.resample_filter()
    return out


def g_init_kwargs(config: dict) -> dict:
    """NVIDIA Generator init kwargs, as train.py builds them (EasyDicts inside)."""
    return {
        "z_dim": config["z_dim"],
        "w_dim": config["w_dim"],
        "mapping_kwargs": EasyDict(num_layers=config["mapping_layers"]),
        "synthesis_kwargs": EasyDict(
            channel_base=config["channel_base"],
            channel_max=config["channel_max"],
            num_fp16_res=config.get("num_fp16_res", 0),
            conv_clamp=config["conv_clamp"],
            architecture="skip",
        ),
        "c_dim": config["c_dim"],
        "img_resolution": config["img_resolution"],
        "img_channels": config["img_channels"],
    }


def d_init_kwargs(config: dict) -> dict:
    return {
        "c_dim": config["c_dim"],
        "img_resolution": config["img_resolution"],
        "img_channels": config["img_channels"],
        "architecture": "resnet",
        "channel_base": config["channel_base"],
        "channel_max": config["channel_max"],
        "num_fp16_res": 0,
        "conv_clamp": config["conv_clamp"],
        "block_kwargs": EasyDict(),
        "mapping_kwargs": EasyDict(num_layers=config["mapping_layers"]),
        "epilogue_kwargs": EasyDict(mbstd_group_size=config["mbstd_group_size"]),
    }


def tiny_g_config(c_dim: int = 0, res: int = 16) -> dict:
    return {
        "model_type": "stylegan2-generator",
        "z_dim": 8,
        "c_dim": c_dim,
        "w_dim": 8,
        "img_resolution": res,
        "img_channels": 3,
        "mapping_layers": 2,
        "mapping_lr_multiplier": 0.01,
        "mapping_embed_features": None,
        "mapping_layer_features": None,
        "mapping_activation": "lrelu",
        "channel_base": 64,
        "channel_max": 8,
        "channels": None,
        "num_fp16_res": 0,
        "conv_clamp": 256.0,
        "architecture": "skip",
        "w_avg_beta": 0.995,
        "resample_filter": [1.0, 3.0, 3.0, 1.0],
        "use_noise": True,
    }


def tiny_d_config(c_dim: int = 0, res: int = 16) -> dict:
    return {
        "model_type": "stylegan2-discriminator",
        "c_dim": c_dim,
        "img_resolution": res,
        "img_channels": 3,
        "architecture": "resnet",
        "channel_base": 64,
        "channel_max": 8,
        "num_fp16_res": 0,
        "conv_clamp": 256.0,
        "mbstd_group_size": 2,
        "mbstd_num_channels": 1,
        "mapping_layers": 2,
        "mapping_lr_multiplier": 0.01,
        "channels": None,
        "resample_filter": [1.0, 3.0, 3.0, 1.0],
        "cmap_dim": 8 if c_dim else 0,
    }


def nvidia_pickle_bytes(
    g_config: dict,
    g_state: dict[str, torch.Tensor],
    d_config: dict | None = None,
    d_state: dict | None = None,
    module_src: str = "class Generator: pass\n",
    protocol: int = pickle.DEFAULT_PROTOCOL,
    extra: dict | None = None,
    raw_state: dict | None = None,
) -> bytes:
    """The byte stream of `pickle.dump(dict(G=..., D=..., G_ema=..., ...))` from training
    (G holds `raw_state`, or G_ema's weights)."""
    with reference_globals():
        raw = g_state if raw_state is None else raw_state
        G = module_tree(raw, "Generator", g_init_kwargs(g_config), module_src)
        G_ema = module_tree(g_state, "Generator", g_init_kwargs(g_config), module_src)
        data = {"training_set_kwargs": EasyDict(path="x.zip", resolution=16), "G": G}
        if d_state is not None:
            data["D"] = module_tree(d_state, "Discriminator", d_init_kwargs(d_config), module_src)
        data |= {"G_ema": G_ema, "augment_pipe": None} | (extra or {})
        buf = io.BytesIO()
        pickle.dump(data, buf, protocol=protocol)
    return buf.getvalue()


# --- rosinality --------------------------------------------------------------------------------


def _ros_conv(name: str, cin: int, cout: int, style: int, k: int = 3) -> dict:
    return {
        f"{name}.conv.weight": (1, cout, cin, k, k),
        f"{name}.conv.modulation.weight": (cin, style),
        f"{name}.conv.modulation.bias": (cin,),
        f"{name}.noise.weight": (1,),
        f"{name}.activate.bias": (cout,),
    }


def _ros_rgb(name: str, cin: int, style: int) -> dict:
    return {
        f"{name}.conv.weight": (1, 3, cin, 1, 1),
        f"{name}.conv.modulation.weight": (cin, style),
        f"{name}.conv.modulation.bias": (cin,),
        f"{name}.bias": (1, 3, 1, 1),
    }


def rosinality_shapes(size: int, style: int, n_mlp: int, channels: dict[int, int]) -> dict:
    """Key names and shapes of rosinality's `Generator.state_dict()` (blur kernels aside)."""
    shapes: dict = {}
    for i in range(1, n_mlp + 1):
        shapes |= {f"style.{i}.weight": (style, style), f"style.{i}.bias": (style,)}
    shapes["input.input"] = (1, channels[4], 4, 4)
    shapes |= _ros_conv("conv1", channels[4], channels[4], style)
    shapes |= _ros_rgb("to_rgb1", channels[4], style)
    log_size = int(math.log2(size))
    for i in range((log_size - 2) * 2 + 1):
        r = 2 ** ((i + 5) // 2)
        shapes[f"noises.noise_{i}"] = (1, 1, r, r)
    cin = channels[4]
    for k, i in enumerate(range(3, log_size + 1)):
        cout = channels[2**i]
        shapes |= _ros_conv(f"convs.{2 * k}", cin, cout, style)
        shapes |= _ros_conv(f"convs.{2 * k + 1}", cout, cout, style)
        shapes |= _ros_rgb(f"to_rgbs.{k}", cout, style)
        cin = cout
    return shapes


def rosinality_state(size: int, style: int, n_mlp: int, channels: dict[int, int], seed: int = 0):
    """A random rosinality `g_ema` state dict, with the blur kernels its modules register."""
    state = random_state(rosinality_shapes(size, style, n_mlp, channels), seed)
    kernel = layout.resample_filter()
    for k in range(int(math.log2(size)) - 2):
        state[f"convs.{2 * k}.conv.blur.kernel"] = kernel * 4  # Blur(upsample_factor=2)
        state[f"to_rgbs.{k}.upsample.kernel"] = kernel * 4  # Upsample(factor=2)
    return state


def rosinality_d_state(size: int, channels: dict[int, int], seed: int = 1) -> dict:
    """A random rosinality `Discriminator.state_dict()` (resnet, ConvLayer Sequentials)."""
    shapes = {"convs.0.0.weight": (channels[size], 3, 1, 1), "convs.0.1.bias": (channels[size],)}
    i, res = 1, size
    while res > 4:
        c, cin, cout = f"convs.{i}", channels[res], channels[res // 2]
        shapes |= {
            f"{c}.conv1.0.weight": (cin, cin, 3, 3),
            f"{c}.conv1.1.bias": (cin,),
            f"{c}.conv2.1.weight": (cout, cin, 3, 3),
            f"{c}.conv2.2.bias": (cout,),
            f"{c}.skip.1.weight": (cout, cin, 1, 1),
        }
        i, res = i + 1, res // 2
    c4 = channels[4]
    shapes |= {
        "final_conv.0.weight": (c4, c4 + 1, 3, 3),
        "final_conv.1.bias": (c4,),
        "final_linear.0.weight": (c4, c4 * 16),
        "final_linear.0.bias": (c4,),
        "final_linear.1.weight": (1, c4),
        "final_linear.1.bias": (1,),
    }
    state = random_state(shapes, seed)
    for j in range(1, i):
        state[f"convs.{j}.conv2.0.kernel"] = layout.resample_filter()  # Blur, no up factor
        state[f"convs.{j}.skip.0.kernel"] = layout.resample_filter()
    return state
