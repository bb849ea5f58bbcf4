"""rosinality/stylegan2-pytorch checkpoints (`.pt`) mapped onto NVIDIA's key names.

A checkpoint is `torch.save`d dict with `g_ema` (a state dict), `latent_avg` (from the official
TF-converted weights) and, from training runs, `g`, `d`, optimiser states and `args` (an
`argparse.Namespace`). It is read with `torch.load(weights_only=True)`, `Namespace` allowed.

The two networks compute the same function (equalised lr, modulation bias init 1, demodulation,
[1,3,3,1] FIR, skip toRGB, noise `x + strength * noise`, bias + lrelu * sqrt 2), so conversion is
a rename with these reshapes: conv weights lose rosinality's leading batch axis, the noise weight
(1,) becomes a scalar, noise buffers (1,1,R,R) become (R,R), the toRGB bias (1,3,1,1) becomes (3,),
the const input (1,C,4,4) becomes (C,4,4), and rosinality's blur kernels (scaled by up**2) become
NVIDIA's `resample_filter` (normalised to sum 1).
"""

from __future__ import annotations

import argparse
import logging
import math
import re
import zipfile
from pathlib import Path

import torch

from gan.convert import checks, layout, limits
from gan.convert.errors import ConversionError
from gan.convert.nvidia_pickle import Converted
from gan.convert.standins import plain

log = logging.getLogger(__name__)

# rosinality's mapping EqualLinear lr_mul; not saved in checkpoints (train.py has no flag for it).
DEFAULT_LR_MLP = 0.01
W_AVG_SAMPLES = 10_000


def _check_zip(path: Path) -> None:
    """A `torch.save` zip stores its records uncompressed: a deflated one is refused (a bomb)."""
    if not zipfile.is_zipfile(path):
        return
    try:
        with zipfile.ZipFile(path) as z:
            infos = z.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as e:
        raise ConversionError(f"{path.name} is not a readable zip archive ({e})") from None
    if any(i.compress_type != zipfile.ZIP_STORED for i in infos):
        raise ConversionError(
            f"{path.name} has compressed records: torch.save never writes them, so it is not read"
        )


def _check_state_dict(state: object, what: str) -> None:
    """Names to float tensors, each within the element cap."""
    if not isinstance(state, dict):
        raise ConversionError(f"the checkpoint's {what} is not a state dict")
    total = 0
    for key, t in state.items():
        if type(key) is not str or not isinstance(t, torch.Tensor):
            raise ConversionError(f"the checkpoint's {what} holds something other than tensors")
        if t.dtype not in (torch.float32, torch.float16, torch.bfloat16):
            raise ConversionError(
                f"the checkpoint's {what} tensor {key[:80]} holds {t.dtype} values: only "
                "float32, float16 and bfloat16 weights are read"
            )
        total += t.numel()
        if t.numel() > limits.MAX_TENSOR_ELEMENTS or total > limits.MAX_TOTAL_ELEMENTS:
            raise ConversionError(f"the checkpoint's {what} is over the element caps")


def load_checkpoint(path: Path) -> dict:
    """`torch.load` with weights only (plus the plain `argparse.Namespace` of training runs)."""
    _check_zip(path)
    try:
        with torch.serialization.safe_globals([argparse.Namespace]):
            ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        if "allocate" in str(e):  # a storage size larger than the memory cap
            raise ConversionError(f"{path.name} asks for more memory than the cap") from None
        reason = plain(str(e).splitlines()[0] if str(e) else type(e).__name__)
        raise ConversionError(
            f"{path.name} is not a weights-only torch checkpoint ({reason})"
        ) from None
    if not isinstance(ckpt, dict) or not isinstance(ckpt.get("g_ema"), dict):
        raise ConversionError(f"{path.name} has no 'g_ema' state dict: not a rosinality checkpoint")
    _check_state_dict(ckpt["g_ema"], "'g_ema'")
    if ckpt.get("d") is not None:
        _check_state_dict(ckpt["d"], "'d'")
    if isinstance(ckpt.get("latent_avg"), torch.Tensor):
        _check_state_dict({"latent_avg": ckpt["latent_avg"]}, "latent_avg")
    return ckpt


