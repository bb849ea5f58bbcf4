"""The two-phase GAN step (D then G), Freeze-D, the EMA generator and the batch sampler.

See `gan.finetune.loop` for the loop and its departures from the source lesson.
"""

from __future__ import annotations

import copy
from contextlib import nullcontext
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn
from torch.nn.parallel import DistributedDataParallel as DDP  # noqa: N817

from core.images import to_uint8
from gan.finetune.augment import diff_augment, parse_policy
from gan.finetune.config import FinetuneConfig
from gan.models.dcgan import Discriminator, Generator

# --- Distributed helpers ----------------------------------------------------------------------


def world() -> tuple[int, int]:
    """(rank, world size); (0, 1) without torch.distributed."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def unwrap(module: nn.Module) -> nn.Module:
    return module.module if isinstance(module, DDP) else module


def _mean_across(value: torch.Tensor) -> torch.Tensor:
    if world()[1] > 1:
        value = value.clone()
        dist.all_reduce(value)
        value /= world()[1]
    return value


# --- The two-phase step -----------------------------------------------------------------------


@dataclass
class StepLosses:
    loss_d: float
    loss_g: float
    d_skipped: bool
    extra: dict[str, float] = field(default_factory=dict)  # StyleGAN2: r1, ada_p, kimg


def d_blocks(D: Discriminator) -> list[nn.Module]:
    """D's blocks from the input up: conv+act, (conv+bn+act)*n, the final conv."""
    layers = list(D.main)
    blocks = [nn.Sequential(*layers[:2])]
    blocks += [nn.Sequential(*layers[i : i + 3]) for i in range(2, len(layers) - 1, 3)]
    return [*blocks, layers[-1]]


def freeze_lower_blocks(D: Discriminator, n: int) -> int:
    """Freeze-D: stop training the lowest `n` blocks (never the last one); returns how many."""
    blocks = d_blocks(D)
    n = min(n, len(blocks) - 1)
    for block in blocks[:n]:
        block.requires_grad_(False)
    return n


