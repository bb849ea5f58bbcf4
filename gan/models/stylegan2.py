"""StyleGAN2 generator (Karras et al. 2020) in plain PyTorch.

The module tree, and so the state-dict keys, equal NVIDIA stylegan2-ada-pytorch's
`training/networks.py` Generator (`mapping.fc0.weight`, `mapping.w_avg`, `synthesis.b4.const`,
`synthesis.b8.conv0.affine.weight`, `synthesis.b8.conv0.noise_const`, ...), so its tensors load
with `load_state_dict(..., strict=True)`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from gan.models.stylegan2_config import (  # noqa: F401 (re-exported: the module's contract)
    ARCHITECTURES,
    GENERATOR_TYPE,
    NOISE_MODES,
    StyleGAN2Config,
    channels_per_resolution,
)
from gan.models.stylegan2_ops import (
    Conv2dLayer,
    FullyConnectedLayer,
    activation_gain,
    bias_act,
    modulated_conv2d,
    normalize_2nd_moment,
    setup_filter,
    upsample2d,
)

# ----------------------------------------------------------------------------- mapping


class MappingNetwork(nn.Module):
    """z (and class c) -> w through an MLP; tracks w_avg for truncation."""

    def __init__(
        self,
        z_dim: int,
        c_dim: int,
        w_dim: int,
        num_ws: int | None,
        num_layers: int = 8,
        embed_features: int | None = None,
        layer_features: int | None = None,
        activation: str = "lrelu",
        lr_multiplier: float = 0.01,
        w_avg_beta: float | None = 0.995,
    ) -> None:
        super().__init__()
        self.z_dim, self.c_dim, self.w_dim = z_dim, c_dim, w_dim
        self.num_ws, self.num_layers, self.w_avg_beta = num_ws, num_layers, w_avg_beta
        embed = (w_dim if embed_features is None else embed_features) if c_dim > 0 else 0
        hidden = w_dim if layer_features is None else layer_features
        features = [z_dim + embed] + [hidden] * (num_layers - 1) + [w_dim]
        if c_dim > 0:
            self.embed = FullyConnectedLayer(c_dim, embed)
        for idx in range(num_layers):
            fc = FullyConnectedLayer(
                features[idx], features[idx + 1], activation=activation, lr_multiplier=lr_multiplier
            )
            setattr(self, f"fc{idx}", fc)
        if num_ws is not None and w_avg_beta is not None:
            self.register_buffer("w_avg", torch.zeros([w_dim]))

    def _embed_inputs(self, z: torch.Tensor | None, c: torch.Tensor | None) -> torch.Tensor:
        parts = []
        if self.z_dim > 0:
            parts.append(normalize_2nd_moment(z.to(torch.float32)))
        if self.c_dim > 0:
            if c is None or c.ndim != 2 or c.shape[1] != self.c_dim:
                raise ValueError(f"this model is conditional: c must have shape (N, {self.c_dim})")
            parts.append(normalize_2nd_moment(self.embed(c.to(torch.float32))))
        return torch.cat(parts, dim=1) if len(parts) > 1 else parts[0]

    def forward(
        self,
        z: torch.Tensor | None,
        c: torch.Tensor | None = None,
        truncation_psi: float = 1.0,
        truncation_cutoff: int | None = None,
        skip_w_avg_update: bool = False,
    ) -> torch.Tensor:
        """ws (N, num_ws, w_dim), or w (N, w_dim) when num_ws is None."""
        x = self._embed_inputs(z, c)
        for idx in range(self.num_layers):
            x = getattr(self, f"fc{idx}")(x)
        if self.w_avg_beta is not None and self.training and not skip_w_avg_update:
            self.w_avg.copy_(x.detach().mean(dim=0).lerp(self.w_avg, self.w_avg_beta))
        if self.num_ws is not None:
            x = x.unsqueeze(1).repeat([1, self.num_ws, 1])
        if truncation_psi != 1:
            x = self.truncate(x, truncation_psi, truncation_cutoff)
        return x

    def truncate(self, x: torch.Tensor, psi: float, cutoff: int | None = None) -> torch.Tensor:
        """Move w toward w_avg: w_avg + psi (w - w_avg), on the first `cutoff` ws only if given."""
        if self.w_avg_beta is None:
            raise ValueError("this mapping network has no w_avg, so it cannot truncate")
        if self.num_ws is None or cutoff is None:
            return self.w_avg.lerp(x, psi)
        head = self.w_avg.lerp(x[:, :cutoff], psi)
        return torch.cat([head, x[:, cutoff:]], dim=1)


# ----------------------------------------------------------------------------- synthesis


class SynthesisLayer(nn.Module):
    """Modulated 3x3 convolution + per-pixel noise + bias + lrelu (+ clamp)."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        w_dim: int,
        resolution: int,
        kernel_size: int = 3,
        up: int = 1,
        use_noise: bool = True,
        activation: str = "lrelu",
        resample_filter: Sequence[float] = (1, 3, 3, 1),
        conv_clamp: float | None = None,
    ) -> None:
        super().__init__()
        self.resolution, self.up, self.use_noise = resolution, up, use_noise
        self.activation, self.conv_clamp = activation, conv_clamp
        self.register_buffer("resample_filter", setup_filter(resample_filter))
        self.padding = kernel_size // 2
        self.act_gain = activation_gain(activation)
        self.affine = FullyConnectedLayer(w_dim, in_channels, bias_init=1)
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size))
        if use_noise:
            self.register_buffer("noise_const", torch.randn([resolution, resolution]))
            self.noise_strength = nn.Parameter(torch.zeros([]))
        self.bias = nn.Parameter(torch.zeros([out_channels]))

    def _noise(self, x: torch.Tensor, noise_mode: str) -> torch.Tensor | None:
        if not self.use_noise or noise_mode == "none":
            return None
        if noise_mode == "random":
            shape = [x.shape[0], 1, self.resolution, self.resolution]
            return torch.randn(shape, device=x.device) * self.noise_strength
        return self.noise_const * self.noise_strength

    def forward(
        self,
        x: torch.Tensor,
        w: torch.Tensor,
        noise_mode: str = "random",
        fused_modconv: bool = True,
        gain: float = 1.0,
    ) -> torch.Tensor:
        styles = self.affine(w)
        x = modulated_conv2d(
            x,
            self.weight,
            styles,
            noise=self._noise(x, noise_mode),
            up=self.up,
            padding=self.padding,
            resample_filter=self.resample_filter,
            flip_weight=self.up == 1,
            fused_modconv=fused_modconv,
        )
        clamp = self.conv_clamp * gain if self.conv_clamp is not None else None
        inplace = not torch.is_grad_enabled()  # x is this layer's own fresh output
        return bias_act(x, self.bias, self.activation, self.act_gain * gain, clamp, inplace)


