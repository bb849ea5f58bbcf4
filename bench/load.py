"""Load test: many concurrent `gradio_client` users against the real app while a fine-tune runs.

Starts `python app.py` as a subprocess (offline, CPU unless told otherwise, its own checkpoints
folder), warms every endpoint once, then runs N users for D seconds. Each user loops over a
mix of /generate, /interpolate and a small /stylize (when the app has it); one more thread
keeps a /finetune running in the background (when the app has it). Reports p50/p95 latency per
endpoint, failed requests, and the app's resident memory (VmRSS) before, during and after.

    python -m bench.load                      # 20 users, 300 s: the target run
    python -m bench.load --quick              # 6 users, 30 s: a smoke run
    python -m bench.load --out bench/results/load_cpu.json

Only 127.0.0.1 is ever contacted; every loop stops at the deadline.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from gradio_client import Client, handle_file
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
IMAGES = ROOT.parent / "shared" / "images"
log = logging.getLogger("bench.load")

# Memory may grow by at most this much from the warmed-up app to the app after the load
# (caches, allocator pools); growth with the number of requests would exceed it quickly.
MEMORY_BOUND_MB = 300.0


# --- the app under test ------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mb(pid: int) -> float:
    """Resident memory of a process, from /proc (psutil is not a dependency)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


