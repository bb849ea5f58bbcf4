"""StyleGAN3 generator (Karras et al. 2021, "Alias-Free Generative Adversarial Networks") in
plain PyTorch, CPU and GPU, no custom CUDA ops.

Fourier features (with the user `transform` that translates and rotates the picture) feed
`num_layers` modulated layers and a ToRGB layer; each layer normalises its input by the running
`magnitude_ema`, convolves (3x3 for StyleGAN3-T, 1x1 for -R) and runs the filtered leaky ReLU
(`gan.models.stylegan3_ops`). The module tree, and so the state-dict keys, equal NVIDIA
stylegan3's `training/networks_stylegan3.py` Generator (`mapping.fc0.weight`, `mapping.w_avg`,
`synthesis.input.freqs`, `synthesis.L3_52_512.magnitude_ema`, ...), so its tensors load with
`load_state_dict(..., strict=True)`. There are no noise inputs; `num_ws` is `num_layers + 2`.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from gan.models.stylegan2 import MappingNetwork
from gan.models.stylegan2_ops import FullyConnectedLayer
from gan.models.stylegan3_config import (  # noqa: F401 (re-exported: the module's contract)
    GENERATOR_TYPE,
    LayerSpec,
    StyleGAN3Config,
    input_spec,
    resampling,
)
from gan.models.stylegan3_ops import filtered_lrelu, lowpass_filter, modulated_conv2d

# ----------------------------------------------------------------------------- input


class SynthesisInput(nn.Module):
    """Fourier features: `channels` sinusoids of random frequency (inside the band) and phase,
    rotated and translated by an affine of w and then by the inverse user `transform`."""

    def __init__(
        self, w_dim: int, channels: int, size: int, sampling_rate: int, bandwidth: float
    ) -> None:
        super().__init__()
        self.channels, self.size = channels, size
        self.sampling_rate, self.bandwidth = sampling_rate, bandwidth
        # frequencies drawn inside a disc of radius `bandwidth`, phases uniform
        freqs = torch.randn([channels, 2])
        radii = freqs.square().sum(dim=1, keepdim=True).sqrt()
        freqs = freqs / (radii * radii.square().exp().pow(0.25)) * bandwidth
        self.weight = nn.Parameter(torch.randn([channels, channels]))
        self.affine = FullyConnectedLayer(w_dim, 4)
        with torch.no_grad():  # identity rotation, no translation, until trained
            self.affine.weight.zero_()
            self.affine.bias.copy_(torch.tensor([1.0, 0.0, 0.0, 0.0]))
        self.register_buffer("transform", torch.eye(3))  # inverse of the user's transform
        self.register_buffer("freqs", freqs)
        self.register_buffer("phases", torch.rand([channels]) - 0.5)

    def _transforms(self, w: torch.Tensor, user: torch.Tensor | None = None) -> torch.Tensor:
        """Per sample: rotate (r_c, r_s), translate (t_x, t_y), then the user transform
        (`user`, the inverse of the camera, for this call; else the `transform` buffer)."""
        t = self.affine(w)
        t = t / t[:, :2].norm(dim=1, keepdim=True)
        n = w.shape[0]
        m_r = torch.eye(3, device=w.device).repeat(n, 1, 1)
        m_r[:, 0, 0], m_r[:, 0, 1], m_r[:, 1, 0], m_r[:, 1, 1] = t[:, 0], -t[:, 1], t[:, 1], t[:, 0]
        m_t = torch.eye(3, device=w.device).repeat(n, 1, 1)
        m_t[:, 0, 2], m_t[:, 1, 2] = -t[:, 2], -t[:, 3]
        user = self.transform if user is None else user.to(w.device, self.transform.dtype)
        return m_r @ m_t @ (user if user.ndim == 3 else user.unsqueeze(0))

    def forward(self, w: torch.Tensor, transform: torch.Tensor | None = None) -> torch.Tensor:
        transforms = self._transforms(w, transform)
        freqs = self.freqs.unsqueeze(0)
        phases = self.phases.unsqueeze(0) + (freqs @ transforms[:, :2, 2:]).squeeze(2)
        freqs = freqs @ transforms[:, :2, :2]  # [N, C, 2]
        # fade out frequencies that the transform pushed beyond the band
        edge = self.sampling_rate / 2 - self.bandwidth
        amplitudes = (1 - (freqs.norm(dim=2) - self.bandwidth) / edge).clamp(0, 1)
        grid = (torch.arange(self.size, device=w.device) + 0.5 - self.size / 2) / self.sampling_rate
        fx, fy = freqs[..., 0, None, None], freqs[..., 1, None, None]
        x = fx * grid.reshape(1, 1, 1, -1) + fy * grid.reshape(1, 1, -1, 1)
        x = torch.sin((x + phases[..., None, None]) * (2 * math.pi))
        x = x * amplitudes[..., None, None]
        weight = self.weight / math.sqrt(self.channels)
        return torch.einsum("oc,nchw->nohw", weight, x)


# ----------------------------------------------------------------------------- layers


class SynthesisLayer(nn.Module):
    """Modulated convolution (input / magnitude_ema), bias, filtered leaky ReLU, clamp."""

    def __init__(self, spec: LayerSpec, w_dim: int, cfg: StyleGAN3Config) -> None:
        super().__init__()
        self.is_torgb, self.use_fp16 = spec.is_torgb, spec.use_fp16
        self.in_channels, self.out_size = spec.in_channels, spec.out_size
        self.conv_kernel = 1 if spec.is_torgb else cfg.conv_kernel
        self.conv_clamp, self.magnitude_ema_beta = cfg.conv_clamp, cfg.magnitude_ema_beta
        r = resampling(spec, cfg)
        k, self.up_factor, self.down_factor, self.padding = r.conv_kernel, r.up, r.down, r.padding
        self.affine = FullyConnectedLayer(w_dim, spec.in_channels, bias_init=1)
        self.weight = nn.Parameter(torch.randn([spec.out_channels, spec.in_channels, k, k]))
        self.bias = nn.Parameter(torch.zeros([spec.out_channels]))
        self.register_buffer("magnitude_ema", torch.ones([]))
        fs = r.tmp_sampling_rate
        up = lowpass_filter(r.up_taps, spec.in_cutoff, spec.in_half_width * 2, fs)
        down = lowpass_filter(
            r.down_taps, spec.out_cutoff, spec.out_half_width * 2, fs, r.down_radial
        )
        self.register_buffer("up_filter", up)
        self.register_buffer("down_filter", down)

    def _update_magnitude(self, x: torch.Tensor) -> None:
        magnitude = x.detach().to(torch.float32).square().mean()
        self.magnitude_ema.copy_(magnitude.lerp(self.magnitude_ema, self.magnitude_ema_beta))

    def forward(
        self,
        x: torch.Tensor,
        w: torch.Tensor,
        force_fp32: bool = False,
        update_emas: bool = False,
        fused: bool | None = None,
    ) -> torch.Tensor:
        if update_emas:
            self._update_magnitude(x)
        styles = self.affine(w)
        if self.is_torgb:  # equalised lr on the styles (no demodulation to undo it)
            styles = styles * (1 / math.sqrt(self.in_channels * self.conv_kernel**2))
        on_gpu = x.device.type != "cpu"
        dtype = torch.float16 if self.use_fp16 and on_gpu and not force_fp32 else torch.float32
        fused = (on_gpu or x.shape[0] == 1) if fused is None else fused
        x = modulated_conv2d(
            x.to(dtype),
            self.weight,
            styles,
            self.magnitude_ema.rsqrt(),
            demodulate=not self.is_torgb,
            padding=self.conv_kernel - 1,
            fused=fused,
        )
        return filtered_lrelu(
            x,
            self.up_filter,
            self.down_filter,
            self.bias,
            self.up_factor,
            self.down_factor,
            self.padding,
            gain=1.0 if self.is_torgb else math.sqrt(2),
            slope=1.0 if self.is_torgb else 0.2,
            clamp=self.conv_clamp,
        )


class SynthesisNetwork(nn.Module):
    """ws -> image: Fourier input, layers L0 .. L{num_layers} (the last is ToRGB), output scale."""

    def __init__(self, cfg: StyleGAN3Config) -> None:
        super().__init__()
        self.w_dim, self.img_resolution = cfg.w_dim, cfg.img_resolution
        self.img_channels, self.num_ws = cfg.img_channels, cfg.num_ws
        self.output_scale = cfg.output_scale
        self.input = SynthesisInput(cfg.w_dim, *input_spec(cfg))
        self.layer_names: list[str] = []
        for spec in cfg.layers():
            setattr(self, spec.name, SynthesisLayer(spec, cfg.w_dim, cfg))
            self.layer_names.append(spec.name)

    def forward(
        self,
        ws: torch.Tensor,
        force_fp32: bool = False,
        update_emas: bool = False,
        fused: bool | None = None,
        transform: torch.Tensor | None = None,
        **_ignored: object,
    ) -> torch.Tensor:
        """Images (N, img_channels, res, res), float32; `noise_mode` and such are ignored.
        `transform` (3x3, or (N, 3, 3) one per image: the inverse of the camera,
        `camera_transform`) moves this call's pictures without touching the shared
        `input.transform` buffer."""
        if ws.ndim != 3 or ws.shape[1] != self.num_ws or ws.shape[2] != self.w_dim:
            raise ValueError(f"ws must have shape (N, {self.num_ws}, {self.w_dim})")
        ws = ws.to(torch.float32).unbind(dim=1)
        x = self.input(ws[0], transform)
        kw = dict(force_fp32=force_fp32, update_emas=update_emas, fused=fused)
        for name, w in zip(self.layer_names, ws[1:], strict=True):
            x = getattr(self, name)(x, w, **kw)
        if self.output_scale != 1:
            x = x * self.output_scale
        return x.to(torch.float32)


# ----------------------------------------------------------------------------- generator


class StyleGAN3Generator(nn.Module):
    """Mapping + synthesis; `G(z, c)` gives images in about [-1, 1]."""

    def __init__(self, config: StyleGAN3Config) -> None:
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
            lr_multiplier=config.mapping_lr_multiplier,
            w_avg_beta=config.w_avg_beta,
        )

    def forward(
        self,
        z: torch.Tensor,
        c: torch.Tensor | None = None,
        truncation_psi: float = 1.0,
        truncation_cutoff: int | None = None,
        **synthesis_kwargs: object,
    ) -> torch.Tensor:
        ws = self.mapping(z, c, truncation_psi=truncation_psi, truncation_cutoff=truncation_cutoff)
        return self.synthesis(ws, **synthesis_kwargs)

    def affine_layers(self) -> list[tuple[str, FullyConnectedLayer]]:
        """The style (affine) layers in synthesis order: input, L0, ..., ToRGB (SeFa)."""
        return [
            (name, mod)
            for name, mod in self.synthesis.named_modules()
            if name.endswith(".affine") and isinstance(mod, FullyConnectedLayer)
        ]

    def affine_ws_index(self) -> list[int]:
        """For each entry of affine_layers(), the index into ws that drives it (one each)."""
        return list(range(self.num_ws))


# ----------------------------------------------------------------------------- camera


def make_transform(translate: tuple[float, float] = (0.0, 0.0), angle: float = 0.0) -> torch.Tensor:
    """NVIDIA gen_images.py's 3x3 transform (float64): rotate by `angle` degrees, translate."""
    a = math.radians(angle)
    s, c = math.sin(a), math.cos(a)
    tx, ty = translate
    return torch.tensor([[c, s, tx], [-s, c, ty], [0.0, 0.0, 1.0]], dtype=torch.float64)


def camera_transform(
    translate: tuple[float, float] = (0.0, 0.0), angle: float = 0.0
) -> torch.Tensor:
    """What `synthesis(ws, transform=...)` takes for a camera: the inverse of `make_transform`
    (float32), as `gen_images.py --translate=tx,ty --rotate=deg` sets it."""
    return torch.linalg.inv(make_transform(translate, angle)).to(torch.float32)


def set_camera(
    G: nn.Module, translate: tuple[float, float] = (0.0, 0.0), angle: float = 0.0
) -> None:
    """Move the picture of a StyleGAN3 generator: its input takes the transform's inverse, as
    `gen_images.py --translate=tx,ty --rotate=deg` sets it. (0, 0), 0 restores the identity."""
    inverse = camera_transform(translate, angle)
    transform = G.synthesis.input.transform
    with torch.no_grad():
        transform.copy_(inverse.to(transform.dtype))
