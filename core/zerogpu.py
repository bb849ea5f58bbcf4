"""ZeroGPU: run GPU functions under `spaces.GPU(duration=...)` on a ZeroGPU Space, unchanged
everywhere else, and split long fine-tunes into a chain of chunks that each fit one call.

The `spaces` package detects ZeroGPU from `SPACES_ZERO_GPU=true` (its `config.Settings`); off
ZeroGPU its own `spaces.GPU` returns the function unchanged too, but this module does not even
import `spaces` then, so it works where `spaces` is not installed.
"""

from __future__ import annotations

import functools
import logging
import math
import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

log = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])

PER_CALL_LIMIT_S = 300  # ZeroGPU's per-call limit (about 5 min)
SAFETY_MARGIN_S = 20  # for start-up, loading weights and saving the chunk's state
MIN_DURATION_S = 10


def on_zerogpu(env: Mapping[str, str] = os.environ) -> bool:
    """The same rule as `spaces.config.Settings.zero_gpu`."""
    return env.get("SPACES_ZERO_GPU", "").lower() in ("1", "t", "true")


def import_spaces_early(env: Mapping[str, str] = os.environ) -> bool:
    """On ZeroGPU, import `spaces` now: it patches torch at import and refuses to load once CUDA
    is initialised, so app.py calls this first, before anything imports torch. Returns whether
    it imported it (False off ZeroGPU, where nothing happens)."""
    if not on_zerogpu(env):
        return False
    import spaces  # noqa: F401

    return True


def cap_duration(seconds: float, limit_s: float = PER_CALL_LIMIT_S) -> int:
    """A duration for `spaces.GPU`: at least MIN_DURATION_S, at most the per-call limit less
    the margin."""
    top = max(MIN_DURATION_S, int(limit_s - SAFETY_MARGIN_S))
    return int(min(max(math.ceil(seconds), MIN_DURATION_S), top))


def gpu(duration_fn: Callable[..., float], env: Mapping[str, str] = os.environ) -> Callable[[F], F]:
    """Decorator for a function (or generator function) that uses the GPU.

    `duration_fn` takes the same arguments as the function and estimates its seconds from the
    job's settings; the estimate is capped by `cap_duration`. On ZeroGPU this is
    `spaces.GPU(duration=...)`; elsewhere the function itself is returned, unchanged."""

    def decorate(fn: F) -> F:
        if not on_zerogpu(env):
            return fn
        import spaces  # only on ZeroGPU, where requirements.txt installs it

        @functools.wraps(duration_fn)
        def duration(*args: Any, **kwargs: Any) -> int:
            return cap_duration(duration_fn(*args, **kwargs))

        return spaces.GPU(fn, duration=duration)

    return decorate


# --- Chunked long jobs ---------------------------------------------------------------------


@dataclass(frozen=True)
class Chunk:
    """Steps `[start, stop)` of a run, the `index`-th of `count` chunks."""

    index: int
    count: int
    start: int
    stop: int

    @property
    def steps(self) -> int:
        return self.stop - self.start


def chunk_steps(seconds_per_step: float, limit_s: float = PER_CALL_LIMIT_S) -> int:
    """How many training steps fit in one GPU call (at least 1)."""
    budget = max(1.0, limit_s - SAFETY_MARGIN_S)
    return max(1, int(budget / max(seconds_per_step, 1e-6)))


def plan_chunks(total_steps: int, steps_per_chunk: int, done: int = 0) -> list[Chunk]:
    """The chunks that remain of a run of `total_steps` after `done` steps."""
    if total_steps < 0 or steps_per_chunk < 1 or not 0 <= done <= total_steps:
        raise ValueError("need 0 <= done <= total_steps and steps_per_chunk >= 1")
    starts = list(range(done, total_steps, steps_per_chunk))
    return [
        Chunk(i, len(starts), s, min(s + steps_per_chunk, total_steps))
        for i, s in enumerate(starts)
    ]


def run_chunked(
    total_steps: int,
    steps_per_chunk: int,
    run_chunk: Callable[[Chunk], Iterator[Any]],
    done: int = 0,
    should_stop: Callable[[], bool] = lambda: False,
) -> Iterator[Any]:
    """Run a long job as a chain of chunks, yielding what each chunk yields.

    `run_chunk(chunk)` is the GPU call (decorated with `gpu`): it resumes from the saved state
    at `chunk.start`, trains `chunk.steps` steps, saves the state and yields progress. Exact
    resume inside the trainer makes the chain equal to one uninterrupted run. `should_stop` is
    checked between chunks (a Stop press)."""
    for chunk in plan_chunks(total_steps, steps_per_chunk, done):
        if should_stop():
            log.info("stopped before chunk %d of %d", chunk.index + 1, chunk.count)
            return
        yield from run_chunk(chunk)