class App:
    """`python app.py` on a free local port, with a private checkpoints folder."""

    def __init__(self, workdir: Path, device: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        checkpoints = workdir / "checkpoints"
        checkpoints.mkdir()
        for model in (ROOT / "checkpoints").iterdir():
            if model.is_dir() and not model.name.startswith("."):
                (checkpoints / model.name).symlink_to(model)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "GRADIO_"))}
        env.update(
            GRADIO_SERVER_PORT=str(self.port),
            GAN_STUDIO_CHECKPOINTS=str(checkpoints),
            GAN_STUDIO_DEVICE=device,
            HF_HUB_OFFLINE="1",
            GRADIO_TEMP_DIR=str(workdir / "gradio"),
            LOG_LEVEL="WARNING",
        )
        self.log_path = workdir / "app.log"
        self._log = open(self.log_path, "w")  # noqa: SIM115 (closed in stop)
        self.process = subprocess.Popen(
            [sys.executable, "app.py"],
            cwd=ROOT,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def wait_ready(self, timeout_s: float = 120) -> float:
        started = time.monotonic()
        while time.monotonic() - started < timeout_s:
            if self.process.poll() is not None:
                raise RuntimeError(f"the app exited:\n{self.log_path.read_text()[-3000:]}")
            try:
                if httpx.get(self.url, timeout=2).status_code == 200:
                    return time.monotonic() - started
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        raise RuntimeError("the app did not start in time")

    def rss_mb(self) -> float:
        return rss_mb(self.process.pid)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self._log.close()


# --- requests ---------------------------------------------------------------------------------


def small_images(folder: Path, count: int, size: int) -> list[str]:
    """Square crops of the shared photos (or noise when they are missing), `size` px."""
    folder.mkdir(parents=True, exist_ok=True)
    sources = sorted(IMAGES.glob("*.jpg")) if IMAGES.is_dir() else []
    paths = []
    for i in range(count):
        if sources:
            with Image.open(sources[i % len(sources)]) as image:
                image = image.convert("RGB").resize((size, size))
        else:
            image = Image.effect_noise((size, size), 64).convert("RGB")
        path = folder / f"img{i}.png"
        image.save(path)
        paths.append(str(path))
    return paths


@dataclass
class Workload:
    """The calls users make, built from the endpoints the running app has."""

    endpoints: set[str]
    content: str = ""
    style: str = ""
    train_images: list[str] = field(default_factory=list)

    def choices(self) -> list[tuple[str, float]]:
        mix = [("/generate", 0.5), ("/interpolate", 0.3)]
        if "/stylize" in self.endpoints:
            mix.append(("/stylize", 0.2))
        return mix

    def call(self, client: Client, api: str, rng: random.Random) -> None:
        if api == "/generate":
            start = rng.randrange(0, 10_000)
            client.predict(seeds=f"{start}-{start + rng.randrange(1, 8)}", api_name=api)
        elif api == "/interpolate":
            seeds = ", ".join(str(rng.randrange(0, 10_000)) for _ in range(2))
            client.predict(seeds=seeds, frames=rng.randrange(4, 12), api_name=api)
        elif api == "/stylize":
            client.predict(
                content=handle_file(self.content),
                style=handle_file(self.style),
                steps=5,
                size=64,
                api_name=api,
            )
        else:
            raise ValueError(api)

    def finetune(self, client: Client, seconds: float, name: str) -> dict:
        """One fine-tune run saved as `name` (a new name each run: runs never overwrite)."""
        return client.predict(
            images=[handle_file(p) for p in self.train_images],
            model="dcgan-digiface",
            name=name,
            steps=20_000,
            batch_size=8,
            sample_every=50,
            max_seconds=max(seconds, 1.0),
            kid=False,
            api_name="/finetune",
        )


@dataclass
class Stats:
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, api: str, seconds: float, error: Exception | None) -> None:
        with self.lock:
            if error is None:
                self.latencies[api].append(seconds)
            else:
                self.errors[api].append(f"{type(error).__name__}: {error}"[:300])

    def summary(self) -> dict:
        out = {}
        for api in sorted(set(self.latencies) | set(self.errors)):
            times = sorted(self.latencies.get(api, []))
            out[api] = {
                "ok": len(times),
                "failed": len(self.errors.get(api, [])),
                "p50_s": round(percentile(times, 50), 3) if times else None,
                "p95_s": round(percentile(times, 95), 3) if times else None,
                "max_s": round(times[-1], 3) if times else None,
                "mean_s": round(statistics.fmean(times), 3) if times else None,
                "error_samples": self.errors.get(api, [])[:5],
            }
        return out


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of an already sorted list."""
    rank = max(1, round(q / 100 * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def user(url: str, work: Workload, deadline: float, seed: int, stats: Stats) -> None:
    rng = random.Random(seed)
    client = Client(url, verbose=False)
    apis, weights = zip(*work.choices(), strict=True)
    while time.monotonic() < deadline:
        api = rng.choices(apis, weights)[0]
        started = time.monotonic()
        try:
            work.call(client, api, rng)
            stats.record(api, time.monotonic() - started, None)
        except Exception as e:  # every failure is counted, none stops the user
            stats.record(api, time.monotonic() - started, e)
        time.sleep(rng.uniform(0.0, 0.2))  # think time


def trainer(url: str, work: Workload, deadline: float, stats: Stats, runs: list[dict]) -> None:
    """Keep a fine-tune running until the deadline (each run capped at the time left)."""
    client = Client(url, verbose=False)
    while (left := deadline - time.monotonic()) > 5:
        started = time.monotonic()
        try:
            result = work.finetune(client, left, f"load-test-{len(runs) + 1}")
            stats.record("/finetune", time.monotonic() - started, None)
            runs.append(result if isinstance(result, dict) else {"result": str(result)[:200]})
        except Exception as e:
            stats.record("/finetune", time.monotonic() - started, e)
            time.sleep(1)


# --- the run ----------------------------------------------------------------------------------


def sample_memory(app: App, until: threading.Event, samples: list[float]) -> None:
    """RSS once a second (the results keep one sample in ten)."""
    while not until.wait(1.0):
        try:
            samples.append(app.rss_mb())
        except (OSError, RuntimeError):
            return


def run(users: int, duration_s: float, settle_s: float, device: str) -> dict:
    workdir = Path(tempfile.mkdtemp(prefix="gan-studio-load-"))
    app = App(workdir, device)
    try:
        startup_s = app.wait_ready()
        rss_started = app.rss_mb()
        client = Client(app.url, verbose=False)
        endpoints = set(client.view_api(print_info=False, return_format="dict")["named_endpoints"])
        content, style = small_images(workdir / "style", 2, 96)
        work = Workload(endpoints, content, style, small_images(workdir / "train", 16, 64))
        rng = random.Random(0)
        for api, _ in work.choices():  # warm-up: load every model once
            work.call(client, api, rng)
        if "/finetune" in endpoints:  # and train once, so first-use allocations are not "growth"
            work.finetune(client, 5.0, "load-warm-up")
        rss_warm = app.rss_mb()
        log.info("warm: %.0f MB; endpoints %s", rss_warm, sorted(endpoints))

        stats, runs, samples = Stats(), [], []
        stop_sampling = threading.Event()
        deadline = time.monotonic() + duration_s
        threads = [
            threading.Thread(target=user, args=(app.url, work, deadline, i, stats), daemon=True)
            for i in range(users)
        ]
        if "/finetune" in endpoints:
            threads.append(
                threading.Thread(
                    target=trainer, args=(app.url, work, deadline, stats, runs), daemon=True
                )
            )
        threads.append(
            threading.Thread(target=sample_memory, args=(app, stop_sampling, samples), daemon=True)
        )
        started = time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads[:-1]:
            thread.join(timeout=duration_s + 900)  # in-flight calls finish after the deadline
        load_s = time.monotonic() - started
        stop_sampling.set()
        rss_end = app.rss_mb()
        time.sleep(settle_s)  # let Gradio's queue and Python's allocator settle
        rss_after = app.rss_mb()
        summary = stats.summary()
        requests = sum(v["ok"] + v["failed"] for v in summary.values())
        failed = sum(v["failed"] for v in summary.values())
        growth = rss_after - rss_warm
        return {
            "benchmark": "load",
            "device": device,
            "machine": {
                "cpus": os.cpu_count(),
                "python": platform.python_version(),
                "platform": platform.platform(),
            },
            "commit": git_commit(),
            "users": users,
            "duration_s": duration_s,
            "load_s": round(load_s, 1),
            "startup_s": round(startup_s, 1),
            "endpoints": summary,
            "finetune_runs": runs,
            "requests": requests,
            "failed_requests": failed,
            "requests_per_s": round(requests / load_s, 2),
            "memory_mb": {
                "started": round(rss_started, 1),
                "warm": round(rss_warm, 1),
                "peak_during_load": round(max(samples, default=rss_end), 1),
                "end_of_load": round(rss_end, 1),
                f"after_{settle_s:g}s_idle": round(rss_after, 1),
                "growth_after_load": round(growth, 1),
                "during_load_every_10s": [round(v, 1) for v in samples[::10]],
                "bound": MEMORY_BOUND_MB,
            },
            "target": {
                "zero_failed_requests": failed == 0,
                "memory_growth_within_bound": growth <= MEMORY_BOUND_MB,
                "finetune_ran_alongside": "/finetune" in summary or "/finetune" not in endpoints,
            },
        }
    finally:
        app.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def git_commit() -> str:
    """The commit measured, marked when the app's code had local changes."""
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "app.py", "gan", "style"],
            cwd=ROOT,
            capture_output=True,
            text=True,
        ).stdout.strip()
    except OSError:
        return "unknown"
    return sha + (" with local changes" if dirty else "")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--duration", type=float, default=300.0, help="seconds of load")
    parser.add_argument("--settle", type=float, default=None, help="idle seconds before RSS")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--quick", action="store_true", help="6 users for 30 s")
    parser.add_argument("--out", type=Path, default=None, help="results JSON")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    if args.quick:
        args.users, args.duration = 6, 30.0
    if args.settle is None:
        args.settle = 5.0 if args.quick else 40.0
    out = args.out or ROOT / "bench" / "results" / f"load_{args.device.split(':')[0]}.json"
    if args.quick and args.out is None:
        out = out.with_name(out.stem + "_quick.json")
    result = run(args.users, args.duration, args.settle, args.device)
    result["command"] = "python -m bench.load " + " ".join(argv or sys.argv[1:])
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    log.info("wrote %s", out)
    for api, row in result["endpoints"].items():
        log.info(
            "%-12s ok %5d failed %3d p50 %6ss p95 %6ss",
            api,
            row["ok"],
            row["failed"],
            row["p50_s"],
            row["p95_s"],
        )
    log.info("memory: %s", result["memory_mb"])
    return 0 if all(result["target"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
