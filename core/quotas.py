"""Quotas for a public Space, read from environment variables, and the gate that holds them.

Every limit has a setting `GAN_STUDIO_<NAME>` (e.g. `GAN_STUDIO_MAX_MODELS_PER_VISITOR=3`).
Defaults are safe on a Space (or any visitor-facing deployment) and generous for the owner at
the keyboard. `JobGate` admits at most one heavy job (style, fine-tune, projection) per
identity at a time, and a bounded number of pending jobs per identity and per client address.
"""

from __future__ import annotations

import os
import threading
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, fields

from core.errors import UserInputError

ENV_PREFIX = "GAN_STUDIO_"
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


@dataclass(frozen=True)
class Quotas:
    """Limits for visitors (the owner at the keyboard gets `Quotas.for_owner()`)."""

    max_models_per_visitor: int = 3
    max_mb_per_visitor: float = 200.0
    anon_ttl_h: float = 24.0
    visitor_budget_mb: float = 2000.0
    anon_max_steps: int = 300
    anon_max_seconds: float = 300.0
    heavy_job_max_s: float = 280.0  # under ZeroGPU's ~5 min per call
    max_pending_per_visitor: int = 4  # a streaming fine-tune holds one for its whole run
    max_pending_per_address: int = 8
    queue_size: int = 64
    max_decoded_pixels_per_upload: int = 100_000_000
    judge_max_pixels: int = 25_000_000  # Judge's uploads together (D sees them small)
    max_total_frames: int = 240
    max_gif_bytes: int = 8_000_000
    max_video_pixels: int = 1_048_576  # one frame of a video (a grid's tiles together)
    allow_hub_ids: bool = False
    hub_max_mb: float = 200.0
    output_ttl_s: float = 900.0  # a visitor's generated files are removed after this
    upload_mb_per_visitor: float = 200.0  # within upload_ttl_s (core.uploads)
    upload_mb_total: float = 2000.0  # everyone together, within upload_ttl_s
    upload_ttl_s: float = 900.0  # uploads and outputs are deleted after this
    max_sessions: int = 300  # browser sessions whose page state the server keeps
    session_ttl_s: float = 1800.0  # a session idle this long is forgotten
    library_max_items: int = 50  # entries in a visitor's "My latents" (the oldest give way)
    library_max_mb: float = 20.0  # bytes of those entries, thumbnails included
    library_budget_mb: float = 1000.0  # all visitors' entries; the oldest anonymous go first
    lab2d_max_runs: int = 64  # 2D lab runs kept in memory (~0.2 MB each), the oldest dropped

    @classmethod
    def for_owner(cls) -> Quotas:
        """Generous limits for the person at the keyboard (today's behaviour)."""
        return cls(
            max_models_per_visitor=10_000,
            max_mb_per_visitor=1e9,
            anon_ttl_h=1e9,
            visitor_budget_mb=1e9,
            anon_max_steps=10**9,
            anon_max_seconds=1e9,
            heavy_job_max_s=3600.0,
            max_pending_per_visitor=256,
            max_pending_per_address=256,
            queue_size=256,
            max_decoded_pixels_per_upload=2_000_000_000,
            judge_max_pixels=2_000_000_000,
            max_total_frames=2000,
            max_gif_bytes=64_000_000,
            max_video_pixels=16_777_216,
            allow_hub_ids=True,
            hub_max_mb=4000.0,
            output_ttl_s=7200.0,
            upload_mb_per_visitor=1e9,
            upload_mb_total=1e9,
            upload_ttl_s=3600.0,
            max_sessions=10_000,
            session_ttl_s=1e9,
            library_max_items=10_000,
            library_max_mb=10_000.0,
            library_budget_mb=1e9,
            lab2d_max_runs=1024,
        )

    @classmethod
    def from_env(cls, visitors: bool, env: Mapping[str, str] = os.environ) -> Quotas:
        """Defaults for visitors (`visitors=True`: a Space, a public address or share) or the
        owner, each overridden by its `GAN_STUDIO_<NAME>` variable."""
        base = cls() if visitors else cls.for_owner()
        values = {}
        for f in fields(cls):
            name = ENV_PREFIX + f.name.upper()
            raw = env.get(name)
            values[f.name] = getattr(base, f.name) if raw is None else _parse(name, raw, f.type)
        return cls(**values)

    def check_finetune(self, anonymous: bool, steps: int, max_seconds: float) -> None:
        """Refuse an anonymous fine-tune over the step or wall-time quota (signed-in visitors
        and the owner are bound by `heavy_job_max_s` per chunk only)."""
        if anonymous and steps > self.anon_max_steps:
            raise UserInputError(
                "anonymous fine-tunes are limited to {steps} steps; "
                "sign in with Hugging Face for longer runs",
                "msg.error.anon_steps",
                steps=self.anon_max_steps,
            )
        if anonymous and max_seconds > self.anon_max_seconds:
            raise UserInputError(
                "anonymous fine-tunes are limited to {seconds} s; "
                "sign in with Hugging Face for longer runs",
                "msg.error.anon_seconds",
                seconds=f"{self.anon_max_seconds:.0f}",
            )

    def check_frames(self, total_frames: int) -> None:
        """Refuse an interpolation whose keyframes x frames exceed the total-frames quota."""
        if total_frames > self.max_total_frames:
            raise UserInputError(
                f"{total_frames} frames is over this server's limit of {self.max_total_frames}; "
                "use fewer keyframes or frames per step"
            )

    def check_video_pixels(self, pixels: int) -> None:
        """Refuse a video whose frames (a grid's tiles together) exceed the pixel quota."""
        if pixels > self.max_video_pixels:
            raise UserInputError(
                "a frame of that video has {pixels} pixels, over this server's limit of "
                "{max}; use fewer rows or columns",
                "msg.error.video_pixels",
                pixels=pixels,
                max=self.max_video_pixels,
            )

    def check_gif_bytes(self, size: int) -> None:
        if size > self.max_gif_bytes:
            raise UserInputError(
                f"the GIF would be {size / 1e6:.1f} MB, over the {self.max_gif_bytes / 1e6:.0f} "
                "MB limit; use fewer frames or a smaller size"
            )

    @classmethod
    def env_names(cls) -> list[str]:
        """The documented variable names, in field order (for the README)."""
        return [ENV_PREFIX + f.name.upper() for f in fields(cls)]


