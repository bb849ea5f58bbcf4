"""The GAN lab service the UI calls: owns the device and the runs (one per session, stoppable)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path

import torch

from core.errors import UserInputError
from core.quotas import Deadline
from core.runs import RunRegistry
from gan.lab.compare import side_by_side
from gan.lab.train import PRESETS, LabConfig, LabProgress, images_from_uploads, train

DATA_SOURCES = ("toy", "upload")
MAX_LAB_STEPS = 3000  # the page's limit (a few minutes on a CPU)


class Lab:
    """From-scratch DCGAN runs on one device; `pause()` runs before every step (the app's
    priority gate: cheap requests first)."""

    def __init__(
        self, device: torch.device | str = "cpu", pause: Callable[[], None] | None = None
    ) -> None:
        self.device = torch.device(device)
        self.pause = pause
        self.runs = RunRegistry()

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

    def train(self, config: LabConfig, images=None, session: str = "api") -> Iterator[LabProgress]:
        """One run from random weights; `stop(session)` ends it after the current step."""
        with self.runs.running(session) as stop:
            yield from train(config, images, self.device, stop.is_set, self.pause)

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
