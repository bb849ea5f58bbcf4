"""The priority gate's behaviour (no timing is asserted: only who waits for whom)."""

import threading

import pytest

from core.lanes import PriorityGate, no_pause


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def heavy_iteration(gate: PriorityGate) -> tuple[threading.Thread, threading.Event]:
    """A heavy loop's pause on its own thread; the event is set when it returns."""
    returned = threading.Event()

    def run() -> None:
        gate.pause()
        returned.set()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, returned


def test_cheap_work_sets_one_thread_on_the_calling_thread_while_a_heavy_job_runs():
    calls: list[tuple[str, int]] = []
    gate = PriorityGate(set_threads=lambda n: calls.append((threading.current_thread().name, n)))
    gate.pause()  # a heavy iteration just now
    with gate.cheap():
        assert gate.cheap_running == 1
    assert gate.cheap_running == 0
    assert calls[1:] == [(threading.current_thread().name, 1)]


def test_a_cheap_call_alone_gets_two_threads_and_concurrent_ones_one_each():
    clock, threads = FakeClock(), []
    gate = PriorityGate(
        set_threads=threads.append, idle_threads=4, quiet_s=1.0, clock=clock, load=lambda: 0.0
    )
    with gate.cheap(), gate.cheap():  # one alone, then a second visitor's call beside it
        pass
    gate.pause()  # a heavy job starts: its own iteration keeps one thread (cheap work just ran)
    with gate.cheap():
        pass
    clock.now += 1.5  # the heavy job ended 1.5 s ago
    with gate.cheap():
        pass
    assert threads == [2, 1, 1, 1, 2]


def test_a_cheap_call_keeps_one_thread_on_a_machine_busy_with_other_processes():
    threads, load = [], [3.0]
    gate = PriorityGate(set_threads=threads.append, idle_threads=2, load=lambda: load[0])
    with gate.cheap():  # alone in the app, but the machine's load is above its 2 cores
        pass
    load[0] = 0.5
    with gate.cheap():
        pass
    assert threads == [1, 2]


def test_a_pause_with_no_cheap_work_returns_and_gives_the_heavy_loop_all_cores():
    threads: list[int] = []
    gate = PriorityGate(set_threads=threads.append, idle_threads=8, clock=FakeClock())
    gate.pause()
    assert threads == [8]
    assert gate.stats.pauses == 1 and gate.stats.waits == 0


def test_heavy_work_keeps_one_thread_while_cheap_work_ran_recently():
    clock, threads = FakeClock(), []
    gate = PriorityGate(
        set_threads=threads.append, idle_threads=4, quiet_s=1.0, clock=clock, load=lambda: 0.0
    )
    with gate.cheap():
        pass
    clock.now += 0.5
    gate.pause()
    clock.now += 1.0  # 1.5 s after the cheap call ended
    gate.pause()
    assert threads == [2, 1, 4]  # the cheap call ran alone


def test_a_heavy_iteration_waits_while_cheap_work_runs_and_resumes_after_it():
    gate = PriorityGate(max_wait_s=60)
    with gate.cheap():
        thread, returned = heavy_iteration(gate)
        assert not returned.wait(0.2)  # still paused: the cheap call runs
    assert returned.wait(10)
    thread.join(10)
    assert gate.stats.waits == 1 and gate.stats.forced == 0


def test_a_heavy_iteration_is_never_starved_past_max_wait():
    gate = PriorityGate(max_wait_s=0.01)
    with gate.cheap():
        thread, returned = heavy_iteration(gate)
        assert returned.wait(10)  # the cheap call is still running
        thread.join(10)
    assert gate.stats.forced == 1


def test_overlapping_cheap_calls_keep_the_heavy_loop_waiting_until_the_last_ends():
    gate = PriorityGate(max_wait_s=60)
    first, second = gate.cheap(), gate.cheap()
    first.__enter__()
    second.__enter__()
    thread, returned = heavy_iteration(gate)
    first.__exit__(None, None, None)
    assert not returned.wait(0.2)
    second.__exit__(None, None, None)
    assert returned.wait(10)
    thread.join(10)


def test_a_failing_cheap_call_still_leaves_the_gate():
    gate = PriorityGate()
    with pytest.raises(RuntimeError), gate.cheap():
        raise RuntimeError("boom")
    assert gate.cheap_running == 0
    gate.pause()  # returns at once


def test_bad_max_wait_is_refused():
    with pytest.raises(ValueError):
        PriorityGate(max_wait_s=-1)


def test_no_pause_returns_none():
    assert no_pause() is None
