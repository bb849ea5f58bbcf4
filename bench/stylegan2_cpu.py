"""StyleGAN2 on the CPU: 4 faces at 256 px through the `/generate` API.

An FFHQ-like config (channel_base 16384, channel_max 512, 8 mapping layers, random weights)
is written to a private checkpoints folder and served by the real app on a free local port.
In the same run, on the same weights, it times:

- `nvidia`: NVIDIA's stylegan2-ada-pytorch Generator, unpacked at run time from
  `../shared/reference/` into a temporary folder, whose weights this project's module takes;
- `baseline`: this project's module as written, `G(z)` in float32 NCHW, under `no_grad`;
- `studio`: `FaceStudio.generate` (channels_last, `no_grad`), the service `/generate` calls;
- `api`: the whole `/generate` call through `gradio_client` (PNG encoding, files, HTTP).

`nvidia` and `baseline` run with the torch threads the studio path really got from the
priority gate (recorded as `torch_threads_used`); the order rotates round by round.

    python -m bench.stylegan2_cpu                 # the target run, results in bench/results/
    python -m bench.stylegan2_cpu --quick         # a tiny smoke run (32 px, one repeat)

The machine may be shared: the results record the load average before and after.
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
from collections.abc import Callable
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import nvidia_reference  # noqa: E402
from bench.results_meta import stamp  # noqa: E402
from core import store  # noqa: E402
from gan import latents  # noqa: E402
from gan.models.stylegan2 import StyleGAN2Config, StyleGAN2Generator  # noqa: E402

log = logging.getLogger("bench.stylegan2_cpu")
MODEL = "sg2-ffhq-like-256"
SEEDS = [1, 2, 3, 4]
MEASURES = [  # the code its results measure (bench.stale): the model, the service, the gate
    "gan/models/stylegan2.py",
    "gan/models/stylegan2_config.py",
    "gan/models/stylegan2_ops.py",
    "gan/generate",
    "gan/latents.py",
    "gan/loading.py",
    "core/lanes.py",
    "bench/nvidia_reference.py",
    "bench/stylegan2_cpu.py",
]


def config(quick: bool) -> StyleGAN2Config:
    if quick:
        return StyleGAN2Config(
            z_dim=32,
            w_dim=32,
            img_resolution=32,
            mapping_layers=2,
            channel_base=256,
            channel_max=32,
        )
    return StyleGAN2Config(
        img_resolution=256, channel_base=16384, channel_max=512, mapping_layers=8
    )


def timed(paths: dict[str, Callable[[], object]], repeats: int) -> dict[str, dict]:
    """One warm-up call of each path, then `repeats` rounds that time every path once, in turn:
    on a shared machine whose load drifts, each path sees the same conditions."""
    for fn in paths.values():
        fn()
    names = list(paths)
    times: dict[str, list[float]] = {name: [] for name in paths}
    for r in range(repeats):
        for name in names[r % len(names) :] + names[: r % len(names)]:  # rotating order
            start = time.perf_counter()
            paths[name]()
            times[name].append(time.perf_counter() - start)
    return {name: _stats(ts) for name, ts in times.items()}


def nvidia_twin(cfg: StyleGAN2Config, ours: StyleGAN2Generator) -> torch.nn.Module:
    """NVIDIA's Generator (stylegan2-ada-pytorch, unpacked from ../shared/reference at run time)
    with the same config, and `ours` given its weights; fp32 on the CPU (no fp16 layers)."""
    code = nvidia_reference.unpack("stylegan2", Path(tempfile.gettempdir()) / "gan-studio-ref")
    nvidia_reference.import_path(code)
    from training import networks  # NVIDIA's

    synthesis = dict(channel_base=cfg.channel_base, channel_max=cfg.channel_max)
    synthesis |= dict(num_fp16_res=0, conv_clamp=cfg.conv_clamp, architecture=cfg.architecture)
    theirs = networks.Generator(
        z_dim=cfg.z_dim,
        c_dim=cfg.c_dim,
        w_dim=cfg.w_dim,
        img_resolution=cfg.img_resolution,
        img_channels=cfg.img_channels,
        mapping_kwargs=dict(num_layers=cfg.mapping_layers),
        synthesis_kwargs=synthesis,
    )
    ours.load_state_dict(theirs.state_dict())
    return theirs.eval().requires_grad_(False)


def with_threads(fn: Callable[[], object], used: dict, name: str, like: str | None = None):
    """`fn`, recording the torch threads it really ran with (`like`: first set the count
    that path `like` ran with, so that both get the same)."""

    def run():
        if like and like in used:
            torch.set_num_threads(used[like])
        out = fn()
        used[name] = torch.get_num_threads()
        return out

    return run


def _stats(times: list[float]) -> dict:
    return {
        "median_s": round(statistics.median(times), 4),
        "min_s": round(min(times), 4),
        "runs_s": [round(t, 4) for t in times],
    }


def baseline(G: torch.nn.Module) -> Callable[[], object]:
    """A module as written: float32, contiguous (NCHW), no_grad."""
    z = latents.seeds_to_z(SEEDS, G.z_dim)

    def run():
        with torch.no_grad():
            return G(z, None, noise_mode="const")

    return run


def api_call(url: str) -> Callable[[], object]:
    from gradio_client import Client

    client = Client(url, verbose=False)

    def run():
        gallery, _files, info = client.predict(
            seeds=",".join(map(str, SEEDS)), model=MODEL, api_name="/generate"
        )
        assert len(gallery) == len(SEEDS), info
        return gallery

    return run


def machine() -> dict:
    return {
        "cpus": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "load_average_1_5_15": [round(x, 2) for x in os.getloadavg()],
    }


def run(quick: bool, repeats: int) -> dict:
    """Write the model, start the app, time the three paths."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    cfg = config(quick)
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["GAN_STUDIO_CHECKPOINTS"] = tmp
        torch.manual_seed(0)
        G = StyleGAN2Generator(cfg).eval().requires_grad_(False)
        theirs = nvidia_twin(cfg, G)
        z = latents.seeds_to_z(SEEDS, G.z_dim)
        with torch.no_grad():
            diff = (theirs(z, None, noise_mode="const") - G(z, None, noise_mode="const")).abs()
        store.save_pretrained(Path(tmp) / MODEL, cfg.to_dict(), G.state_dict(), "# random\n")
        before, head = machine(), stamp(MEASURES)
        from tests.conftest import launch_app
        from ui.services import build_services

        services = build_services("cpu", Path(tmp) / "outputs")
        studio = services.studio
        demo, url = launch_app(services)
        try:
            used: dict[str, int] = {}
            paths = {
                "studio": with_threads(lambda: studio.generate(MODEL, SEEDS), used, "studio"),
                "nvidia": with_threads(baseline(theirs), used, "nvidia", like="studio"),
                "baseline": with_threads(baseline(G), used, "baseline", like="studio"),
                "api": api_call(url),
            }
            results = timed(paths, repeats)
        finally:
            demo.close()
    for name, threads in used.items():
        results[name]["torch_threads_used"] = threads
    results["nvidia"]["image_max_abs_diff_vs_ours"] = float(diff.max())
    return summary(cfg, results, head | {"machine": before}, repeats)


