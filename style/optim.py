"""Optimisers for the image, written without host synchronisation so that a whole iteration
(forward, backward and update) can be captured in one CUDA graph.

`LBFGS` follows `torch.optim.LBFGS` without line search (as the PyTorch tutorial and Gatys et
al.'s code use it: a unit step, the first one scaled by min(1, 1/|g|_1), a curvature pair kept
only when y^T s > 1e-10, H_0 = gamma I with gamma = s^T y / y^T y of the newest pair), but it
computes the direction with the compact representation of Byrd, Nocedal & Schnabel (1994,
eq. 3.1) instead of the two-loop recursion: a few matrix products with the stacked history
instead of 4m small vector operations, and no `.item()`, so it costs almost nothing on a GPU.
The early exits of torch's version (tolerance tests) are left out: every iteration runs.

`Adam` is the usual Adam (Kingma & Ba 2015) on the image, also free of synchronisation.
"""

from __future__ import annotations

import torch


class LBFGS:
    """Limited-memory BFGS on one flat float32 parameter `x` (updated in place)."""

    def __init__(self, x: torch.Tensor, lr: float = 1.0, history_size: int = 20):
        n, m, dev = x.numel(), history_size, x.device
        self.x, self.lr, self.m = x, lr, m
        self.SY = torch.zeros(2 * m, n, device=dev)  # s_i stacked over y_i: one matrix product
        self.S, self.Y = self.SY[:m], self.SY[m:]
        self.StY = torch.zeros(m, m, device=dev, dtype=torch.float64)  # s_i . y_j, slot order
        self.YtY = torch.zeros(m, m, device=dev, dtype=torch.float64)
        self.age = torch.zeros(m, device=dev, dtype=torch.long)  # 0 = empty, else push count
        self.pos = torch.zeros((), device=dev, dtype=torch.long)
        self.pushes = torch.zeros((), device=dev, dtype=torch.long)
        self.gamma = torch.ones((), device=dev, dtype=torch.float64)
        self.k = torch.zeros((), device=dev, dtype=torch.long)
        self.g_prev = torch.zeros(n, device=dev)
        self.step_prev = torch.zeros(n, device=dev)
        self._slots = torch.arange(m, device=dev)

    def reset(self) -> None:
        for t in (self.SY, self.StY, self.YtY, self.age, self.pos, self.pushes, self.k):
            t.zero_()
        self.g_prev.zero_()
        self.step_prev.zero_()
        self.gamma.fill_(1.0)

    def _push(self, s: torch.Tensor, y: torch.Tensor) -> None:
        ys = torch.dot(y, s).double()
        ok = (ys > 1e-10) & (self.k > 0)
        pos = self.pos
        row = pos.view(1)
        # index_select, not S[pos]: indexing with a tensor scalar would sync with the host.
        old_s, old_y = self.S.index_select(0, row)[0], self.Y.index_select(0, row)[0]
        self.S.index_copy_(0, row, torch.where(ok, s, old_s).view(1, -1))
        self.Y.index_copy_(0, row, torch.where(ok, y, old_y).view(1, -1))
        # New row and column of S^T Y and Y^T Y (one product with the stacked history).
        sy = self.SY @ torch.stack([y, s], dim=1)  # (2m, 2)
        s_dot_y, y_dot_y, s_dot_yj = sy[: self.m, 0], sy[self.m :, 0], sy[self.m :, 1]
        hit = (self._slots == pos) & ok
        col, row = hit[None, :], hit[:, None]
        sty = torch.where(col, s_dot_y.double()[:, None], self.StY)  # s_i . y_new
        self.StY.copy_(torch.where(row, s_dot_yj.double()[None, :], sty))  # s_new . y_j
        yty = torch.where(col, y_dot_y.double()[:, None], self.YtY)
        self.YtY.copy_(torch.where(row, y_dot_y.double()[None, :], yty))
        self.pushes.add_(ok.long())
        self.age.copy_(torch.where(hit, self.pushes, self.age))
        yy = torch.dot(y, y).double()
        self.gamma.copy_(torch.where(ok, ys / yy.clamp_min(1e-30), self.gamma))
        self.pos.copy_(torch.where(ok, (pos + 1) % self.m, pos))

    def direction(self, g: torch.Tensor) -> torch.Tensor:
        """d = -H g with the compact representation, in chronological order of the pairs."""
        perm = torch.argsort(self.age)  # empty slots (age 0) first: they decouple (see below)
        valid = (self.age[perm] > 0).double()
        sty = self.StY[perm][:, perm]
        R = torch.triu(sty) + torch.diag(1.0 - valid)  # unit diagonal on empty slots
        D = torch.diag(torch.diagonal(sty))
        yty = self.YtY[perm][:, perm]
        gamma = self.gamma
        ab = self.SY @ g  # (2m,)
        a, b = ab[: self.m].double()[perm], ab[self.m :].double()[perm]
        u = torch.linalg.solve_triangular(R, a[:, None], upper=True)
        rhs = (D + gamma * yty) @ u - gamma * b[:, None]
        w_s = torch.linalg.solve_triangular(R.T, rhs, upper=False)[:, 0]
        w_y = -gamma * u[:, 0]
        # Back to slot order; empty slots have s = y = 0 so their terms vanish.
        inv = torch.argsort(perm)
        w = torch.cat([w_s[inv], w_y[inv]]).float()
        hg = gamma.float() * g + w @ self.SY
        d = -hg
        # Not a descent direction (numerical trouble): fall back to steepest descent.
        return torch.where(torch.dot(d, g) < 0, d, -g)

    @torch.no_grad()
    def step(self, g: torch.Tensor) -> None:
        """One iteration from the gradient `g` at the current `x` (both flat float32)."""
        y = g - self.g_prev
        self._push(self.step_prev, y)
        d = self.direction(g)
        first = self.k == 0
        t = torch.where(first, (1.0 / g.abs().sum().clamp_min(1e-30)).clamp(max=1.0), 1.0)
        step = (t * self.lr) * d
        self.x.add_(step)
        self.step_prev.copy_(step)
        self.g_prev.copy_(g)
        self.k.add_(1)


class Adam:
    """Adam on one flat float32 parameter `x` (updated in place), without host syncs."""

    def __init__(self, x: torch.Tensor, lr: float = 0.02, betas: tuple[float, float] = (0.9, 0.99)):
        self.x, self.lr, self.betas = x, lr, betas
        self.m = torch.zeros_like(x)
        self.v = torch.zeros_like(x)
        self.k = torch.zeros((), device=x.device, dtype=torch.float32)

    def reset(self) -> None:
        self.m.zero_()
        self.v.zero_()
        self.k.zero_()

    @torch.no_grad()
    def step(self, g: torch.Tensor) -> None:
        b1, b2 = self.betas
        self.k.add_(1)
        self.m.lerp_(g, 1 - b1)
        self.v.lerp_(g * g, 1 - b2)
        m_hat = self.m / (1 - b1**self.k)
        v_hat = self.v / (1 - b2**self.k)
        self.x.sub_(self.lr * m_hat / (v_hat.sqrt() + 1e-8))
