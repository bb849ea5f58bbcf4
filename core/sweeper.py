"""Folders removed some time after they were made, by one background thread.

`Sweeper.remove_later(folders, delay_s)` files the folders under their due time; a single
daemon thread (started on first use) sleeps until the earliest is due and removes it. However
many requests schedule removals, the process has one extra thread, not one timer each.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import shutil
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path

log = logging.getLogger(__name__)
THREAD_NAME = "gan-studio-sweeper"


class Sweeper:
    """Removes scheduled folders when they are due (`clock`: monotonic seconds)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._due: list[tuple[float, int, Path]] = []  # a heap of (due time, order, folder)
        self._order = itertools.count()
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None

    def remove_later(self, folders: Iterable[Path], delay_s: float) -> None:
        """Remove each folder (with what is in it) `delay_s` seconds from now."""
        due = self._clock() + delay_s
        with self._wake:
            for folder in folders:
                heapq.heappush(self._due, (due, next(self._order), Path(folder)))
            self._start()
            self._wake.notify()

    def pending(self) -> int:
        """How many folders are waiting for their time."""
        with self._wake:
            return len(self._due)

    def _start(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._run, name=THREAD_NAME, daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while True:
            for folder in self._next_due():
                shutil.rmtree(folder, ignore_errors=True)
                log.debug("removed %s", folder)

    def _next_due(self) -> list[Path]:
        """Wait until at least one folder is due; the due ones."""
        with self._wake:
            while not self._due or self._due[0][0] > self._clock():
                timeout = self._due[0][0] - self._clock() if self._due else None
                self._wake.wait(timeout)
            due = []
            while self._due and self._due[0][0] <= self._clock():
                due.append(heapq.heappop(self._due)[2])
            return due
