"""GAN fine-tuning: the one training loop behind the Fine-tune tab and `python -m gan.finetune`.

The loop is the classic two-phase DCGAN loop of the source lesson (Goodfellow et al. 2014;
Radford et al. 2016):

1. discriminator step: real images labelled 1, generated ones labelled 0;
2. generator step: generated images through the (not updated) discriminator, target "real".

Departures from the lesson, each for a reason:

- D outputs logits and the losses are `binary_cross_entropy_with_logits` (no sigmoid layer):
  the same loss, numerically stable. The G step's "real" target is the non-saturating loss
  -log D(G(z)) of the GAN paper.
- Balance rule (from the lesson): the D step is skipped while D's loss on the current batch is
  below `d_loss_threshold`, so an over-strong D does not starve G of gradient. The loss is
  still measured every step (one forward pass), so D resumes as soon as G catches up.
- DiffAugment (Zhao et al. 2020) on every image D sees, real and fake, in both steps: with a
  few dozen images D otherwise memorises the set within a few hundred steps.
- Freeze-D (Mo et al. 2020): when D comes from a checkpoint, its lowest `freeze_d` blocks are
  frozen; a fresh D (the default model ships none) is trained whole.
- D warm-up: a fresh D first trains alone for `d_warmup` steps (G frozen). A random D gives G
  random gradients that only wear down the base model; on CPU runs of a few dozen steps KID
  fell steadily with the warm-up and went up and down without it.
- An exponential moving average of G's weights (Karras et al. 2018) makes the samples and the
  saved model; its decay warms up as min(decay, (1 + t) / (10 + t)) so short runs move it.
- Several GPUs: `torchrun` + DistributedDataParallel for G and D; each process draws its own
  batches; the balance decision and the stop flag are agreed across processes.
"""

from __future__ import annotations

import copy
import json
import logging
import math
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from safetensors.torch import save_file
from torch import nn
from torch.nn.parallel import DistributedDataParallel as DDP  # noqa: N817

from core import store
from core.errors import UserInputError
from core.images import to_uint8
from gan import latents
from gan.augment import DEFAULT_POLICY, diff_augment, parse_policy
from gan.kid import FeatureNet, KIDScorer
from gan.models.dcgan import Discriminator, DiscriminatorConfig, Generator, init_weights
from gan.studio import generator_from_folder

log = logging.getLogger(__name__)

DISCRIMINATOR_NAME = "discriminator.safetensors"
GENERATOR_TRAIN_NAME = "generator_train.safetensors"  # raw (non-EMA) G, for resuming
OPTIMIZER_NAME = "optimizer.safetensors"
STATE_NAME = "training_state.json"


def _env_number(name: str, default: float) -> float:
    try:
        return float(os.environ.get(name, default))
    except ValueError:
        return default


# Shared-hosting caps, per run (a longer job is split into resumable runs).
MAX_STEPS = int(_env_number("GAN_STUDIO_MAX_TRAIN_STEPS", 20_000))
MAX_SECONDS = _env_number("GAN_STUDIO_MAX_TRAIN_SECONDS", 900)
MAX_BATCH = 512
MAX_LR = 0.05


