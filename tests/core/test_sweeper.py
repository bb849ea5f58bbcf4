"""core.sweeper: folders removed when due, by one thread however many are scheduled."""

from __future__ import annotations

import threading
import time

from core.sweeper import THREAD_NAME, Sweeper


def _sweepers() -> int:
    return sum(t.name == THREAD_NAME for t in threading.enumerate())


def _wait_until(condition, timeout_s: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.02)
    return condition()


def test_folders_go_when_due_and_not_before(tmp_path):
    sweeper = Sweeper()
    soon = [tmp_path / f"soon{i}" for i in range(200)]
    later = tmp_path / "later"
    for folder in [*soon, later]:
        folder.mkdir()
        (folder / "face.png").write_bytes(b"png")
    before = _sweepers()
    for folder in soon:  # one call per request, as the app makes them
        sweeper.remove_later([folder], 0.3)
    sweeper.remove_later([later], 60)
    assert _sweepers() == before + 1  # one sweeper thread, not one per call
    assert all(f.exists() for f in soon)  # not yet due
    assert _wait_until(lambda: not any(f.exists() for f in soon))
    assert later.exists() and sweeper.pending() == 1


def test_an_earlier_due_time_wakes_the_sweeper(tmp_path):
    sweeper = Sweeper()
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    sweeper.remove_later([first], 3600)  # the thread sleeps towards this one...
    sweeper.remove_later([second], 0.05)  # ...and wakes for this one
    assert _wait_until(lambda: not second.exists(), 5)
    assert first.exists()