class ToRGBLayer(nn.Module):
    """Modulated 1x1 convolution without demodulation, to image channels."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        w_dim: int,
        kernel_size: int = 1,
        conv_clamp: float | None = None,
    ) -> None:
        super().__init__()
        self.conv_clamp = conv_clamp
        self.affine = FullyConnectedLayer(w_dim, in_channels, bias_init=1)
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros([out_channels]))
        self.weight_gain = 1 / math.sqrt(in_channels * kernel_size**2)

    def forward(self, x: torch.Tensor, w: torch.Tensor, fused_modconv: bool = True) -> torch.Tensor:
        # Equalised lr applied to the styles (same product as scaling the weight).
        styles = self.affine(w) * self.weight_gain
        x = modulated_conv2d(x, self.weight, styles, demodulate=False, fused_modconv=fused_modconv)
        return bias_act(x, self.bias, clamp=self.conv_clamp, inplace=not torch.is_grad_enabled())


def _default_fused(training: bool, ws: torch.Tensor) -> bool:
    """Grouped (fused) modconv for inference on accelerators or batch 1, as the reference does
    in eval mode; on the CPU one shared convolution over the batch is faster (same numbers)."""
    return not training and (ws.device.type != "cpu" or ws.shape[0] == 1)


class SynthesisBlock(nn.Module):
    """One resolution: [const | up-conv0], conv1, torgb, image skip / residual path."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        w_dim: int,
        resolution: int,
        img_channels: int,
        is_last: bool,
        architecture: str = "skip",
        resample_filter: Sequence[float] = (1, 3, 3, 1),
        conv_clamp: float | None = None,
        use_noise: bool = True,
    ) -> None:
        super().__init__()
        self.in_channels, self.resolution, self.architecture = in_channels, resolution, architecture
        self.is_last = is_last
        self.register_buffer("resample_filter", setup_filter(resample_filter))
        layer = dict(w_dim=w_dim, resolution=resolution, conv_clamp=conv_clamp, use_noise=use_noise)
        self.num_conv = self.num_torgb = 0
        if in_channels == 0:
            self.const = nn.Parameter(torch.randn([out_channels, resolution, resolution]))
        else:
            self.conv0 = SynthesisLayer(
                in_channels, out_channels, up=2, resample_filter=resample_filter, **layer
            )
            self.num_conv += 1
        self.conv1 = SynthesisLayer(out_channels, out_channels, **layer)
        self.num_conv += 1
        if is_last or architecture == "skip":
            self.torgb = ToRGBLayer(out_channels, img_channels, w_dim, conv_clamp=conv_clamp)
            self.num_torgb += 1
        if in_channels != 0 and architecture == "resnet":
            self.skip = Conv2dLayer(
                in_channels, out_channels, 1, bias=False, up=2, resample_filter=resample_filter
            )

    def _features(self, x, ws: list[torch.Tensor], **kw) -> torch.Tensor:
        if self.in_channels == 0:
            x = self.const.unsqueeze(0).repeat([ws[0].shape[0], 1, 1, 1])
            return self.conv1(x, ws[0], **kw)
        if self.architecture == "resnet":
            # Residual: both branches scaled by sqrt(1/2) to keep the variance.
            y = self.skip(x, gain=math.sqrt(0.5))
            x = self.conv0(x, ws[0], **kw)
            return y + self.conv1(x, ws[1], gain=math.sqrt(0.5), **kw)
        return self.conv1(self.conv0(x, ws[0], **kw), ws[1], **kw)

    def forward(
        self,
        x: torch.Tensor | None,
        img: torch.Tensor | None,
        ws: torch.Tensor,
        noise_mode: str = "random",
        fused_modconv: bool | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        w_list = list(ws.unbind(dim=1))
        if fused_modconv is None:
            fused_modconv = _default_fused(self.training, ws)
        kw = dict(noise_mode=noise_mode, fused_modconv=fused_modconv)
        x = self._features(x, w_list, **kw)
        if img is not None:
            img = upsample2d(img, self.resample_filter)
        if self.is_last or self.architecture == "skip":
            y = self.torgb(x, w_list[self.num_conv], fused_modconv=fused_modconv)
            img = img + y if img is not None else y
        return x, img


class SynthesisNetwork(nn.Module):
    """ws -> image through blocks b4, b8, ..., b{img_resolution}."""

    def __init__(self, cfg: StyleGAN2Config) -> None:
        super().__init__()
        self.w_dim, self.img_resolution, self.img_channels = (
            cfg.w_dim,
            cfg.img_resolution,
            cfg.img_channels,
        )
        log2 = int(math.log2(cfg.img_resolution))
        self.block_resolutions = [2**i for i in range(2, log2 + 1)]
        ch = channels_per_resolution(
            self.block_resolutions, cfg.channel_base, cfg.channel_max, cfg.channels
        )
        self.num_ws = 0
        for res in self.block_resolutions:
            block = SynthesisBlock(
                ch[res // 2] if res > 4 else 0,
                ch[res],
                w_dim=cfg.w_dim,
                resolution=res,
                img_channels=cfg.img_channels,
                is_last=res == cfg.img_resolution,
                architecture=cfg.architecture,
                resample_filter=cfg.resample_filter,
                conv_clamp=cfg.conv_clamp,
                use_noise=cfg.use_noise,
            )
            self.num_ws += block.num_conv + (block.num_torgb if block.is_last else 0)
            setattr(self, f"b{res}", block)

    def forward(
        self, ws: torch.Tensor, noise_mode: str = "const", fused_modconv: bool | None = None
    ) -> torch.Tensor:
        if noise_mode not in NOISE_MODES:
            raise ValueError(f"noise_mode must be one of {NOISE_MODES}, got {noise_mode!r}")
        if ws.ndim != 3 or ws.shape[1] != self.num_ws or ws.shape[2] != self.w_dim:
            raise ValueError(f"ws must have shape (N, {self.num_ws}, {self.w_dim})")
        ws = ws.to(torch.float32)
        x = img = None
        w_idx = 0
        for res in self.block_resolutions:
            block = getattr(self, f"b{res}")
            # Consecutive blocks share one w: a block's torgb uses the next block's conv0 w.
            cur = ws.narrow(1, w_idx, block.num_conv + block.num_torgb)
            x, img = block(x, img, cur, noise_mode=noise_mode, fused_modconv=fused_modconv)
            w_idx += block.num_conv
        return img


# ----------------------------------------------------------------------------- generator


class StyleGAN2Generator(nn.Module):
    """Mapping + synthesis; `G(z, c)` gives images in about [-1, 1].

    On the CPU, `G.to(memory_format=torch.channels_last)` under `torch.no_grad()` is about a
    third faster at 256 px and gives the same images.
    """

    def __init__(self, config: StyleGAN2Config) -> None:
        super().__init__()
        self.config = config
        self.z_dim, self.c_dim, self.w_dim = config.z_dim, config.c_dim, config.w_dim
        self.img_resolution, self.img_channels = config.img_resolution, config.img_channels
        self.synthesis = SynthesisNetwork(config)
        self.num_ws = self.synthesis.num_ws
        self.mapping = MappingNetwork(
            config.z_dim,
            config.c_dim,
            config.w_dim,
            self.num_ws,
            num_layers=config.mapping_layers,
            embed_features=config.mapping_embed_features,
            layer_features=config.mapping_layer_features,
            activation=config.mapping_activation,
            lr_multiplier=config.mapping_lr_multiplier,
            w_avg_beta=config.w_avg_beta,
        )

    def forward(
        self,
        z: torch.Tensor,
        c: torch.Tensor | None = None,
        truncation_psi: float = 1.0,
        truncation_cutoff: int | None = None,
        noise_mode: str = "const",
        fused_modconv: bool | None = None,
    ) -> torch.Tensor:
        ws = self.mapping(z, c, truncation_psi=truncation_psi, truncation_cutoff=truncation_cutoff)
        return self.synthesis(ws, noise_mode=noise_mode, fused_modconv=fused_modconv)

    def affine_layers(self) -> list[tuple[str, FullyConnectedLayer]]:
        """The style (affine) layers in synthesis order: b4.conv1, b4.torgb, b8.conv0, ..."""
        return [
            (name, mod)
            for name, mod in self.synthesis.named_modules()
            if name.endswith(".affine") and isinstance(mod, FullyConnectedLayer)
        ]

    def affine_ws_index(self) -> list[int]:
        """For each entry of affine_layers(), the index into ws that drives it."""
        out, w_idx = [], 0
        for res in self.synthesis.block_resolutions:
            block = getattr(self.synthesis, f"b{res}")
            out += [w_idx + i for i in range(block.num_conv + block.num_torgb)]
            w_idx += block.num_conv
        return out


def mix_styles(ws_a: torch.Tensor, ws_b: torch.Tensor, layers: Sequence[int]) -> torch.Tensor:
    """ws_a with the ws at `layers` taken from ws_b (style mixing)."""
    ws = ws_a.clone()
    idx = list(layers)
    ws[:, idx] = ws_b[:, idx]
    return ws
