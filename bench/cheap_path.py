"""Cheap path: one user, 16 faces through `/generate`, measured as a `gradio_client` user would.

Starts the app (the real `build_demo`) in a subprocess with one extra endpoint, the baseline:
`/generate_before`, the earlier output shape of `/generate` (gallery images upscaled to 256 px
on the server, four files written outside Gradio's cache: grid, zip, latents .npy and .json;
torch on all cores). Both run on the same model in the same app, interleaved call by call, so
the machine's load affects both alike. Two client modes, both `Client(url, ssl_verify=False)`
(loopback `http://`: see bench/load.py):

- `json`: `download_files=False`, the API round trip (the result holds the files' URLs);
- `files`: every output file fetched, as a user's client does by default.

    python -m bench.cheap_path                 # 30 calls per endpoint and mode
    python -m bench.cheap_path --calls 3 --out /tmp/cheap.json   # CI's tiny form

Reports p50/p95 per endpoint and mode, the app's and the client's CPU milliseconds per call
(less sensitive to a shared machine than wall time) and the load average.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bench.load import App, git_commit, percentile

log = logging.getLogger("bench.cheap_path")
ROOT = Path(__file__).resolve().parent.parent
SEEDS = "1-16"
GOAL_P50_MS = 150.0
MODES = {
    "json": {"ssl_verify": False, "download_files": False},
    "files": {"ssl_verify": False},
}
ENDPOINTS = {"ours": "/generate", "before": "/generate_before"}


def serve() -> None:
    """The app, plus the baseline endpoint (run in the subprocess)."""
    import gradio as gr

    import app
    from core.device import set_torch_threads
    from core.media import upscale
    from gan.generate.faces import FacesRequest
    from gan.generate.service import DISPLAY_SIZE, FaceStudio
    from ui.services import build_services

    services = build_services()
    before = FaceStudio(services.device, Path(tempfile.mkdtemp(prefix="gan-studio-before-")))

    def generate_before(seeds: str):
        set_torch_threads(os.cpu_count() or 1)  # the earlier default: torch on all cores
        faces = before.faces_request("dcgan-digiface", FacesRequest(seeds))
        files = before.save_faces(faces)
        gallery = [
            (upscale(image, DISPLAY_SIZE), f"seed {s}")
            for s, image in zip(faces.seeds, faces.images, strict=True)
        ]
        return gallery, [str(p) for p in files], f"{len(gallery)} faces"

    demo = app.build_demo(services)
    with demo:
        seeds = gr.Textbox(visible=False)
        outputs = [gr.Gallery(visible=False, format="png"), gr.File(visible=False), gr.Markdown()]
        seeds.submit(generate_before, seeds, outputs, api_name="generate_before")
    demo.queue(default_concurrency_limit=4, max_size=64)
    demo.launch(
        server_name="127.0.0.1",
        server_port=int(os.environ["GRADIO_SERVER_PORT"]),
        **app.launch_options(),
    )


def cpu_s(pid: int) -> float:
    """utime + stime of a process (all its threads), seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def call(client, api: str, seeds: str = SEEDS) -> float:
    started = time.perf_counter()
    gallery = client.predict(seeds, api_name=api)[0]
    seconds = time.perf_counter() - started
    if len(gallery) != 16:
        raise RuntimeError(f"{api} returned {len(gallery)} faces")
    return seconds


def measure(url: str, pid: int, calls: int) -> dict:
    """Every (mode, endpoint) pair `calls` times, interleaved; wall and CPU per call."""
    from gradio_client import Client

    clients = {mode: Client(url, verbose=False, **kw) for mode, kw in MODES.items()}
    pairs = [(mode, name) for mode in MODES for name in ENDPOINTS]
    for mode, name in pairs * 2:  # warm-up
        call(clients[mode], ENDPOINTS[name])
    times = {pair: [] for pair in pairs}
    cpu = {pair: [0.0, 0.0] for pair in pairs}
    for _ in range(calls):
        for pair in pairs:
            server, client = cpu_s(pid), time.process_time()
            times[pair].append(call(clients[pair[0]], ENDPOINTS[pair[1]]))
            cpu[pair][0] += cpu_s(pid) - server
            cpu[pair][1] += time.process_time() - client
    return {
        mode: {name: summary(times[(mode, name)], cpu[(mode, name)]) for name in ENDPOINTS}
        for mode in MODES
    }


def summary(times: list[float], cpu: list[float]) -> dict:
    n, ordered = len(times), sorted(times)
    return {
        "calls": n,
        "p50_ms": round(1000 * statistics.median(ordered), 1),
        "p95_ms": round(1000 * percentile(ordered, 95), 1),
        "app_cpu_ms_per_call": round(1000 * cpu[0] / n, 1),
        "client_cpu_ms_per_call": round(1000 * cpu[1] / n, 1),
    }


def run(calls: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="gan-studio-cheap-") as folder:
        app = App(Path(folder), "cpu", command=["-m", "bench.cheap_path", "--serve"])
        try:
            app.wait_ready()
            load_start = os.getloadavg()
            results = measure(app.url, app.process.pid, calls)
            load_end = os.getloadavg()
        finally:
            app.stop()
    for mode in results.values():
        mode["speedup_p50"] = round(mode["before"]["p50_ms"] / mode["ours"]["p50_ms"], 2)
    return {
        "benchmark": "cheap_path",
        "what": f"one user, /generate seeds {SEEDS} (16 faces, dcgan-digiface 64 px), CPU",
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "commit": git_commit(),
        "load_average_1_5_15": {"start": load_start, "end": load_end},
        "modes": results,
        "goal": {
            "p50_ms_at_most": GOAL_P50_MS,
            "met_json": results["json"]["ours"]["p50_ms"] <= GOAL_P50_MS,
            "met_files": results["files"]["ours"]["p50_ms"] <= GOAL_P50_MS,
        },
        "note": (
            "ours: native PNGs written inside Gradio's cache, latents as JSON, one torch "
            "thread; before: the earlier output shape, same app, same run. The goal is for an "
            "idle 2-core machine: read the load average before the absolute figures."
        ),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=30, help="calls per endpoint and mode")
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results/cheap_path_cpu.json")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        serve()
        return 0
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    result = run(args.calls)
    result["command"] = "python -m bench.cheap_path " + " ".join(argv or sys.argv[1:])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    log.info("wrote %s: %s", args.out, json.dumps(result["modes"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