class _Keys:
    """Source state dict that records which keys were used, so leftovers can be refused."""

    def __init__(self, state: dict, what: str) -> None:
        self.state, self.used, self.what = state, set(), what

    def __contains__(self, key: str) -> bool:
        return key in self.state

    def take(self, key: str) -> torch.Tensor:
        if key not in self.state:
            raise ConversionError(f"the {self.what} has no {key!r}: not a rosinality StyleGAN2")
        self.used.add(key)
        return self.state[key].detach().to(torch.float32).clone()

    def check_all_used(self) -> None:
        left = sorted(self.state.keys() - self.used)
        if left:
            raise ConversionError(
                f"the {self.what} has keys this converter does not know: {left[:6]} "
                "(a rosinality variant such as SWAGAN is not supported)"
            )


def _filter_from(kernel: torch.Tensor) -> torch.Tensor:
    """rosinality blur kernel (make_kernel * factor**2) -> NVIDIA resample_filter (sum 1)."""
    if kernel.ndim != 2 or kernel.shape != (4, 4):
        raise ConversionError(f"blur kernel of shape {tuple(kernel.shape)}: only 4 taps supported")
    f = kernel / kernel.sum()
    if not torch.allclose(f, layout.resample_filter(), atol=1e-6):
        raise ConversionError("only the [1,3,3,1] blur kernel is supported")
    return f


def _count(state: dict, pattern: str) -> int:
    return len({m.group(1) for k in state if (m := re.fullmatch(pattern, k))})


# --- Generator ---------------------------------------------------------------------------------


def _styled_conv(src: _Keys, name: str, noise: str, res: int) -> dict[str, torch.Tensor]:
    """StyledConv `name` (+ its noise buffer) -> the tensors of one NVIDIA SynthesisLayer."""
    return {
        "weight": src.take(f"{name}.conv.weight").squeeze(0),
        "noise_strength": src.take(f"{name}.noise.weight").reshape(()),
        "bias": src.take(f"{name}.activate.bias"),
        "resample_filter": layout.resample_filter(),
        "noise_const": src.take(noise).reshape(res, res),
        "affine.weight": src.take(f"{name}.conv.modulation.weight"),
        "affine.bias": src.take(f"{name}.conv.modulation.bias"),
    }


def _to_rgb(src: _Keys, name: str) -> dict[str, torch.Tensor]:
    return {
        "weight": src.take(f"{name}.conv.weight").squeeze(0),
        "bias": src.take(f"{name}.bias").flatten(),
        "affine.weight": src.take(f"{name}.conv.modulation.weight"),
        "affine.bias": src.take(f"{name}.conv.modulation.bias"),
    }


