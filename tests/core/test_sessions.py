"""Gradio's per-session state, bounded: session-less calls keep none once their event is
gone, sessions are capped and forgotten when idle."""

from __future__ import annotations

import gradio as gr

from core.sessions import TRANSIENT_MAX, LeanStateHolder


def blocks() -> gr.Blocks:
    with gr.Blocks(analytics_enabled=False) as demo:
        gr.Textbox()
    return demo


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def holder(live_calls: set[str], capacity: int = 3, ttl_s: float = 60.0) -> LeanStateHolder:
    clock = Clock()
    state = LeanStateHolder(capacity, ttl_s, live_calls.__contains__, clock)
    state.set_blocks(blocks())
    state.clock = clock
    return state


def test_a_session_less_call_keeps_state_only_while_it_runs():
    live: set[str] = {"event-1"}
    h = holder(live)
    first = h["event-1"]
    assert h["event-1"] is first  # a streaming event sees one state across its updates
    assert "event-1" not in h and len(h.session_data) == 0
    live.clear()
    live.add("event-2")
    h["event-2"]
    assert len(h) == 1  # event-1 ended: its state is gone


def test_a_session_less_call_builds_no_config_for_every_block_but_still_sets_values():
    h = holder({"event-1"})
    state = h["event-1"]
    assert state.config_values == {}  # Gradio's SessionState copies every block's config
    textbox_id = next(iter(h.blocks.blocks))
    state[textbox_id] = gr.Textbox(value="set by the call")
    assert state[textbox_id].value == "set by the call"
    assert textbox_id in state.config_values  # Gradio adds the entry of what a call sets
    assert h["page-session"].config_values  # a page session keeps Gradio's full state


def test_session_less_states_are_bounded_even_if_events_linger():
    live = {f"event-{i}" for i in range(TRANSIENT_MAX * 3)}
    h = holder(live)
    for event in sorted(live):
        h[event]
    assert len(h) == TRANSIENT_MAX


def test_sessions_are_capped_and_expire_when_idle():
    h = holder(set(), capacity=3, ttl_s=60.0)
    for name in "abcde":
        h[name]
    assert list(h.session_data) == ["c", "d", "e"]
    h.clock.now = 30.0
    h["e"]
    h.clock.now = 70.0
    h["x"]  # c and d were idle 70 s; e only 40 s
    assert list(h.session_data) == ["e", "x"]
