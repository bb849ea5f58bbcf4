"""The ZeroGPU decorator is a no-op here; on ZeroGPU it wraps with a capped duration."""

from __future__ import annotations

import sys
import types

import pytest

from core.zerogpu import (
    PER_CALL_LIMIT_S,
    Chunk,
    cap_duration,
    chunk_steps,
    gpu,
    on_zerogpu,
    plan_chunks,
    run_chunked,
)


def test_not_on_zerogpu_here():
    assert not on_zerogpu({})
    assert on_zerogpu({"SPACES_ZERO_GPU": "true"})


def test_noop_off_zerogpu_functions_and_generators():
    def fn(x, scale=2):
        return x * scale

    def gen(n):
        yield from range(n)

    assert gpu(lambda *a, **k: 60, env={})(fn) is fn
    assert gpu(lambda *a, **k: 60, env={})(gen) is gen
    assert fn(3) == 6 and list(gen(3)) == [0, 1, 2]


def test_on_zerogpu_uses_spaces_gpu_with_capped_duration(monkeypatch):
    calls = {}

    def fake_gpu(task, duration):
        calls["task"], calls["duration"] = task, duration
        return task

    monkeypatch.setitem(sys.modules, "spaces", types.SimpleNamespace(GPU=fake_gpu))

    def train(steps):
        return steps

    wrapped = gpu(lambda steps: steps * 10.0, env={"SPACES_ZERO_GPU": "1"})(train)
    assert wrapped is train and calls["task"] is train
    assert calls["duration"](5) == 50
    assert calls["duration"](10_000) < PER_CALL_LIMIT_S


@pytest.mark.parametrize(("seconds", "expected"), [(0, 10), (42.1, 43), (1e6, 280)])
def test_cap_duration(seconds, expected):
    assert cap_duration(seconds) == expected


def test_chunk_plan_covers_every_step_once():
    chunks = plan_chunks(10, 4, done=1)
    assert [(c.start, c.stop) for c in chunks] == [(1, 5), (5, 9), (9, 10)]
    assert chunks[-1] == Chunk(2, 3, 9, 10) and chunks[-1].steps == 1
    assert plan_chunks(10, 4, done=10) == []
    with pytest.raises(ValueError):
        plan_chunks(10, 0)
    assert chunk_steps(0.5) == 560 and chunk_steps(1e9) == 1


def test_run_chunked_chains_and_stops_between_chunks():
    seen = []

    def run_chunk(chunk):
        seen.append(chunk.index)
        yield from range(chunk.start, chunk.stop)

    assert list(run_chunked(7, 3, run_chunk)) == list(range(7))
    stops = iter([False, True])
    seen.clear()
    assert list(run_chunked(7, 3, run_chunk, should_stop=lambda: next(stops))) == [0, 1, 2]
    assert seen == [0]


def test_spaces_not_imported_off_zerogpu(monkeypatch):
    from core.zerogpu import import_spaces_early

    monkeypatch.delitem(sys.modules, "spaces", raising=False)
    assert import_spaces_early({}) is False
    assert "spaces" not in sys.modules
