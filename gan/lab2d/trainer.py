"""One 2D run: G and D, their optimisers, and the two phases as separate steps
(`step_d` changes only D's parameters, `step_g` only G's)."""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch

from gan.lab2d.coverage import Coverage, mode_coverage, spread
from gan.lab2d.distributions import Distribution, distribution
from gan.lab2d.losses import d_loss, g_loss, gradient_penalty
from gan.lab2d.model import Discriminator2D, Generator2D, MLPConfig
from gan.lab2d.settings import Lab2DSettings

Z_DIM = 2  # G's input is 2D too, so that its manifold (the image of a z grid) can be drawn
SHOWN = 512  # fixed-z samples (and real points) drawn and measured
WARM_UP = 200  # G steps before the collapse meter may flag


@dataclass
class Counters:
    """What a run has done: its D and G steps and their latest losses."""

    d_steps: int = 0
    g_steps: int = 0
    loss_d: float = float("nan")
    loss_g: float = float("nan")


class Trainer2D:
    """A tiny MLP GAN on one 2D distribution, seeded: the same settings give the same run."""

    def __init__(self, settings: Lab2DSettings, points: torch.Tensor | None = None) -> None:
        self.settings = settings
        self.data: Distribution = distribution(settings.data, points)
        with torch.random.fork_rng(devices=[]):  # seeded weights, the global RNG left as it was
            torch.manual_seed(settings.seed)
            self.G = Generator2D(MLPConfig(Z_DIM, settings.hidden, settings.layers, 2))
            self.D = Discriminator2D(MLPConfig(2, settings.hidden, settings.layers, 1))
        self.opt_g = _optimizer(self.G, settings.lr_g, settings)
        self.opt_d = _optimizer(self.D, settings.lr_d, settings)
        self.rng = torch.Generator().manual_seed(settings.seed)
        self.z_shown = torch.randn(SHOWN, Z_DIM, generator=self.rng)
        self.real_shown = self.data.sample(SHOWN, self.rng)
        self.counters = Counters()

    def _z(self) -> torch.Tensor:
        return torch.randn(self.settings.batch, Z_DIM, generator=self.rng)

    def step_d(self) -> float:
        """One D step on a real and a fake batch (G fixed); D's loss."""
        s = self.settings
        real = self.data.sample(s.batch, self.rng)
        with torch.no_grad():
            fake = self.G(self._z())
        loss = d_loss(s.loss, self.D(real), self.D(fake))
        if s.loss == "wgan_gp":
            eps = torch.rand(s.batch, 1, generator=self.rng)
            loss = loss + s.gp_weight * gradient_penalty(self.D, real, fake, eps)
        self.opt_d.zero_grad(set_to_none=True)
        loss.backward()
        self.opt_d.step()
        self.counters.d_steps += 1
        self.counters.loss_d = float(loss.detach())
        return self.counters.loss_d

    def step_g(self) -> float:
        """One G step through D (D fixed: its gradients are dropped, not applied); G's loss."""
        loss = g_loss(self.settings.loss, self.D(self.G(self._z())))
        self.opt_g.zero_grad(set_to_none=True)
        loss.backward()
        self.opt_g.step()
        self.D.zero_grad(set_to_none=True)
        self.counters.g_steps += 1
        self.counters.loss_g = float(loss.detach())
        return self.counters.loss_g

    def step(self) -> None:
        """One training step: `d_steps` D steps, then one G step."""
        for _ in range(self.settings.d_steps):
            self.step_d()
        self.step_g()

    @torch.no_grad()
    def samples(self) -> torch.Tensor:
        """G's points for the fixed z (SHOWN, 2)."""
        return self.G(self.z_shown)

    def coverage(self) -> Coverage:
        """The collapse meter on the fixed-z samples; not flagged in the first `WARM_UP`
        G steps (a fresh G's points start bunched at the origin)."""
        reading = mode_coverage(
            self.samples(), self.data.modes, self.data.radius, spread(self.real_shown)
        )
        if self.counters.g_steps < WARM_UP:
            return replace(reading, collapsed=False)
        return reading

    def arrows(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(G's points, -dL_G/dx at each): where G's loss pushes each point (per point:
        the gradient of the summed loss)."""
        x = self.samples().requires_grad_(True)
        loss = g_loss(self.settings.loss, self.D(x)) * len(x)
        (grad,) = torch.autograd.grad(loss, x)
        self.D.zero_grad(set_to_none=True)
        return x.detach(), -grad

    @torch.no_grad()
    def manifold(self, lines: int = 11, points: int = 48, span: float = 2.5) -> torch.Tensor:
        """G's image of a grid of z lines: (2 * lines, points, 2), the z_1 lines then z_2."""
        t = torch.linspace(-span, span, points)
        levels = torch.linspace(-span, span, lines)
        across = torch.stack(torch.meshgrid(levels, t, indexing="ij"), dim=-1)
        grid = torch.cat([across, across.flip(-1)])
        return self.G(grid.reshape(-1, 2)).reshape(2 * lines, points, 2)

    @torch.no_grad()
    def decision(self, size: int, view: float) -> torch.Tensor:
        """D's output on a `size` x `size` grid over [-view, view]^2 (row 0 at the top), as
        a "realness" in [0, 1]: the probability for the logistic losses, the raw output
        clipped for least squares, the critic squashed around its mean for WGAN-GP."""
        axis = torch.linspace(-view, view, size)
        ys, xs = torch.meshgrid(axis.flip(0), axis, indexing="ij")
        out = self.D(torch.stack([xs, ys], dim=-1).reshape(-1, 2)).reshape(size, size)
        if self.settings.loss == "least_squares":
            return out.clamp(0, 1)
        if self.settings.loss == "wgan_gp":
            return torch.sigmoid((out - out.mean()) / (out.std() + 1e-8))
        return torch.sigmoid(out)


def _optimizer(net: torch.nn.Module, lr: float, s: Lab2DSettings) -> torch.optim.Optimizer:
    if s.optimizer == "sgd":
        return torch.optim.SGD(net.parameters(), lr=lr)
    return torch.optim.Adam(net.parameters(), lr=lr, betas=(s.beta1, 0.999))
