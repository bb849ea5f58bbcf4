"""Cheap work first, heavy work never starved: the priority gate between the app's lanes.

The app runs two kinds of model work on the same cores:

- cheap requests (`/generate`, `/interpolate`, ...): a few forward passes, done in well under a
  second, which a person waits for;
- heavy loops (style transfer, fine-tuning): hundreds of iterations, seconds to minutes.

Gradio's concurrency ids (`CHEAP_LANE`, `HEAVY_LANE`, `TRAIN_LANE` in `ui.common`) keep them in
separate queues, so a cheap request never queues behind a heavy job. The gate decides who gets
the cores when both run: cheap work runs inside `gate.cheap()`; a heavy loop calls
`gate.pause()` once per iteration, which waits while cheap work runs, but at most `max_wait_s`,
so a heavy job always makes at least one iteration per `max_wait_s` plus one iteration's time.

Torch's intra-op thread count is per OS thread (OpenMP), and Gradio runs handlers (and each step
of a generator handler) on whichever pool thread is free, so the gate sets it on the calling
thread every time, through an injected function (this module imports no torch): one thread for
cheap work (two one-thread requests use two cores better than one two-thread request on a busy
machine), `cheap_idle_threads` for a cheap call alone (no other cheap call, no heavy iteration
within `quiet_s`, and the machine's 1-minute load below its core count: on a machine busy with
other processes, two threads wait on each other, 2.5x slower than one as measured here), and
for a heavy iteration one thread while cheap work ran within `quiet_s`, else all cores.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass


@dataclass
class GateStats:
    """What the gate did: heavy iterations that waited, waits cut short by `max_wait_s`."""

    pauses: int = 0
    waits: int = 0
    forced: int = 0
    waited_s: float = 0.0


class PriorityGate:
    """Cheap requests run at once; heavy loops pause between iterations while cheap work runs
    (at most `max_wait_s` per iteration)."""

    def __init__(
        self,
        max_wait_s: float = 0.5,
        set_threads: Callable[[int], None] | None = None,
        cheap_threads: int = 1,
        cheap_idle_threads: int = 2,
        idle_threads: int | None = None,
        quiet_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        load: Callable[[], float] = lambda: os.getloadavg()[0],
    ) -> None:
        if max_wait_s < 0:
            raise ValueError("max_wait_s must be >= 0")
        self.max_wait_s = max_wait_s
        self.cheap_threads = cheap_threads
        self.idle_threads = idle_threads or os.cpu_count() or 1
        self.cheap_idle_threads = min(cheap_idle_threads, self.idle_threads)
        self.quiet_s = quiet_s
        self._set_threads = set_threads
        self._clock = clock
        self._load = load
        self._cond = threading.Condition()
        self._cheap = 0
        self._last_cheap = -float("inf")
        self._last_heavy = -float("inf")
        self.stats = GateStats()

    @property
    def cheap_running(self) -> int:
        """How many cheap calls are inside `cheap()` now."""
        with self._cond:
            return self._cheap

    @contextlib.contextmanager
    def cheap(self) -> Iterator[None]:
        """Run a cheap piece of work on this thread, with `cheap_idle_threads` torch threads
        when it runs alone, else `cheap_threads`."""
        with self._cond:
            self._cheap += 1
            alone = self._cheap == 1 and self._clock() - self._last_heavy >= self.quiet_s
            alone = alone and self._load() < self.idle_threads
        try:
            if self._set_threads:
                self._set_threads(self.cheap_idle_threads if alone else self.cheap_threads)
            yield
        finally:
            with self._cond:
                self._cheap -= 1
                self._last_cheap = self._clock()
                if self._cheap == 0:
                    self._cond.notify_all()

    def pause(self) -> None:
        """Once per heavy iteration: wait while cheap work runs (at most `max_wait_s`), then
        set this thread's torch threads for the next iteration."""
        with self._cond:
            self.stats.pauses += 1
            if self._cheap:
                self._wait_for_cheap()
            recent = self._cheap > 0 or self._clock() - self._last_cheap < self.quiet_s
            self._last_heavy = self._clock()
        if self._set_threads:
            self._set_threads(self.cheap_threads if recent else self.idle_threads)

    def _wait_for_cheap(self) -> None:
        """Called with the lock held and cheap work running."""
        started = self._clock()
        deadline = started + self.max_wait_s
        while self._cheap and (left := deadline - self._clock()) > 0:
            self._cond.wait(left)
        self.stats.waits += 1
        self.stats.forced += self._cheap > 0
        self.stats.waited_s += self._clock() - started


def no_pause() -> None:
    """The `pause` of a loop that runs alone (the CLI, tests): returns at once."""
