"""Cheap path: 16 faces through `/generate`, timed where it counts, against the earlier code.

Serves two apps side by side on their own ports: ours (this working tree) and the earlier code
(git ref `--base`, extracted with `git archive` into a temporary folder outside the project).
Round by round, alternating which app goes first, it measures on each:

- `server_ms`: a raw `POST /gradio_api/call/generate` (no session hash, as an API caller
  sends it) until its event stream says `complete`: the server's time plus loopback HTTP;
- `browser_ms`: in Chromium, from the Generate click until all 16 faces are loaded on the
  page; `page_load_ms`: a fresh page until it shows its first faces (the default seeds, run
  on load); `--no-browser` skips both;
- `client_ms`: `gradio_client` (`download_files=False`), the API round trip a script sees.

    python -m bench.cheap_path                      # 20 rounds, < 3 minutes on 2 cores
    python -m bench.cheap_path --rounds 1 --calls 1 --no-browser --base none --out /tmp/c.json  # CI

The result records the device, torch version, commit, base commit, the load average and the
paths it measures (`bench.stale` compares them with `git log`).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import sys
import tempfile
import time
from importlib.metadata import version
from pathlib import Path

import httpx

from bench.load import App, baseline_source, percentile
from bench.results_meta import stamp

log = logging.getLogger("bench.cheap_path")
ROOT = Path(__file__).resolve().parent.parent
BASE = "76c5d86"  # the code before the cheap-path work (issue 27)
SEEDS = ("1-16", "17-32")  # alternated, so that every click shows new faces
GOAL_SERVER_P50_MS = 100.0
GOAL_BROWSER_P50_MS = 300.0
MEASURES = ["app.py", "core", "gan/generate", "gan/models/dcgan.py", "gan/models/families.py", "ui"]
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
SIDES = ("ours", "before")
PAGE_LOADS = 3  # fresh pages per app, until their first faces show
_DEFAULTS: dict[str, list] = {}  # /generate's parameter defaults, by app URL


def generate_body(seeds: str, defaults: list) -> dict:
    """`/generate`'s inputs: seeds, ψ, the bundled DCGAN, the app's own defaults for the rest
    (the compared commits differ in how many inputs they have)."""
    return {"data": [seeds, 1.0, "dcgan-digiface", *defaults[3:]]}


def generate_defaults(http: httpx.Client, url: str) -> list:
    """The default of each `/generate` parameter, from the app's API info."""
    info = http.get(f"{url}gradio_api/info").json()["named_endpoints"]["/generate"]
    return [p.get("parameter_default") for p in info["parameters"]]


def server_call(http: httpx.Client, url: str, seeds: str) -> float:
    """One raw call to its `complete` event, in seconds."""
    defaults = _DEFAULTS.get(url) or _DEFAULTS.setdefault(url, generate_defaults(http, url))
    started = time.perf_counter()
    posted = http.post(f"{url}gradio_api/call/generate", json=generate_body(seeds, defaults))
    event_id = posted.json()["event_id"]
    with http.stream("GET", f"{url}gradio_api/call/generate/{event_id}") as stream:
        for line in stream.iter_lines():
            if line.startswith("event:") and line.split(":", 1)[1].strip() != "heartbeat":
                event = line.split(":", 1)[1].strip()
                if event == "complete":
                    return time.perf_counter() - started
                if event == "error":
                    raise RuntimeError(f"{url} /generate failed")
    raise RuntimeError(f"{url} /generate: no complete event")


def client_call(client, seeds: str) -> float:
    started = time.perf_counter()
    gallery = client.predict(seeds, 1.0, "dcgan-digiface", api_name="/generate")[0]
    if len(gallery) != 16:
        raise RuntimeError(f"/generate returned {len(gallery)} faces")
    return time.perf_counter() - started


# The page's side: click Generate, then poll each frame until 16 new faces have loaded.
CLICK_JS = """async () => {
  const old = new Set([...document.querySelectorAll('#faces img')].map(i => i.src));
  const button = [...document.querySelectorAll('button.primary')].find(
    b => b.offsetParent && b.textContent.trim() === 'Generate');
  const started = performance.now();
  button.click();
  while (true) {
    await new Promise(r => requestAnimationFrame(r));
    const imgs = [...document.querySelectorAll('#faces img')];
    const fresh = imgs.filter(i => !old.has(i.src) && i.complete && i.naturalWidth > 0);
    if (fresh.length >= 16) return performance.now() - started;
    if (performance.now() - started > 30000) throw new Error('faces did not appear');
  }
}"""
FACES_SHOWN_JS = "() => document.querySelectorAll('#faces img').length >= 8"


class Browser:
    """One Chromium page per app, each opened fresh (its load time measured once)."""

    def __init__(self) -> None:
        from playwright.sync_api import sync_playwright

        self._playwright = sync_playwright().start()
        args = ["--no-sandbox", "--disable-gpu"]
        self._browser = self._playwright.chromium.launch(executable_path=CHROMIUM, args=args)
        self.pages = {}

    def open(self, side: str, url: str) -> float:
        """A fresh page; ms until it shows its first faces (the on-load generate)."""
        if side in self.pages:
            self.pages.pop(side).close()
        page = self._browser.new_page(viewport={"width": 1366, "height": 900})
        started = time.perf_counter()
        page.goto(url)
        page.wait_for_function(FACES_SHOWN_JS, timeout=60_000)
        self.pages[side] = page
        return 1000 * (time.perf_counter() - started)

    def click(self, side: str, seeds: str) -> float:
        """ms from the Generate click to all 16 faces loaded."""
        page = self.pages[side]
        page.locator("textarea").first.fill(seeds)
        return page.evaluate(CLICK_JS) / 1000

    def close(self) -> None:
        self._browser.close()
        self._playwright.stop()


