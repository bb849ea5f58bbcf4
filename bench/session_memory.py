"""Memory and pauses of session-less API calls (issue 19: "memory that stays flat").

Starts `python app.py` as on a public Space (`SPACE_ID` set: visitors, the admission gate on),
then makes raw session-less, cookie-less calls one after another, as a script would:
`POST /gradio_api/call/generate` (one face) and reading its result from
`GET /gradio_api/call/generate/<event id>`. Reports the app's resident memory (VmRSS) growth
over the first `--calls` (600) calls, and each call's time over `--timing-calls` (2,000 in
all): the slowest, p50, p99 and how many took over 300 ms. With `--baseline REF` the same run
is made against the app at git ref `REF` (before the fix: Gradio's 10,000-session state
holder and a full garbage collection every 30 s), in the same run, on the same machine.

    python -m bench.session_memory --baseline 99034f7   # bench/results/session_memory_cpu.json
    python -m bench.session_memory --calls 50 --timing-calls 100   # a quick look

Only 127.0.0.1 is contacted.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import secrets
import statistics
import tempfile
import time
from pathlib import Path

import httpx

from bench.load import ROOT, App, baseline_source
from bench.results_meta import stamp

log = logging.getLogger("bench.session_memory")
SLOW_S = 0.3
# The code its results measure (bench.stale): the app a session-less /generate call runs through.
MEASURES = ["app.py", "core", "gan/generate", "ui", "bench/load.py", "bench/session_memory.py"]
GROWTH_BOUND_MB = 50.0
# Runs app.py with a garbage-collector callback that logs every pause over 10 ms (and every
# full pass), wall time and the collecting thread's CPU time (a pass stretched by a busy,
# shared machine shows a long wall time but a short CPU time).
GC_WRAPPER = """
import gc, json, os, runpy, sys, time
sys.path.insert(0, os.getcwd())
log = open({log!r}, "a", buffering=1)
started = [0.0, 0.0]
def watch(phase, info):
    if phase == "start":
        started[:] = [time.perf_counter(), time.thread_time()]
        return
    pause, cpu = time.perf_counter() - started[0], time.thread_time() - started[1]
    if pause > 0.01 or info["generation"] == 2:
        entry = {{"generation": info["generation"], "s": pause, "cpu_s": cpu}}
        log.write(json.dumps(entry) + "\\n")
gc.callbacks.append(watch)
sys.argv = ["app.py"]
runpy.run_path("app.py", run_name="__main__")
"""


def generate_payload(url: str) -> list:
    """`/generate`'s API inputs at their defaults, one face (seed 1)."""
    info = httpx.get(f"{url}gradio_api/info", timeout=30).json()
    params = info["named_endpoints"]["/generate"]["parameters"]
    data = [p.get("parameter_default") for p in params]
    names = [p.get("parameter_name") for p in params]
    data[names.index("seeds")] = "1"
    return data


def one_call(http: httpx.Client, url: str, data: list) -> float:
    """Seconds for one raw session-less call, from the POST to its complete event."""
    started = time.perf_counter()
    posted = http.post(f"{url}gradio_api/call/generate", json={"data": data})
    posted.raise_for_status()
    event_id = posted.json()["event_id"]
    result = http.get(f"{url}gradio_api/call/generate/{event_id}")
    if "event: complete" not in result.text:
        raise RuntimeError(f"the call failed: {result.text[-300:]}")
    return time.perf_counter() - started


def measure(source: Path, workdir: Path, calls: int, timing_calls: int) -> dict:
    """RSS growth over `calls` calls and call times over `timing_calls`, of the app at
    `source`."""
    os.environ.update(
        SPACE_ID="bench/gan-studio",
        GAN_STUDIO_SECRET=secrets.token_hex(16),
        GAN_STUDIO_DATA=str(workdir / "data"),
    )
    gc_log = workdir / "gc.jsonl"
    wrapper = workdir / "run_with_gc_log.py"
    wrapper.write_text(GC_WRAPPER.format(log=str(gc_log)))
    app = App(workdir, "cpu", source=source, command=[str(wrapper)])
    try:
        startup_s = app.wait_ready()
        data = generate_payload(app.url)
        with httpx.Client(timeout=120) as http:
            for _ in range(20):  # warm up
                one_call(http, app.url, data)
            time.sleep(2)
            rss_warm = app.rss_mb()
            gc_from = len(gc_log.read_text().splitlines()) if gc_log.exists() else 0
            times = [one_call(http, app.url, data) for _ in range(calls)]
            time.sleep(2)
            rss_after = app.rss_mb()
            times += [one_call(http, app.url, data) for _ in range(timing_calls - calls)]
            rss_end = app.rss_mb()
    finally:
        app.stop()
    ordered = sorted(times)
    pauses = [json.loads(line) for line in gc_log.read_text().splitlines()[gc_from:]]
    full = [p["s"] for p in pauses if p["generation"] == 2]
    return {
        "startup_s": round(startup_s, 1),
        "rss_warm_mb": round(rss_warm, 1),
        f"rss_after_{calls}_mb": round(rss_after, 1),
        f"rss_growth_{calls}_calls_mb": round(rss_after - rss_warm, 1),
        f"rss_after_{timing_calls}_mb": round(rss_end, 1),
        "calls_timed": len(times),
        "call_p50_s": round(statistics.median(times), 4),
        "call_p99_s": round(ordered[int(0.99 * (len(ordered) - 1))], 4),
        "call_max_s": round(ordered[-1], 4),
        "calls_over_300ms": sum(1 for t in times if t > SLOW_S),
        "gc_full_passes": len(full),
        "gc_full_pause_max_s": round(max(full, default=0.0), 4),
        "gc_pause_max_s": round(max((p["s"] for p in pauses), default=0.0), 4),
        "gc_pauses_over_300ms": sum(1 for p in pauses if p["s"] > SLOW_S),
        "gc_pause_cpu_max_s": round(max((p["cpu_s"] for p in pauses), default=0.0), 4),
        "gc_full_pause_p50_s": round(statistics.median(full), 4) if full else 0.0,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=600)
    parser.add_argument("--timing-calls", type=int, default=2000)
    parser.add_argument("--baseline", default="", help="also run the app at this git ref")
    default_out = ROOT / "bench" / "results" / "session_memory_cpu.json"
    parser.add_argument("--out", type=Path, default=default_out)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    result: dict = {
        **stamp(MEASURES),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "calls": args.calls,
        "timing_calls": args.timing_calls,
    }
    variants = [("current", None)] + ([("baseline", args.baseline)] if args.baseline else [])
    for name, ref in variants:
        with tempfile.TemporaryDirectory(prefix=f"session-memory-{name}-") as tmp:
            work = Path(tmp)
            (work / "src").mkdir()
            source = baseline_source(ref, work / "src") if ref else ROOT
            (work / "run").mkdir()
            log.info("measuring %s", ref or "the working tree")
            result[name] = measure(source, work / "run", args.calls, args.timing_calls)
            if ref:
                result[name]["ref"] = ref
            log.info("%s: %s", name, result[name])
        args.out.write_text(json.dumps(result, indent=2) + "\n")
    current = result["current"]
    result["goals_met"] = {
        "growth_under_50mb": current[f"rss_growth_{args.calls}_calls_mb"] < GROWTH_BOUND_MB,
        "no_gc_pause_over_300ms": current["gc_pauses_over_300ms"] == 0,
    }
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
