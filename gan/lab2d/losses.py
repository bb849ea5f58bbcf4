"""The 2D lab's GAN losses, on D's logits (`real`, `fake`), each a (D loss, G loss) pair:

- non-saturating (Goodfellow et al. 2014, section 3): D: -log D(x) - log(1 - D(G(z)));
  G: -log D(G(z));
- minimax (the same paper's value function): D as above; G: log(1 - D(G(z)));
- least squares (Mao et al. 2017, a=0, b=c=1): D: (D(x) - 1)^2/2 + D(G(z))^2/2;
  G: (D(G(z)) - 1)^2/2, on D's raw outputs;
- WGAN-GP (Gulrajani et al. 2017): D: D(G(z)) - D(x) + lambda (||grad D(x_hat)|| - 1)^2;
  G: -D(G(z)), on the critic's raw outputs.

With D(x) = sigmoid(logit): -log D = softplus(-logit), -log(1 - D) = softplus(logit).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

LOSSES = ("non_saturating", "minimax", "least_squares", "wgan_gp")
LOGISTIC = ("non_saturating", "minimax")  # D's output is a probability through a sigmoid


def d_loss(loss: str, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """D's loss on its outputs for real and fake points (WGAN-GP's penalty comes apart)."""
    if loss in LOGISTIC:
        return F.softplus(-real).mean() + F.softplus(fake).mean()
    if loss == "least_squares":
        return 0.5 * ((real - 1) ** 2).mean() + 0.5 * (fake**2).mean()
    if loss == "wgan_gp":
        return fake.mean() - real.mean()
    raise ValueError(f"unknown loss {loss!r}")


def g_loss(loss: str, fake: torch.Tensor) -> torch.Tensor:
    """G's loss on D's outputs for G's points."""
    if loss == "non_saturating":
        return F.softplus(-fake).mean()
    if loss == "minimax":
        return -F.softplus(fake).mean()  # log(1 - D(G(z))), to be minimised
    if loss == "least_squares":
        return 0.5 * ((fake - 1) ** 2).mean()
    if loss == "wgan_gp":
        return -fake.mean()
    raise ValueError(f"unknown loss {loss!r}")


def gradient_penalty(
    critic: Callable[[torch.Tensor], torch.Tensor],
    real: torch.Tensor,
    fake: torch.Tensor,
    eps: torch.Tensor,
) -> torch.Tensor:
    """(||grad_x critic(x_hat)|| - 1)^2, averaged, at x_hat = eps real + (1 - eps) fake
    (`eps` (N, 1) uniform in [0, 1])."""
    x_hat = (eps * real + (1 - eps) * fake).detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(x_hat).sum(), x_hat, create_graph=True)
    return ((grad.norm(dim=1) - 1) ** 2).mean()