@dataclass
class FinetuneConfig:
    """Hyper-parameters of one run (saved in `training_state.json`)."""

    steps: int = 200
    batch_size: int = 32  # per process
    lr_g: float = 2e-4
    lr_d: float = 2e-4
    beta1_g: float = 0.5
    beta2_g: float = 0.999
    beta1_d: float = 0.5
    beta2_d: float = 0.999
    d_loss_threshold: float = 0.2  # balance rule: skip the D step while its loss is below
    diffaugment: str = DEFAULT_POLICY
    hflip: bool = True
    freeze_d: int = 1  # lower D blocks frozen when D comes from a checkpoint
    ema_decay: float = 0.995
    d_warmup: int = 20  # D-only steps first, when D starts fresh
    sample_every: int = 50
    n_samples: int = 16
    max_seconds: float = MAX_SECONDS
    seed: int = 0
    kid_samples: int = 128  # generated images per KID estimate; 0 turns KID off
    precision: str = "fp32"  # or "bf16" (autocast); fp32 (TF32 on GPUs) was faster for DCGAN

    def checked(self, n_images: int) -> tuple[FinetuneConfig, list[str]]:
        """Validate: absurd values raise `UserInputError`, fixable ones are corrected (noted)."""
        notes: list[str] = []
        for name in ("lr_g", "lr_d"):
            value = _number(getattr(self, name), name)
            if not 0 < value <= MAX_LR:
                raise UserInputError(
                    f"{name} must be a learning rate in (0, {MAX_LR}]; got {value}"
                )
        for name in ("beta1_g", "beta2_g", "beta1_d", "beta2_d", "ema_decay"):
            value = _number(getattr(self, name), name)
            if not 0 <= value < 1:
                raise UserInputError(f"{name} must be in [0, 1); got {value}")
        threshold = _number(self.d_loss_threshold, "d_loss_threshold")
        if threshold < 0:
            raise UserInputError("d_loss_threshold must be >= 0 (0 turns the balance rule off)")
        parse_policy(self.diffaugment)
        if self.precision not in {"fp32", "bf16"}:
            raise UserInputError("precision must be fp32 or bf16")
        steps = _whole(self.steps, "steps")
        batch = _whole(self.batch_size, "batch_size")
        fixed = {}
        if steps < 1:
            raise UserInputError("steps must be at least 1")
        if steps > MAX_STEPS:
            fixed["steps"] = MAX_STEPS
            notes.append(f"steps capped at {MAX_STEPS:,} per run on this host (resume to go on)")
        if batch < 2:
            raise UserInputError("batch_size must be at least 2 (batch norm needs two images)")
        if batch > min(MAX_BATCH, n_images):
            fixed["batch_size"] = min(MAX_BATCH, n_images)
            notes.append(
                f"batch_size {batch} is larger than "
                + (f"the {n_images} images" if n_images < MAX_BATCH else f"{MAX_BATCH}")
                + f": using {fixed['batch_size']}"
            )
        seconds = _number(self.max_seconds, "max_seconds")
        if not 0 < seconds <= MAX_SECONDS:
            fixed["max_seconds"] = MAX_SECONDS
            notes.append(f"wall time capped at {MAX_SECONDS:g} s per run on this host")
        for name, low, high in (
            ("freeze_d", 0, 8),
            ("sample_every", 1, 10**6),
            ("d_warmup", 0, 10**6),
        ):
            value = _whole(getattr(self, name), name)
            if not low <= value <= high:
                raise UserInputError(f"{name} must be between {low} and {high}; got {value}")
        n_samples = min(max(_whole(self.n_samples, "n_samples"), 1), 64)
        kid_samples = min(max(_whole(self.kid_samples, "kid_samples"), 0), 10_000)
        values = {"steps": steps, "batch_size": batch, "n_samples": n_samples}
        values |= {"kid_samples": kid_samples, "seed": _whole(self.seed, "seed")}
        out = replace(self, **(values | fixed))
        return out, notes


def _number(value: object, name: str) -> float:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError) as e:
        raise UserInputError(f"{name} must be a number; got {value!r}") from e
    if not math.isfinite(number):
        raise UserInputError(f"{name} must be a finite number; got {value!r}")
    return number


