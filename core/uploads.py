"""Upload budgets: bytes that one visitor, and everyone together, may upload over a sliding
window. The window is the upload folder's file lifetime (`Quotas.upload_ttl_s`: Gradio deletes
uploads older than that), so the bytes counted in it bound what uploads hold on disk.

`AdmissionGate` (core.admission) asks `allowance` before an upload, stops the request's body
once it passes that, and `record`s what arrived.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

from core.quotas import Quotas

MB = 1_000_000


class UploadBudget:
    """Bytes uploaded per visitor key and in total within the last `window_s` seconds."""

    def __init__(
        self,
        per_visitor_bytes: int,
        total_bytes: int,
        window_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.per_visitor_bytes = per_visitor_bytes
        self.total_bytes = total_bytes
        self.window_s = window_s
        self._clock = clock
        self._lock = threading.Lock()
        self._log: deque[tuple[float, str, int]] = deque()  # (when, visitor key, bytes)

    @classmethod
    def from_quotas(cls, quotas: Quotas) -> UploadBudget:
        return cls(
            per_visitor_bytes=int(quotas.upload_mb_per_visitor * MB),
            total_bytes=int(quotas.upload_mb_total * MB),
            window_s=quotas.upload_ttl_s,
        )

    def _expire(self) -> None:
        cutoff = self._clock() - self.window_s
        while self._log and self._log[0][0] < cutoff:
            self._log.popleft()

    def allowance(self, key: str) -> int:
        """Bytes `key` may still upload now (0: refuse)."""
        with self._lock:
            self._expire()
            mine = sum(size for _, who, size in self._log if who == key)
            everyone = sum(size for _, _, size in self._log)
        return max(0, min(self.per_visitor_bytes - mine, self.total_bytes - everyone))

    def record(self, key: str, size: int) -> None:
        if size > 0:
            with self._lock:
                self._log.append((self._clock(), key, size))

    def refusal(self, key: str, incoming: int) -> str | None:
        """The clear message when `incoming` more bytes from `key` are over a budget."""
        if incoming <= self.allowance(key):
            return None
        minutes = max(1, round(self.window_s / 60))
        with self._lock:
            everyone = sum(size for _, _, size in self._log)
        if everyone + incoming > self.total_bytes:
            return (
                f"this server has taken its limit of {self.total_bytes / MB:.0f} MB of uploads "
                f"in {minutes} minutes; please try again in a few minutes"
            )
        return (
            f"upload limit reached: at most {self.per_visitor_bytes / MB:.0f} MB per visitor "
            f"in {minutes} minutes; please try again later"
        )
