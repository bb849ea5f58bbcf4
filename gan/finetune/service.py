"""The fine-tuning service the UI calls: owns the device, its one-run-at-a-time slot, the
per-session stop flags and the KID feature network (passed in by the composition root)."""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, fields, replace
from pathlib import Path

import numpy as np
import torch

from core import publish, store
from core.events import Progress
from core.quotas import Deadline
from core.runs import RunRegistry
from gan import loading
from gan.finetune import data, recipes, sg2_run
from gan.finetune.config import FinetuneConfig, FinetuneJob, is_unset
from gan.finetune.kid import FeatureNet
from gan.finetune.loop import run_finetune

log = logging.getLogger(__name__)


def model_defaults(model: str, device: torch.device | str) -> FinetuneConfig:
    """The settings for fine-tuning `model` on `device`: its recipe's, for its resolution
    (the tab, the API and the CLI all start from these)."""
    recipe = recipes.recipe_for(loading.family(model).recipe)
    return recipe.defaults(loading.image_size(model), device)


def settings(defaults: FinetuneConfig, values: Mapping[str, object]) -> FinetuneConfig:
    """`defaults` with the `values` named like its fields, except those left unset (None,
    or 0 steps / batch size: see `config.is_unset`)."""
    names = {f.name for f in fields(FinetuneConfig)}
    given = {k: v for k, v in values.items() if k in names and not is_unset(k, v)}
    return replace(defaults, **given)  # type: ignore[arg-type]


@dataclass
class FinetuneRun:
    """A run about to start: its prepared data (shown at once), then `events(session)`."""

    tuner: FineTuner
    job: FinetuneJob
    dataset: data.Dataset

    def events(self, session: str = "api") -> Iterator[Progress]:
        """The training run's progress; `FineTuner.stop(session)` ends it (it still saves)."""
        net = self.tuner.feature_net() if self.job.config.kid_samples else None
        with self.tuner.runs.running(session) as stop:
            yield from run_finetune(
                self.job,
                self.tuner.device,
                stop,
                net,
                device_slot=self.tuner.device_slot,
                pause=self.tuner.pause,
            )


class FineTuner:
    """Fine-tunes generators on uploads; one training run on the device at a time."""

    def __init__(
        self,
        device: torch.device | str,
        feature_net: Callable[[], FeatureNet] | None = None,
        pause: Callable[[], None] | None = None,
    ) -> None:
        """`pause()` runs once per training step (the app's priority gate)."""
        self.device = torch.device(device)
        self.pause = pause
        self.defaults = FinetuneConfig.for_device(self.device)
        self.runs = RunRegistry()
        self._feature_net = feature_net
        self._slot = threading.Lock()

    def feature_net(self) -> FeatureNet | None:
        """KID's feature network, or None when this service has none (KID off)."""
        return self._feature_net() if self._feature_net else None

    @contextlib.contextmanager
    def device_slot(self, on_wait: Callable[[], None] | None = None) -> Iterator[None]:
        """One training run on this service's device; `on_wait()` if another holds it."""
        if not self._slot.acquire(blocking=False):
            log.info("a fine-tuning run is already using %s; waiting for it", self.device)
            if on_wait:
                on_wait()
            self._slot.acquire()
        try:
            yield
        finally:
            self._slot.release()

    def architecture(self, model: str) -> str:
        """The key of the recipe that fine-tunes `model` ("stylegan2", "dcgan"): its family's."""
        return loading.family(model).recipe

    def defaults_for(self, model: str) -> FinetuneConfig:
        """This device's defaults, with those of `model`'s architecture and resolution."""
        return model_defaults(model, self.device)

    def settings(self, model: str, values: Mapping[str, object]) -> FinetuneConfig:
        """The run's settings: `model`'s defaults, then the `values` that are set."""
        return settings(self.defaults_for(model), values)

    def plan(self, model: str) -> tuple[str, int, bool]:
        """How `model` will be fine-tuned: (architecture, resolution, whether it has a D)."""
        folder = store.resolve(model)
        size = loading.image_size(model)
        has_d = store.discriminator_file(model, folder) is not None
        return self.architecture(model), size, has_d

    def describe(self, model: str) -> str:
        """One line on how `model` will be fine-tuned (architecture, resolution, its D)."""
        architecture, size, has_d = self.plan(model)
        if architecture == "dcgan":
            return f"DCGAN, {size} px" + ("" if has_d else ": no saved D, a fresh one warms up")
        d = (
            "its discriminator is fine-tuned too (Freeze-D on its first blocks)"
            if has_d
            else "it was converted without a discriminator: a fresh D is trained, "
            "with a D-only warm-up first"
        )
        return f"StyleGAN2, {size} px: {d}"

    def augment_preview(
        self, dataset: data.Dataset, config: FinetuneConfig
    ) -> tuple[np.ndarray, str]:
        """A grid of real images as the StyleGAN2 D will see them, and its caption."""
        images, note = sg2_run.augment_preview(dataset.images, config)
        return data.preview_grid(torch.from_numpy(images).permute(0, 3, 1, 2)), note

    def prepare(
        self,
        images: Sequence[str | Path] | None,
        model: str,
        name: str = "",
        resume: bool = False,
        crops: int = 1,
        deadline: Deadline | None = None,
    ) -> data.Dataset:
        """The upload as training would see it (at the model's resolution), within the job's
        `deadline`; a model that cannot be fine-tuned is refused first."""
        sg2_run.check_trainable(store.resolve(name if resume else model))
        size = loading.image_size(name if resume else model)
        return data.prepare(images, size, crops=crops, deadline=deadline)

    def start(
        self,
        images: Sequence[str | Path] | None,
        model: str,
        name: str,
        config: FinetuneConfig,
        resume: bool = False,
    ) -> FinetuneRun:
        """Check the name, prepare the data; the returned run trains when iterated. The
        run's wall-time cap counts from here: preparation and KID are inside it."""
        deadline = Deadline(config.wall_seconds())
        name = (name or "").strip()
        store.validate_name(name)
        dataset = self.prepare(images, model, name, resume, config.crops_per_image, deadline)
        job = FinetuneJob(dataset.images, name, model, config, resume, dataset.skipped, deadline)
        return FinetuneRun(self, job, dataset)

    def stop(self, session: str) -> bool:
        """Ask the run of `session` to stop and save; False when it has none."""
        return self.runs.stop(session)

    def push(self, name: str, repo_id: str, token: str = "", private: bool = True) -> str:
        """Upload `checkpoints/<name>/` to the Hub; the token comes from the caller or
        `HF_TOKEN`. Returns the repo's URL."""
        return publish.push_to_hub((name or "").strip(), (repo_id or "").strip(), token, private)