def _whole(value: object, name: str) -> int:
    number = _number(value, name)
    if number != int(number):
        raise UserInputError(f"{name} must be a whole number; got {value!r}")
    return int(number)


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
        self.opt_g = torch.optim.Adam(
            [p for _, p in self.named_g], config.lr_g, (config.beta1_g, config.beta2_g)
        )
        self.opt_d = torch.optim.Adam(
            [p for _, p in self.named_d], config.lr_d, (config.beta1_d, config.beta2_d)
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


# --- Checkpoints ------------------------------------------------------------------------------


def adam_tensors(opt: torch.optim.Optimizer, named: list[tuple[str, nn.Parameter]], prefix: str):
    """Adam state as flat tensors keyed `prefix/param_name/field` (safetensors, no pickle)."""
    names = {id(p): n for n, p in named}
    return {
        f"{prefix}/{names[id(p)]}/{key}": value
        for p, state in opt.state.items()
        for key, value in state.items()
        if torch.is_tensor(value)
    }


def load_adam(opt, named: list[tuple[str, nn.Parameter]], tensors: dict, prefix: str) -> int:
    """Restore Adam state by parameter name; returns how many parameters got state."""
    restored = 0
    for name, p in named:
        keys = {k: f"{prefix}/{name}/{k}" for k in ("step", "exp_avg", "exp_avg_sq")}
        if all(key in tensors for key in keys.values()):
            state = {k: tensors[key] for k, key in keys.items()}
            if state["exp_avg"].shape != p.shape:
                continue
            opt.state[p] = {
                "step": state["step"].float().cpu(),
                "exp_avg": state["exp_avg"].to(p.device, p.dtype),
                "exp_avg_sq": state["exp_avg_sq"].to(p.device, p.dtype),
            }
            restored += 1
    return restored


def model_card(state: dict, name: str) -> str:
    """README.md for a fine-tuned model: base model, data, steps, KID, hyper-parameters."""
    base = state["base_model"]
    kid = state.get("kid") or {}
    base_meta = f"base_model: {base.split('@')[0]}\n" if "/" in base else ""
    cfg = state["config"]
    lines = [
        "---",
        "library_name: pytorch",
        "tags: [gan, dcgan, image-generation, gan-studio, fine-tuned]",
        base_meta.rstrip("\n"),
        "---",
        "",
        f"# {name}",
        "",
        f"A DCGAN generator fine-tuned with GAN Studio from **{base}**.",
        "",
        f"- Base model: `{base}`",
        f"- Training images: {state['images']}",
        f"- Steps: {state['steps_done']} (this run: {state['run_steps']})",
        f"- Batch size: {cfg['batch_size']}; learning rates G {cfg['lr_g']:g}, D {cfg['lr_d']:g}; "
        f"Adam betas G ({cfg['beta1_g']}, {cfg['beta2_g']}), D ({cfg['beta1_d']}, "
        f"{cfg['beta2_d']})",
        f"- Balance rule threshold {cfg['d_loss_threshold']:g}; "
        f"DiffAugment `{cfg['diffaugment']}`; Freeze-D {state['frozen_d']} block(s); "
        f"EMA decay {cfg['ema_decay']}; D warm-up {state.get('d_warmup', 0)} step(s)",
        f"- Discriminator: {state['discriminator_origin']}",
    ]
    if kid.get("before") is not None:
        lines.append(f"- KID ×10⁻³ (EfficientNet-Lite0 features) before: {kid['before'] * 1e3:.2f}")
    if kid.get("after") is not None:
        lines.append(f"- KID ×10⁻³ after: {kid['after'] * 1e3:.2f}")
    lines += [
        "",
        "`model.safetensors` holds the EMA generator (used for generation); "
        f"`{GENERATOR_TRAIN_NAME}`, `{DISCRIMINATOR_NAME}`, `{OPTIMIZER_NAME}` and "
        f"`{STATE_NAME}` let GAN Studio resume training.",
        "",
    ]
    return "\n".join(line for line in lines if line is not None)


def save_run(target: Path, trainer: GANTrainer, state: dict) -> Path:
    """Write the whole run atomically: config, EMA G, raw G, D, optimisers, state, card."""
    G, D = unwrap(trainer.G), unwrap(trainer.D)
    config = {**G.config.to_dict(), "base_model": state["base_model"]}
    tensors = {**adam_tensors(trainer.opt_g, trainer.named_g, "G")}
    tensors |= adam_tensors(trainer.opt_d, trainer.named_d, "D")

    def write(folder: Path) -> None:
        (folder / store.CONFIG_NAME).write_text(json.dumps(config, indent=2) + "\n")
        save_file(_cpu(trainer.G_ema.state_dict()), str(folder / store.WEIGHTS_NAME))
        save_file(_cpu(G.state_dict()), str(folder / GENERATOR_TRAIN_NAME))
        save_file(
            _cpu(D.state_dict()),
            str(folder / DISCRIMINATOR_NAME),
            metadata={"config": json.dumps(D.config.to_dict())},
        )
        save_file(_cpu(tensors), str(folder / OPTIMIZER_NAME))
        (folder / STATE_NAME).write_text(json.dumps(state, indent=1) + "\n")
        (folder / store.CARD_NAME).write_text(model_card(state, target.name))

    return store.atomic_write_dir(target, write)


def _cpu(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: v.detach().to("cpu").contiguous() for k, v in tensors.items()}


def _discriminator_file(name: str, folder: Path) -> Path | None:
    """The checkpoint's discriminator file, if it has one (local folder or Hub repo)."""
    local = folder / DISCRIMINATOR_NAME
    if local.is_file():
        return local
    if "/" in name:
        try:
            return store.hub_file(store.HubRef.parse(name), DISCRIMINATOR_NAME)
        except store.ModelNotFoundError:
            return None
    return None


def load_discriminator(path: Path | None, image_size: int) -> tuple[Discriminator, bool]:
    """D from `path` (shapes give ndf and nc), or a fresh DCGAN-initialised one; (D, pretrained)."""
    if path is None:
        D = Discriminator(DiscriminatorConfig(image_size=image_size))
        D.apply(init_weights)
        return D, False
    tensors = store.read_safetensors(path)
    first = tensors.get("main.0.weight")
    if first is None:
        raise store.ModelLoadError(f"{path.name} is not a DCGAN discriminator")
    D = Discriminator(
        DiscriminatorConfig(ndf=first.shape[0], nc=first.shape[1], image_size=image_size)
    )
    try:
        D.load_state_dict(tensors)
    except RuntimeError as e:
        raise store.ModelLoadError(f"{path.name} does not match the generator ({e})") from e
    return D, True


# --- The run ----------------------------------------------------------------------------------


@dataclass
class Event:
    """What a run reports: `kind` is status, step, samples, kid or done."""

    kind: str
    step: int = 0
    total: int = 0
    message: str = ""
    losses: StepLosses | None = None
    history: list[dict] = field(default_factory=list)
    samples: np.ndarray | None = None
    kid: dict[str, float] = field(default_factory=dict)
    checkpoint: Path | None = None
    images_per_s: float = 0.0


@dataclass
class FinetuneJob:
    """One run: data, where to start, where to save."""

    images: torch.Tensor  # uint8 (N, 3, S, S), already at the model's resolution
    name: str
    base: str = "dcgan-digiface"
    config: FinetuneConfig = field(default_factory=FinetuneConfig)
    resume: bool = False
    skipped: list[str] = field(default_factory=list)


_device_locks: dict[str, threading.Lock] = {}
_locks_guard = threading.Lock()


@contextmanager
def device_slot(device: torch.device, on_wait=None):
    """One training run per device in this process; `on_wait()` is called if another holds it."""
    with _locks_guard:
        lock = _device_locks.setdefault(str(device), threading.Lock())
    if not lock.acquire(blocking=False):
        if on_wait:
            on_wait()
        lock.acquire()
    try:
        yield
    finally:
        lock.release()


def start_state(job: FinetuneJob, device: torch.device) -> tuple[GANTrainer, dict, list[str]]:
    """Build the trainer from the base model (new run) or from `checkpoints/<name>/` (resume)."""
    notes: list[str] = []
    config = job.config
    if job.resume:
        folder = store.local_model_dir(job.name)
        if folder is None or not (folder / STATE_NAME).is_file():
            raise UserInputError(f"nothing to resume: {job.name!r} is not a fine-tuned model here")
        previous = json.loads((folder / STATE_NAME).read_text())
        G = generator_from_folder(folder, job.name, GENERATOR_TRAIN_NAME)
        G_ema = generator_from_folder(folder, job.name)
        D, _ = load_discriminator(folder / DISCRIMINATOR_NAME, G.config.image_size)
        trainer = GANTrainer(
            G,
            D,
            config,
            device,
            freeze_d=previous["frozen_d"],
            d_warmup=previous.get("d_warmup", 0),
            G_ema=G_ema,
        )
        optim = store.read_safetensors(folder / OPTIMIZER_NAME)
        load_adam(trainer.opt_g, trainer.named_g, optim, "G")
        load_adam(trainer.opt_d, trainer.named_d, optim, "D")
        trainer.step = previous["steps_done"]
        state = {
            **previous,
            "history": previous.get("history", []),
            "kid": {"before": previous.get("kid", {}).get("after")},
        }
        notes.append(f"resuming {job.name} at step {trainer.step}")
        return trainer, state, notes
    folder = store.resolve(job.base)
    G = generator_from_folder(folder, job.base)
    D, pretrained = load_discriminator(_discriminator_file(job.base, folder), G.config.image_size)
    freeze = config.freeze_d if pretrained else 0
    if config.freeze_d and not pretrained:
        notes.append(f"{job.base} has no discriminator: a fresh one is trained (no Freeze-D)")
    warmup = 0 if pretrained else config.d_warmup
    trainer = GANTrainer(G, D, config, device, freeze_d=freeze, d_warmup=warmup)
    state = {
        "d_warmup": warmup,
        "base_model": job.base,
        "steps_done": 0,
        "frozen_d": trainer.frozen_d,
        "discriminator_origin": f"from {job.base}" if pretrained else "fresh (DCGAN init)",
        "history": [],
        "kid": {},
    }
    return trainer, state, notes


def _check_target(job: FinetuneJob) -> Path:
    store.validate_name(job.name)
    if job.name == job.base and not job.resume:
        raise UserInputError("choose a new name for the fine-tuned model (not the base model's)")
    target = store.checkpoints_dir() / job.name
    if not job.resume and store.local_model_dir(job.name) is not None:
        if not (target / STATE_NAME).is_file():
            raise UserInputError(f"{job.name!r} is an existing model that was not fine-tuned here")
        # Never overwrite a fine-tune either: on a shared host it may be someone else's.
        raise UserInputError(
            f"a model named {job.name!r} already exists: choose another name "
            "(or tick Resume to continue that run)"
        )
    return target


def _downsample(history: list[dict], max_points: int = 400) -> list[dict]:
    if len(history) <= max_points:
        return history
    stride = math.ceil(len(history) / max_points)
    return history[::stride] + ([history[-1]] if (len(history) - 1) % stride else [])


def run_finetune(
    job: FinetuneJob,
    device: torch.device,
    stop: threading.Event | None = None,
    feature_net: FeatureNet | None = None,
    report_every_s: float = 0.5,
) -> Iterator[Event]:
    """Run one fine-tuning job, yielding events; saves `checkpoints/<name>/` at the end.

    A set `stop` event, the run's wall-time cap or closing the generator ends the run early and
    still saves what was learned. With torch.distributed initialised, every process must call
    this; only rank 0 yields events, computes KID and saves.
    """
    target = _check_target(job)
    config, notes = job.config.checked(len(job.images))
    waiting: list[str] = []
    with device_slot(device, lambda: waiting.append("waiting")):
        if waiting:
            log.info("a fine-tuning run is already using %s; waited for it", device)
        yield from _run(
            replace(job, config=config), target, device, notes, stop, feature_net, report_every_s
        )


def _run(
    job: FinetuneJob,
    target: Path,
    device: torch.device,
    notes: list[str],
    stop: threading.Event | None,
    feature_net: FeatureNet | None,
    report_every_s: float,
) -> Iterator[Event]:
    rank, world_size = world()
    config = job.config
    torch.manual_seed(config.seed + rank)
    trainer, state, more = start_state(job, device)
    notes += more
    image_size = trainer.G_ema.config.image_size
    if job.images.shape[-1] != image_size or job.images.dtype != torch.uint8:
        raise UserInputError(f"training images must be uint8 at {image_size}x{image_size}")
    for note in notes:
        log.info("%s", note)
        if rank == 0:
            yield Event("status", trainer.step, config.steps, message=note)
    scorer = None
    if rank == 0 and config.kid_samples and feature_net is not None:
        n_real = min(2000, max(500, 2 * config.kid_samples))  # bounds feature time on a CPU
        scorer = KIDScorer(
            feature_net, job.images, device, config.kid_samples, n_real, seed=config.seed
        )
        if state["kid"].get("before") is None:
            state["kid"]["before"] = scorer(trainer.G_ema, trainer.nz).mean
        yield Event("kid", trainer.step, config.steps, kid=dict(state["kid"]))
    sampler = BatchSampler(job.images, device, config.hflip, config.seed + 1000 * rank)
    z_samples = latents.seeds_to_z(list(range(config.n_samples)), trainer.nz)
    history: list[dict] = state["history"]
    first_step = trainer.step
    started = last_report = time.monotonic()
    stopped = "finished"
    try:
        if rank == 0:
            yield Event("samples", trainer.step, config.steps, samples=trainer.samples(z_samples))
        for i in range(config.steps):
            reason = _stop_reason(stop, started, config.max_seconds)
            if reason:
                stopped = reason
                break
            losses = trainer.train_step(sampler(config.batch_size))
            history.append(
                {
                    "step": trainer.step,
                    "loss_d": losses.loss_d,
                    "loss_g": losses.loss_g,
                    "d_skipped": losses.d_skipped,
                }
            )
            if not all(math.isfinite(v) for v in (losses.loss_d, losses.loss_g)):
                raise UserInputError(
                    f"training diverged at step {trainer.step} (loss is not finite): lower the "
                    "learning rates"
                )
            if rank != 0:
                continue
            now = time.monotonic()
            if now - last_report >= report_every_s or i == config.steps - 1:
                last_report = now
                rate = (i + 1) * config.batch_size * world_size / max(now - started, 1e-9)
                yield Event(
                    "step",
                    i + 1,
                    config.steps,
                    losses=losses,
                    history=_downsample(history),
                    images_per_s=rate,
                )
            if (i + 1) % config.sample_every == 0:
                yield Event("samples", i + 1, config.steps, samples=trainer.samples(z_samples))
        seconds = time.monotonic() - started
        if rank == 0:
            yield Event(
                "status",
                trainer.step - first_step,
                config.steps,
                message=f"{stopped} after {trainer.step - first_step} steps ({seconds:.0f} s)",
            )
            if scorer is not None:
                state["kid"]["after"] = scorer(trainer.G_ema, trainer.nz).mean
    except GeneratorExit:  # the request was cancelled: save what was learned, then close
        _finish(trainer, state, job, target, first_step, started, "cancelled", rank, None)
        raise
    checkpoint = _finish(trainer, state, job, target, first_step, started, stopped, rank, seconds)
    if rank == 0:
        yield Event(
            "done",
            trainer.step - first_step,
            config.steps,
            history=_downsample(history),
            samples=trainer.samples(z_samples),
            kid=dict(state["kid"]),
            checkpoint=checkpoint,
            message=stopped,
        )


def _stop_reason(stop: threading.Event | None, started: float, max_seconds: float) -> str | None:
    """Why to stop now (agreed across processes), or None."""
    reason = 0
    if stop is not None and stop.is_set():
        reason = 1
    elif time.monotonic() - started > max_seconds:
        reason = 2
    if world()[1] > 1:
        flag = torch.tensor([reason], device="cuda" if dist.get_backend() == "nccl" else "cpu")
        dist.broadcast(flag, 0)
        reason = int(flag.item())
    return {0: None, 1: "stopped", 2: f"time cap of {max_seconds:g} s reached"}[reason]


def _finish(trainer, state, job, target, first_step, started, stopped, rank, seconds):
    """Save on rank 0 (others wait at a barrier); returns the checkpoint folder or None."""
    checkpoint = None
    if rank == 0:
        state.update(
            steps_done=trainer.step,
            run_steps=trainer.step - first_step,
            images=len(job.images),
            skipped_files=len(job.skipped),
            config=asdict(job.config),
            seconds=round(seconds if seconds is not None else time.monotonic() - started, 1),
            ended=stopped,
            history=_downsample(state["history"], 2000),
        )
        checkpoint = save_run(target, trainer, state)
        log.info("saved %s (%d steps, %s)", checkpoint, trainer.step, stopped)
    if world()[1] > 1:
        dist.barrier()
    return checkpoint


def kid_summary(kid: dict[str, float]) -> str:
    parts = [f"{k} {v * 1e3:.2f}" for k, v in kid.items() if v is not None]
    return "KID ×10⁻³: " + ", ".join(parts) if parts else ""
