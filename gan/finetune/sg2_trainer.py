"""The StyleGAN2 training step, as stylegan2-ada-pytorch's `training/training_loop.py` runs it,
plus the fine-tuning rules of the DCGAN path (`gan.finetune.trainer`), and exact resume.

One `train_step(real)` runs NVIDIA's phases in order, each with its own z:
Gmain; Greg (path length, every `g_reg_interval` steps, only if `pl_weight > 0`); Dmain;
Dreg (R1, every `d_reg_interval` steps). Regularisation losses are scaled by their interval
(lazy regularisation) and Adam's lr and betas are corrected by mb_ratio = k / (k + 1).
Then the G EMA (half-life `ema_kimg`, ramp-up `ema_rampup`), the image counter and ADA's p.

Fine-tuning rules kept from the DCGAN path, each off at 0:

- Freeze-D (Mo et al. 2020): the first `freeze_d` blocks of D (from the input) get no gradient
  and are not in D's optimiser.
- Balance rule (the lesson): the D main step is skipped while D's loss on the batch,
  softplus(D(fake)) + softplus(-D(real)) (the same quantity as the DCGAN path's BCE sum), is
  below `d_loss_threshold`. R1 still runs on its schedule. `losses["skipped"]` says when.
- D warm-up: a fresh D (a model converted without one: `fresh_discriminator`) first trains
  alone for `d_warmup` steps; G and its EMA are not updated, G's loss is only measured.
  As on the DCGAN path, Freeze-D applies only to a pretrained D and the warm-up only to a
  fresh one (`d_pretrained`); `notes` says which.

Exact resume: `state_dict()` holds every bit that the next step depends on (weights,
optimisers, EMA, ADA p and its RNG, pl_mean, torch/numpy/python RNGs, sampler position,
counters); `load_state_dict()` on a freshly built trainer continues bit for bit on the CPU.
"""

from __future__ import annotations

import copy
import functools
from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.distributed as dist
from torch import nn

from gan.finetune.ada import AdaAugment, AdaptiveP
from gan.finetune.augment import diff_augment, parse_policy
from gan.finetune.run_state import rng_state, set_rng_state
from gan.finetune.sg2_loss import LossTerms, StyleGAN2Loss, auto_r1_gamma
from gan.models.stylegan2 import StyleGAN2Config
from gan.models.stylegan2_d import StyleGAN2Discriminator, StyleGAN2DiscriminatorConfig


@dataclass
class SG2TrainConfig:
    """Settings of a StyleGAN2 run; None means ADA's 'auto' value for the resolution/batch."""

    batch_size: int = 8
    lr_g: float | None = None  # auto: 0.002 at >= 1024 px, else 0.0025
    lr_d: float | None = None
    r1_gamma: float | None = None  # auto: 0.0002 * res^2 / batch
    d_reg_interval: int = 16
    g_reg_interval: int = 4
    style_mixing_prob: float = 0.9
    pl_weight: float = 0.0  # NVIDIA's default is 2; off for short runs
    pl_decay: float = 0.01
    ema_kimg: float | None = None  # auto: batch * 10 / 32
    ema_rampup: float | None = 0.05
    augment: str = "ada"  # "ada" (adaptive p), "fixed" (p = augment_p), "diffaugment" or "none"
    diffaugment: str = "color,translation,cutout"  # DiffAugment's policy, for "diffaugment"
    ada_pipeline: str = "bgc"
    augment_p: float = 0.0  # initial (or fixed) p
    ada_target: float = 0.6
    ada_interval: int = 4
    ada_kimg: float = 500
    freeze_d: int = 0  # first D blocks frozen, when D is pretrained
    d_loss_threshold: float = 0.2  # balance rule (as the DCGAN path); 0 turns it off
    d_warmup: int = 20  # D-only steps first, when D is fresh
    noise_mode: str = "random"
    seed: int = 0

    def resolved(self, resolution: int) -> SG2TrainConfig:
        """A copy with the 'auto' values filled in."""
        lr = 0.002 if resolution >= 1024 else 0.0025
        return SG2TrainConfig(
            **asdict(self)
            | {
                "lr_g": lr if self.lr_g is None else self.lr_g,
                "lr_d": lr if self.lr_d is None else self.lr_d,
                "r1_gamma": auto_r1_gamma(resolution, self.batch_size)
                if self.r1_gamma is None
                else self.r1_gamma,
                "ema_kimg": self.batch_size * 10 / 32 if self.ema_kimg is None else self.ema_kimg,
            }
        )


