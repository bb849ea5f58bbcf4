"""StyleGAN2 loss terms against hand computations on tiny networks."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from gan.finetune.sg2_loss import StyleGAN2Loss
from gan.finetune.specs import nvidia_auto
from tests.gan.finetune.sg2_tiny import one_thread, tiny_d, tiny_g

__all__ = ["one_thread"]  # autouse fixture


class LinearD(nn.Module):
    """D(x) = <w, x> + b: grad_x D = w for every image, so R1 = gamma/2 * ||w||^2."""

    def __init__(self, shape: tuple[int, ...]) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.randn(shape, generator=torch.Generator().manual_seed(0)))
        self.b = nn.Parameter(torch.tensor(0.3))

    def forward(self, img: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        return (img * self.w).sum([1, 2, 3])[:, None] + self.b


def test_auto_gamma_is_adas_formula_on_its_auto_batch():
    assert nvidia_auto(256)["gamma"] == pytest.approx(0.0002 * 256**2 / 16)  # mb 16
    assert nvidia_auto(256, gpus=8)["gamma"] == pytest.approx(0.2048)  # mb 64
    assert nvidia_auto(1024)["gamma"] == pytest.approx(0.0002 * 1024**2 / 4)
    assert nvidia_auto(64)["ema"] == 10 and nvidia_auto(1024)["lrate"] == 0.002


def test_r1_equals_the_hand_computation_on_a_linear_d():
    D = LinearD((3, 16, 16))
    loss = StyleGAN2Loss(tiny_g(), D, r1_gamma=4.0)
    real = torch.rand(5, 3, 16, 16)
    terms = loss.d_r1(real)
    expected = D.w.detach().square().sum()
    assert torch.allclose(terms.penalty, expected.expand(5), rtol=1e-6)
    assert torch.allclose(terms.loss, 2.0 * expected.expand(5), rtol=1e-6)
    # Its gradient w.r.t. w is gamma * w (d/dw of gamma/2 ||w||^2).
    terms.loss.mean().backward()
    assert torch.allclose(D.w.grad, 4.0 * D.w.detach(), rtol=1e-5)


def test_r1_on_the_stylegan2_d_matches_autograd_by_hand():
    D = tiny_d()
    real = torch.rand(4, 3, 16, 16) * 2 - 1
    x = real.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(D(x).sum(), x)
    terms = StyleGAN2Loss(tiny_g(), D, r1_gamma=1.0).d_r1(real)
    assert torch.allclose(terms.penalty, grad.square().sum([1, 2, 3]), rtol=1e-5)


def test_main_losses_are_the_logistic_ones():
    D = LinearD((3, 16, 16))
    G = tiny_g()
    loss = StyleGAN2Loss(G, D, style_mixing_prob=0.0, noise_mode="const")
    z, real = torch.randn(4, 8), torch.rand(4, 3, 16, 16)
    with torch.no_grad():
        logits_fake = D(G(z, noise_mode="const")).flatten()
        logits_real = D(real).flatten()
    G.eval()  # no w_avg update, so the same G output below
    assert torch.allclose(loss.g_main(z).loss, F.softplus(-logits_fake), atol=1e-6)
    assert torch.allclose(loss.d_fake(z).loss, F.softplus(logits_fake), atol=1e-6)
    assert torch.allclose(loss.d_real(real).loss, F.softplus(-logits_real), atol=1e-6)


def test_style_mixing_takes_the_tail_ws_from_a_second_z():
    G = tiny_g().eval()
    loss = StyleGAN2Loss(G, tiny_d(), style_mixing_prob=1.0)
    z = torch.randn(3, 8)
    torch.manual_seed(4)
    _, ws = loss.run_G(z, None)
    own = G.mapping(z, None)
    same = (ws == own).all(2).all(0)  # per ws index
    cut = int(same.long().argmin())
    assert 1 <= cut < G.num_ws and same[:cut].all() and not same[cut:].any()


def test_path_length_penalty_updates_its_running_mean():
    loss = StyleGAN2Loss(tiny_g(), tiny_d(), pl_weight=2.0)
    terms = loss.g_pl(torch.randn(4, 8))
    assert terms.loss.shape == (2,) and torch.isfinite(terms.loss).all()
    assert loss.pl_mean > 0