class GANTrainer:
    """G, D (possibly DDP-wrapped), their Adam optimisers and the EMA generator."""

    def __init__(
        self,
        G: Generator,
        D: Discriminator,
        config: FinetuneConfig,
        device: torch.device,
        *,
        freeze_d: int = 0,
        d_warmup: int = 0,
        G_ema: Generator | None = None,
    ) -> None:
        self.config, self.device = config, device
        self.policy = parse_policy(config.diffaugment)
        G, D = G.to(device).train(), D.to(device).train()
        G.requires_grad_(True)
        D.requires_grad_(True)
        self.frozen_d = freeze_lower_blocks(D, freeze_d) if freeze_d else 0
        self.G_ema = copy.deepcopy(G_ema if G_ema is not None else G).to(device).eval()
        self.G_ema.requires_grad_(False)
        self.nz = G.config.nz
        self.named_g = list(G.named_parameters())
        self.named_d = [(n, p) for n, p in D.named_parameters() if p.requires_grad]
        fused = device.type == "cuda"  # one kernel per step for all tensors; CPU: unchanged
        self.opt_g = torch.optim.Adam(
            [p for _, p in self.named_g], config.lr_g, (config.beta1_g, config.beta2_g), fused=fused
        )
        self.opt_d = torch.optim.Adam(
            [p for _, p in self.named_d], config.lr_d, (config.beta1_d, config.beta2_d), fused=fused
        )
        if world()[1] > 1:
            ids = [device.index] if device.type == "cuda" else None
            G = DDP(G, device_ids=ids)
            D = DDP(D, device_ids=ids)
        self.G, self.D = G, D
        self.step = 0
        self.d_warmup = d_warmup
        self.autocast = config.precision == "bf16"

    def _amp(self):
        if not self.autocast:
            return nullcontext()
        return torch.autocast(self.device.type, dtype=torch.bfloat16)

    def augment(self, x: torch.Tensor) -> torch.Tensor:
        return diff_augment(x, self.policy) if self.policy else x

    def logits(self, D: nn.Module, real: torch.Tensor, fake: torch.Tensor):
        """D's logits for real and fake images, augmented, in one batch.

        The lesson runs D on a real batch and a fake batch separately. Here both steps run D on
        the two together, so its batch norm always sees the same mix: separate batches let batch
        norm normalise away the very statistics that tell real from fake, and a G step on a
        fake-only batch would be judged by a D with other normalisation than the one trained
        (in a first 2-minute GPU run that mismatch let G collapse onto a few textures).
        """
        with self._amp():
            logits = D(self.augment(torch.cat([real, fake]))).float()
        return logits.split([len(real), len(fake)])

    def d_loss(self, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        """BCE of D on real images (label 1) plus BCE on generated ones (label 0)."""
        logits_real, logits_fake = self.logits(self.D, real, fake)
        return F.binary_cross_entropy_with_logits(
            logits_real, torch.ones_like(logits_real)
        ) + F.binary_cross_entropy_with_logits(logits_fake, torch.zeros_like(logits_fake))

    def d_step(self, real: torch.Tensor, fake: torch.Tensor) -> tuple[float, bool]:
        """Phase 1; skipped (balance rule) while D's loss is below the threshold."""
        for _, p in self.named_d:
            p.requires_grad_(True)
        loss = self.d_loss(real, fake.detach())
        value = _mean_across(loss.detach()).item()
        skip = value < self.config.d_loss_threshold
        if not skip:
            self.opt_d.zero_grad(set_to_none=True)
            loss.backward()
            self.opt_d.step()
        return value, skip

    def g_loss(self, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        """Non-saturating G loss: generated images through D with the "real" target."""
        _, logits_fake = self.logits(unwrap(self.D), real, fake)  # no DDP: D is not updated
        return F.binary_cross_entropy_with_logits(logits_fake, torch.ones_like(logits_fake))

    def g_step(self, real: torch.Tensor, fake: torch.Tensor) -> float:
        """Phase 2: update G only; D's weights get no gradient."""
        for _, p in self.named_d:
            p.requires_grad_(False)
        loss = self.g_loss(real, fake)
        self.opt_g.zero_grad(set_to_none=True)
        loss.backward()
        self.opt_g.step()
        for _, p in self.named_d:
            p.requires_grad_(True)
        return _mean_across(loss.detach()).item()

    @torch.no_grad()
    def update_ema(self) -> None:
        decay = min(self.config.ema_decay, (1 + self.step) / (10 + self.step))
        G = unwrap(self.G)
        ema_params = list(self.G_ema.parameters())
        torch._foreach_lerp_(ema_params, list(G.parameters()), 1.0 - decay)
        for b_ema, b in zip(self.G_ema.buffers(), G.buffers(), strict=True):
            b_ema.copy_(b)

    def train_step(self, real: torch.Tensor) -> StepLosses:
        """One D step (or its skip), one G step and the EMA update on a batch in [-1, 1];
        during the D warm-up, G's loss is only measured."""
        warm_up = self.step < self.d_warmup
        z = torch.randn(real.shape[0], self.nz, device=self.device)
        with self._amp(), torch.set_grad_enabled(not warm_up):
            fake = self.G(z).float()
        loss_d, skipped = self.d_step(real, fake)
        if warm_up:
            with torch.no_grad():
                loss_g = _mean_across(self.g_loss(real, fake)).item()
        else:
            loss_g = self.g_step(real, fake)
        self.step += 1
        if not warm_up:
            self.update_ema()
        return StepLosses(loss_d, loss_g, skipped)

    @torch.no_grad()
    def samples(self, z: torch.Tensor) -> np.ndarray:
        """EMA generator on fixed latents -> uint8 (N, H, W, 3)."""
        return to_uint8(self.G_ema(z.to(self.device)).float().cpu().numpy())


class BatchSampler:
    """Random batches from a uint8 image set kept on the device, with optional flips."""

    def __init__(self, images: torch.Tensor, device: torch.device, hflip: bool, seed: int):
        self.images = images.to(device)
        self.hflip = hflip
        self.g = torch.Generator(device=device).manual_seed(seed)

    def __call__(self, batch_size: int) -> torch.Tensor:
        n = len(self.images)
        idx = torch.randint(n, (batch_size,), device=self.images.device, generator=self.g)
        x = self.images[idx].float() / 127.5 - 1.0
        if self.hflip:
            flip = torch.rand(batch_size, 1, 1, 1, device=x.device, generator=self.g) < 0.5
            x = torch.where(flip, x.flip(3), x)
        return x

    def state_dict(self) -> dict:
        """The sampler's position: its generator's state (exact resume)."""
        return {"rng": self.g.get_state()}

    def load_state_dict(self, state: dict) -> None:
        self.g.set_state(state["rng"])
