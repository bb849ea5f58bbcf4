"""StyleGAN3 on the CPU: 4 faces at 256 px, this project's module against NVIDIA's code with
its reference ops, on the same (random) weights, in one run.

NVIDIA's stylegan3 checkout is never part of the project: pass its folder (and a folder with
scipy and a `pkg_resources.py` stand-in holding `from packaging.version import parse as
parse_version`, which its code imports) on the command line:

    python -m bench.stylegan3_cpu --reference /scratch/stylegan3 --extra-path /scratch/pylib
    python -m bench.stylegan3_cpu --reference ... --quick      # a tiny 32 px smoke run

Configs as NVIDIA's train.py builds them at 256 px: StyleGAN3-T (channel_base 32768,
channel_max 512) and -R (1x1 convolutions, radial filters, channels doubled), 2 mapping layers.
Each round times every path once, in turn (after one warm-up call each), so that both see the
same load on a shared machine; the results record the load average before and after.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.results_meta import stamp  # noqa: E402
from bench.stylegan2_cpu import machine, timed  # noqa: E402
from gan import latents  # noqa: E402
from gan.models.stylegan3 import StyleGAN3Config, StyleGAN3Generator  # noqa: E402

log = logging.getLogger("bench.stylegan3_cpu")
MEASURES = [  # the code its results measure (bench.stale): the model and what it calls
    "gan/models/stylegan3.py",
    "gan/models/stylegan3_config.py",
    "gan/models/stylegan3_ops.py",
    "gan/models/stylegan2.py",
    "gan/models/stylegan2_ops.py",
    "gan/latents.py",
    "bench/stylegan2_cpu.py",
    "bench/stylegan3_cpu.py",
]
SEEDS = [1, 2, 3, 4]
CONFIGS = {
    "t": dict(channel_base=32768, channel_max=512),
    "r": dict(channel_base=65536, channel_max=1024, conv_kernel=1, use_radial_filters=True),
}


def kwargs(cfg: str, quick: bool) -> dict:
    """NVIDIA Generator kwargs (train.py's, at 256 px) for config 't' or 'r'."""
    kw = dict(z_dim=512, w_dim=512, c_dim=0, img_resolution=256, img_channels=3)
    kw |= dict(num_fp16_res=4, conv_clamp=256, magnitude_ema_beta=0.5 ** (32 / 20e3))
    kw |= CONFIGS[cfg]
    if quick:
        kw |= dict(z_dim=32, w_dim=32, img_resolution=32)
        kw |= {k: v // 16 for k, v in CONFIGS[cfg].items() if k.startswith("channel")}
    return kw


def networks(cfg: str, quick: bool, nvidia) -> tuple[torch.nn.Module, StyleGAN3Generator]:
    """NVIDIA's G and this project's, with the same weights."""
    kw = kwargs(cfg, quick)
    torch.manual_seed(0)
    theirs = nvidia.Generator(mapping_kwargs=dict(num_layers=2), **kw).eval()
    keys = ("z_dim", "w_dim", "c_dim", "img_resolution", "img_channels")
    synthesis = {k: v for k, v in kw.items() if k not in keys}
    ours = StyleGAN3Generator(
        StyleGAN3Config(**{k: kw[k] for k in keys}, mapping_layers=2, **synthesis)
    ).eval()
    ours.load_state_dict(theirs.state_dict())
    return theirs.requires_grad_(False), ours.requires_grad_(False)


def path(G: torch.nn.Module, z: torch.Tensor) -> Callable[[], object]:
    def run():
        with torch.no_grad():
            return G(z, None, noise_mode="const")

    return run


def bench_config(cfg: str, quick: bool, repeats: int, nvidia) -> dict:
    theirs, ours = networks(cfg, quick, nvidia)
    z = latents.seeds_to_z(SEEDS, ours.z_dim)
    with torch.no_grad():
        diff = (theirs(z, None) - ours(z, None)).abs()
    results = timed({"nvidia_reference_ops": path(theirs, z), "gan_studio": path(ours, z)}, repeats)
    base = results["nvidia_reference_ops"]["median_s"]
    results["gan_studio"]["speedup_vs_nvidia"] = round(base / results["gan_studio"]["median_s"], 3)
    return {
        "config": {k: v for k, v in kwargs(cfg, quick).items() if k != "magnitude_ema_beta"},
        "num_layers": ours.config.num_layers,
        "image_mean_abs_diff": float(diff.mean()),
        "image_max_abs_diff": float(diff.max()),
        **results,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reference", type=Path, required=True, help="NVIDIA stylegan3 folder")
    parser.add_argument("--extra-path", type=Path, action="append", default=[])
    parser.add_argument("--configs", default="t,r")
    parser.add_argument("--quick", action="store_true", help="a tiny 32 px smoke run")
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: all)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results/stylegan3_cpu.json")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    if args.threads:
        torch.set_num_threads(args.threads)
    sys.path[:0] = [str(p) for p in (args.reference, *args.extra_path)]
    from training import networks_stylegan3  # NVIDIA's, from --reference

    repeats = args.repeats or (1 if args.quick else 3)
    before = machine()
    result = {
        "benchmark": "stylegan3_cpu",
        "what": f"{len(SEEDS)} faces at {32 if args.quick else 256} px, random weights, "
        "NVIDIA's code (reference ops on the CPU) and this project's module, same weights",
        "repeats": repeats,
        **stamp(MEASURES),
        "machine": before,
    }
    result["note"] = (
        "shared, loaded machine (other jobs on its 2 cores): see the load averages; paths timed "
        "in turn in each round after one warm-up call each, medians of the rounds"
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    for cfg in args.configs.split(","):  # the file is rewritten after each config
        result[f"stylegan3-{cfg}"] = bench_config(cfg, args.quick, repeats, networks_stylegan3)
        log.info("stylegan3-%s: %s", cfg, json.dumps(result[f"stylegan3-{cfg}"]))
        result["load_average_after"] = machine()["load_average_1_5_15"]
        args.out.write_text(json.dumps(result, indent=2) + "\n")
        log.info("wrote %s", args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