def _prefixed(prefix: str, tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {f"{prefix}.{k}": v for k, v in tensors.items()}


def _check_kernels(src: _Keys) -> None:
    for key in [k for k in src.state if k.endswith(".kernel")]:  # Blur / Upsample buffers
        _filter_from(src.take(key))


def generator_config(g: dict, args: object | None) -> dict:
    """Infer the NVIDIA-style G config from a rosinality `g_ema` state dict (and `args`)."""
    n_mlp = _count(g, r"style\.(\d+)\.weight")
    style_dim = g["style.1.weight"].shape[1] if "style.1.weight" in g else 0
    n_up = _count(g, r"to_rgbs\.(\d+)\.conv\.weight")
    if n_mlp == 0 or "input.input" not in g:
        raise ConversionError("'g_ema' has no mapping (style.N) or const input: not rosinality's G")
    channels = {4: g["input.input"].shape[1]}
    for i in range(n_up):
        channels[2 ** (i + 3)] = g[f"convs.{2 * i}.conv.weight"].shape[1]
    return {
        "model_type": "stylegan2-generator",
        "z_dim": style_dim,
        "c_dim": 0,
        "w_dim": style_dim,
        "img_resolution": 2 ** (n_up + 2),
        "img_channels": g["to_rgb1.conv.weight"].shape[1],
        "mapping_layers": n_mlp,
        "mapping_lr_multiplier": checks.read_float(
            getattr(args, "lr_mlp", None), "the checkpoint's args.lr_mlp", DEFAULT_LR_MLP
        ),
        "mapping_embed_features": None,
        "mapping_layer_features": None,
        "mapping_activation": "lrelu",
        # channel_multiplier 1 and 2 are channel_base 16384 * cm, channel_max 512; others need
        # the per-resolution `channels` override
        **layout.channel_fields(channels),
        "num_fp16_res": 0,
        "conv_clamp": None,  # rosinality never clamps
        "architecture": "skip",
        "w_avg_beta": 0.995,
        "resample_filter": list(layout.FIR_TAPS),
        "use_noise": True,
    }


def generator_state(g: dict, w_avg: torch.Tensor, config: dict) -> dict[str, torch.Tensor]:
    """rosinality `g_ema` -> NVIDIA `G.state_dict()` (every source key used exactly once)."""
    src, out = _Keys(g, "'g_ema' state dict"), {}
    _check_kernels(src)
    out["synthesis.b4.const"] = src.take("input.input").squeeze(0)
    out["synthesis.b4.resample_filter"] = layout.resample_filter()
    out |= _prefixed("synthesis.b4.conv1", _styled_conv(src, "conv1", "noises.noise_0", 4))
    out |= _prefixed("synthesis.b4.torgb", _to_rgb(src, "to_rgb1"))
    for i in range(int(math.log2(config["img_resolution"])) - 2):
        p, res = f"synthesis.b{2 ** (i + 3)}", 2 ** (i + 3)
        out[f"{p}.resample_filter"] = layout.resample_filter()
        out |= _prefixed(
            f"{p}.conv0", _styled_conv(src, f"convs.{2 * i}", f"noises.noise_{2 * i + 1}", res)
        )
        out |= _prefixed(
            f"{p}.conv1", _styled_conv(src, f"convs.{2 * i + 1}", f"noises.noise_{2 * i + 2}", res)
        )
        out |= _prefixed(f"{p}.torgb", _to_rgb(src, f"to_rgbs.{i}"))
    for i in range(config["mapping_layers"]):
        out[f"mapping.fc{i}.weight"] = src.take(f"style.{i + 1}.weight")
        out[f"mapping.fc{i}.bias"] = src.take(f"style.{i + 1}.bias")
    out["mapping.w_avg"] = w_avg.reshape(config["w_dim"]).to(torch.float32)
    src.check_all_used()
    return out


def estimate_w_avg(
    state: dict[str, torch.Tensor], config: dict, n: int = W_AVG_SAMPLES
) -> torch.Tensor:
    """Mean of W over `n` seeded z, as rosinality's `mean_latent` does (for checkpoints from
    training, which carry no `latent_avg`)."""
    z = torch.randn(n, config["z_dim"], generator=torch.Generator().manual_seed(0))
    x = z * (z.square().mean(1, keepdim=True) + 1e-8).rsqrt()
    lr = config["mapping_lr_multiplier"]
    for i in range(config["mapping_layers"]):
        w, b = state[f"mapping.fc{i}.weight"], state[f"mapping.fc{i}.bias"]
        x = torch.nn.functional.linear(x, w * (lr / math.sqrt(w.shape[1])), b * lr)
        x = torch.nn.functional.leaky_relu(x, 0.2) * math.sqrt(2)
    return x.mean(0)


# --- Discriminator -----------------------------------------------------------------------------


def _conv_layer(src: _Keys, weight: str, bias: str | None, prefix: str) -> dict[str, torch.Tensor]:
    out = {f"{prefix}.weight": src.take(weight)}
    if bias is not None:
        out[f"{prefix}.bias"] = src.take(bias)
    out[f"{prefix}.resample_filter"] = layout.resample_filter()
    return out


def _dense(src: _Keys, name: str, prefix: str) -> dict[str, torch.Tensor]:
    return {
        f"{prefix}.weight": src.take(f"{name}.weight"),
        f"{prefix}.bias": src.take(f"{name}.bias"),
    }


def discriminator_convert(d: dict, size: int) -> tuple[dict, dict[str, torch.Tensor]]:
    """rosinality `d` (resnet, mbstd group 4) -> NVIDIA D config and state dict."""
    src, out = _Keys(d, "'d' state dict"), {}
    _check_kernels(src)
    channels = {size: d["convs.0.0.weight"].shape[0], 4: d["final_conv.0.weight"].shape[0]}
    out |= _conv_layer(src, "convs.0.0.weight", "convs.0.1.bias", f"b{size}.fromrgb")
    i, res = 1, size
    while res > 4:
        p, c = f"b{res}", f"convs.{i}"
        channels[res] = d[f"{c}.conv1.0.weight"].shape[0]
        out[f"{p}.resample_filter"] = layout.resample_filter()
        out |= _conv_layer(src, f"{c}.conv1.0.weight", f"{c}.conv1.1.bias", f"{p}.conv0")
        out |= _conv_layer(src, f"{c}.conv2.1.weight", f"{c}.conv2.2.bias", f"{p}.conv1")
        out |= _conv_layer(src, f"{c}.skip.1.weight", None, f"{p}.skip")
        i, res = i + 1, res // 2
    out |= _conv_layer(src, "final_conv.0.weight", "final_conv.1.bias", "b4.conv")
    out |= _dense(src, "final_linear.0", "b4.fc") | _dense(src, "final_linear.1", "b4.out")
    src.check_all_used()
    config = {
        "model_type": "stylegan2-discriminator",
        "c_dim": 0,
        "img_resolution": size,
        "img_channels": d["convs.0.0.weight"].shape[1],
        "architecture": "resnet",
        **layout.channel_fields(channels),
        "num_fp16_res": 0,
        "conv_clamp": None,
        "mbstd_group_size": 4,  # rosinality's stddev_group
        "mbstd_num_channels": 1,
        "mapping_layers": 0,
        "mapping_lr_multiplier": 0.01,
        "cmap_dim": 0,
        "resample_filter": list(layout.FIR_TAPS),
    }
    return config, out


def convert_checkpoint(path: Path) -> Converted:
    """A rosinality `.pt` -> G_ema (and D when the checkpoint has `d`) in NVIDIA's layout."""
    try:
        return _convert(load_checkpoint(path))
    except (KeyError, IndexError):  # a key or an axis the layout needs is not there
        raise ConversionError(
            f"{path.name} is not a rosinality StyleGAN2 checkpoint (a tensor or an axis that "
            "the layout needs is missing)"
        ) from None


def _convert(ckpt: dict) -> Converted:
    config = checks.check_generator_config(generator_config(ckpt["g_ema"], ckpt.get("args")))
    latent_avg = ckpt.get("latent_avg")
    placeholder = torch.zeros(config["w_dim"])
    state = generator_state(ckpt["g_ema"], placeholder, config)
    out = Converted(config, state)
    if isinstance(latent_avg, torch.Tensor):
        state["mapping.w_avg"] = latent_avg.detach().reshape(config["w_dim"]).to(torch.float32)
    else:
        state["mapping.w_avg"] = estimate_w_avg(state, config)
        out.notes.append(
            f"w_avg estimated from {W_AVG_SAMPLES} seeded z (the checkpoint has no latent_avg)"
        )
    layout.check_state(state, layout.generator_shapes(config), "generator (g_ema)")
    if isinstance(ckpt.get("d"), dict):
        out.d_config, out.d_state = discriminator_convert(ckpt["d"], config["img_resolution"])
        checks.check_discriminator_config(out.d_config)
        layout.check_state(out.d_state, layout.discriminator_shapes(out.d_config), "discriminator")
    return out
