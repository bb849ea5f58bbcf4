"""Gatys et al. losses: content (features), style (Gram matrices), total variation.

Notation of the paper: F^l are the features of the generated image at layer l (N_l channels of
M_l = H_l W_l positions), P^l the content image's, G^l = F^l F^l^T the Gram matrix and A^l the
style image's. Departures from the paper, all for scale-free weights across networks:

- Gram matrices are divided by N_l M_l (the paper divides the squared error by 4 N_l^2 M_l^2;
  this is the same up to a constant, and keeps values in a sane range in float16/bfloat16).
- Losses are means, not sums, so they do not grow with the image size.
- With `normalize=True` (the app's default, after crowsonkb/style-transfer-pytorch) each
  layer's squared error is divided by the mean square of its target, so every layer starts at
  a relative error of order one whatever the network; the per-layer weights then only balance
  layers. `normalize=False` gives the tutorial's plain MSE (used by the benchmark's reference).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence

import torch

EPS = 1e-8


@functools.cache
def _bmm_has_out_dtype(device_type: str, dtype: torch.dtype) -> bool:
    """Whether torch.bmm(..., out_dtype=float32) runs for `dtype` on this device type (CUDA
    bfloat16/float16); probed once on a tiny product, so no call fails later."""
    a = torch.ones(1, 1, 1, dtype=dtype, device=device_type)
    try:
        torch.bmm(a, a, out_dtype=torch.float32)
    except (RuntimeError, TypeError, NotImplementedError):
        return False
    return True


def _gram_fp32(f: torch.Tensor) -> torch.Tensor:
    """(N, M, C) -> F^T F (N, C, C) in float32, reading half-precision `f` without a copy."""
    if f.dtype in (torch.bfloat16, torch.float16) and _bmm_has_out_dtype(f.device.type, f.dtype):
        return torch.bmm(f.transpose(1, 2), f, out_dtype=torch.float32)
    f = f.to(torch.promote_types(f.dtype, torch.float32))
    return torch.bmm(f.transpose(1, 2), f)


class _ChannelsLastGram(torch.autograd.Function):
    """G = F^T F * scale on an (N, M, C) view of NHWC features, float32 out, with a one-product
    backward in the features' dtype: dL/dF = F (dG + dG^T) * scale. Autograd's own backward
    of the float32 product takes two float32 products, their sum and a cast, all at the
    features' full resolution (the bulk of the GPU time at relu1_1/relu2_1)."""

    @staticmethod
    def forward(ctx, f: torch.Tensor, scale: float) -> torch.Tensor:  # type: ignore[override]
        ctx.save_for_backward(f)
        ctx.scale = scale
        return _gram_fp32(f).mul_(scale)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None]:  # type: ignore[override]
        (f,) = ctx.saved_tensors
        g = (grad + grad.transpose(1, 2)).mul_(ctx.scale).to(f.dtype)
        return torch.bmm(f, g), None


def gram_matrix(features: torch.Tensor) -> torch.Tensor:
    """(N, C, H, W) -> (N, C, C): F F^T / (C H W), computed in float32."""
    n, c, h, w = features.shape
    with torch.autocast(features.device.type, enabled=False):  # keep float32 under autocast
        if c > 1 and features.is_contiguous(memory_format=torch.channels_last):
            # NHWC storage: (N, HW, C) is a view, so no strided copy: G = F^T F.
            f = features.permute(0, 2, 3, 1).reshape(n, h * w, c)
            return _ChannelsLastGram.apply(f, 1.0 / (c * h * w))
        f = features.reshape(n, c, h * w).float()
        return torch.bmm(f, f.transpose(1, 2)) / (c * h * w)


def content_loss(
    features: torch.Tensor, target: torch.Tensor, normalize: bool = True
) -> torch.Tensor:
    """Mean squared feature difference (relative to the target's mean square when normalised)."""
    diff = (features.float() - target.float()).pow(2).mean()
    return diff / (target.float().pow(2).mean() + EPS) if normalize else diff


def style_layer_loss(
    gram: torch.Tensor, target: torch.Tensor, normalize: bool = True
) -> torch.Tensor:
    """Squared Gram difference at one layer (relative to the target's mean square if normalised)."""
    diff = (gram - target).pow(2).mean()
    return diff / (target.pow(2).mean() + EPS) if normalize else diff


def tv_loss(image: torch.Tensor) -> torch.Tensor:
    """Total variation (squared, beta = 2): mean squared difference of vertical neighbours plus
    that of horizontal neighbours."""
    dy = image[..., 1:, :] - image[..., :-1, :]
    dx = image[..., :, 1:] - image[..., :, :-1]
    return dy.pow(2).mean() + dx.pow(2).mean()


def blend_grams(
    grams: Sequence[Mapping[str, torch.Tensor]], blend: Sequence[float]
) -> dict[str, torch.Tensor]:
    """Weighted average of several style images' Gram matrices, layer by layer (multi-style)."""
    if len(grams) != len(blend) or not grams:
        raise ValueError("one blend weight per style image is needed")
    total = float(sum(blend))
    if total <= 0:
        raise ValueError("blend weights must not all be zero")
    return {
        layer: sum(b / total * g[layer] for g, b in zip(grams, blend, strict=True))  # type: ignore[misc]
        for layer in grams[0]
    }


class StyleObjective:
    """The weighted sum content_weight * L_content + style_weight * L_style + tv_weight * L_tv.

    `content_targets` (P^l) and `style_targets` (blended A^l) are fixed tensors; `style_layers`
    maps each style layer to its weight w_l (L_style = sum_l w_l E_l / sum_l w_l).
    """

    def __init__(
        self,
        content_targets: Mapping[str, torch.Tensor],
        style_targets: Mapping[str, torch.Tensor],
        style_layers: Mapping[str, float],
        content_weight: float,
        style_weight: float,
        tv_weight: float,
        normalize: bool = True,
    ):
        self.content_targets = dict(content_targets)
        self.style_targets = dict(style_targets)
        wsum = sum(style_layers.values()) or 1.0
        self.style_layers = {k: v / wsum for k, v in style_layers.items()}
        self.content_weight = content_weight
        self.style_weight = style_weight
        self.tv_weight = tv_weight
        self.normalize = normalize
        self.layers = frozenset(self.content_targets) | frozenset(self.style_targets)

    def parts(
        self, features: Mapping[str, torch.Tensor], image: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        """Unweighted content, style and TV losses (float32 scalars)."""
        zero = image.new_zeros((), dtype=torch.float32)
        content = sum(
            (content_loss(features[k], t, self.normalize) for k, t in self.content_targets.items()),
            zero,
        )
        style = sum(
            (
                w
                * style_layer_loss(gram_matrix(features[k]), self.style_targets[k], self.normalize)
                for k, w in self.style_layers.items()
            ),
            zero,
        )
        return {"content": content, "style": style, "tv": tv_loss(image.float())}

    def total(self, parts: Mapping[str, torch.Tensor]) -> torch.Tensor:
        return (
            self.content_weight * parts["content"]
            + self.style_weight * parts["style"]
            + self.tv_weight * parts["tv"]
        )
