"""StyleGAN2 building blocks in plain PyTorch (no custom CUDA).

Numerics follow Karras et al. 2020 ("Analyzing and Improving the Image Quality of StyleGAN")
as released in stylegan2-ada-pytorch: FIR resampling (upfirdn2d) with the [1,3,3,1] filter,
modulated convolution with demodulation, equalised learning rate, and a fused
bias + activation + gain + clamp step. Module attribute names equal the reference's, so the
state-dict keys match.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

Padding = int | Sequence[int]

# Activation -> (function, default gain). lrelu's gain sqrt(2) keeps the signal magnitude.
_ACTIVATIONS = {
    "linear": (lambda x: x, 1.0),
    "relu": (F.relu, math.sqrt(2)),
    "lrelu": (lambda x: F.leaky_relu(x, 0.2), math.sqrt(2)),
}


def activation_gain(activation: str) -> float:
    """Default gain of an activation ('linear', 'relu', 'lrelu')."""
    if activation not in _ACTIVATIONS:
        raise ValueError(f"unknown activation {activation!r}; use one of {sorted(_ACTIVATIONS)}")
    return _ACTIVATIONS[activation][1]


def bias_act(
    x: torch.Tensor,
    b: torch.Tensor | None = None,
    activation: str = "linear",
    gain: float | None = None,
    clamp: float | None = None,
) -> torch.Tensor:
    """Add a per-channel bias (dim 1), apply the activation, scale by gain, clamp to ±clamp."""
    func, default_gain = _ACTIVATIONS[activation]
    gain = default_gain if gain is None else gain
    if b is not None:
        x = x + b.to(x.dtype).reshape([1, -1] + [1] * (x.ndim - 2))
    x = func(x)
    if gain != 1:
        x = x * gain
    if clamp is not None:
        x = x.clamp(-clamp, clamp)
    return x


def normalize_2nd_moment(x: torch.Tensor, dim: int = 1, eps: float = 1e-8) -> torch.Tensor:
    """Pixel norm: divide by the root mean square over `dim`."""
    return x * (x.square().mean(dim=dim, keepdim=True) + eps).rsqrt()


# ----------------------------------------------------------------------------- FIR resampling


def setup_filter(f: Sequence[float] | torch.Tensor, gain: float = 1.0) -> torch.Tensor:
    """A normalised 2-D FIR filter (outer product of a 1-D one), float32, like the reference."""
    f = torch.as_tensor(f, dtype=torch.float32)
    if f.ndim == 0:
        f = f[None]
    if f.ndim == 1:
        f = torch.outer(f, f)
    return f * (gain / f.sum())


def _pad4(padding: Padding) -> list[int]:
    """[x0, x1, y0, y1] from an int, [x, y] or [x0, x1, y0, y1]."""
    if isinstance(padding, int):
        return [padding] * 4
    p = [int(v) for v in padding]
    return [p[0], p[0], p[1], p[1]] if len(p) == 2 else p


def _pad_or_crop(x: torch.Tensor, px0: int, px1: int, py0: int, py1: int) -> torch.Tensor:
    x = F.pad(x, [max(px0, 0), max(px1, 0), max(py0, 0), max(py1, 0)])
    h, w = x.shape[2], x.shape[3]
    return x[:, :, max(-py0, 0) : h - max(-py1, 0), max(-px0, 0) : w - max(-px1, 0)]


def _separable_taps(f: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor] | None:
    """(column, row) taps when the 2-D filter is an outer product, else None."""
    row = f[f.abs().sum(1).argmax()]
    col = f[:, row.abs().argmax()] / row[row.abs().argmax()]
    if torch.allclose(torch.outer(col, row), f, rtol=1e-6, atol=1e-9):
        return col, row
    return None


def _fir(x: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
    """Depthwise 'valid' correlation with a 2-D filter, separably when it factorises."""
    c = x.shape[1]
    taps = _separable_taps(f) if f.shape[0] > 1 and f.shape[1] > 1 else None
    if taps is None:
        return F.conv2d(x, f[None, None].repeat(c, 1, 1, 1), groups=c)
    col, row = taps
    x = F.conv2d(x, row.reshape(1, 1, 1, -1).repeat(c, 1, 1, 1), groups=c)
    return F.conv2d(x, col.reshape(1, 1, -1, 1).repeat(c, 1, 1, 1), groups=c)


def upfirdn2d(
    x: torch.Tensor,
    f: torch.Tensor | None,
    up: int = 1,
    down: int = 1,
    padding: Padding = 0,
    flip_filter: bool = False,
    gain: float = 1.0,
) -> torch.Tensor:
    """Upsample by zero insertion, pad (negative = crop), FIR-filter, then keep every `down`-th.

    The filter is applied as a true convolution (flipped) unless `flip_filter`, as in the
    reference; `gain` scales the 2-D filter.
    """
    n, c, h, w = x.shape
    if f is None:
        f = torch.ones([1, 1], dtype=torch.float32, device=x.device)
    if up > 1:
        x = x.reshape(n, c, h, 1, w, 1)
        x = F.pad(x, [0, up - 1, 0, 0, 0, up - 1]).reshape(n, c, h * up, w * up)
    x = _pad_or_crop(x, *_pad4(padding))
    f = (f * gain).to(device=x.device, dtype=x.dtype)
    if not flip_filter:
        f = f.flip([0, 1])
    x = _fir(x, f)
    return x[:, :, ::down, ::down] if down > 1 else x


def upsample2d(x: torch.Tensor, f: torch.Tensor, up: int = 2) -> torch.Tensor:
    """FIR upsampling that keeps the shape an exact multiple (reference padding)."""
    fw = f.shape[-1]
    p0, p1 = (fw + up - 1) // 2, (fw - up) // 2
    return upfirdn2d(x, f, up=up, padding=[p0, p1, p0, p1], gain=up * up)


def downsample2d(x: torch.Tensor, f: torch.Tensor, down: int = 2) -> torch.Tensor:
    """FIR downsampling that keeps the shape an exact fraction (reference padding)."""
    fw = f.shape[-1]
    p0, p1 = (fw - down + 1) // 2, (fw - down) // 2
    return upfirdn2d(x, f, down=down, padding=[p0, p1, p0, p1])


# ----------------------------------------------------------------------------- convolution


def _resample_padding(f: torch.Tensor | None, up: int, down: int, padding: int) -> list[int]:
    """Padding of the (up-sampled) signal that makes the FIR step keep exact multiples."""
    fw = 1 if f is None else f.shape[-1]
    p0 = p1 = padding
    if up > 1:
        p0, p1 = p0 + (fw + up - 1) // 2, p1 + (fw - up) // 2
    if down > 1:
        p0, p1 = p0 + (fw - down + 1) // 2, p1 + (fw - down) // 2
    return [p0, p1]


def _transpose_groups(w: torch.Tensor, groups: int) -> torch.Tensor:
    """[O, I/g, k, k] conv weight -> [I, O/g, k, k] weight for conv_transpose2d."""
    o, i, kh, kw = w.shape
    w = w.reshape(groups, o // groups, i, kh, kw).transpose(1, 2)
    return w.reshape(groups * i, o // groups, kh, kw)


def conv2d_resample(
    x: torch.Tensor,
    w: torch.Tensor,
    f: torch.Tensor | None = None,
    up: int = 1,
    down: int = 1,
    padding: int = 0,
    groups: int = 1,
    flip_weight: bool = True,
) -> torch.Tensor:
    """2-D convolution with FIR up/down-sampling; padding is applied once, up front.

    flip_weight=True is correlation (F.conv2d), False a true convolution.
    """
    if not flip_weight:
        w = w.flip([2, 3])
    kh, kw = w.shape[2], w.shape[3]
    p0, p1 = _resample_padding(f, up, down, padding)
    if down > 1 and up == 1:
        # Filter first, then a strided convolution (1x1: plain convolution of the result).
        if kw == 1 and kh == 1:
            x = upfirdn2d(x, f, down=down, padding=[p0, p1, p0, p1])
            return F.conv2d(x, w, groups=groups)
        x = upfirdn2d(x, f, padding=[p0, p1, p0, p1])
        return F.conv2d(x, w, stride=down, groups=groups)
    if up > 1 and down == 1:
        if kw == 1 and kh == 1:
            x = F.conv2d(x, w, groups=groups)
            return upfirdn2d(x, f, up=up, padding=[p0, p1, p0, p1], gain=up * up)
        # Transposed strided convolution does the zero insertion; the FIR step finishes it.
        # conv_transpose2d is a true convolution, so undo the flip done above.
        wt = _transpose_groups(w.flip([2, 3]), groups)
        x = F.conv_transpose2d(x, wt, stride=up, groups=groups)
        q0, q1 = p0 - (kw - 1), p1 - (kw - up)
        return upfirdn2d(x, f, padding=[q0, q1, q0, q1], gain=up * up)
    if up > 1 or down > 1:
        raise ValueError("up and down together are not used by StyleGAN2")
    if p0 == p1 >= 0:
        return F.conv2d(x, w, padding=p0, groups=groups)
    return F.conv2d(_pad_or_crop(x, p0, p1, p0, p1), w, groups=groups)


def modulated_conv2d(
    x: torch.Tensor,
    weight: torch.Tensor,
    styles: torch.Tensor,
    noise: torch.Tensor | None = None,
    up: int = 1,
    down: int = 1,
    padding: int = 0,
    resample_filter: torch.Tensor | None = None,
    demodulate: bool = True,
    flip_weight: bool = True,
    fused_modconv: bool = True,
) -> torch.Tensor:
    """Modulated convolution (StyleGAN2 eq. 1-3): scale input channels by `styles`, convolve,
    then divide each output channel by its weight norm (demodulation).

    fused_modconv=True builds per-sample weights and runs one grouped convolution; False scales
    the activations before and after a shared convolution. Both compute the same thing.
    """
    n = x.shape[0]
    out_c, in_c, kh, kw = weight.shape
    wmod = weight.unsqueeze(0) * styles.reshape(n, 1, in_c, 1, 1)  # [N, O, I, k, k]
    dcoefs = (wmod.square().sum(dim=[2, 3, 4]) + 1e-8).rsqrt() if demodulate else None  # [N, O]
    args = dict(f=resample_filter, up=up, down=down, padding=padding, flip_weight=flip_weight)
    if not fused_modconv:
        x = x * styles.to(x.dtype).reshape(n, -1, 1, 1)
        x = conv2d_resample(x, weight.to(x.dtype), **args)
        if dcoefs is not None:
            x = x * dcoefs.to(x.dtype).reshape(n, -1, 1, 1)
        return x + noise.to(x.dtype) if noise is not None else x
    if dcoefs is not None:
        wmod = wmod * dcoefs.reshape(n, out_c, 1, 1, 1)
    x = x.reshape(1, n * in_c, *x.shape[2:])
    x = conv2d_resample(x, wmod.reshape(n * out_c, in_c, kh, kw).to(x.dtype), groups=n, **args)
    x = x.reshape(n, out_c, *x.shape[2:])
    return x + noise if noise is not None else x


# ----------------------------------------------------------------------------- layers


class FullyConnectedLayer(nn.Module):
    """Equalised-lr linear layer: weights stored as N(0, 1)/lr_multiplier, scaled at run time."""

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        activation: str = "linear",
        lr_multiplier: float = 1.0,
        bias_init: float = 0.0,
    ) -> None:
        super().__init__()
        self.activation = activation
        self.weight = nn.Parameter(torch.randn([out_features, in_features]) / lr_multiplier)
        self.bias = nn.Parameter(torch.full([out_features], float(bias_init))) if bias else None
        self.weight_gain = lr_multiplier / math.sqrt(in_features)
        self.bias_gain = lr_multiplier

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = self.weight.to(x.dtype) * self.weight_gain
        b = self.bias
        if b is not None:
            b = b.to(x.dtype)
            if self.bias_gain != 1:
                b = b * self.bias_gain
        if self.activation == "linear" and b is not None:
            return torch.addmm(b.unsqueeze(0), x, w.t())
        return bias_act(x.matmul(w.t()), b, activation=self.activation)


class Conv2dLayer(nn.Module):
    """Equalised-lr convolution with optional FIR up/down-sampling, bias, activation, clamp."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        bias: bool = True,
        activation: str = "linear",
        up: int = 1,
        down: int = 1,
        resample_filter: Sequence[float] = (1, 3, 3, 1),
        conv_clamp: float | None = None,
    ) -> None:
        super().__init__()
        self.activation = activation
        self.up, self.down = up, down
        self.conv_clamp = conv_clamp
        self.register_buffer("resample_filter", setup_filter(resample_filter))
        self.padding = kernel_size // 2
        self.weight_gain = 1 / math.sqrt(in_channels * kernel_size**2)
        self.act_gain = activation_gain(activation)
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros([out_channels])) if bias else None

    def forward(self, x: torch.Tensor, gain: float = 1.0) -> torch.Tensor:
        w = (self.weight * self.weight_gain).to(x.dtype)
        x = conv2d_resample(
            x, w, self.resample_filter, self.up, self.down, self.padding, flip_weight=self.up == 1
        )
        clamp = self.conv_clamp * gain if self.conv_clamp is not None else None
        return bias_act(x, self.bias, self.activation, gain=self.act_gain * gain, clamp=clamp)