class PermutationSampler:
    """Indices in a fresh seeded permutation each epoch; its state is (epoch, index, seed)."""

    def __init__(self, n: int, seed: int = 0) -> None:
        if n < 1:
            raise ValueError("the training set is empty")
        self.n, self.seed, self.epoch, self.index = n, seed, 0, 0
        self._perm = self._permutation()

    def _permutation(self) -> np.ndarray:
        return np.random.default_rng([self.seed, self.epoch]).permutation(self.n)

    def take(self, batch_size: int) -> np.ndarray:
        out = []
        for _ in range(batch_size):
            if self.index == self.n:
                self.epoch, self.index = self.epoch + 1, 0
                self._perm = self._permutation()
            out.append(self._perm[self.index])
            self.index += 1
        return np.asarray(out)

    def state_dict(self) -> dict:
        return {"epoch": self.epoch, "index": self.index, "seed": self.seed}

    def load_state_dict(self, state: dict) -> None:
        self.epoch, self.index, self.seed = state["epoch"], state["index"], state["seed"]
        self._perm = self._permutation()


def fresh_discriminator(config: StyleGAN2Config, mbstd_group_size: int = 4) -> nn.Module:
    """A randomly initialised D that fits G (resolution, channels, labels, clamp)."""
    d_config = StyleGAN2DiscriminatorConfig(
        c_dim=config.c_dim,
        img_resolution=config.img_resolution,
        img_channels=config.img_channels,
        channel_base=config.channel_base,
        channel_max=config.channel_max,
        channels=config.channels,
        conv_clamp=config.conv_clamp,
        mbstd_group_size=mbstd_group_size,
    )
    return StyleGAN2Discriminator(d_config)


def d_trainable(D: nn.Module, freeze_d: int) -> list[nn.Parameter]:
    """Freeze-D: the first `freeze_d` blocks (never the last) get no gradient; the rest."""
    blocks = D.blocks()
    frozen = blocks[: min(freeze_d, len(blocks) - 1)]
    frozen_ids = {id(p) for block in frozen for p in block.parameters()}
    for block in frozen:
        block.requires_grad_(False)
    return [p for p in D.parameters() if id(p) not in frozen_ids]


def lazy_adam(params: list[nn.Parameter], lr: float, interval: int) -> torch.optim.Adam:
    """Adam(0, 0.99) with the lazy-regularisation correction of lr and betas."""
    mb_ratio = interval / (interval + 1) if interval else 1.0
    betas = (0.0**mb_ratio, 0.99**mb_ratio)
    return torch.optim.Adam(params, lr=lr * mb_ratio, betas=betas, eps=1e-8)


