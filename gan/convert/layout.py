"""NVIDIA stylegan2-ada-pytorch state-dict layout: key names and shapes from a config.

Used to check every converted state dict before it is written, so a file that does not match its
own config (or a layout this project cannot express) fails with a clear message instead of
producing a folder that does not load.
"""

from __future__ import annotations

import torch

from gan.convert.errors import ConversionError

Shapes = dict[str, tuple[int, ...]]
FIR_TAPS = (1.0, 3.0, 3.0, 1.0)


def channels_at(config: dict, res: int) -> int:
    """NVIDIA's `channels_dict`: `min(channel_base // res, channel_max)`, unless the config's
    `channels` overrides that resolution (JSON keys are strings)."""
    override = {int(k): int(v) for k, v in (config.get("channels") or {}).items()}
    return override.get(res, min(config["channel_base"] // res, config["channel_max"]))


def resample_filter(taps: tuple[float, ...] = FIR_TAPS) -> torch.Tensor:
    """NVIDIA's `upfirdn2d.setup_filter`: the outer product of the taps, normalised to sum 1."""
    f = torch.tensor(taps, dtype=torch.float32)
    f = torch.outer(f, f)
    return f / f.sum()


def infer_channel_base(channels: dict[int, int]) -> tuple[int, int]:
    """(channel_base, channel_max) such that `min(base // res, max)` gives `channels[res]`."""
    channel_max = max(channels.values())
    below = {res: c for res, c in channels.items() if c < channel_max}
    base = max((c * res for res, c in below.items()), default=channel_max * max(channels))
    if any(min(base // res, channel_max) != c for res, c in channels.items()):
        raise ConversionError(
            f"the channel counts {dict(sorted(channels.items()))} follow no "
            "min(channel_base // res, channel_max) rule"
        )
    return base, channel_max


def channel_fields(channels: dict[int, int]) -> dict:
    """Config fields for these per-resolution channels: base/max when a rule fits, else those
    (from the largest resolutions) plus a `channels` override of every resolution."""
    try:
        base, cmax = infer_channel_base(channels)
        return {"channel_base": base, "channel_max": cmax, "channels": None}
    except ConversionError:
        top = max(channels)
        return {
            "channel_base": channels[top] * top,
            "channel_max": max(channels.values()),
            "channels": {str(r): c for r, c in sorted(channels.items())},
        }


def _fc(prefix: str, out_features: int, in_features: int, bias: bool = True) -> Shapes:
    shapes = {f"{prefix}.weight": (out_features, in_features)}
    if bias:
        shapes[f"{prefix}.bias"] = (out_features,)
    return shapes


def _conv(prefix: str, out_ch: int, in_ch: int, k: int, bias: bool = True) -> Shapes:
    shapes = {f"{prefix}.weight": (out_ch, in_ch, k, k)}
    if bias:
        shapes[f"{prefix}.bias"] = (out_ch,)
    shapes[f"{prefix}.resample_filter"] = (4, 4)
    return shapes


def mapping_shapes(
    prefix: str,
    z_dim: int,
    c_dim: int,
    w_dim: int,
    layers: int,
    w_avg: bool,
    embed_features: int | None = None,
    layer_features: int | None = None,
) -> Shapes:
    """MappingNetwork: `embed` when conditional, `fc0..`, and the `w_avg` buffer."""
    shapes: Shapes = {f"{prefix}.w_avg": (w_dim,)} if w_avg else {}
    embed = (embed_features or w_dim) if c_dim > 0 else 0
    hidden = layer_features or w_dim
    features = [z_dim + embed] + [hidden] * (layers - 1) + [w_dim]
    if c_dim > 0:
        shapes |= _fc(f"{prefix}.embed", embed, c_dim)
    for i in range(layers):
        shapes |= _fc(f"{prefix}.fc{i}", features[i + 1], features[i])
    return shapes


def _synthesis_layer(
    prefix: str, out_ch: int, in_ch: int, w_dim: int, res: int, noise: bool = True
) -> Shapes:
    shapes = {f"{prefix}.weight": (out_ch, in_ch, 3, 3)}
    if noise:
        shapes[f"{prefix}.noise_strength"] = ()
    shapes |= {f"{prefix}.bias": (out_ch,), f"{prefix}.resample_filter": (4, 4)}
    if noise:
        shapes[f"{prefix}.noise_const"] = (res, res)
    return shapes | _fc(f"{prefix}.affine", in_ch, w_dim)


def generator_shapes(config: dict) -> Shapes:
    """Every key and shape of NVIDIA's `Generator.state_dict()` for this config."""
    w_dim, img_ch, top = config["w_dim"], config["img_channels"], config["img_resolution"]
    shapes: Shapes = {}
    res, noise = 4, config.get("use_noise", True)
    while res <= top:
        p, ch = f"synthesis.b{res}", channels_at(config, res)
        if res == 4:
            shapes[f"{p}.const"] = (ch, 4, 4)
        shapes[f"{p}.resample_filter"] = (4, 4)
        if res > 4:
            cin = channels_at(config, res // 2)
            shapes |= _synthesis_layer(f"{p}.conv0", ch, cin, w_dim, res, noise)
        shapes |= _synthesis_layer(f"{p}.conv1", ch, ch, w_dim, res, noise)
        if res == top or config["architecture"] == "skip":
            shapes |= {f"{p}.torgb.weight": (img_ch, ch, 1, 1), f"{p}.torgb.bias": (img_ch,)}
            shapes |= _fc(f"{p}.torgb.affine", ch, w_dim)
        if res > 4 and config["architecture"] == "resnet":
            shapes |= _conv(f"{p}.skip", ch, channels_at(config, res // 2), 1, bias=False)
        res *= 2
    dims = (config["z_dim"], config["c_dim"], w_dim, config["mapping_layers"])
    features = (config.get("mapping_embed_features"), config.get("mapping_layer_features"))
    return shapes | mapping_shapes("mapping", *dims, True, *features)


def discriminator_shapes(config: dict) -> Shapes:
    """Every key and shape of NVIDIA's `Discriminator.state_dict()` for this config."""
    top, img_ch, arch = config["img_resolution"], config["img_channels"], config["architecture"]
    shapes: Shapes = {}
    res = top
    while res > 4:
        p, tmp, out = f"b{res}", channels_at(config, res), channels_at(config, res // 2)
        shapes[f"{p}.resample_filter"] = (4, 4)
        if res == top or arch == "skip":
            shapes |= _conv(f"{p}.fromrgb", tmp, img_ch, 1)
        shapes |= _conv(f"{p}.conv0", tmp, tmp, 3) | _conv(f"{p}.conv1", out, tmp, 3)
        if arch == "resnet":
            shapes |= _conv(f"{p}.skip", out, tmp, 1, bias=False)
        res //= 2
    ch, cmap = channels_at(config, 4), config.get("cmap_dim") or 0
    if config["c_dim"] > 0:
        shapes |= mapping_shapes(
            "mapping", 0, config["c_dim"], cmap, config["mapping_layers"], False
        )
    if arch == "skip":
        shapes |= _conv("b4.fromrgb", ch, img_ch, 1)
    shapes |= _conv("b4.conv", ch, ch + config["mbstd_num_channels"], 3)
    return shapes | _fc("b4.fc", ch, ch * 16) | _fc("b4.out", cmap or 1, ch)


def check_state(state: dict[str, torch.Tensor], expected: Shapes, what: str) -> None:
    """Raise `ConversionError` unless `state` has exactly the expected keys and shapes."""
    missing = sorted(expected.keys() - state.keys())
    extra = sorted(state.keys() - expected.keys())
    wrong = [
        f"{k} {tuple(state[k].shape)} != {expected[k]}"
        for k in sorted(expected.keys() & state.keys())
        if tuple(state[k].shape) != expected[k]
    ]
    if missing or extra or wrong:
        raise ConversionError(
            f"the {what} does not match its config: missing {missing[:5]}, unexpected "
            f"{extra[:5]}, wrong shapes {wrong[:5]}"
        )
