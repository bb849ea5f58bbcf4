"""Train a small DCGAN from random weights, one visible two-phase step at a time.

Each step of `LabRun.step()` is the lesson's loop (Goodfellow et al. 2014; Radford et al. 2016):

1. D step: a batch of real images (label 1) and of generated ones (label 0); D(x) and D(G(z))
   are recorded as D's mean probabilities. The balance rule skips the update while D's loss is
   below `d_loss_threshold` (0 turns it off); the step stays in the history, marked
   `d_skipped`.
2. G step: new generated images through D (its weights not updated) with the "real" target,
   the non-saturating loss -log D(G(z)); D(G(z)) after the D step is recorded too.

As in the Fine-tune tab's DCGAN trainer (gan/finetune/trainer.py), D outputs logits, and both
steps run D on the real and the fake batch together so that batch norm sees the same mix in
both. No DiffAugment, EMA or warm-up here: the lab shows the plain algorithm, failures included.

`train()` yields a `LabProgress` after every step (losses, D(x), D(G(z)), the skip flag) and,
every `preview_every` steps, a grid of the fixed-seed samples and the mode-collapse reading.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, replace

import numpy as np
import torch
import torch.nn.functional as F

from core.errors import UserInputError
from core.events import Progress
from core.quotas import Deadline
from gan.finetune.data import prepare
from gan.lab.collapse import CollapseMeter, CollapseReading
from gan.lab.toy import toy_dataset
from gan.models.dcgan import (
    Discriminator,
    DiscriminatorConfig,
    Generator,
    GeneratorConfig,
    init_weights,
)

log = logging.getLogger(__name__)

MAX_STEPS = 20_000
MAX_LR = 0.05
MAX_TIMELAPSE_FRAMES = 60  # past this, every other frame goes (the timelapse stays bounded)


@dataclass
class LabConfig:
    """One from-scratch run; `seed` fixes the weights, the batches and the sample latents."""

    steps: int = 300
    image_size: int = 32
    nz: int = 32  # size of z
    ngf: int = 32
    ndf: int = 32
    batch_size: int = 32
    lr_g: float = 2e-4
    lr_d: float = 2e-4
    beta1: float = 0.5  # Adam beta1 of the DCGAN paper (both networks)
    d_loss_threshold: float = 0.0  # balance rule: skip the D step while its loss is below
    n_samples: int = 16  # fixed-seed samples shown and measured for mode collapse
    preview_every: int = 25
    seed: int = 0
    toy_images: int = 512

    def checked(self) -> LabConfig:
        """Validate, raising `UserInputError` with a message for the person."""
        for name in ("lr_g", "lr_d"):
            value = _number(getattr(self, name), name)
            if not 0 < value <= MAX_LR:
                raise UserInputError(f"{name} must be a learning rate in (0, {MAX_LR}]")
        if not 0 <= _number(self.beta1, "beta1") < 1:
            raise UserInputError("beta1 must be in [0, 1)")
        if _number(self.d_loss_threshold, "d_loss_threshold") < 0:
            raise UserInputError("d_loss_threshold must be >= 0 (0 turns the balance rule off)")
        limits = {
            "steps": (1, MAX_STEPS),
            "nz": (1, 512),
            "ngf": (4, 256),
            "ndf": (4, 256),
            "batch_size": (2, 512),
            "n_samples": (2, 64),
            "preview_every": (1, MAX_STEPS),
            "toy_images": (2, 20_000),
            "seed": (0, 2**31 - 1),
        }
        values = {}
        for name, (low, high) in limits.items():
            value = _number(getattr(self, name), name)
            if value != int(value) or not low <= value <= high:
                raise UserInputError(f"{name} must be a whole number in [{low}, {high}]")
            values[name] = int(value)
        if self.image_size not in (16, 32, 64):
            raise UserInputError("image_size must be 16, 32 or 64")
        return replace(self, **values)


def _number(value: object, name: str) -> float:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError) as e:
        raise UserInputError(f"{name} must be a number; got {value!r}") from e
    if not math.isfinite(number):
        raise UserInputError(f"{name} must be a finite number; got {value!r}")
    return number


# Presets for a 2-core CPU. One thread, batch 32, ngf=ndf=32: 320 ms a step on a busy machine
# (load 6 on 2 cores), about a third of that when idle. On the toy set, coloured blobs on a
# plain background show at 300-600 steps; ngf=16 (twice as fast) still shows noise at 300.
PRESETS: dict[str, LabConfig] = {
    "quick (400 steps)": LabConfig(steps=400, preview_every=20),
    "shapes (1000 steps)": LabConfig(steps=1000, preview_every=50),
    "learning rate 10x": LabConfig(steps=600, lr_g=2e-3, lr_d=2e-3, preview_every=25),
    "balance rule": LabConfig(steps=600, d_loss_threshold=0.3, preview_every=25),
}


@dataclass
class StepRecord:
    """One training step: both phases, or the D phase skipped by the balance rule."""

    step: int
    loss_d: float
    loss_g: float
    d_real: float  # mean D(x) on the real batch, before the D update
    d_fake: float  # mean D(G(z)) on the fake batch, before the D update
    d_fake_after: float  # mean D(G(z)) in the G step (after the D update, if any)
    d_skipped: bool

    @property
    def diverged(self) -> bool:
        return not (math.isfinite(self.loss_d) and math.isfinite(self.loss_g))

    def losses(self) -> dict[str, float]:
        values = asdict(self)
        values.pop("step")
        values["d_skipped"] = float(self.d_skipped)
        return values


@dataclass
class LabProgress(Progress):
    """`core.events.Progress` (step, total, losses, preview: the uint8 grid of the fixed-seed
    samples, message) plus the step's `record` and, on preview steps, the `collapse` reading."""

    record: StepRecord | None = None
    collapse: CollapseReading | None = None