def _parse(name: str, raw: str, kind: object) -> int | float | bool:
    text = raw.strip().lower()
    try:
        if kind in (bool, "bool"):
            if text not in _TRUE | _FALSE:
                raise ValueError(raw)
            return text in _TRUE
        value = int(text) if kind in (int, "int") else float(text)
    except ValueError:
        raise ValueError(f"{name}={raw!r} is not a valid {kind}") from None
    if value < 0:
        raise ValueError(f"{name}={raw!r} must not be negative")
    return value


# --- The gate ------------------------------------------------------------------------------


@dataclass
class _Ticket:
    owner_id: str
    address: str
    since: float


class JobGate:
    """Counts pending jobs per identity and per client address, and running heavy jobs per
    identity. Thread-safe. A ticket older than `stale_s` no longer counts, so a release that
    never came (a crashed worker) cannot lock a visitor out forever."""

    def __init__(self, quotas: Quotas, stale_s: float | None = None, clock=time.monotonic) -> None:
        self.quotas = quotas
        self.stale_s = stale_s if stale_s is not None else 3 * quotas.heavy_job_max_s + 60
        self._clock = clock
        self._lock = threading.Lock()
        self._pending: dict[int, _Ticket] = {}
        self._heavy: dict[str, str] = {}  # owner_id -> kind of its running heavy job
        self._next = 0

    def _prune(self) -> None:
        cutoff = self._clock() - self.stale_s
        for key in [k for k, t in self._pending.items() if t.since < cutoff]:
            del self._pending[key]

    def admit(self, owner_id: str, address: str) -> int:
        """Count one more pending job (queued or running); returns its ticket for `release`."""
        with self._lock:
            self._prune()
            per_owner = Counter(t.owner_id for t in self._pending.values())
            per_address = Counter(t.address for t in self._pending.values())
            if per_owner[owner_id] >= self.quotas.max_pending_per_visitor:
                raise UserInputError(
                    "you already have {count} jobs waiting or running "
                    "(at most {limit}); wait for one to finish",
                    "msg.error.visitor_jobs",
                    count=per_owner[owner_id],
                    limit=self.quotas.max_pending_per_visitor,
                )
            if per_address[address] >= self.quotas.max_pending_per_address:
                raise UserInputError(
                    "{count} jobs from your network address are waiting or "
                    "running (at most {limit}); try again soon",
                    "msg.error.address_jobs",
                    count=per_address[address],
                    limit=self.quotas.max_pending_per_address,
                )
            self._next += 1
            self._pending[self._next] = _Ticket(owner_id, address, self._clock())
            return self._next

    def release(self, ticket: int) -> None:
        with self._lock:
            self._pending.pop(ticket, None)

    @contextmanager
    def pending(self, owner_id: str, address: str) -> Iterator[int]:
        """`admit` ... `release` around a block."""
        ticket = self.admit(owner_id, address)
        try:
            yield ticket
        finally:
            self.release(ticket)

    @contextmanager
    def heavy(self, owner_id: str, kind: str) -> Iterator[None]:
        """At most one heavy job (style, fine-tune, projection) per identity at a time."""
        with self._lock:
            running = self._heavy.get(owner_id)
            if running is not None:
                raise UserInputError(
                    "your {job} job is still running: one heavy job at a time; "
                    "stop it or wait for it to finish",
                    "msg.error.heavy_busy",
                    job=running,
                )
            self._heavy[owner_id] = kind
        try:
            yield
        finally:
            with self._lock:
                self._heavy.pop(owner_id, None)

    def pending_count(self, owner_id: str | None = None, address: str | None = None) -> int:
        with self._lock:
            self._prune()
            return sum(
                1
                for t in self._pending.values()
                if (owner_id is None or t.owner_id == owner_id)
                and (address is None or t.address == address)
            )


def queue_full_message(quotas: Quotas) -> str:
    """The clear text for a full queue (Gradio's own is a bare '503 Queue is full')."""
    return f"the queue is full ({quotas.queue_size} jobs are waiting); please try again in a minute"


class Deadline:
    """A wall-time cap for a heavy job (style, projection, fine-tune chunk), data preparation
    included: start it when the job is admitted, `check()` between steps (every scale's steps
    count, so coarse-to-fine style runs are bounded by the same clock)."""

    def __init__(self, seconds: float, clock=time.monotonic) -> None:
        self.seconds = seconds
        self._clock = clock
        self._end = clock() + seconds

    def remaining(self) -> float:
        return max(0.0, self._end - self._clock())

    @property
    def expired(self) -> bool:
        return self._clock() >= self._end

    def check(self, what: str = "the job") -> None:
        if self.expired:
            raise UserInputError(
                "{what} reached this server's {seconds} s limit and was stopped; "
                "use fewer steps or a smaller size",
                "msg.error.time_cap",
                what=what,
                seconds=f"{self.seconds:.0f}",
            )
