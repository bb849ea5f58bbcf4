"""The StyleGAN2 training step, as stylegan2-ada-pytorch's `training/training_loop.py` runs it
with `train.py --resume`'s settings, plus two options of the DCGAN path, and exact resume.

One `train_step(real)` runs NVIDIA's phases in order, each with its own z:
Gmain; Greg (path length, every `g_reg_interval` steps, if `pl_weight > 0`); Dmain;
Dreg (R1, every `d_reg_interval` steps). Regularisation losses are scaled by their interval
(lazy regularisation) and Adam's lr and betas are corrected by mb_ratio = k / (k + 1), for G
and D alike. Then the G EMA (half-life `ema_kimg`, ramp-up `ema_rampup`, None on resume), the
image count (the global batch, over every process) and ADA's p.

- Freeze-D (Mo et al. 2020) in NVIDIA's units: D's first `freezed` layers (`d_layers`) get no
  gradient and are not in D's optimiser. A run saved when it counted blocks
  (`freeze_d_blocks`) freezes those blocks' layers.
- Balance rule (the lesson's, an option here, off by default as NVIDIA has none): the D main
  step is skipped while D's loss on the batch, softplus(D(fake)) + softplus(-D(real)), is
  below `d_loss_threshold`. R1 still runs on its schedule. `losses["skipped"]` says when.
- D warm-up: a fresh D (a model converted without one: `fresh_discriminator`) first trains
  alone for `d_warmup` steps; G and its EMA are not updated, G's loss is only measured.
  NVIDIA always resumes a D; Freeze-D applies only to a pretrained D and the warm-up only to
  a fresh one (`d_pretrained`); `notes` says which.

Exact resume: `state_dict()` holds every bit that the next step depends on (weights,
optimisers, EMA, ADA p and its RNG, pl_mean, torch/numpy/python RNGs, sampler position,
counters); `load_state_dict()` on a freshly built trainer continues bit for bit on the CPU.
"""

from __future__ import annotations

import copy
import functools
from dataclasses import asdict, dataclass, replace

import numpy as np
import torch
import torch.distributed as dist
from torch import nn

from gan.finetune.ada import AdaAugment, AdaptiveP
from gan.finetune.augment import diff_augment, parse_policy
from gan.finetune.run_state import rng_state, set_rng_state
from gan.finetune.sg2_loss import LossTerms, StyleGAN2Loss
from gan.finetune.specs import SG2_SPECS, nvidia_auto
from gan.models.stylegan2 import StyleGAN2Config
from gan.models.stylegan2_d import StyleGAN2Discriminator, StyleGAN2DiscriminatorConfig

_SPEC = SG2_SPECS["cuda"]  # the settings that do not depend on the device


@dataclass
class SG2TrainConfig:
    """Settings of a StyleGAN2 run, NVIDIA's resume settings by default (`specs.SG2_SPECS`);
    None means NVIDIA's 'auto' value for the resolution (`specs.nvidia_auto`)."""

    batch_size: int = 8  # per process
    lr_g: float | None = None
    lr_d: float | None = None
    beta1_g: float = _SPEC["betas"][0]
    beta2_g: float = _SPEC["betas"][1]
    beta1_d: float = _SPEC["betas"][0]
    beta2_d: float = _SPEC["betas"][1]
    r1_gamma: float | None = None  # from NVIDIA's auto batch, not this one
    d_reg_interval: int = _SPEC["d_reg_interval"]
    g_reg_interval: int = _SPEC["g_reg_interval"]
    style_mixing_prob: float = _SPEC["style_mixing_prob"]
    pl_weight: float = _SPEC["pl_weight"]
    pl_batch_shrink: int = _SPEC["pl_batch_shrink"]
    pl_decay: float = _SPEC["pl_decay"]
    ema_kimg: float | None = None  # from NVIDIA's auto batch
    ema_rampup: float | None = _SPEC["ramp"]
    augment: str = "ada"  # "ada" (adaptive p), "fixed" (p = augment_p), "diffaugment" or "none"
    diffaugment: str = "color,translation,cutout"  # DiffAugment's policy, for "diffaugment"
    ada_pipeline: str = "bgc"
    augment_p: float = _SPEC["augment_p"]  # initial (or fixed) p
    ada_target: float = _SPEC["ada_target"]
    ada_interval: int = 4
    ada_kimg: float = _SPEC["ada_kimg"]
    freezed: int = _SPEC["freezed"]  # Freeze-D in NVIDIA's units: D layers, when D is pretrained
    freeze_d_blocks: int | None = None  # a run saved before `freezed`: its D blocks
    d_loss_threshold: float = _SPEC["d_loss_threshold"]  # the lesson's balance rule; 0: off
    d_warmup: int = 20  # D-only steps first, when D is fresh
    noise_mode: str = "random"
    seed: int = 0

    @classmethod
    def from_saved(cls, saved: dict) -> SG2TrainConfig:
        """A run's saved settings; one saved before Freeze-D counted layers keeps its block
        count as `freeze_d_blocks`."""
        saved = dict(saved)
        if "freeze_d" in saved:
            saved["freeze_d_blocks"] = saved.pop("freeze_d")
            saved.setdefault("freezed", 0)
        return cls(**saved)

    def resolved(self, resolution: int, gpus: int = 1) -> SG2TrainConfig:
        """A copy with the 'auto' values filled in (NVIDIA's, for `gpus` processes)."""
        auto = nvidia_auto(resolution, gpus)
        filled = {
            "lr_g": auto["lrate"] if self.lr_g is None else self.lr_g,
            "lr_d": auto["lrate"] if self.lr_d is None else self.lr_d,
            "r1_gamma": auto["gamma"] if self.r1_gamma is None else self.r1_gamma,
            "ema_kimg": auto["ema"] if self.ema_kimg is None else self.ema_kimg,
        }
        return replace(self, **filled)


