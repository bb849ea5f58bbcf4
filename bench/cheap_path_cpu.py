"""Cheap path, in the process: where the CPU time of one `/generate` call (16 faces) goes.

Wall times on a shared machine are noisy; CPU time (`time.process_time`, all threads) much
less. This serves the app in this process, then times, call after call, on the event loop:

- `process_api`: Gradio's whole handling of the event (preprocess, the handler, postprocess),
  the server's work behind a `complete` event less HTTP and the queue;
- `handler`: the Generate handler alone, split into `forward` (the faces) and `pngs` (the
  gallery files, folder included);
- `postprocess`: Gradio's postprocess of the outputs (the gallery's file checks, twice per
  file: once for the session's config, once for the reply).

    python -m bench.cheap_path_cpu                  # 60 calls, about a minute on 2 cores
    python -m bench.cheap_path_cpu --calls 1 --warmup 0 --out /tmp/c.json   # CI
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import statistics
import sys
import time
from importlib.metadata import version
from pathlib import Path

import torch

from bench.results_meta import stamp

log = logging.getLogger("bench.cheap_path_cpu")
ROOT = Path(__file__).resolve().parent.parent
MODEL = "dcgan-digiface"
SEEDS = ("1-16", "17-32")  # alternated, as a page's clicks would
MEASURES = ["app.py", "core", "gan/generate", "gan/models/dcgan.py", "gan/models/families.py", "ui"]
WARMUP = 5


def handler_parts(studio, seeds: str) -> dict[str, float]:
    """CPU ms of the handler's two parts: the faces (`forward`), their gallery files (`pngs`)."""
    from ui.generate import faces_request

    wanted = faces_request(seeds, 1.0, "", None, "const", 0, 0)
    cpu = time.process_time()
    faces = studio.faces_request(MODEL, wanted)
    middle = time.process_time()
    studio.save_gallery(faces)
    return {"forward": (middle - cpu) * 1e3, "pngs": (time.process_time() - middle) * 1e3}


def summary(samples: list[float]) -> dict:
    ordered = sorted(samples)
    return {"p50": round(statistics.median(ordered), 2), "min": round(ordered[0], 2)}


class InProcess:
    """The app served in this process, and its generate event."""

    def __init__(self) -> None:
        import app
        from ui.launch import launch_options, queue_options
        from ui.services import build_services

        services = build_services()
        self.studio = services.studio
        self.demo = app.build_demo(services)
        self.demo.queue(**queue_options(self.demo))
        self.demo.launch(prevent_thread_lock=True, quiet=True, **launch_options(self.demo))
        self.fn = next(f for f in self.demo.fns.values() if f.api_name == "generate")

    def inputs(self, seeds: str) -> list:
        """Every input of the event (the API fills the same defaults)."""
        return [seeds, 1.0, MODEL, "", None, "const", 0, 0, 0, 0, 0, None, False]

    async def process_api(self, seeds: str) -> dict:
        from gradio.context import LocalContext

        from core.sessions import CallState

        LocalContext.blocks.set(self.demo)
        state = CallState(self.demo)
        return await self.demo.process_api(block_fn=self.fn, inputs=self.inputs(seeds), state=state)

    async def postprocess(self, outputs: tuple) -> None:
        from core.sessions import CallState

        await self.demo.postprocess_data(self.fn, list(outputs), CallState(self.demo))

    def close(self) -> None:
        self.demo.close()


async def one_call(served: InProcess, seeds: str) -> dict[str, float]:
    """CPU ms of each part of one call (and the wall ms of `process_api`)."""
    cpu, wall = time.process_time(), time.perf_counter()
    await served.process_api(seeds)
    spent = {"process_api": (time.process_time() - cpu) * 1e3}
    spent["wall"] = (time.perf_counter() - wall) * 1e3
    spent.update(handler_parts(served.studio, seeds))
    outputs = served.fn.fn(seeds, 1.0, MODEL)
    cpu = time.process_time()
    await served.postprocess(outputs)
    spent["postprocess"] = (time.process_time() - cpu) * 1e3
    return spent


async def measure(served: InProcess, calls: int, warmup: int) -> dict[str, list[float]]:
    """Each part's CPU ms, call after call, alternating the seeds (after `warmup` calls)."""
    times: dict[str, list[float]] = {}
    for i in range(warmup + calls):
        spent = await one_call(served, SEEDS[i % 2])
        for key, value in spent.items():
            if i >= warmup:
                times.setdefault(key, []).append(value)
    return times


def report(times: dict[str, list[float]], calls: int, load_start, load_end) -> dict:
    return {
        **stamp(MEASURES),  # the time and the command; the keys below say more
        "benchmark": "cheap_path_cpu",
        "what": f"/generate seeds {SEEDS[0]} / {SEEDS[1]} ({MODEL}), in the process",
        "calls": calls,
        "device": "cpu",
        "cpus": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": version("torch"),
        "gradio": version("gradio"),
        "load_average_1_5_15": {"start": load_start, "end": load_end},
        "cpu_ms": {key: summary(v) for key, v in times.items() if key != "wall"},
        "process_api_wall_ms": summary(times["wall"]),
        "note": "CPU time counts every thread (torch's too): read it as work, not latency.",
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=60)
    parser.add_argument("--warmup", type=int, default=WARMUP, help="calls not counted")
    parser.add_argument(
        "--out", type=Path, default=ROOT / "bench/results/cheap_path_cpu_split.json"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s: %(message)s")
    log.setLevel(logging.INFO)
    served = InProcess()
    try:
        load_start = os.getloadavg()
        times = asyncio.run(measure(served, args.calls, args.warmup))
        result = report(times, args.calls, load_start, os.getloadavg())
    finally:
        served.close()
    result["command"] = "python -m bench.cheap_path_cpu " + " ".join(argv or sys.argv[1:])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    log.info("wrote %s: CPU ms %s", args.out, json.dumps(result["cpu_ms"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
