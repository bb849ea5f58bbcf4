"""One scale of a Gatys run: the iteration (loss, gradient, optimiser update) eagerly or as one
replayed CUDA graph, and the content/style targets. Split from `style.transfer`, which runs the
scales and re-exports these names."""

from __future__ import annotations

import logging

import torch

from style.losses import StyleObjective, blend_grams, gram_matrix
from style.networks import LossNetwork
from style.optim import LBFGS, Adam
from style.settings import StyleSettings

log = logging.getLogger(__name__)

WARMUP_STEPS = 1  # eager iterations before a CUDA graph capture (cuDNN autotuning, allocations)


def history_size_for(numel: int, budget_bytes: int = 3 << 29) -> int:
    """L-BFGS history: 20 pairs (torch keeps 100; on the benchmark 20 reached the same losses
    in less time), fewer when the pairs (2 m numel floats) would pass ~1.5 GiB."""
    return int(max(5, min(20, budget_bytes // (8 * numel))))


# --- One scale ---------------------------------------------------------------------------------


class _Stepper:
    """Runs iterations of one scale: loss, gradient and optimiser update, eagerly or as one
    replayed CUDA graph. The loss parts of every iteration go to `hist` on the device."""

    def __init__(
        self,
        network: LossNetwork,
        objective: StyleObjective,
        x0: torch.Tensor,
        settings: StyleSettings,
        steps: int,
        amp: bool,
        graph: bool,
    ):
        self.network, self.objective = network, objective
        self.device = x0.device
        self.x0 = x0.detach().clone()
        self.img = x0.detach().clone().contiguous()
        self.amp = amp
        self.channels_last = self.device.type == "cuda"
        flat = self.img.view(-1)
        if settings.optimizer == "lbfgs":
            m = settings.history_size or history_size_for(flat.numel())
            self.opt: LBFGS | Adam = LBFGS(flat, settings.lr or 1.0, m)
        else:
            self.opt = Adam(flat, settings.lr or 0.02)
        # The image is clamped to [0, 1] after every update, as the PyTorch tutorial's closure
        # does (L-BFGS then keeps the unclamped step as its s): on the benchmark this reached
        # 9x lower style and similar content loss than clamping only the final image.
        self.clamp = True
        self.parts = torch.zeros(4, device=self.device)
        self.hist = torch.zeros(steps, 4, device=self.device)
        self.graph: torch.cuda.CUDAGraph | None = None
        if graph:
            try:
                self._capture()
            except RuntimeError as e:  # an op that cannot be captured: run eagerly instead
                log.warning("CUDA graph capture failed (%s); running eagerly", e)
                self.graph = None
                self.img.copy_(self.x0)
                self.opt.reset()

    def _loss_and_grad(self) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.img.detach().requires_grad_(True)
        xin = x.contiguous(memory_format=torch.channels_last) if self.channels_last else x
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.amp):
            feats = self.network.feature_maps(xin, self.objective.layers)
        parts = self.objective.parts(feats, x)
        total = self.objective.total(parts)
        (g,) = torch.autograd.grad(total, x)
        return g, torch.stack([parts["content"], parts["style"], parts["tv"], total])

    def _step(self) -> None:
        g, parts = self._loss_and_grad()
        self.parts.copy_(parts.detach())
        self.opt.step(g.reshape(-1).float())
        if self.clamp:
            self.img.clamp_(0, 1)

    def _capture(self) -> None:
        stream = torch.cuda.Stream()
        stream.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(stream):
            for _ in range(WARMUP_STEPS):  # cuDNN autotuning and allocations off the graph
                self._step()
        torch.cuda.current_stream().wait_stream(stream)
        self.graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self.graph):
            self._step()
        self.img.copy_(self.x0)
        self.opt.reset()

    def step(self, k: int) -> None:
        if self.graph is not None:
            self.graph.replay()
        else:
            self._step()
        self.hist[k].copy_(self.parts)


def _targets(
    network: LossNetwork,
    objective_layers: tuple[frozenset[str], frozenset[str]],
    content: torch.Tensor,
    styles: list[torch.Tensor],
    blend: list[float],
    amp: bool,
) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    content_layers, style_layers = objective_layers
    cl = content.device.type == "cuda"

    def feats(x: torch.Tensor, layers: frozenset[str]) -> dict[str, torch.Tensor]:
        x = x.contiguous(memory_format=torch.channels_last) if cl else x
        with torch.no_grad(), torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=amp):
            return network.feature_maps(x, layers)

    content_targets = {k: v.float() for k, v in feats(content, content_layers).items()}
    grams = []
    for s in styles:
        f = feats(s, style_layers)
        grams.append({k: gram_matrix(f[k]) for k in style_layers})
    return content_targets, blend_grams(grams, blend)
