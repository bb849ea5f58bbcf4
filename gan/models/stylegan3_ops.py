"""StyleGAN3 building blocks in plain PyTorch (no custom CUDA): the Kaiser and jinc low-pass
filters, the filtered leaky ReLU and the modulated convolution with an input gain.

`filtered_lrelu` has the semantics of NVIDIA's reference op (Karras et al. 2021, Sec. 3.2 and
Appendix C/D): add the bias, upsample by zero insertion with the padding given and filter with
`fu` (gain up^2), leaky ReLU with its gain, clamp, then filter with `fd` and keep every
`down`-th sample. The downsampling filter runs as a strided convolution, so the samples that are
thrown away are never computed.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

# ----------------------------------------------------------------------------- filter design


def _kaiser_beta(numtaps: int, width: float, fs: float) -> float:
    """Kaiser's beta for the attenuation that `numtaps` taps reach over a transition `width`
    (Kaiser's empirical formulas, as scipy.signal's kaiser_atten and kaiser_beta)."""
    atten = 2.285 * (numtaps - 1) * math.pi * (width / (fs / 2)) + 7.95
    if atten > 50:
        return 0.1102 * (atten - 8.7)
    if atten > 21:
        return 0.5842 * (atten - 21) ** 0.4 + 0.07886 * (atten - 21)
    return 0.0


def _kaiser_window(numtaps: int, beta: float) -> torch.Tensor:
    n = torch.arange(numtaps, dtype=torch.float64)
    ratio = 2 * n / max(numtaps - 1, 1) - 1
    arg = torch.as_tensor(beta, dtype=torch.float64) * torch.sqrt((1 - ratio**2).clamp(min=0))
    return torch.special.i0(arg) / torch.special.i0(torch.tensor(beta, dtype=torch.float64))


def lowpass_filter(
    numtaps: int, cutoff: float, width: float, fs: float, radial: bool = False
) -> torch.Tensor | None:
    """A windowed-sinc low-pass filter (separable, 1-D), or a radially symmetric jinc one (2-D),
    Kaiser windowed and normalised to unit DC gain; None for a single tap (identity)."""
    if numtaps == 1:
        return None
    window = _kaiser_window(numtaps, _kaiser_beta(numtaps, width, fs))
    t = torch.arange(numtaps, dtype=torch.float64) - (numtaps - 1) / 2
    if not radial:
        f = 2 * cutoff / fs * torch.sinc(2 * cutoff / fs * t) * window
        return (f / f.sum()).to(torch.float32)
    x = t / fs
    r = torch.hypot(x[None, :], x[:, None])
    f = torch.special.bessel_j1(2 * math.pi * cutoff * r) / (math.pi * r)
    f = f * torch.outer(window, window)
    return (f / f.sum()).to(torch.float32)


# ----------------------------------------------------------------------------- resampling


def _depthwise(x: torch.Tensor, f: torch.Tensor, stride: int) -> torch.Tensor:
    """Correlate each channel with a 1-D filter along x then y, or a 2-D one; stride both."""
    c = x.shape[1]
    if f.ndim == 1:
        k = f.flip(0).to(x.dtype)
        x = F.conv2d(x, k.reshape(1, 1, 1, -1).expand(c, 1, 1, -1), stride=(1, stride), groups=c)
        return F.conv2d(x, k.reshape(1, 1, -1, 1).expand(c, 1, -1, 1), stride=(stride, 1), groups=c)
    k = f.flip([0, 1]).to(x.dtype)
    return F.conv2d(x, k[None, None].expand(c, 1, -1, -1), stride=stride, groups=c)


def _zero_stuff(x: torch.Tensor, up: int) -> torch.Tensor:
    n, c, h, w = x.shape
    x = x.reshape(n, c, h, 1, w, 1)
    return F.pad(x, [0, up - 1, 0, 0, 0, up - 1]).reshape(n, c, h * up, w * up)


def _pad_or_crop(x: torch.Tensor, px0: int, px1: int, py0: int, py1: int) -> torch.Tensor:
    x = F.pad(x, [max(px0, 0), max(px1, 0), max(py0, 0), max(py1, 0)])
    h, w = x.shape[2], x.shape[3]
    return x[:, :, max(-py0, 0) : h - max(-py1, 0), max(-px0, 0) : w - max(-px1, 0)]


def filtered_lrelu(
    x: torch.Tensor,
    fu: torch.Tensor | None,
    fd: torch.Tensor | None,
    b: torch.Tensor,
    up: int,
    down: int,
    padding: tuple[int, int, int, int],
    gain: float = math.sqrt(2),
    slope: float = 0.2,
    clamp: float | None = None,
) -> torch.Tensor:
    """Bias, upsample (zero insertion, `padding` = [x0, x1, y0, y1], FIR `fu` with gain up^2),
    leaky ReLU * gain, clamp to +-clamp, FIR `fd`, keep every `down`-th sample."""
    x = x + b.to(x.dtype).reshape(1, -1, 1, 1)
    if up > 1:
        x = _zero_stuff(x, up)
    x = _pad_or_crop(x, *padding)
    if fu is not None:
        x = _depthwise(x, fu * up**fu.ndim, stride=1)  # up^2 in all
    elif up > 1:
        x = x * up**2
    x = F.leaky_relu(x, slope) if slope != 1 else x
    if gain != 1:
        x = x * gain
    if clamp is not None:
        x = x.clamp(-clamp, clamp)
    if fd is not None:
        return _depthwise(x, fd, stride=down)
    return x[:, :, ::down, ::down] if down > 1 else x


# ----------------------------------------------------------------------------- modulation


def modulated_conv2d(
    x: torch.Tensor,
    weight: torch.Tensor,
    styles: torch.Tensor,
    input_gain: torch.Tensor,
    demodulate: bool = True,
    padding: int = 0,
    fused: bool = True,
) -> torch.Tensor:
    """Modulate the weight per sample by the styles and the input gain, demodulate.

    The weight and styles are pre-normalised (to unit RMS) first, as NVIDIA's StyleGAN3 does to
    keep fp16 in range; demodulation cancels those scales. The styles are normalised per sample
    (NVIDIA: over the batch), so a sample's image does not depend on its batch. `fused` runs one
    grouped convolution; else one shared convolution between input and output scaling (faster
    on the CPU for batches, same result).
    """
    n, cin = styles.shape
    if demodulate:
        weight = weight * weight.square().mean([1, 2, 3], keepdim=True).rsqrt()
        styles = styles * styles.square().mean(dim=1, keepdim=True).rsqrt()
    w = weight.unsqueeze(0) * styles.reshape(n, 1, cin, 1, 1)  # [N, O, I, k, k]
    dcoefs = (w.square().sum(dim=[2, 3, 4]) + 1e-8).rsqrt() if demodulate else None
    gain = input_gain.reshape(-1).expand(cin)
    if not fused:
        s = (styles * gain).to(x.dtype).reshape(n, cin, 1, 1)
        x = F.conv2d(x * s, weight.to(x.dtype), padding=padding)
        return x * dcoefs.to(x.dtype).reshape(n, -1, 1, 1) if dcoefs is not None else x
    if dcoefs is not None:
        w = w * dcoefs.reshape(n, -1, 1, 1, 1)
    w = w * gain.reshape(1, 1, cin, 1, 1)
    x = x.reshape(1, -1, *x.shape[2:])
    x = F.conv2d(x, w.reshape(-1, cin, *w.shape[3:]).to(x.dtype), padding=padding, groups=n)
    return x.reshape(n, -1, *x.shape[2:])
