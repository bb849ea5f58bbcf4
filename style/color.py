"""Colour handling for style transfer (Gatys, Bethge, Hertzmann & Shechtman 2016,
"Preserving color in neural artistic style transfer").

- `match_color`: the linear colour transfer of that paper: `source` gets the mean and the
  covariance of `reference`'s RGB values (x' = A (x - mu_s) + mu_r, A = C_r^1/2 C_s^-1/2).
  Used to start from "the content with the style's colours", and to give a style image the
  content's palette when the content's colours are to be kept.
- luminance-only transfer: style transfer runs on the luminance Y of YIQ (as three equal
  channels, so the network sees grey images) and the content's I and Q are put back.

Images are float tensors in [0, 1], (N, 3, H, W) or (3, H, W).
"""

from __future__ import annotations

import torch

# NTSC YIQ (the paper's choice of a luminance/chroma space).
_RGB_TO_YIQ = torch.tensor(
    [[0.299, 0.587, 0.114], [0.595716, -0.274453, -0.321263], [0.211456, -0.522591, 0.311135]]
)


def rgb_to_yiq(image: torch.Tensor) -> torch.Tensor:
    m = _RGB_TO_YIQ.to(image)
    return torch.einsum("ij,...jhw->...ihw", m, image)


def yiq_to_rgb(image: torch.Tensor) -> torch.Tensor:
    m = torch.linalg.inv(_RGB_TO_YIQ.double()).to(image)
    return torch.einsum("ij,...jhw->...ihw", m, image)


def luminance(image: torch.Tensor) -> torch.Tensor:
    """Y of YIQ, repeated on three channels (a grey RGB image)."""
    y = rgb_to_yiq(image)[..., :1, :, :]
    return y.expand_as(image).contiguous()


def match_luminance(source_y: torch.Tensor, reference_y: torch.Tensor) -> torch.Tensor:
    """Give a luminance image the mean and standard deviation of another (the paper's step
    before luminance-only transfer, so the style's brightness does not leak in)."""
    mu_s, sd_s = source_y.mean(), source_y.std() + 1e-6
    return ((source_y - mu_s) / sd_s * reference_y.std() + reference_y.mean()).clamp(0, 1)


def combine_luminance(y_image: torch.Tensor, color_image: torch.Tensor) -> torch.Tensor:
    """RGB image with the luminance of `y_image` and the chroma (I, Q) of `color_image`."""
    yiq = rgb_to_yiq(color_image)
    y = rgb_to_yiq(y_image)[..., :1, :, :]
    return yiq_to_rgb(torch.cat([y, yiq[..., 1:, :, :]], dim=-3)).clamp(0, 1)


def _sqrtm(cov: torch.Tensor, inverse: bool = False) -> torch.Tensor:
    evals, evecs = torch.linalg.eigh(cov)
    evals = evals.clamp_min(1e-5)
    power = -0.5 if inverse else 0.5
    return evecs @ torch.diag(evals**power) @ evecs.T


def color_stats(image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean (3, 1) and covariance (3, 3) of the RGB values of a (3, H, W) image."""
    x = image.reshape(3, -1).double()
    mu = x.mean(dim=1, keepdim=True)
    xc = x - mu
    return mu, xc @ xc.T / x.shape[1] + 1e-5 * torch.eye(3, dtype=x.dtype, device=x.device)


def match_color(source: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """`source` recoloured to the RGB mean and covariance of `reference` (same rank)."""
    single = source.dim() == 3
    src = source if single else source[0]
    ref = reference if reference.dim() == 3 else reference[0]
    mu_s, cov_s = color_stats(src)
    mu_r, cov_r = color_stats(ref)
    a = _sqrtm(cov_r) @ _sqrtm(cov_s, inverse=True)
    x = src.reshape(3, -1).double()
    out = (a @ (x - mu_s) + mu_r).reshape(src.shape).to(source.dtype).clamp(0, 1)
    return out if single else out.unsqueeze(0)