class PermutationSampler:
    """Indices in a fresh seeded permutation each epoch; its state is (epoch, index, seed).
    A departure from NVIDIA's `InfiniteSampler` (one permutation, locally re-shuffled in a
    window): a few dozen images need every image once per epoch, and the state is three
    integers, which exact resume saves."""

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
        channels=getattr(config, "channels", None),  # StyleGAN3's configs have none
        conv_clamp=config.conv_clamp,
        mbstd_group_size=mbstd_group_size,
    )
    return StyleGAN2Discriminator(d_config)


def d_layers(D: nn.Module) -> list[list[nn.Module]]:
    """D's layers in NVIDIA's order (`freeze_layers`), block by block from the input:
    [fromrgb], conv0, conv1, [skip]; the 4x4 epilogue is never frozen, as NVIDIA's."""
    names = ("fromrgb", "conv0", "conv1", "skip")
    return [[getattr(b, n) for n in names if hasattr(b, n)] for b in D.blocks()[:-1]]


def blocks_to_layers(D: nn.Module, blocks: int) -> int:
    """How many of NVIDIA's D layers the first `blocks` blocks hold (the old unit)."""
    return sum(len(layers) for layers in d_layers(D)[:blocks])


def d_trainable(D: nn.Module, freezed: int) -> list[nn.Parameter]:
    """Freeze-D as NVIDIA's `--freezed`: D's first `freezed` layers get no gradient; the
    parameters of the rest."""
    layers = [layer for block in d_layers(D) for layer in block][:freezed]
    frozen_ids = {id(p) for layer in layers for p in layer.parameters()}
    for layer in layers:
        layer.requires_grad_(False)
    return [p for p in D.parameters() if id(p) not in frozen_ids]


def lazy_adam(
    params: list[nn.Parameter], lr: float, interval: int, betas: tuple[float, float] = (0, 0.99)
) -> torch.optim.Adam:
    """Adam with the lazy-regularisation correction of lr and betas (mb_ratio = k / (k + 1))."""
    mb_ratio = interval / (interval + 1) if interval else 1.0
    corrected = (betas[0] ** mb_ratio, betas[1] ** mb_ratio)
    return torch.optim.Adam(params, lr=lr * mb_ratio, betas=corrected, eps=1e-8)


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
        self.config = cfg = config.resolved(G.img_resolution, _world())
        self.G = G.to(self.device).train().requires_grad_(False)
        self.D = D.to(self.device).train().requires_grad_(False)
        _broadcast_from_rank0(self.G, self.D)  # every process starts from the same weights
        self.G_ema = copy.deepcopy(self.G).eval()
        self.frozen_d = self._freezed(cfg) if d_pretrained else 0  # D layers
        self.d_warmup = 0 if d_pretrained else cfg.d_warmup
        self.notes = _d_notes(cfg, d_pretrained, self.frozen_d)
        self.d_params = d_trainable(self.D, self.frozen_d)
        # As NVIDIA, G's Adam is corrected for G_reg_interval even with pl_weight = 0.
        g_betas, d_betas = (cfg.beta1_g, cfg.beta2_g), (cfg.beta1_d, cfg.beta2_d)
        self.opt_g = lazy_adam(list(self.G.parameters()), cfg.lr_g, cfg.g_reg_interval, g_betas)
        self.opt_d = lazy_adam(self.d_params, cfg.lr_d, cfg.d_reg_interval, d_betas)
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
            pl_batch_shrink=cfg.pl_batch_shrink,
            noise_mode=cfg.noise_mode,
        )
        self.images = images
        self.labels = _checked_labels(labels, images, G.c_dim)
        self.sampler = PermutationSampler(len(images), cfg.seed) if images is not None else None
        self.batch_idx, self.cur_nimg = 0, 0
        self.last = {"R1": float("nan"), "PL": float("nan")}

    def _freezed(self, cfg: SG2TrainConfig) -> int:
        """Frozen D layers: `freezed`, or a legacy run's block count in layers."""
        if cfg.freeze_d_blocks is not None:
            return blocks_to_layers(self.D, cfg.freeze_d_blocks)
        return cfg.freezed

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


def _d_notes(config: SG2TrainConfig, d_pretrained: bool, frozen: int) -> list[str]:
    if d_pretrained:
        return [f"Freeze-D: first {frozen} D layer(s) frozen"] if frozen else []
    notes = ["the model has no discriminator: a fresh one is trained (no Freeze-D)"]
    if config.d_warmup:
        notes.append(f"D warm-up: {config.d_warmup} D-only step(s) first")
    return notes
