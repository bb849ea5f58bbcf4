"""StyleGAN2's losses, as in stylegan2-ada-pytorch's `training/loss.py` (Karras et al. 2020).

- G main: the non-saturating logistic loss, softplus(-D(G(z))) = -log sigmoid(D(G(z))).
- D main: softplus(D(G(z))) + softplus(-D(x)).
- R1 (Mescheder et al. 2018), lazy: gamma/2 * ||grad_x D(x)||^2 on reals, every
  `d_reg_interval` steps, its loss multiplied by the interval (the trainer's `gain`).
- Style-mixing regularisation: with probability 0.9 the ws from `cutoff` on come from a
  second z; cutoff uniform in [1, num_ws), drawn from the global torch RNG as NVIDIA does.
- Path-length regularisation (Karras et al. 2020), weight 2 as NVIDIA's; 0 turns it off.

Each method returns per-sample losses and the logits (for ADA's statistics); the trainer
takes the mean, multiplies by the gain and calls backward, as NVIDIA's `accumulate_gradients`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass
class LossTerms:
    """Per-sample losses (N,) and D's logits, detached where only reported."""

    loss: torch.Tensor
    logits: torch.Tensor | None = None
    penalty: torch.Tensor | None = None  # R1 or path-length penalty before its weight


class StyleGAN2Loss:
    """The loss terms of one StyleGAN2 step for G (`mapping`, `synthesis`) and D."""

    def __init__(
        self,
        G: nn.Module,
        D: nn.Module,
        augment: Callable[[torch.Tensor], torch.Tensor] | None = None,
        r1_gamma: float = 10.0,
        style_mixing_prob: float = 0.9,
        pl_weight: float = 0.0,
        pl_decay: float = 0.01,
        pl_batch_shrink: int = 2,
        noise_mode: str = "random",
    ) -> None:
        self.G, self.D, self.augment = G, D, augment
        self.r1_gamma, self.style_mixing_prob = r1_gamma, style_mixing_prob
        self.pl_weight, self.pl_decay, self.pl_batch_shrink = pl_weight, pl_decay, pl_batch_shrink
        self.noise_mode = noise_mode
        device = next(G.parameters()).device
        self.pl_mean = torch.zeros([], device=device)

    # -- networks ----------------------------------------------------------------------------

    def run_G(  # noqa: N802 (NVIDIA's name)
        self, z: torch.Tensor, c: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Images and ws for z, with style mixing (NVIDIA's draw order, global RNG)."""
        ws = self.G.mapping(z, c)
        if self.style_mixing_prob > 0:
            num_ws = ws.shape[1]
            cutoff = torch.empty([], dtype=torch.int64, device=ws.device).random_(1, num_ws)
            mix = torch.rand([], device=ws.device) < self.style_mixing_prob
            cutoff = torch.where(mix, cutoff, torch.full_like(cutoff, num_ws))
            ws2 = self.G.mapping(torch.randn_like(z), c, skip_w_avg_update=True)
            ws[:, cutoff:] = ws2[:, cutoff:]
        img = self.G.synthesis(ws, noise_mode=self.noise_mode)
        return img, ws

    def run_D(self, img: torch.Tensor, c: torch.Tensor | None) -> torch.Tensor:  # noqa: N802
        if self.augment is not None:
            img = self.augment(img)
        return self.D(img, c)

    # -- loss terms --------------------------------------------------------------------------

    def g_main(self, z: torch.Tensor, c: torch.Tensor | None = None) -> LossTerms:
        """Maximise D's logits on generated images: softplus(-D(G(z)))."""
        img, _ = self.run_G(z, c)
        logits = self.run_D(img, c)
        return LossTerms(F.softplus(-logits).flatten(), logits.detach())

    def g_pl(self, z: torch.Tensor, c: torch.Tensor | None = None) -> LossTerms:
        """Path-length penalty on a shrunk batch; updates the running mean `pl_mean`."""
        n = max(z.shape[0] // self.pl_batch_shrink, 1)
        img, ws = self.run_G(z[:n], c[:n] if c is not None else None)
        pl_noise = torch.randn_like(img) / math.sqrt(img.shape[2] * img.shape[3])
        (grad,) = torch.autograd.grad((img * pl_noise).sum(), ws, create_graph=True)
        lengths = grad.square().sum(2).mean(1).sqrt()
        pl_mean = self.pl_mean.lerp(lengths.mean(), self.pl_decay)
        self.pl_mean.copy_(pl_mean.detach())
        penalty = (lengths - pl_mean).square()
        # img[:, 0, 0, 0] * 0 keeps every G output in the graph, as NVIDIA does.
        return LossTerms(img[:, 0, 0, 0] * 0 + penalty * self.pl_weight, penalty=penalty.detach())

    def d_fake(self, z: torch.Tensor, c: torch.Tensor | None = None) -> LossTerms:
        """Minimise D's logits on generated images: softplus(D(G(z))); G gets no gradient."""
        with torch.no_grad():
            img, _ = self.run_G(z, c)
        logits = self.run_D(img, c)
        return LossTerms(F.softplus(logits).flatten(), logits.detach())

    def d_real(self, real: torch.Tensor, c: torch.Tensor | None = None) -> LossTerms:
        """Maximise D's logits on real images: softplus(-D(x))."""
        logits = self.run_D(real.detach(), c)
        return LossTerms(F.softplus(-logits).flatten(), logits.detach())

    def d_r1(self, real: torch.Tensor, c: torch.Tensor | None = None) -> LossTerms:
        """R1: gamma/2 * ||grad_x D(x)||^2 per real image (through the augmentation)."""
        x = real.detach().requires_grad_(True)
        logits = self.run_D(x, c)
        (grad,) = torch.autograd.grad(logits.sum(), x, create_graph=True)
        penalty = grad.square().sum([1, 2, 3])
        loss = logits.flatten() * 0 + penalty * (self.r1_gamma / 2)
        return LossTerms(loss, logits.detach(), penalty.detach())
