"""High resolution as an experiment: the three runs of `gan.lab.highres` (plain DCGAN-style at
64 px, progressive growing, MSG-GAN) on the toy set, the same training time each, with KID over
time for each; the lab's page runs the same experiment.

    python bench/highres.py --preset "quick (3 x 60 s)" --out bench/results/highres_cpu.json
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import sys
import time
from dataclasses import asdict
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.results_meta import stamp  # noqa: E402
from gan.lab.highres import PRESETS, experiment  # noqa: E402

log = logging.getLogger("bench.highres")
MEASURES = [  # the code its results measure (bench.stale)
    "gan/lab/highres.py",
    "gan/lab/growing.py",
    "gan/lab/collapse.py",
    "gan/lab/toy.py",
    "gan/lab/train.py",
    "gan/finetune/kid.py",
    "bench/highres.py",
]


def run(preset: str, threads: int) -> dict:
    """The experiment's KID curves, steps and verdict as a JSON-ready dict."""
    torch.set_num_threads(threads)
    config = PRESETS[preset]
    head = stamp(MEASURES)
    started = time.perf_counter()
    curves: dict[str, list[dict]] = {}
    result: dict = {}
    for event in experiment(config):
        if event.evaluation is not None:
            e = event.evaluation
            point = {"seconds": round(e.seconds, 2), "steps": e.steps, "resolution": e.resolution}
            point |= {"alpha": round(e.alpha, 3), "kid": e.kid.mean, "kid_std": e.kid.std}
            curves.setdefault(e.method, []).append(point)
        if event.done:
            result = {"final_kid": event.verdict.final, "claim_holds": event.verdict.holds}
    return {
        **head,
        "python": platform.python_version(),
        "cpu_threads": threads,
        "load_average_at_start": head["load_average_1_5_15"],
        "preset": preset,
        "config": asdict(config),
        "kid_features": "gan.lab.collapse.RandomConvFeatures (fixed random convolutions, 512-d)",
        "wall_s": round(time.perf_counter() - started, 1),
        "kid_over_time": curves,
        **result,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default=next(iter(PRESETS)), choices=list(PRESETS))
    parser.add_argument("--threads", type=int, default=1)  # faster on a busy 2-core host
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results/highres_cpu.json")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO)
    result = run(args.preset, args.threads)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    log.info("%s: final KID %s", args.out, result.get("final_kid"))


if __name__ == "__main__":
    main()