def measure(urls: dict, rounds: int, calls: int, browser: Browser | None) -> dict:
    """`rounds` rounds; in each, every app in turn (the first alternating): `calls` raw
    calls, one client call, one browser click."""
    from gradio_client import Client

    http = httpx.Client(timeout=60)
    clients = {
        side: Client(url, verbose=False, ssl_verify=False, download_files=False)
        for side, url in urls.items()
    }
    times = {kind: {side: [] for side in urls} for kind in ("server", "client", "browser")}
    for side, url in urls.items():  # warm-up
        server_call(http, url, SEEDS[0])
        client_call(clients[side], SEEDS[0])
    loads = {side: [] for side in urls} if browser else {}
    for r in range(PAGE_LOADS if browser else 0):
        for side in list(urls) if r % 2 == 0 else list(urls)[::-1]:
            loads[side].append(browser.open(side, urls[side]) / 1000)
    for r in range(rounds):
        order = list(urls) if r % 2 == 0 else list(urls)[::-1]
        seeds = SEEDS[r % 2]
        for side in order:
            times["server"][side] += [server_call(http, urls[side], seeds) for _ in range(calls)]
            times["client"][side].append(client_call(clients[side], seeds))
            if browser:
                times["browser"][side].append(browser.click(side, seeds))
    result = {f"{kind}_ms": compare(t) for kind, t in times.items() if t["ours"]}
    if loads:
        result["page_load_ms"] = compare(loads)
    return result


def compare(times: dict) -> dict:
    """p50/p95 per app, and the earlier code's p50 over ours."""
    out = {side: summary(t) for side, t in times.items()}
    if "before" in out:
        out["speedup_p50"] = round(out["before"]["p50"] / out["ours"]["p50"], 2)
    return out


def summary(times: list[float]) -> dict:
    ordered = sorted(times)
    p50, p95 = statistics.median(ordered), percentile(ordered, 95)
    return {"n": len(ordered), "p50": round(1000 * p50, 1), "p95": round(1000 * p95, 1)}


def commit_of(ref: str) -> str:
    import subprocess

    done = subprocess.run(["git", "rev-parse", "--short", ref], cwd=ROOT, capture_output=True)
    return done.stdout.decode().strip() or ref


def run(args: argparse.Namespace) -> dict:
    with tempfile.TemporaryDirectory(prefix="gan-studio-cheap-") as folder:
        work = {side: Path(folder) / side for side in (*SIDES, "source")}
        for path in work.values():
            path.mkdir()
        apps = {"ours": App(work["ours"], args.device)}
        if args.base != "none":
            source = baseline_source(args.base, work["source"])
            apps["before"] = App(work["before"], args.device, source)
        browser = None
        try:
            for app in apps.values():
                app.wait_ready()
            browser = Browser() if args.browser else None
            load_start = os.getloadavg()
            results = measure({s: a.url for s, a in apps.items()}, args.rounds, args.calls, browser)
            load_end = os.getloadavg()
        finally:
            if browser:
                browser.close()
            for app in apps.values():
                app.stop()
    return report(args, results, load_start, load_end)


def report(args: argparse.Namespace, results: dict, load_start, load_end) -> dict:
    server, browser = results["server_ms"], results.get("browser_ms")
    return {
        **stamp(MEASURES),  # the time and the command; the keys below say more
        "benchmark": "cheap_path",
        "what": f"/generate seeds {SEEDS[0]} / {SEEDS[1]} (16 faces, dcgan-digiface 64 px)",
        "device": args.device,
        "cpus": os.cpu_count(),
        "torch": version("torch"),
        "gradio": version("gradio"),
        "base_commit": commit_of(args.base) if args.base != "none" else None,
        "load_average_1_5_15": {"start": load_start, "end": load_end},
        **results,
        "goal": {
            "server_p50_ms_at_most": GOAL_SERVER_P50_MS,
            "server_met": server["ours"]["p50"] <= GOAL_SERVER_P50_MS,
            "browser_p50_ms_at_most": GOAL_BROWSER_P50_MS,
            "browser_met": bool(browser) and browser["ours"]["p50"] <= GOAL_BROWSER_P50_MS,
        },
        "note": (
            "ours and before run side by side, alternating round by round; the goals are for "
            "an idle 2-core machine: read the load average before the absolute figures."
        ),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--calls", type=int, default=5, help="raw server calls per round")
    parser.add_argument("--base", default=BASE, help="git ref of the earlier code, or none")
    parser.add_argument("--no-browser", dest="browser", action="store_false")
    parser.add_argument("--device", default="cpu", help="the apps' GAN_STUDIO_DEVICE")
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results/cheap_path_cpu.json")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    if args.browser and not Path(CHROMIUM).exists():
        log.warning("no Chromium at %s: the browser is not timed", CHROMIUM)
        args.browser = False
    result = run(args)
    result["command"] = "python -m bench.cheap_path " + " ".join(argv or sys.argv[1:])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    log.info("wrote %s: server %s", args.out, json.dumps(result["server_ms"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
