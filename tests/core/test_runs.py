"""Per-session stop flags of long runs."""

import threading
import time

from core.runs import RunRegistry


def test_a_flag_lives_only_while_its_run_runs():
    runs = RunRegistry()
    assert not runs.stop("a")
    with runs.running("a") as flag:
        assert runs.active() == 1 and not flag.is_set()
        assert runs.stop("a") and flag.is_set()
        assert not runs.stop("b")  # another session's Stop does not touch this run
    assert runs.active() == 0 and not runs.stop("a")


def test_a_new_run_of_the_same_session_gets_a_fresh_flag():
    runs = RunRegistry()
    with runs.running("a") as first:
        first.set()
        with runs.running("a") as second:
            assert not second.is_set()
        assert runs.active() == 0  # the newer run ended; the older flag is not resurrected


def test_stop_all_then_wait_idle():
    runs = RunRegistry()
    stopped = []

    def worker(key: str) -> None:
        with runs.running(key) as flag:
            flag.wait(5)
            time.sleep(0.05)  # "saving"
            stopped.append(key)

    threads = [threading.Thread(target=worker, args=(k,)) for k in "abc"]
    for t in threads:
        t.start()
    while runs.active() < 3:
        time.sleep(0.01)
    assert runs.stop_all() == 3
    assert runs.wait_idle(5)
    assert sorted(stopped) == ["a", "b", "c"]
    assert runs.wait_idle(0)


def test_wait_idle_times_out_while_a_run_goes_on():
    runs = RunRegistry()
    with runs.running("a"):
        assert not runs.wait_idle(0.05)


def test_trimming_memory_runs_no_garbage_collection(monkeypatch):
    """A full collection on a timer stopped every request for up to 446 ms."""
    import gc

    from core import runs

    monkeypatch.setattr(gc, "collect", lambda *a: (_ for _ in ()).throw(AssertionError("gc")))
    runs.trim_host_memory()


def test_the_start_up_heap_is_frozen():
    import gc

    from core.runs import freeze_startup_heap

    try:
        assert freeze_startup_heap() > 0 and gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
