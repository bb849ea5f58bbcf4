"""Gradio's per-session page state, bounded.

Gradio 6.31 keeps a `SessionState` (a copy of every block's config: ~0.7 MB for this app's
~361 blocks) for each session hash it sees, up to `state_session_capacity` (10,000). A REST or
MCP call without a session hash gets the id of its queue event as one, so each such call left
a state behind: +413 MB after 600 calls, and full garbage-collection passes that grew with it.

`LeanStateHolder` replaces the app's `StateHolder`: a session-less call's state lives only
while its event does (at most `TRANSIENT_MAX` at once), and real sessions are capped at
`capacity`, each forgotten after `ttl_s` idle. A session-less call's state (`CallState`) skips
the copy of every block's config that only a page session's deep link needs.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from gradio.state_holder import SessionState, StateHolder

TRANSIENT_MAX = 32


class _NoBlocks:
    """What `SessionState.__init__` reads of a Blocks: its config, and no block to copy the
    config of up front."""

    def __init__(self, blocks: Any) -> None:
        self.default_config = blocks.default_config
        self.blocks: dict = {}


class CallState(SessionState):
    """A session-less call's state: Gradio's `SessionState` without its up-front config copy
    of every block (`config_values`, about 20 ms for this app's ~361 blocks on each call),
    which only a page session's deep link reads; Gradio adds the entries a call sets."""

    def __init__(self, blocks: Any) -> None:
        super().__init__(_NoBlocks(blocks))


class LeanStateHolder(StateHolder):
    """A `StateHolder` with a TTL, and no kept state for session-less calls (`transient(id)`
    tells whether an id is the event id Gradio gave a call that had no session hash)."""

    def __init__(
        self,
        capacity: int,
        ttl_s: float,
        transient: Callable[[str], bool],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self.ttl_s = ttl_s
        self._capacity = capacity
        self._transient = transient
        self._clock = clock
        self._seen: dict[str, float] = {}
        self._calls: OrderedDict[str, SessionState] = OrderedDict()

    def set_blocks(self, blocks: Any) -> None:
        super().set_blocks(blocks)
        self.capacity = self._capacity

    def __getitem__(self, session_id: str) -> SessionState:
        if session_id not in self.session_data and self._transient(session_id):
            return self._call_state(session_id)
        self._expire()
        self._seen[session_id] = self._clock()
        return super().__getitem__(session_id)

    def update(self, session_id: str) -> None:
        super().update(session_id)
        for gone in [s for s in self._seen if s not in self.session_data]:
            del self._seen[gone]

    def _call_state(self, session_id: str) -> SessionState:
        """The state of a session-less call, kept while its event lives."""
        for gone in [s for s in self._calls if s != session_id and not self._transient(s)]:
            del self._calls[gone]
        state = self._calls.get(session_id)
        if state is None:
            state = self._calls[session_id] = CallState(self.blocks)
            while len(self._calls) > TRANSIENT_MAX:
                self._calls.popitem(last=False)
        return state

    def _expire(self) -> None:
        """Forget sessions idle for more than `ttl_s` (oldest first: the dict is LRU order)."""
        cutoff = self._clock() - self.ttl_s
        with self.lock:
            while self.session_data:
                oldest = next(iter(self.session_data))
                if self._seen.get(oldest, cutoff) >= cutoff:
                    break
                del self.session_data[oldest]
                self.time_last_used.pop(oldest, None)
                self._seen.pop(oldest, None)

    def __len__(self) -> int:
        return len(self.session_data) + len(self._calls)


def session_less(demo: Any) -> Callable[[str], bool]:
    """Whether an id is a live queue event's own id used as its session hash (Gradio 6.31
    `Event.session_hash = session_hash or self._id`)."""

    def check(session_id: str) -> bool:
        event = demo._queue.event_ids_to_events.get(session_id)
        return event is not None and event.session_hash == event._id

    return check


def install(app: Any, demo: Any, capacity: int, ttl_s: float) -> LeanStateHolder:
    """Put a `LeanStateHolder` in place of the server app's state holder (before it serves)."""
    holder = LeanStateHolder(capacity, ttl_s, session_less(demo))
    app.state_holder = holder
    holder.set_blocks(demo)
    return holder
