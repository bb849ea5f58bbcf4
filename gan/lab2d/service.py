"""The 2D lab service the UI calls: one run per session, kept in memory (the oldest dropped
beyond `max_runs`), trained in short time slices.

Why slices: a 2D step takes a few milliseconds, so the page's Play is a timer whose every
tick trains for at most `SLICE_S` and returns one frame. No tick holds a lane for longer,
nothing runs between ticks, and a visitor who pauses or leaves stops the timer (their page
is gone) so their run stops with it. Each slice first lets cheap requests go first (`pause`,
the app's priority gate) and trains on one torch thread: a tiny MLP gains nothing from more.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from core.device import set_torch_threads
from core.errors import UserInputError
from gan.lab2d.coverage import Coverage
from gan.lab2d.distributions import MAX_DRAWN, VIEW
from gan.lab2d.render import d_view, g_view
from gan.lab2d.settings import Lab2DSettings
from gan.lab2d.trainer import Counters, Trainer2D

SLICE_S = 0.2  # training time per Play tick, before its frame is drawn (2-4 frames/s)


@dataclass(frozen=True)
class Frame:
    """What the page shows of a run: D's view, G's view, the counters and the meter;
    `playing`: Play has steps left (`target` not reached)."""

    d_view: np.ndarray
    g_view: np.ndarray
    counters: Counters
    coverage: Coverage
    playing: bool


class Run2D:
    """A session's run: the trainer, the settings and drawing it was made from, its lock,
    and the step count Play trains up to."""

    def __init__(self, settings: Lab2DSettings, points: torch.Tensor | None) -> None:
        self.trainer = Trainer2D(settings, points)
        self.key = (settings, None if points is None else points.numpy().tobytes())
        self.lock = threading.Lock()
        self.target = 0

    def frame(self) -> Frame:
        t = self.trainer
        c = Counters(**vars(t.counters))
        return Frame(d_view(t), g_view(t), c, t.coverage(), c.g_steps < self.target)


class Lab2D:
    """The page's 2D runs, by session."""

    def __init__(self, pause: Callable[[], None] | None = None, max_runs: int = 64) -> None:
        self.pause = pause
        self.max_runs = max_runs
        self.runs: OrderedDict[str, Run2D] = OrderedDict()
        self._lock = threading.Lock()

    def run(
        self,
        session: str,
        settings: Lab2DSettings,
        points: Sequence[Sequence[float]] | None = None,
        fresh: bool = False,
    ) -> Run2D:
        """The session's run, a new one when asked (`fresh`), when there is none, or when
        the settings or drawing differ from its own."""
        drawn = _points(points) if settings.data == "drawn" else None
        key = (settings, None if drawn is None else drawn.numpy().tobytes())
        with self._lock:
            run = self.runs.get(session)
            if run is not None and run.key == key and not fresh:
                self.runs.move_to_end(session)
                return run
        run = Run2D(settings, drawn)
        with self._lock:
            self.runs[session] = run
            self.runs.move_to_end(session)
            while len(self.runs) > self.max_runs:
                self.runs.popitem(last=False)
        return run

    def preview(self, settings: Lab2DSettings) -> Frame:
        """A fresh run's first frame, kept by no session (the page's first picture)."""
        return Run2D(settings.checked(), None).frame()

    def show(self, session: str, settings: Lab2DSettings, points=None, fresh=False) -> Frame:
        """The session's run as it is (a new one after `fresh`: back to step 0)."""
        run = self.run(session, settings, points, fresh)
        with run.lock:
            return run.frame()

    def step_d(self, session: str, settings: Lab2DSettings, points=None) -> Frame:
        """One D step alone (G unchanged)."""
        return self._one(session, settings, points, lambda t: t.step_d())

    def step_g(self, session: str, settings: Lab2DSettings, points=None) -> Frame:
        """One G step alone (D unchanged)."""
        return self._one(session, settings, points, lambda t: t.step_g())

    def _one(self, session, settings, points, step: Callable[[Trainer2D], float]) -> Frame:
        run = self.run(session, settings, points)
        with run.lock:
            set_torch_threads(1)
            step(run.trainer)
            return run.frame()

    def play(self, session: str, settings: Lab2DSettings, points=None) -> Frame:
        """Play pressed: the run trains `settings.steps` more steps, over the next ticks."""
        run = self.run(session, settings, points)
        with run.lock:
            run.target = run.trainer.counters.g_steps + settings.steps
        return self.tick(session, settings, points)

    def pause_run(self, session: str) -> None:
        """Pause pressed: the run trains no further steps until Play."""
        run = self.runs.get(session)
        if run is not None:
            run.target = 0

    def tick(self, session: str, settings: Lab2DSettings, points=None) -> Frame:
        """One Play tick: train for at most `SLICE_S` (or up to the target), then draw."""
        run = self.run(session, settings, points)
        if self.pause is not None:
            self.pause()  # cheap requests first
        with run.lock:
            set_torch_threads(1)
            trainer, ends = run.trainer, time.monotonic() + SLICE_S
            while trainer.counters.g_steps < run.target and time.monotonic() < ends:
                trainer.step()
            return run.frame()


def _points(points: Sequence[Sequence[float]] | None) -> torch.Tensor:
    """The drawn points as (N, 2), within the view's window."""
    if points is None or len(points) == 0:
        raise UserInputError("click some points on the pad first, or choose another data set")
    p = torch.as_tensor(np.asarray(points, dtype=np.float32)[:MAX_DRAWN])
    if p.ndim != 2 or p.shape[1] != 2 or not torch.isfinite(p).all():
        raise UserInputError("drawn points must be (x, y) pairs")
    return p.clamp(-VIEW, VIEW)