class LabRun:
    """G, D, their optimisers, the data and the fixed sample latents of one run."""

    def __init__(
        self, config: LabConfig, images: np.ndarray, device: torch.device | str = "cpu"
    ) -> None:
        self.config = config = config.checked()
        if images.ndim != 4 or images.shape[1:] != (config.image_size, config.image_size, 3):
            raise UserInputError(
                f"training images must be (N, {config.image_size}, {config.image_size}, 3)"
            )
        if len(images) < 2:
            raise UserInputError("train on at least two images")
        self.device = torch.device(device)
        with torch.random.fork_rng(devices=[]):  # seeded weights, global RNG left alone
            torch.manual_seed(config.seed)
            self.G = self._generator().to(self.device)
            self.D = self._discriminator().to(self.device)
        betas = (config.beta1, 0.999)
        self.opt_g = torch.optim.Adam(self.G.parameters(), config.lr_g, betas)
        self.opt_d = torch.optim.Adam(self.D.parameters(), config.lr_d, betas)
        self.data = torch.from_numpy(images).permute(0, 3, 1, 2).float().div(127.5).sub(1)
        self.data = self.data.to(self.device)
        self.gen = torch.Generator().manual_seed(config.seed + 1)  # batches and z
        self.z_fixed = torch.randn(config.n_samples, config.nz, generator=self.gen)
        self.history: list[StepRecord] = []
        self.frames: list[np.ndarray] = []  # the timelapse: sample grids, every preview step
        self.frame_every = 1  # keep every `frame_every`-th preview (doubles when thinned)
        self._previews = 0
        self.peak_diversity = 0.0  # highest sample diversity so far (for the collapse warning)

    def _generator(self) -> Generator:
        c = self.config
        G = Generator(GeneratorConfig(nz=c.nz, ngf=c.ngf, image_size=c.image_size))
        G.apply(init_weights)
        return G.train()

    def _discriminator(self) -> Discriminator:
        c = self.config
        D = Discriminator(DiscriminatorConfig(ndf=c.ndf, image_size=c.image_size))
        D.apply(init_weights)
        return D.train()

    def _batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        n = self.config.batch_size
        idx = torch.randint(len(self.data), (n,), generator=self.gen)
        z = torch.randn(n, self.config.nz, generator=self.gen)
        return self.data[idx.to(self.device)], z.to(self.device)

    def _logits(self, real: torch.Tensor, fake: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return self.D(torch.cat([real, fake])).split([len(real), len(fake)])

    def step(self) -> StepRecord:
        """Phase 1 (D, or its skip), then phase 2 (G); appended to `history`."""
        real, z = self._batch()
        fake = self.G(z)
        self.D.requires_grad_(True)
        logits_real, logits_fake = self._logits(real, fake.detach())
        loss_d = F.binary_cross_entropy_with_logits(
            logits_real, torch.ones_like(logits_real)
        ) + F.binary_cross_entropy_with_logits(logits_fake, torch.zeros_like(logits_fake))
        skipped = loss_d.item() < self.config.d_loss_threshold
        if not skipped:
            self.opt_d.zero_grad(set_to_none=True)
            loss_d.backward()
            self.opt_d.step()
        self.D.requires_grad_(False)  # phase 2 trains G only
        _, logits_after = self._logits(real, fake)
        loss_g = F.binary_cross_entropy_with_logits(logits_after, torch.ones_like(logits_after))
        self.opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        self.opt_g.step()
        record = StepRecord(
            step=len(self.history) + 1,
            loss_d=loss_d.item(),
            loss_g=loss_g.item(),
            d_real=torch.sigmoid(logits_real).mean().item(),
            d_fake=torch.sigmoid(logits_fake).mean().item(),
            d_fake_after=torch.sigmoid(logits_after.detach()).mean().item(),
            d_skipped=skipped,
        )
        self.history.append(record)
        return record

    @torch.no_grad()
    def samples(self) -> np.ndarray:
        """G on the fixed latents, uint8 (n_samples, H, W, 3).

        G stays in training mode (batch norm on the sample batch's statistics), as in the DCGAN
        tutorial: that is the G that D judges, and early in a run the running statistics lag
        far behind it."""
        x = self.G(self.z_fixed.to(self.device)).float().cpu()
        return ((x.clamp(-1, 1) + 1) * 127.5).round().byte().permute(0, 2, 3, 1).numpy()

    def keep_frame(self, samples: np.ndarray) -> None:
        """A timelapse frame of a preview's samples; at `MAX_TIMELAPSE_FRAMES` every other
        frame is dropped and frames are kept half as often from then on."""
        self._previews += 1
        if (self._previews - 1) % self.frame_every:
            return
        self.frames.append(sample_grid(samples, scale=1))
        if len(self.frames) >= MAX_TIMELAPSE_FRAMES:
            self.frames = self.frames[::2]
            self.frame_every *= 2


def images_from_uploads(
    sources, image_size: int = 32, min_images: int = 8, deadline: Deadline | None = None
) -> tuple[np.ndarray, str | None]:
    """Uploaded files or .zip archives -> (uint8 (N, S, S, 3), centre-cropped and resized;
    the note that lists the skipped files by name, or None), with the Fine-tune tab's checks
    and limits (unusable files are skipped and listed, too few is an error), within the job's
    `deadline`."""
    dataset = prepare(sources, image_size, min_images=min_images, deadline=deadline)
    return dataset.images.permute(0, 2, 3, 1).contiguous().numpy(), dataset.warning()


def sample_grid(samples: np.ndarray, columns: int = 4, scale: int = 2) -> np.ndarray:
    """Tile (N, H, W, 3) images into one uint8 grid, each image enlarged `scale` times."""
    n, h, w, c = samples.shape
    rows = -(-n // columns)
    grid = np.zeros((rows * h, columns * w, c), np.uint8)
    for i, image in enumerate(samples):
        r, k = divmod(i, columns)
        grid[r * h : (r + 1) * h, k * w : (k + 1) * w] = image
    return grid.repeat(scale, 0).repeat(scale, 1)


def progress(run: LabRun, meter: CollapseMeter | None, record: StepRecord) -> LabProgress:
    """The event for `record`; with samples and the collapse reading on preview steps."""
    c = run.config
    event = LabProgress(record.step, c.steps, record.losses(), record=record)
    event.message = (
        f"step {record.step}/{c.steps}: "
        + (
            f"D skipped (loss {record.loss_d:.3f} < {c.d_loss_threshold:g}), "
            if record.d_skipped
            else f"D loss {record.loss_d:.3f}, "
        )
        + f"G loss {record.loss_g:.3f}; D(x) {record.d_real:.2f}, D(G(z)) {record.d_fake:.2f}"
    )
    if record.step % c.preview_every == 0 or record.step == c.steps:
        samples = run.samples()
        event.preview = sample_grid(samples)
        run.keep_frame(samples)
        if meter is not None:
            event.collapse = reading = meter(samples)
            event.losses |= {
                "diversity": reading.diversity,
                "near_duplicates": float(reading.near_duplicates),
            }
            event.message += _collapse_note(reading, run.peak_diversity, meter.threshold)
            run.peak_diversity = max(run.peak_diversity, reading.diversity)
    if record.diverged:
        event.message += ". The losses are no longer finite: the run diverged"
    return event


def _collapse_note(reading: CollapseReading, peak: float, threshold: float) -> str:
    """A fresh G maps every z to nearly the same blur, so low diversity is only called mode
    collapse once the samples have been diverse."""
    if not reading.collapsed:
        return ""
    numbers = (
        f"sample diversity {reading.diversity:.2f} of the real set's, "
        f"{reading.near_duplicates}/{reading.n_samples} near-duplicates"
    )
    if peak < threshold:
        return f". Samples still alike ({numbers}): G has not spread out yet"
    return f". Mode collapse warning: {numbers}"


def record_stop(event: LabProgress, should_stop: Callable[[], bool] | None) -> bool:
    """Whether a run ends after `event`: a stop request, or losses that are no longer finite."""
    return bool(event.record and event.record.diverged) or bool(should_stop and should_stop())


def start(
    config: LabConfig, images: np.ndarray | None = None, device: torch.device | str = "cpu"
) -> tuple[LabRun, CollapseMeter]:
    """A fresh run on `images` (default: the toy set) and its collapse meter."""
    config = config.checked()
    if images is None:
        images = toy_dataset(config.toy_images, config.image_size, config.seed)
    return LabRun(config, images, device), CollapseMeter(images)


def run_steps(
    run: LabRun,
    meter: CollapseMeter,
    should_stop: Callable[[], bool] | None = None,
    pause: Callable[[], None] | None = None,
) -> Iterator[LabProgress]:
    """The run's steps, a `LabProgress` each; `pause()` before each step (the app's priority
    gate)."""
    started = time.perf_counter()
    for _ in range(run.config.steps):
        if pause is not None:
            pause()
        event = progress(run, meter, run.step())
        yield event
        if record_stop(event, should_stop):
            break
    log.info("GAN lab: %d steps in %.1f s", len(run.history), time.perf_counter() - started)


def train(
    config: LabConfig,
    images: np.ndarray | None = None,
    device: torch.device | str = "cpu",
    should_stop: Callable[[], bool] | None = None,
    pause: Callable[[], None] | None = None,
) -> Iterator[LabProgress]:
    """Run from scratch on `images` (default: the toy set), yielding a `LabProgress` a step;
    `pause()` before each step (the app's priority gate)."""
    run, meter = start(config, images, device)
    yield from run_steps(run, meter, should_stop, pause)
