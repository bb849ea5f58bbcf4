"""Load test: 12 users call `/generate` in a loop while heavy jobs run back to back.

Starts `python app.py` as a subprocess (offline, CPU unless told otherwise, its own checkpoints
folder, `MALLOC_ARENA_MAX=2`), warms every endpoint once, then runs the issue's mixes:

- `style`: N users call `/generate` (8 or 16 faces) in a loop while stylisations (256 px, 60
  iterations) run back to back;
- `finetune`: the same with a fine-tune running alongside;
- `space`: the app as on a public Space (`SPACE_ID` set: every caller a visitor, queue
  admission and quotas on), N visitors (each its own cookie and `X-Forwarded-For` address)
  mixing `/generate` and `/interpolate`, and one more visitor's stylisations back to back.

Each user checks that its results come back in order (the captions are the seeds it asked
for). Reports p50/p95/failures per endpoint, the heavy jobs finished, the machine's load
average, and the app's resident memory (VmRSS) warm, during, and after a settle of at least
35 s (one period of the app's `malloc_trim`). With `--baseline REF` each mix also runs
against the app as it was at git ref `REF` (e.g. `integrate`), in the same run.

    python -m bench.load                                  # both mixes, 12 users, 300 s each
    python -m bench.load --duration 60 --baseline integrate   # a short form with the baseline
    python -m bench.load --users 2 --duration 8 --settle 1 --mix style   # CI's tiny form
    python -m bench.load --mix space --users 10 --duration 60 --baseline 99034f7  # visitors

Clients are `Client(url, ssl_verify=False)`: the URL is loopback `http://`, where no TLS is
involved, and gradio_client otherwise loads the CA bundle for every HTTP call it makes (one per
file it downloads), which costs the 2 shared cores more than the app does. Every output file
is still downloaded, as a user's client would. Only 127.0.0.1 is ever contacted; every loop
stops at the deadline.
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

from bench.results_meta import stamp

ROOT = Path(__file__).resolve().parent.parent
IMAGES = ROOT.parent / "shared" / "images"
log = logging.getLogger("bench.load")
MEASURES = ["app.py", "core", "gan", "style", "ui", "bench/load.py"]  # for bench.stale


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
    """`python app.py` (from `source`) on a free local port, with a private checkpoints folder
    and the memory setting of the README's run instructions (`MALLOC_ARENA_MAX=2`)."""

    def __init__(
        self,
        workdir: Path,
        device: str,
        source: Path = ROOT,
        command: list[str] | None = None,
        space: bool = False,
    ) -> None:
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
            MALLOC_ARENA_MAX="2",  # glibc: two malloc arenas, not 8 per core (RSS growth)
        )
        if space:  # visitors only (no sign-in: SYSTEM is not "spaces"), its own data folder
            env.update(
                SPACE_ID="bench/gan-studio",
                GAN_STUDIO_DATA=str(workdir / "data"),
                GAN_STUDIO_SECRET="bench-" + "0" * 32,
            )
        self.log_path = workdir / "app.log"
        self._log = open(self.log_path, "w")  # noqa: SIM115 (closed in stop)
        self.process = subprocess.Popen(
            [sys.executable, *(command or ["app.py"])],
            cwd=source,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def wait_ready(self, timeout_s: float = 600) -> float:
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
    """The calls of one mix."""

    content: str
    style: str
    train_images: list[str]
    style_size: int = 256
    style_steps: int = 60

    def generate(self, client: Client, rng: random.Random) -> bool:
        """One /generate of 8 or 16 faces; True when the captions are the seeds asked for."""
        first, count = rng.randrange(0, 10_000), rng.choice((8, 16))
        gallery = client.predict(seeds=f"{first}-{first + count - 1}", api_name="/generate")[0]
        return [g["caption"] for g in gallery] == [f"seed {s}" for s in range(first, first + count)]

    def interpolate(self, client: Client, rng: random.Random) -> bool:
        """One /interpolate of 8 frames between two seeds; True when all 8 frames came."""
        first = rng.randrange(0, 10_000)
        info = client.predict(seeds=f"{first}, {first + 1}", frames=8, api_name="/interpolate")
        return "8 frames" in str(info[-1])

    def stylize(self, client: Client) -> None:
        client.predict(
            content=handle_file(self.content),
            style=handle_file(self.style),
            steps=self.style_steps,
            size=self.style_size,
            api_name="/stylize",
        )

    def finetune(self, client: Client, seconds: float, name: str) -> None:
        """One fine-tune run saved as `name` (a new name each run: runs never overwrite)."""
        client.predict(
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
    order_errors: int = 0
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
                "error_samples": self.errors.get(api, [])[:5],
            }
        return out


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of an already sorted list."""
    rank = max(1, round(q / 100 * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def client_for(url: str, address: str = "") -> Client:
    """A client (its own cookie jar: one visitor); `address` is sent as `X-Forwarded-For`,
    as a Space's proxy would for a caller at that address (a header only: every request
    goes to loopback)."""
    headers = {"X-Forwarded-For": address} if address else None
    return Client(url, verbose=False, ssl_verify=False, headers=headers)  # see the docstring


def address_of(user_index: int) -> str:
    """A documentation-range address (RFC 5737) per simulated visitor."""
    return f"203.0.113.{user_index + 1}"


def user(
    url: str, work: Workload, deadline: float, seed: int, stats: Stats, mix: str = "style"
) -> None:
    """Calls until the deadline: /generate, and on a Space one /interpolate in four."""
    rng = random.Random(seed)
    client = client_for(url, address_of(seed) if mix == "space" else "")
    while time.monotonic() < deadline:
        api = "/interpolate" if mix == "space" and rng.random() < 0.25 else "/generate"
        call = work.interpolate if api == "/interpolate" else work.generate
        started = time.monotonic()
        try:
            in_order = call(client, rng)
            stats.record(api, time.monotonic() - started, None)
            if not in_order:
                with stats.lock:
                    stats.order_errors += 1
        except Exception as e:  # every failure is counted, none stops the user
            stats.record(api, time.monotonic() - started, e)
        time.sleep(rng.uniform(0.0, 0.2))  # think time


def heavy(url: str, job, deadline: float, stats: Stats, api: str, address: str = "") -> None:
    """`job(client, seconds_left, run_number)` back to back until the deadline."""
    client, runs = client_for(url, address), 0
    while (left := deadline - time.monotonic()) > 1:
        started, runs = time.monotonic(), runs + 1
        try:
            job(client, left, runs)
            stats.record(api, time.monotonic() - started, None)
        except Exception as e:
            stats.record(api, time.monotonic() - started, e)
            time.sleep(1)


# --- the run ----------------------------------------------------------------------------------


def sample_memory(app: App, until: threading.Event, samples: list[float]) -> None:
    """RSS once a second (the results keep one sample in ten)."""
    while not until.wait(1.0):
        try:
            samples.append(app.rss_mb())
        except (OSError, RuntimeError):
            return


def load_threads(url: str, work: Workload, mix: str, users: int, deadline: float, stats: Stats):
    threads = [
        threading.Thread(target=user, args=(url, work, deadline, i, stats, mix), daemon=True)
        for i in range(users)
    ]
    style = lambda client, _left, _n: work.stylize(client)  # noqa: E731
    address = address_of(users) if mix == "space" else ""
    args = (url, style, deadline, stats, "/stylize", address)
    threads.append(threading.Thread(target=heavy, args=args))
    if mix == "finetune":
        tune = lambda client, left, n: work.finetune(client, left, f"load-{n}")  # noqa: E731
        args = (url, tune, deadline, stats, "/finetune")
        threads.append(threading.Thread(target=heavy, args=args, daemon=True))
    return threads


def warm_up(app: App, work: Workload, mix: str) -> float:
    """Every endpoint once (models loaded, first-use allocations made; a 2-iteration
    stylisation at the mix's size); the seconds it took."""
    client = client_for(app.url, address_of(255) if mix == "space" else "")
    started = time.monotonic()
    work.generate(client, random.Random(0))
    if mix == "space":
        work.interpolate(client, random.Random(0))
    steps, work.style_steps = work.style_steps, 2
    work.stylize(client)
    work.style_steps = steps
    if mix == "finetune":
        work.finetune(client, 5.0, "load-warm-up")
    return time.monotonic() - started


def run_mix(source: Path, mix: str, args: argparse.Namespace, settle_s: float) -> dict:
    users, duration_s = args.users, args.duration
    workdir = Path(tempfile.mkdtemp(prefix="gan-studio-load-"))
    app = App(workdir, "cpu", source, space=mix == "space")
    try:
        startup_s = app.wait_ready()
        content, style = small_images(workdir / "style", 2, args.style_size)
        train = small_images(workdir / "train", 16, 64)
        work = Workload(content, style, train, args.style_size, args.style_steps)
        warm_s = warm_up(app, work, mix)
        rss_warm = app.rss_mb()
        stats, samples = Stats(), []
        stop_sampling = threading.Event()
        load_start = os.getloadavg()
        deadline = time.monotonic() + duration_s
        threads = load_threads(app.url, work, mix, users, deadline, stats)
        sampler = threading.Thread(target=sample_memory, args=(app, stop_sampling, samples))
        started = time.monotonic()
        for thread in [*threads, sampler]:
            thread.start()
        for thread in threads:
            thread.join(timeout=duration_s + 900)  # in-flight calls finish after the deadline
        load_s = time.monotonic() - started
        load_end = os.getloadavg()
        stop_sampling.set()
        rss_end = app.rss_mb()
        time.sleep(settle_s)  # one malloc_trim period or more
        rss_after = app.rss_mb()
    finally:
        app.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    summary = stats.summary()
    generate = summary.get("/generate", {})
    failed = sum(v["failed"] for v in summary.values())
    return {
        "mix": mix,
        "users": users,
        "duration_s": duration_s,
        "stylize": {"size": args.style_size, "steps": args.style_steps},
        "load_s": round(load_s, 1),
        "startup_s": round(startup_s, 1),
        "load_average_1_5_15": {"start": load_start, "end": load_end},
        "warm_up_s": round(warm_s, 1),
        "endpoints": summary,
        "order_errors": stats.order_errors,
        "failed_requests": failed,
        "memory_mb": {
            "warm": round(rss_warm, 1),
            "peak_during_load": round(max(samples, default=rss_end), 1),
            "end_of_load": round(rss_end, 1),
            "settle_s": settle_s,
            "after_settle": round(rss_after, 1),
            "growth": round(rss_after - rss_warm, 1),
            "every_10s": [round(v, 1) for v in samples[::10]],
        },
        "goals_met": goals_met(mix, generate, summary, stats, rss_after - rss_warm, duration_s),
    }


GOALS = {"style": (1.0, 3.0), "finetune": (1.5, None), "space": (1.0, None)}  # p50, p95 (s)
BASELINE_P50_RATIO = 1.2  # a mix's /generate p50 within 20% of its baseline's, same run
MEMORY_BOUND_MB = 50.0  # after a 5-minute run


def goals_met(
    mix: str, generate: dict, summary: dict, stats: Stats, growth: float, duration: float
):
    p50, p95 = GOALS[mix]
    met = {
        "generate_p50": generate.get("p50_s") is not None and generate["p50_s"] <= p50,
        "no_failed_request": all(v["failed"] == 0 for v in summary.values()),
        "results_in_order": stats.order_errors == 0,
        "stylizations_finish": summary.get("/stylize", {}).get("ok", 0) > 0,
    }
    if p95 is not None:
        met["generate_p95"] = generate.get("p95_s") is not None and generate["p95_s"] <= p95
    if duration >= 300:
        met["memory_growth_within_50mb"] = growth <= MEMORY_BOUND_MB
    return met


def baseline_source(ref: str, workdir: Path) -> Path:
    """The app's code at git ref `ref`, extracted (not checked out) into `workdir`."""
    archive = subprocess.run(
        ["git", "archive", ref, "app.py", "core", "gan", "style", "ui"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(workdir)], input=archive, check=True)
    return workdir


def run(args: argparse.Namespace) -> dict:
    """Every mix asked for, ours and (with `--baseline`) the baseline's, in one run; the
    results file is rewritten after each, so an interrupted run keeps what it measured."""
    result = {
        "benchmark": "load",
        **stamp(MEASURES),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "note": NOTE,
        "mixes": {},
    }
    for mix in args.mix:
        log.info("mix %s: %d users, %.0f s", mix, args.users, args.duration)
        if not args.baseline_only:
            result["mixes"][mix] = run_mix(ROOT, mix, args, args.settle)
            write(args.out, result)
        if args.baseline:
            with tempfile.TemporaryDirectory(prefix="gan-studio-baseline-") as folder:
                source = baseline_source(args.baseline, Path(folder))
                log.info("mix %s: the baseline (%s)", mix, args.baseline)
                try:
                    row = run_mix(source, mix, args, 5.0)
                except RuntimeError as e:  # e.g. it did not start: recorded, not fatal
                    row = {"error": str(e)[:500]}
            result["mixes"].setdefault(mix, {})["baseline"] = {"ref": args.baseline, **row}
            compare_with_baseline(result["mixes"][mix])
            write(args.out, result)
    return result


def compare_with_baseline(row: dict) -> None:
    """Add the ratio of the /generate p50 to the baseline's of the same run, and its goal."""
    ours = row.get("endpoints", {}).get("/generate", {}).get("p50_s")
    theirs = row.get("baseline", {}).get("endpoints", {}).get("/generate", {}).get("p50_s")
    if ours and theirs:
        row["generate_p50_vs_baseline"] = round(ours / theirs, 3)
        row.setdefault("goals_met", {})["generate_p50_within_20pct_of_baseline"] = (
            ours <= BASELINE_P50_RATIO * theirs
        )


def write(out: Path, result: dict) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")


NOTE = (
    "CPU only: the GPU goals (fine-tune >= 2x, style <= 0.5 s) are measured by "
    "bench/finetune_bench.py and bench/style_bench.py on a GPU, not here. The machine's load "
    "average is recorded per mix: on a shared machine the latencies are inflated by the other "
    "processes, compare ours with the baseline of the same run."
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=12)
    parser.add_argument("--duration", type=float, default=300.0, help="seconds of load per mix")
    parser.add_argument("--settle", type=float, default=40.0, help="idle seconds before RSS")
    parser.add_argument("--mix", nargs="+", choices=sorted(GOALS), default=["style", "finetune"])
    parser.add_argument("--style-size", type=int, default=256, help="stylisation px")
    parser.add_argument("--style-steps", type=int, default=60, help="stylisation iterations")
    parser.add_argument("--baseline", default="", help="also run the app at this git ref")
    parser.add_argument("--baseline-only", action="store_true", help="skip ours")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "load_cpu.json")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    result = run(args)
    write(args.out, result)
    log.info("wrote %s", args.out)
    for mix, row in result["mixes"].items():
        for api, stats in row.get("endpoints", {}).items():
            log.info(
                "%s %-10s ok %4d failed %3d p50 %6ss p95 %6ss",
                mix,
                api,
                stats["ok"],
                stats["failed"],
                stats["p50_s"],
                stats["p95_s"],
            )
        log.info("%s memory: %s", mix, row.get("memory_mb"))
    broken = [
        row.get("failed_requests", 0) + row.get("order_errors", 0)
        for row in result["mixes"].values()
    ]
    return 1 if any(broken) else 0  # the goals are reported, not enforced here


if __name__ == "__main__":
    sys.exit(main())