class StyleGAN2Trainer:
    """G, G_ema, D, their optimisers, ADA and the sampler over a uint8 image set."""

    def __init__(
        self,
        G: nn.Module,
        D: nn.Module,
        config: SG2TrainConfig,
        images: torch.Tensor | None = None,
        device: torch.device | str = "cpu",
        *,
        d_pretrained: bool = True,
        labels: torch.Tensor | None = None,
    ) -> None:
        self.device = torch.device(device)
        self.config = cfg = config.resolved(G.img_resolution)
        self.G = G.to(self.device).train().requires_grad_(False)
        self.D = D.to(self.device).train().requires_grad_(False)
        _broadcast_from_rank0(self.G, self.D)  # every process starts from the same weights
        self.G_ema = copy.deepcopy(self.G).eval()
        self.frozen_d = min(cfg.freeze_d, len(self.D.blocks()) - 1) if d_pretrained else 0
        self.d_warmup = 0 if d_pretrained else cfg.d_warmup
        self.notes = _d_notes(cfg, d_pretrained)
        self.d_params = d_trainable(self.D, self.frozen_d)
        # NVIDIA corrects G's Adam for G_reg_interval even with pl_weight = 0, when no Greg
        # phase updates anything; here G gets the correction only when path length is on.
        g_interval = cfg.g_reg_interval if cfg.pl_weight > 0 else 0
        self.opt_g = lazy_adam(list(self.G.parameters()), cfg.lr_g, g_interval)
        self.opt_d = lazy_adam(self.d_params, cfg.lr_d, cfg.d_reg_interval)
        # ADA draws from the global torch RNG, as NVIDIA's (`rng_state` keeps it for resume).
        self.augment = AdaAugment(cfg.ada_pipeline, cfg.augment_p)
        self.global_batch = cfg.batch_size * _world()  # NVIDIA counts images over processes
        self.ada = AdaptiveP(
            self.augment, self.global_batch, cfg.ada_target, cfg.ada_interval, cfg.ada_kimg
        )
        self.loss = StyleGAN2Loss(
            self.G,
            self.D,
            augment=self._augment_fn(),
            r1_gamma=cfg.r1_gamma,
            style_mixing_prob=cfg.style_mixing_prob,
            pl_weight=cfg.pl_weight,
            pl_decay=cfg.pl_decay,
            noise_mode=cfg.noise_mode,
        )
        self.images = images
        self.labels = _checked_labels(labels, images, G.c_dim)
        self.sampler = PermutationSampler(len(images), cfg.seed) if images is not None else None
        self.batch_idx, self.cur_nimg = 0, 0
        self.last = {"R1": float("nan"), "PL": float("nan")}

    def _augment_fn(self):
        """What D's inputs go through: ADA's pipeline, DiffAugment (Zhao et al. 2020, on the
        global torch RNG, which exact resume restores) or nothing."""
        kind = self.config.augment
        if kind == "none":
            return None
        if kind == "diffaugment":
            return functools.partial(diff_augment, policy=parse_policy(self.config.diffaugment))
        return self.augment

    @property
    def kimg(self) -> float:
        return self.cur_nimg / 1000

    # -- data --------------------------------------------------------------------------------

    def next_real(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The next batch from the sampler, as floats in [-1, 1], and its labels (or None)."""
        if self.sampler is None:
            raise ValueError("this trainer was built without images")
        idx = torch.as_tensor(self.sampler.take(self.config.batch_size))
        real = self.images[idx].to(self.device, torch.float32) / 127.5 - 1
        return real, self._labels_at(idx)

    def _labels_at(self, idx: torch.Tensor) -> torch.Tensor | None:
        return None if self.labels is None else self.labels[idx].to(self.device)

    def _gen_c(self, n: int) -> list[torch.Tensor | None]:
        """Labels for the generated images of the four phases: those of random training
        images, drawn with numpy's global RNG as NVIDIA does (nothing drawn without labels)."""
        if self.labels is None:
            return [None] * 4
        idx = torch.as_tensor([np.random.randint(len(self.labels)) for _ in range(4 * n)])
        return list(self._labels_at(idx).split(n))

    # -- phases ------------------------------------------------------------------------------

    def _run_phase(
        self, opt: torch.optim.Optimizer, params: list[nn.Parameter], terms: list[LossTerms],
        gain: float,
    ) -> None:  # fmt: skip
        """Backward sum of mean(loss) * gain, grads cleaned of NaN/inf as NVIDIA, Adam step."""
        sum(t.loss.mean() for t in terms).mul(gain).backward()
        _mean_grads_across(params)
        for p in params:
            if p.grad is not None:
                torch.nan_to_num(p.grad, nan=0, posinf=1e5, neginf=-1e5, out=p.grad)
        opt.step()

    def _begin(self, opt: torch.optim.Optimizer, params: list[nn.Parameter]) -> None:
        opt.zero_grad(set_to_none=True)
        for p in params:
            p.requires_grad_(True)

    @staticmethod
    def _end(params: list[nn.Parameter]) -> None:
        for p in params:
            p.requires_grad_(False)

    def _g_phases(self, main: tuple, reg: tuple, warm_up: bool) -> dict:
        """Gmain and Greg; `main` and `reg` are (z, c) pairs."""
        g_params = list(self.G.parameters())
        if warm_up:  # fresh D first: G's loss only measured
            with torch.no_grad():
                return {"G": self.loss.g_main(*main).loss.mean().item()}
        self._begin(self.opt_g, g_params)
        terms = self.loss.g_main(*main)
        self._run_phase(self.opt_g, g_params, [terms], gain=1)
        out = {"G": terms.loss.mean().item()}
        cfg = self.config
        if cfg.pl_weight > 0 and self.batch_idx % cfg.g_reg_interval == 0:
            self.opt_g.zero_grad(set_to_none=True)
            pl = self.loss.g_pl(*reg)
            self._run_phase(self.opt_g, g_params, [pl], gain=cfg.g_reg_interval)
            self.last["PL"] = pl.penalty.mean().item()
        self._end(g_params)
        return out

    def _d_main(self, real: tuple, gen: tuple) -> dict:
        """D main phase, or its skip under the balance rule; (img, c) and (z, c) pairs."""
        self._begin(self.opt_d, self.d_params)
        fake, real_t = self.loss.d_fake(*gen), self.loss.d_real(*real)
        self.ada.observe(real_t.logits)
        value = _mean_across(fake.loss.mean().detach() + real_t.loss.mean().detach())
        skipped = value < self.config.d_loss_threshold
        if skipped:
            self.opt_d.zero_grad(set_to_none=True)
        else:
            self._run_phase(self.opt_d, self.d_params, [fake, real_t], gain=1)
        self._end(self.d_params)
        return {"D": value, "skipped": skipped}

    def _d_reg(self, real: tuple) -> None:
        interval = self.config.d_reg_interval
        if not (interval and self.config.r1_gamma > 0 and self.batch_idx % interval == 0):
            return
        self._begin(self.opt_d, self.d_params)
        r1 = self.loss.d_r1(*real)
        self.ada.observe(r1.logits)
        self._run_phase(self.opt_d, self.d_params, [r1], gain=interval)
        self._end(self.d_params)
        self.last["R1"] = r1.penalty.mean().item()

    @torch.no_grad()
    def update_ema(self) -> float:
        """G_ema <- lerp toward G with NVIDIA's ramped half-life; returns beta."""
        cfg = self.config
        ema_nimg = cfg.ema_kimg * 1000
        if cfg.ema_rampup is not None:
            ema_nimg = min(ema_nimg, self.cur_nimg * cfg.ema_rampup)
        beta = 0.5 ** (self.global_batch / max(ema_nimg, 1e-8))
        for p_ema, p in zip(self.G_ema.parameters(), self.G.parameters(), strict=True):
            p_ema.copy_(p.lerp(p_ema, beta))
        for b_ema, b in zip(self.G_ema.buffers(), self.G.buffers(), strict=True):
            b_ema.copy_(b)
        return beta

    def train_step(self, real: torch.Tensor | None = None, c: torch.Tensor | None = None) -> dict:
        """One step on a real batch in [-1, 1] with its labels `c` (the sampler's next batch
        if `real` is None). Returns the losses: G, D, R1 (last lazy value), ada_p, skipped
        (balance rule), kimg, warm_up, and PL when path length is on."""
        if real is None:
            real, c = self.next_real()
        real = real.to(self.device, torch.float32)
        n = real.shape[0]
        zs = torch.randn([4 * n, self.G.z_dim], device=self.device).split(n)
        cs = self._gen_c(n)
        warm_up = self.batch_idx < self.d_warmup
        losses = self._g_phases((zs[0], cs[0]), (zs[1], cs[1]), warm_up)
        losses |= self._d_main((real, c), (zs[2], cs[2]))
        self._d_reg((real, c))
        # NVIDIA runs the EMA before counting the images; warm-up leaves G_ema alone.
        if not warm_up:
            self.update_ema()
        self.cur_nimg += n * _world()
        self.batch_idx += 1
        if self.config.augment == "ada":  # "fixed" keeps p; the others do not use it
            self.ada.step()
        report = {"R1": self.last["R1"], "ada_p": self.augment.p, "kimg": self.kimg}
        if self.config.pl_weight > 0:
            report["PL"] = self.last["PL"]
        return losses | report | {"warm_up": warm_up}

    # -- exact resume ------------------------------------------------------------------------

    def state_dict(self) -> dict:
        """Everything the next step depends on, deep-copied (safe for torch.save)."""
        state = {
            "G": self.G.state_dict(),
            "G_ema": self.G_ema.state_dict(),
            "D": self.D.state_dict(),
            "opt_g": self.opt_g.state_dict(),
            "opt_d": self.opt_d.state_dict(),
            "ada": self.ada.state_dict(),
            "pl_mean": self.loss.pl_mean,
            "sampler": self.sampler.state_dict() if self.sampler else None,
            "counters": {"batch_idx": self.batch_idx, "cur_nimg": self.cur_nimg},
            "last": dict(self.last),
            "rng": rng_state(),
            "config": asdict(self.config),
        }
        return copy.deepcopy(state)

    def load_state_dict(self, state: dict) -> None:
        self.G.load_state_dict(state["G"])
        self.G_ema.load_state_dict(state["G_ema"])
        self.D.load_state_dict(state["D"])
        self.opt_g.load_state_dict(state["opt_g"])
        self.opt_d.load_state_dict(state["opt_d"])
        self.ada.load_state_dict(state["ada"])
        self.loss.pl_mean.copy_(state["pl_mean"])
        if self.sampler is not None and state["sampler"] is not None:
            self.sampler.load_state_dict(state["sampler"])
        self.batch_idx = state["counters"]["batch_idx"]
        self.cur_nimg = state["counters"]["cur_nimg"]
        self.last = dict(state["last"])
        set_rng_state(state["rng"])


# --- Several processes (torchrun): NVIDIA's scheme, gradients averaged after each phase -----


def _world() -> int:
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def _mean_grads_across(params: list[nn.Parameter]) -> None:
    """Average the phase's gradients over the processes (one flat all-reduce, as NVIDIA)."""
    if _world() == 1:
        return
    grads = [p.grad for p in params if p.grad is not None]
    if grads:
        flat = torch.cat([g.flatten() for g in grads])
        dist.all_reduce(flat)
        flat /= _world()
        for g, part in zip(grads, flat.split([g.numel() for g in grads]), strict=True):
            g.copy_(part.view_as(g))


def _mean_across(value: torch.Tensor) -> float:
    """A scalar averaged over the processes, so they all take the same decisions."""
    if _world() > 1:
        value = value.clone()
        dist.all_reduce(value)
        value /= _world()
    return value.item()


def _broadcast_from_rank0(*modules: nn.Module) -> None:
    if _world() == 1:
        return
    for module in modules:
        for tensor in [*module.parameters(), *module.buffers()]:
            dist.broadcast(tensor.data, 0)


def _checked_labels(
    labels: torch.Tensor | None, images: torch.Tensor | None, c_dim: int
) -> torch.Tensor | None:
    """Float labels (N, c_dim) for a conditional G; None for an unconditional one."""
    if c_dim == 0:
        if labels is not None:
            raise ValueError("labels were given, but the model is unconditional (c_dim = 0)")
        return None
    if labels is None or labels.shape != (len(images), c_dim):
        raise ValueError(f"a conditional model needs labels of shape (n_images, {c_dim})")
    return labels.to(torch.float32)


def _d_notes(config: SG2TrainConfig, d_pretrained: bool) -> list[str]:
    if d_pretrained:
        return [f"Freeze-D: first {config.freeze_d} D block(s) frozen"] if config.freeze_d else []
    notes = ["the model has no discriminator: a fresh one is trained (no Freeze-D)"]
    if config.d_warmup:
        notes.append(f"D warm-up: {config.d_warmup} D-only step(s) first")
    return notes
