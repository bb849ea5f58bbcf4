"""GAN fine-tuning: the one training loop behind the Fine-tune tab and `python -m gan.finetune`,
a generator of `core.events.Progress`.

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

import contextlib
import logging
import math
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist

from core import store
from core.errors import UserInputError
from core.events import Progress
from core.quotas import Deadline
from gan import latents
from gan.finetune import recipes, run_state
from gan.finetune.checkpoint import STATE_NAME
from gan.finetune.config import FinetuneJob
from gan.finetune.kid import FeatureNet, KIDScorer, OutOfTimeError
from gan.finetune.trainer import BatchSampler, StepLosses, world

log = logging.getLogger(__name__)

KID_SHARE = 0.25  # of the time left, what the KID before training may take (else: skipped)


def check_target(job: FinetuneJob) -> Path:
    store.validate_name(job.name)
    if job.name == job.base and not job.resume:
        raise UserInputError("choose a new name for the fine-tuned model (not the base model's)")
    target = store.own_models_dir() / job.name
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
    device_slot: Callable[[], AbstractContextManager] | None = None,
    pause: Callable[[], None] | None = None,
) -> Iterator[Progress]:
    """Run one fine-tuning job, yielding `Progress`; saves `checkpoints/<name>/` at the end.

    A set `stop` event, the run's wall-time cap (`job.deadline`: data preparation, KID before
    and after included; training stops early enough to leave the KID after its time) or
    closing the generator ends the run early and still saves what was learned. `feature_net`
    (e.g. EfficientNet-Lite0) turns KID on; `device_slot()` is entered (and may wait) before
    the run takes the device; `pause()` is called once per step (the app's priority gate: it
    may wait while cheap requests run). With torch.distributed initialised, every process must
    call this; only rank 0 yields events, computes KID and saves.
    """
    target = check_target(job)
    config, notes = job.config.checked(len(job.images))
    with (device_slot or contextlib.nullcontext)():
        run = _Run(replace(job, config=config), target, device, stop, report_every_s)
        run.pause = pause
        yield from run.events(notes, feature_net)


class _Run:
    """One run in progress: the trainer, its state dict (saved as training_state.json), clocks."""

    def __init__(
        self,
        job: FinetuneJob,
        target: Path,
        device: torch.device,
        stop: threading.Event | None,
        report_every_s: float,
    ) -> None:
        self.rank, self.world_size = world()
        self.job, self.target, self.device, self.stop = job, target, device, stop
        self.config, self.report_every_s = job.config, report_every_s
        torch.manual_seed(self.config.seed + self.rank)
        self.recipe, self.trainer, self.state, self.notes = recipes.start(job, device)
        self.sampler: BatchSampler | None = None  # StyleGAN2's trainer has its own
        if not hasattr(self.trainer, "resume_state"):
            self.sampler = BatchSampler(
                job.images, device, self.config.hflip, self.config.seed + 1000 * self.rank
            )
        self.resume_state: dict | None = None
        if job.resume:
            self._restore(run_state.load(target))
        self.first_step = self.trainer.step
        self.history: list[dict] = self.state["history"]
        self.z_samples = latents.seeds_to_z(list(range(self.config.n_samples)), self.trainer.nz)
        self.started = time.monotonic()
        self.deadline = job.deadline or Deadline(self.config.max_seconds)
        self.kid_seconds = 0.0  # what scoring G took before training: kept for the KID after
        self.pause: Callable[[], None] | None = None

    def _restore(self, saved: dict | None) -> None:
        """Exact resume: the RNG states and the sampler position where the last run stopped,
        this process's own under torchrun (a run saved before these existed resumes with
        fresh ones, as before)."""
        if saved is None or saved.get("steps_done") != self.state["steps_done"]:
            if self.sampler is None:
                raise UserInputError(f"{self.job.name!r} has no resume state: start a new run")
            self.notes.append("no exact resume state saved: the random streams start afresh")
            return
        saved, exact = run_state.for_rank(saved, self.rank)
        if self.sampler is None:
            self.trainer.restore(saved["trainer"])
        else:
            run_state.set_rng_state(saved["rng"])
            self.sampler.load_state_dict(saved["sampler"])
        if not exact:  # more processes than the saved run had: this one's streams are new
            run_state.reseed(self.config.seed, self.rank, self.trainer.step)
            self.notes.append(
                f"rank {self.rank}: the saved run had fewer processes, so its random streams "
                "start afresh (this resume is not exact)"
            )

    def _capture(self) -> None:
        """The RNG states and sampler position after the last step (saved with the model),
        with every other process's own under torchrun (`run_state.gather_ranks`)."""
        state: dict = {"steps_done": self.trainer.step}
        if self.sampler is None:  # StyleGAN2: RNGs, sampler, ADA, Adam, kimg
            state["trainer"] = self.trainer.resume_state()
        else:
            state |= {"rng": run_state.rng_state(), "sampler": self.sampler.state_dict()}
        self.resume_state = run_state.gather_ranks(state)

    def progress(self, step: int, **fields) -> Progress:
        return Progress(step, self.config.steps, **fields)

    def samples(self) -> np.ndarray:
        return self.trainer.samples(self.z_samples)

    def kid_metrics(self) -> dict[str, float | None]:
        kid = self.state["kid"]
        return {f"kid_{k}": v for k, v in kid.items()}

    def events(self, notes: list[str], feature_net: FeatureNet | None) -> Iterator[Progress]:
        image_size = getattr(self.trainer, "image_size", None)
        image_size = image_size or self.trainer.G_ema.config.image_size
        images = self.job.images
        if images.shape[-1] != image_size or images.dtype != torch.uint8:
            raise UserInputError(f"training images must be uint8 at {image_size}x{image_size}")
        for note in notes + self.notes:
            log.info("%s", note)
            if self.rank == 0:
                yield self.progress(self.trainer.step, message=note)
        try:
            scorer = self._kid_before(feature_net)
        except OutOfTimeError:
            scorer = None
            yield self.progress(self.trainer.step, message=self._kid_skipped("before"))
        if scorer is not None:
            yield self.progress(self.trainer.step, metrics=self.kid_metrics())
        yield from self._train_and_save(scorer)

    def _kid_before(self, feature_net: FeatureNet | None) -> KIDScorer | None:
        """The KID scorer (its real features) and the KID before training, within
        `KID_SHARE` of the time left (`OutOfTimeError` past it)."""
        config = self.config
        if self.rank != 0 or not config.kid_samples or feature_net is None:
            return None
        end = time.monotonic() + KID_SHARE * self.deadline.remaining()
        out_of_time = lambda: time.monotonic() > end  # noqa: E731
        n_real = min(2000, max(500, 2 * config.kid_samples))  # bounds feature time on a CPU
        scorer = KIDScorer(
            feature_net,
            self.job.images,
            self.device,
            config.kid_samples,
            n_real,
            config.seed,
            out_of_time,
        )
        started = time.monotonic()
        before = scorer(self.trainer.G_ema, self.trainer.nz, out_of_time).mean
        self.kid_seconds = time.monotonic() - started
        if self.state["kid"].get("before") is None:  # a resumed run keeps its first "before"
            self.state["kid"]["before"] = before
        return scorer

    def _kid_skipped(self, when: str) -> str:
        return (
            f"KID {when} training skipped: it did not fit in the run's "
            f"{self.deadline.seconds:g} s time cap"
        )

    def _kid_after(self, scorer: KIDScorer) -> Iterator[Progress]:
        """The KID after training, while the cap lasts (else a note)."""
        try:
            after = scorer(self.trainer.G_ema, self.trainer.nz, lambda: self.deadline.expired)
        except OutOfTimeError:
            yield self.progress(
                self.trainer.step - self.first_step, message=self._kid_skipped("after")
            )
            return
        self.state["kid"]["after"] = after.mean

    def _time_up(self) -> bool:
        """Whether training must stop: the cap, less the time the KID after will take."""
        return self.deadline.remaining() <= 1.25 * self.kid_seconds

    def _train_and_save(self, scorer: KIDScorer | None) -> Iterator[Progress]:
        self.started = time.monotonic()
        try:
            stopped = yield from self._train()
            self._capture()  # before KID, which must not shift what the next run draws
            seconds = time.monotonic() - self.started
            if self.rank == 0:
                run_steps = self.trainer.step - self.first_step
                message = f"{stopped} after {run_steps} steps ({seconds:.0f} s)"
                yield self.progress(run_steps, message=message)
                if scorer is not None:
                    yield from self._kid_after(scorer)
        except GeneratorExit:  # the request was cancelled: save what was learned, then close
            self._capture()
            self._finish("cancelled", None)
            raise
        checkpoint = self._finish(stopped, seconds)
        if self.rank == 0:
            yield self.progress(
                self.trainer.step - self.first_step,
                history=_downsample(self.history),
                preview=self.samples(),
                metrics=self.kid_metrics(),
                done=True,
                stopped=stopped != "finished",
                output=checkpoint,
                message=stopped,
            )

    def _train(self) -> Iterator[Progress]:
        """The steps; returns why they ended ("finished", "stopped" or the time cap)."""
        config, trainer, sampler = self.config, self.trainer, self.sampler
        last_report = self.started
        if self.rank == 0:
            yield self.progress(trainer.step, preview=self.samples())
        for i in range(config.steps):
            reason = _stop_reason(self.stop, self._time_up(), self.deadline.seconds)
            if reason:
                return reason
            if self.pause:
                self.pause()
            real = sampler(config.batch_size) if sampler else None
            losses = self.recipe.step(trainer, real)
            self._record(losses)
            if self.rank != 0:
                continue
            now = time.monotonic()
            if now - last_report >= self.report_every_s or i == config.steps - 1:
                last_report = now
                yield self._step_progress(i + 1, losses, now)
            if (i + 1) % config.sample_every == 0:
                yield self.progress(i + 1, preview=self.samples())
        return "finished"

    def _record(self, losses: StepLosses) -> None:
        self.history.append(
            {
                "step": self.trainer.step,
                "loss_d": losses.loss_d,
                "loss_g": losses.loss_g,
                "d_skipped": losses.d_skipped,
            }
            | losses.extra
        )
        if not all(math.isfinite(v) for v in (losses.loss_d, losses.loss_g)):
            raise UserInputError(
                f"training diverged at step {self.trainer.step} (loss is not finite): lower the "
                "learning rates"
            )

    def _step_progress(self, step: int, losses: StepLosses, now: float) -> Progress:
        batch = self.config.batch_size * self.world_size
        rate = step * batch / max(now - self.started, 1e-9)
        return self.progress(
            step,
            losses={"loss_d": losses.loss_d, "loss_g": losses.loss_g}
            | ({"r1": losses.extra["r1"]} if "r1" in losses.extra else {}),
            metrics={"images_per_s": rate, "d_skipped": float(losses.d_skipped)}
            | {k: v for k, v in losses.extra.items() if k != "r1"},
            history=_downsample(self.history),
        )

    def _finish(self, stopped: str, seconds: float | None) -> Path | None:
        """Save on rank 0 (others wait at a barrier); returns the checkpoint folder or None."""
        checkpoint = None
        trainer = self.trainer
        if self.rank == 0:
            self.state.update(
                steps_done=trainer.step,
                run_steps=trainer.step - self.first_step,
                images=len(self.job.images),
                skipped_files=len(self.job.skipped),
                config=asdict(self.config),
                seconds=round(
                    seconds if seconds is not None else time.monotonic() - self.started, 1
                ),
                ended=stopped,
                history=_downsample(self.history, 2000),
            )
            checkpoint = self.recipe.save(self.target, trainer, self.state, self.resume_state)
            log.info("saved %s (%d steps, %s)", checkpoint, trainer.step, stopped)
        if world()[1] > 1:
            dist.barrier()
        return checkpoint


def _stop_reason(stop: threading.Event | None, time_up: bool, max_seconds: float) -> str | None:
    """Why to stop now (agreed across processes), or None."""
    reason = 0
    if stop is not None and stop.is_set():
        reason = 1
    elif time_up:
        reason = 2
    if world()[1] > 1:
        flag = torch.tensor([reason], device="cuda" if dist.get_backend() == "nccl" else "cpu")
        dist.broadcast(flag, 0)
        reason = int(flag.item())
    return {0: None, 1: "stopped", 2: f"time cap of {max_seconds:g} s reached"}[reason]
