"""Long-running jobs in a shared server: per-session stop flags and host-memory housekeeping."""

from __future__ import annotations

import contextlib
import ctypes
import gc
import threading
import time
from collections.abc import Iterator


class RunRegistry:
    """Stop flags of the runs in progress, one per session key.

    A run holds its flag only while it runs (`with runs.running(key) as stop:`), so the table
    never grows with the number of visitors; the Stop button calls `stop(key)`, and a shutdown
    calls `stop_all()` and then `wait_idle()` so that runs can save what they learned.
    """

    def __init__(self) -> None:
        self._flags: dict[str, threading.Event] = {}
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)

    @contextlib.contextmanager
    def running(self, key: str) -> Iterator[threading.Event]:
        flag = threading.Event()
        with self._lock:
            self._flags[key] = flag  # a new run of the same session replaces the old flag
        try:
            yield flag
        finally:
            with self._lock:
                if self._flags.get(key) is flag:
                    del self._flags[key]
                self._idle.notify_all()

    def stop(self, key: str) -> bool:
        """Ask the run of `key` to stop; False when it has none."""
        with self._lock:
            flag = self._flags.get(key)
        if flag is not None:
            flag.set()
        return flag is not None

    def stop_all(self) -> int:
        with self._lock:
            flags = list(self._flags.values())
        for flag in flags:
            flag.set()
        return len(flags)

    def active(self) -> int:
        with self._lock:
            return len(self._flags)

    def wait_idle(self, timeout_s: float) -> bool:
        """Wait until no run is in progress; False on timeout."""
        deadline = time.monotonic() + timeout_s
        with self._lock:
            while self._flags:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._idle.wait(left)
        return True


def trim_host_memory() -> None:
    """Give freed heap back to the OS. glibc keeps it otherwise, so after a fine-tune or a burst
    of requests the process would hold its peak memory for good. No garbage collection here: a
    full pass stops every request for as long as it takes (446 ms after ~200 API calls)."""
    with contextlib.suppress(OSError, AttributeError):  # not glibc
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def trim_memory_forever(every_s: float = 30.0) -> None:
    """Body of a daemon thread: `trim_host_memory` every `every_s` seconds."""
    while True:
        time.sleep(every_s)
        trim_host_memory()


def freeze_startup_heap() -> int:
    """Collect once, then move everything alive after start-up (models, the page's blocks)
    out of the collector's sight (`gc.freeze`), so later passes scan only what requests
    make; the number of objects frozen."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()
