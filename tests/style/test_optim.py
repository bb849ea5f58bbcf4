"""The compact L-BFGS and Adam of `style.optim`."""

from __future__ import annotations

import pytest
import torch

from style.optim import LBFGS, Adam

CPU = torch.device("cpu")


# --- Optimisers ----------------------------------------------------------------------------


def _quartic(n: int = 40):
    g = torch.Generator().manual_seed(0)
    a = torch.randn(n, n, generator=g)
    a = a @ a.T / n + 0.1 * torch.eye(n)
    b = torch.randn(n, generator=g)
    return (lambda x: 0.5 * x @ a @ x - b @ x + 0.1 * (x**4).sum()), torch.randn(n, generator=g)


@pytest.mark.parametrize("history", [4, 100])
def test_compact_lbfgs_matches_torch_lbfgs(history):
    f, x0 = _quartic()
    xr = x0.clone().requires_grad_(True)
    ref = torch.optim.LBFGS(
        [xr], lr=1, max_iter=1, history_size=history, tolerance_grad=-1, tolerance_change=-1
    )
    xo = x0.clone()
    ours = LBFGS(xo, history_size=history)
    for _ in range(25):

        def closure():
            ref.zero_grad()
            loss = f(xr)
            loss.backward()
            return loss

        ref.step(closure)
        x = xo.clone().requires_grad_(True)
        (g,) = torch.autograd.grad(f(x), x)
        ours.step(g)
    assert torch.allclose(xo, xr.detach(), atol=1e-4)


def test_adam_descends():
    f, x0 = _quartic()
    x = x0.clone()
    opt = Adam(x, lr=0.05)
    start = f(x).item()
    for _ in range(100):
        xx = x.clone().requires_grad_(True)
        (g,) = torch.autograd.grad(f(xx), xx)
        opt.step(g)
    assert f(x).item() < start - 1.0
