"""Fine-tuning quality against wall time, for the StyleGAN2 and the DCGAN paths, on one device.

Each path is fine-tuned toward random crops of the paintings in `../shared/images/` through the
app's loop (`gan.finetune.loop.run_finetune`), in `--chunks` resumed runs of `--seconds` wall
time each (as a ZeroGPU Space runs it); KID (EfficientNet-Lite0 features, x1e-3 in the log,
raw in the JSON) is measured against the crops before the first run and after every chunk.

- StyleGAN2: a small random StyleGAN2 (`--sg2-resolution`, few channels) converted without D,
  so a fresh D with its warm-up. No pretrained StyleGAN2 weights can be had offline, so this
  measures how fast the path learns the set from scratch, not a transfer from faces.
- DCGAN: the bundled face model (`dcgan-digiface`, 64 px) with a fresh D.

    python bench/finetune_sg2_quality.py --seconds 45 --chunks 3 \\
        --out bench/results/finetune_sg2_cpu.json

`--baseline REF` first runs the same bench on the code of git ref REF (extracted with
`git archive` into a temporary folder, not checked out), in the same run, and stores its
results under "baseline": before and after on one machine under one load.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("GAN_STUDIO_MAX_TRAIN_STEPS", "1000000")  # the runs are capped by time

from bench.finetune_bench import PAINTINGS, painting_crops  # noqa: E402
from bench.results_meta import stamp  # noqa: E402
from core import store  # noqa: E402
from core.device import resolve_device  # noqa: E402
from core.efficientnet import load_efficientnet_lite0  # noqa: E402
from gan.finetune.config import FinetuneJob  # noqa: E402
from gan.finetune.loop import run_finetune  # noqa: E402
from gan.finetune.service import model_defaults  # noqa: E402
from gan.models.stylegan2 import StyleGAN2Config, StyleGAN2Generator  # noqa: E402

log = logging.getLogger("bench.finetune_sg2_quality")
MEASURES = [  # the code its results measure (bench.stale): the loop, the models, KID's net
    "gan/finetune",
    "gan/models",
    "core/efficientnet.py",
    "bench/finetune_bench.py",
    "bench/finetune_sg2_quality.py",
]
DCGAN_BASE = "dcgan-digiface"
SG2_BASE = "bench-sg2-small"
STATE = "training_state.json"
SHARED = ("efficientnet-lite0", DCGAN_BASE)  # linked into the bench's own checkpoints folder


def small_stylegan2(resolution: int, channels: int) -> StyleGAN2Generator:
    """A random StyleGAN2 with `channels` feature maps at every resolution."""
    torch.manual_seed(0)
    config = StyleGAN2Config(
        z_dim=64,
        w_dim=64,
        img_resolution=resolution,
        mapping_layers=2,
        channel_base=channels * resolution,
        channel_max=channels,
    )
    return StyleGAN2Generator(config)


def _point(steps: int, train_seconds: float, kid: float) -> dict:
    return {"steps": steps, "train_seconds": round(train_seconds, 1), "kid": kid}


def _ratio(last: float | None, first: float | None) -> float | None:
    return round(last / first, 4) if last is not None and first else None


def kid_curve(path: str, base: str, images, net, device, args) -> dict:
    """KID before and after each chunk, against cumulative training seconds and steps."""
    defaults = model_defaults(base, device)  # the model's recipe, as the tab and the API
    points: list[dict] = []
    config = replace(
        defaults,
        steps=10**6,
        batch_size=args.batch_size or defaults.batch_size,
        max_seconds=args.seconds,
        kid_samples=args.kid_samples,
        sample_every=10**6,
        n_samples=4,
    )
    name, started, train_seconds = f"bench-{path}-paintings", time.perf_counter(), 0.0
    for chunk in range(args.chunks):
        job = FinetuneJob(images, name, base, config, resume=chunk > 0)
        for event in run_finetune(job, device, feature_net=net, report_every_s=30):
            if event.losses:
                log.info("%s step %d  %s", path, event.step, event.losses)
            if event.done:
                state = json.loads((store.checkpoints_dir() / name / STATE).read_text())
                train_seconds += state["seconds"]
                if chunk == 0:
                    # None: KID before was skipped (it may take a quarter of the chunk)
                    points.append(_point(0, 0.0, event.metrics.get("kid_before")))
                    log.info("%s: before %s", path, points[-1])
                after = event.metrics.get("kid_after")
                points.append(_point(state["steps_done"], train_seconds, after))
                log.info("%s: %s", path, points[-1])
    return {
        "base": base,
        "resolution": images.shape[-1],
        "batch_size": config.batch_size,
        "lr": config.lr_g,
        "points": points,
        "kid_ratio_last_over_first": _ratio(points[-1]["kid"], points[0]["kid"]),
        "wall_seconds_total_with_kid": round(time.perf_counter() - started, 1),
    }


def run_baseline(args: argparse.Namespace) -> dict:
    """This bench on the code of git ref `args.baseline`, run from a temporary folder with the
    same arguments and this tree's checkpoints; its results."""
    with tempfile.TemporaryDirectory() as tmp:
        paths = ["app.py", "bench", "core", "gan", "style", "ui"]
        archive = subprocess.run(
            ["git", "archive", args.baseline, *paths], cwd=ROOT, capture_output=True, check=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", tmp], input=archive, check=True)
        out = Path(tmp) / "baseline.json"
        argv = [a for a in sys.argv[1:] if a not in ("--baseline", args.baseline)]
        argv += ["--out", str(out), "--images-dir", str(args.images_dir)]
        env = os.environ | {"GAN_STUDIO_CHECKPOINTS": str(store.checkpoints_dir())}
        log.info("baseline %s: %s", args.baseline, " ".join(argv))
        script = Path(tmp) / "bench" / "finetune_sg2_quality.py"
        subprocess.run([sys.executable, str(script), *argv], cwd=tmp, env=env, check=True)
        return json.loads(out.read_text())


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=45.0, help="wall time of each chunk")
    p.add_argument("--chunks", type=int, default=3)
    p.add_argument("--batch-size", type=int, default=0, help="0: each model's default")
    p.add_argument("--kid-samples", type=int, default=64)
    p.add_argument("--target-images", type=int, default=256)
    p.add_argument("--sg2-resolution", type=int, default=32)
    p.add_argument("--sg2-channels", type=int, default=32)
    p.add_argument("--paths", default="stylegan2,dcgan", help="which paths to run")
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's choice)")
    p.add_argument("--images-dir", type=Path, default=ROOT.parent / "shared" / "images")
    p.add_argument("--device", default=None)
    p.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "finetune_sg2.json")
    p.add_argument("--baseline", default=None, help="git ref to measure first, in this run")
    args = p.parse_args()
    baseline = run_baseline(args) if args.baseline else None
    if args.threads:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    net = load_efficientnet_lite0(device)
    results = stamp(MEASURES, device) | {
        "threads": torch.get_num_threads(),
        "target": f"{args.target_images} random crops of {len(PAINTINGS)} paintings",
        "chunk_seconds": args.seconds,
        "kid_samples": args.kid_samples,
    }
    G = small_stylegan2(args.sg2_resolution, args.sg2_channels)
    with tempfile.TemporaryDirectory() as tmp:  # the runs stay out of checkpoints/
        for shared in SHARED:
            (Path(tmp) / shared).symlink_to(store.resolve(shared))
        os.environ["GAN_STUDIO_CHECKPOINTS"] = tmp
        store.save_pretrained(Path(tmp) / SG2_BASE, G.config.to_dict(), G.state_dict(), "#\n")
        for path, base in (("stylegan2", SG2_BASE), ("dcgan", DCGAN_BASE)):
            if path not in args.paths.split(","):
                continue
            size = args.sg2_resolution if path == "stylegan2" else 64
            images = painting_crops(args.images_dir, args.target_images, size)
            results[path] = kid_curve(path, base, images, net, device, args)
    if "stylegan2" in results:
        results["stylegan2"]["model"] = G.config.to_dict()
    if baseline is not None:
        results["baseline"] = baseline | {"ref": args.baseline}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    log.info("%s", json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
