"""The GAN lab service the UI calls: owns the device and the runs (one per session, stoppable)."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path

import torch

from core import store
from core.errors import UserInputError
from core.quotas import Deadline
from core.runs import RunRegistry
from gan.lab import highres
from gan.lab.compare import side_by_side
from gan.lab.keep import TIMELAPSE_NAME, check_name, save_lab_model
from gan.lab.train import PRESETS, LabConfig, LabProgress, images_from_uploads, run_steps, start

DATA_SOURCES = ("toy", "upload")
MAX_LAB_STEPS = 3000  # the page's limit (a few minutes on a CPU)


class Lab:
    """From-scratch DCGAN runs on one device; `pause()` runs before every step (the app's
    priority gate: cheap requests first)."""

    def __init__(
        self,
        device: torch.device | str = "cpu",
        pause: Callable[[], None] | None = None,
        output_dir: Callable[[], Path] | None = None,
    ) -> None:
        self.device = torch.device(device)
        self.pause = pause
        self.runs = RunRegistry()
        # a fresh folder for one request's files (the app's: inside Gradio's cache)
        self.output_dir = output_dir or (lambda: Path(tempfile.mkdtemp(prefix="gan-lab-")))

    def config(self, preset: str | None = None, **overrides: float) -> LabConfig:
        """A checked config: the preset (default: the first) with the given settings."""
        if preset is not None and preset not in PRESETS:
            raise UserInputError(f"preset must be one of {list(PRESETS)}")
        base = PRESETS[preset or next(iter(PRESETS))]
        config = replace(base, **{k: v for k, v in overrides.items() if v is not None})
        if not 1 <= config.steps <= MAX_LAB_STEPS:
            raise UserInputError(f"steps must be between 1 and {MAX_LAB_STEPS} in the lab")
        return config.checked()

    def images(
        self,
        data: str,
        uploads: Sequence[str | Path] | None,
        size: int,
        deadline: Deadline | None = None,
    ):
        """(None for the toy set (made by the run), else the uploads as uint8 (N, S, S, 3);
        the note that lists the skipped uploads, or None), prepared within the job's
        `deadline`."""
        if data not in DATA_SOURCES:
            raise UserInputError(f"data must be one of {DATA_SOURCES}")
        if data == "toy":
            return None, None
        if not uploads:
            raise UserInputError("upload some images (or a .zip), or choose the toy set")
        return images_from_uploads(list(uploads), size, deadline=deadline)

    def train(
        self,
        config: LabConfig,
        images=None,
        session: str = "api",
        save_as: str | None = None,
        out_of_time: Callable[[], bool] | None = None,
    ) -> Iterator[LabProgress]:
        """One run from random weights; `stop(session)` (or `out_of_time()`) ends it after the
        current step. With `save_as`, the run (finished or stopped) is then saved as the
        caller's model of that name, and a last event (`done`, `output`: its timelapse GIF)
        says so."""
        name = check_name(save_as) if save_as else None
        run, meter = start(config, images, self.device)
        with self.runs.running(session) as stop:
            should_stop = stop.is_set
            if out_of_time is not None:
                should_stop = lambda: stop.is_set() or out_of_time()  # noqa: E731
            yield from run_steps(run, meter, should_stop, self.pause)
        if name is not None:
            folder = save_lab_model(run, store.own_models_dir() / name)
            shown = self.output_dir() / TIMELAPSE_NAME  # the page's copy, served by Gradio
            shutil.copyfile(folder / TIMELAPSE_NAME, shown)
            yield LabProgress(len(run.history), config.steps, done=True, output=shown)

    def highres_config(self, preset: str | None = None) -> highres.HighresConfig:
        """The high-resolution experiment's preset (default: the first), checked."""
        if preset is not None and preset not in highres.PRESETS:
            raise UserInputError(f"preset must be one of {list(highres.PRESETS)}")
        return highres.PRESETS[preset or next(iter(highres.PRESETS))].checked()

    def highres(
        self, config: highres.HighresConfig, session: str = "api"
    ) -> Iterator[highres.HighresProgress]:
        """The three high-resolution runs; `stop(session)` ends them after the current step."""
        with self.runs.running(session) as stop:
            yield from highres.experiment(config, None, self.device, stop.is_set, self.pause)

    def compare(
        self,
        config: LabConfig,
        setting: str,
        values: tuple[float, float],
        images=None,
        session: str = "api",
    ) -> Iterator[tuple[LabProgress, LabProgress]]:
        """Two runs that differ in `setting` only, stepped in turn."""
        with self.runs.running(session) as stop:
            yield from side_by_side(
                config, setting, values, images, self.device, stop.is_set, self.pause
            )

    def stop(self, session: str) -> bool:
        return self.runs.stop(session)