def summary(cfg: StyleGAN2Config, results: dict, head: dict, repeats: int) -> dict:
    """The results file: `head` (the stamp and the machine before the run), then the paths."""
    base, nvidia = results["baseline"]["median_s"], results["nvidia"]["median_s"]
    for name in ("studio", "api"):
        results[name]["speedup_vs_baseline"] = round(base / results[name]["median_s"], 3)
        results[name]["speedup_vs_nvidia"] = round(nvidia / results[name]["median_s"], 3)
    return {
        "benchmark": "stylegan2_cpu",
        "what": f"{len(SEEDS)} faces at {cfg.img_resolution} px, random weights",
        "config": {
            "img_resolution": cfg.img_resolution,
            "channel_base": cfg.channel_base,
            "channel_max": cfg.channel_max,
            "mapping_layers": cfg.mapping_layers,
        },
        "repeats": repeats,
        **head,
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "note": "nvidia: NVIDIA's stylegan2-ada-pytorch Generator (its reference ops on the "
        "CPU, fp32) with the same weights; baseline: this project's module as written; the "
        "paths are timed in turn, the order rotating round by round (after one warm-up call "
        "each), medians of the rounds; nvidia and baseline run with the torch threads the "
        "studio path was given (torch_threads_used); see the load averages",
        "target_s": 1.5,
        **results,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a tiny 32 px smoke run")
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: all)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results/stylegan2_cpu.json")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    if args.threads:
        torch.set_num_threads(args.threads)
    repeats = args.repeats or (1 if args.quick else 5)
    result = run(args.quick, repeats)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    log.info("wrote %s", args.out)
    for name in ("baseline", "studio", "api"):
        log.info("%-8s median %.3f s", name, result[name]["median_s"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
