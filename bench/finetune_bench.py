"""Fine-tuning benchmark: KID before/after a timed run, and training throughput vs a plain loop.

The default face model is fine-tuned toward a domain it never saw: random crops of the
paintings in `../shared/images/` (brush strokes and flat colour instead of rendered faces).
Recorded, all in one process on one device:

- KID (EfficientNet-Lite0 features) of the model against the target crops, before and after a
  run of `--seconds` wall time through `gan.run_finetune` (the app's and CLI's loop);
- training throughput (images/s) of our step (DiffAugment, balance rule, EMA; fp32 and the
  bf16 autocast) against the plain PyTorch DCGAN-tutorial loop on the same models and
  batch size; the ratios are what to compare between machines.

    python bench/finetune_bench.py --seconds 120 --out bench/results/finetune_gpu.json
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torchvision.utils import make_grid

ROOT = Path(__file__).resolve().parent.parent
FINETUNE_MEASURES = [
    "gan/finetune",
    "gan/models/dcgan.py",
    "bench/finetune_bench.py",
]  # the code its results measure (bench.stale)
sys.path.insert(0, str(ROOT))
os.environ.setdefault("GAN_STUDIO_MAX_TRAIN_STEPS", "1000000")  # the run is capped by time
os.environ.setdefault("GAN_STUDIO_MAX_TRAIN_SECONDS", "3600")

from bench.results_meta import stamp  # noqa: E402
from core import store  # noqa: E402
from core.device import resolve_device  # noqa: E402
from core.efficientnet import load_efficientnet_lite0  # noqa: E402
from core.images import load_rgb  # noqa: E402
from gan.finetune.config import FinetuneConfig, FinetuneJob  # noqa: E402
from gan.finetune.loop import run_finetune  # noqa: E402
from gan.finetune.trainer import BatchSampler, GANTrainer  # noqa: E402
from gan.loading import generator_from_folder  # noqa: E402
from gan.models.dcgan import Discriminator, DiscriminatorConfig, init_weights  # noqa: E402

log = logging.getLogger("bench.finetune")

PAINTINGS = [
    "starry_night.jpg",
    "the_scream.jpg",
    "picasso_selfport1907.jpg",
    "woman-with-hat-matisse.jpg",
    "shipwreck.jpg",
    "frida_kahlo.jpg",
    "escher_sphere.jpg",
    "seated-nude.jpg",
]
BASE = "dcgan-digiface"


def painting_crops(folder: Path, n: int, size: int, seed: int = 0) -> torch.Tensor:
    """`n` random square crops (30-70% of the short side) of the paintings, uint8 (n, 3, s, s)."""
    rng = np.random.default_rng(seed)
    images = [load_rgb(folder / name) for name in PAINTINGS if (folder / name).is_file()]
    if not images:
        raise SystemExit(f"no paintings found in {folder}")
    crops = []
    for i in range(n):
        image = images[i % len(images)]
        side = int(min(image.size) * rng.uniform(0.3, 0.7))
        x, y = rng.integers(0, image.width - side + 1), rng.integers(0, image.height - side + 1)
        crop = image.crop((x, y, x + side, y + side)).resize((size, size), Image.Resampling.LANCZOS)
        crops.append(np.asarray(crop))
    return torch.from_numpy(np.stack(crops)).permute(0, 3, 1, 2).contiguous()


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def fresh_models(device: torch.device):
    G = generator_from_folder(store.resolve(BASE), BASE).to(device)
    D = Discriminator(DiscriminatorConfig(image_size=G.config.image_size))
    D.apply(init_weights)
    return G.train(), D.to(device).train()


def reference_loop(device, sampler, batch: int, steps: int) -> float:
    """The PyTorch DCGAN tutorial's loop (two D forwards, BCE, Adam 2e-4/0.5); images/s."""
    G, D = fresh_models(device)
    opt_g = torch.optim.Adam(G.parameters(), 2e-4, (0.5, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), 2e-4, (0.5, 0.999))

    def step() -> None:
        real = sampler(batch)
        D.zero_grad()
        out = D(real)
        F.binary_cross_entropy_with_logits(out, torch.ones_like(out)).backward()
        fake = G(torch.randn(batch, G.config.nz, device=device))
        out = D(fake.detach())
        F.binary_cross_entropy_with_logits(out, torch.zeros_like(out)).backward()
        opt_d.step()
        G.zero_grad()
        out = D(fake)
        F.binary_cross_entropy_with_logits(out, torch.ones_like(out)).backward()
        opt_g.step()

    return _timed(step, device, batch, steps)


def our_loop(
    device, sampler, batch: int, steps: int, precision: str, skipped: list[int], balance=True
) -> float:
    """Our trainer's step; appends to `skipped` how many D steps the balance rule skipped
    (`balance=False` turns the rule off: the same work per step as the reference)."""
    G, D = fresh_models(device)
    config = FinetuneConfig(precision=precision, **({} if balance else {"d_loss_threshold": 0}))
    trainer = GANTrainer(G, D, config, device)
    count = [0]

    def step() -> None:
        count[0] += bool(trainer.train_step(sampler(batch)).d_skipped)

    rate = _timed(step, device, batch, steps, count)
    skipped.append(count[0])
    return rate


def _timed(step, device, batch: int, steps: int, counter: list[int] | None = None) -> float:
    for _ in range(max(5, steps // 10)):  # warm-up (cuDNN autotuning, allocator)
        step()
    _sync(device)
    if counter is not None:
        counter[0] = 0  # count the timed steps only
    start = time.perf_counter()
    for _ in range(steps):
        step()
    _sync(device)
    return batch * steps / (time.perf_counter() - start)


def throughput(device, images, batch: int, steps: int, repeats: int = 3) -> dict:
    """Best of `repeats` alternating runs of each loop (robust to a busy machine)."""
    sampler = BatchSampler(images, device, hflip=True, seed=0)
    skipped: dict[str, list[int]] = {}

    def ours(name: str, precision: str, balance: bool = True):
        skipped[name] = []
        return lambda: our_loop(device, sampler, batch, steps, precision, skipped[name], balance)

    loops = {
        "reference": lambda: reference_loop(device, sampler, batch, steps),
        "ours_fp32": ours("ours_fp32", "fp32"),
        "ours_fp32_equal_work": ours("ours_fp32_equal_work", "fp32", balance=False),
    }
    if device.type == "cuda":  # bf16 autocast is for GPUs; on a CPU it is many times slower
        loops["ours_bf16_autocast"] = ours("ours_bf16_autocast", "bf16")
        loops["ours_bf16_equal_work"] = ours("ours_bf16_equal_work", "bf16", balance=False)
    runs: dict[str, list[float]] = {name: [] for name in loops}
    for r in range(repeats):  # alternating, the order rotating round by round
        names = list(loops)[r % len(loops) :] + list(loops)[: r % len(loops)]
        for name in names:
            runs[name].append(loops[name]())
    best = {name: max(values) for name, values in runs.items()}
    out = {"batch_size": batch, "steps_timed": steps, "repeats": repeats}
    out["note"] = (
        "ours_*: the balance rule skips D steps (d_steps_skipped per run, of steps_timed), so "
        "it does less work per step; *_equal_work: the rule off, every step a D and a G step "
        "as in the reference"
    )
    for name, value in best.items():
        out[f"{name}_images_per_s"] = round(value, 1)
        out[f"{name}_runs"] = [round(v, 1) for v in runs[name]]
        if name in skipped:
            out[f"{name}_d_steps_skipped"] = skipped[name]
        if name != "reference":
            out[f"ratio_{name}_vs_reference"] = round(value / best["reference"], 3)
    return out


def done_metrics(event, notes: list[str]) -> dict:
    """Steps, KID before and after (None when it did not fit in the time cap, which counts
    both KIDs: see `notes`), and the share of D steps the balance rule skipped."""
    skipped = sum(h["d_skipped"] for h in event.history) / max(len(event.history), 1)
    before, after = event.metrics.get("kid_before"), event.metrics.get("kid_after")
    result = {"steps": event.step, "kid_before": before, "kid_after": after}
    if before and after is not None:
        result["kid_ratio_after_over_before"] = round(after / before, 4)
        result["kid_cut_at_least_half"] = after <= 0.5 * before
    if notes:
        result["kid_notes"] = notes
    return result | {"d_steps_skipped_fraction": round(skipped, 3)}


def finetune_run(device, images, net, args) -> tuple[dict, np.ndarray, np.ndarray]:
    config = FinetuneConfig(
        steps=10**6,
        batch_size=args.batch_size,
        lr_g=args.lr,
        lr_d=args.lr,
        max_seconds=args.seconds,
        kid_samples=args.kid_samples,
        sample_every=10**6,
        n_samples=32,
        seed=0,
    )
    job = FinetuneJob(images, "bench-paintings", BASE, config)
    first = last = None
    result: dict = {}
    started = time.perf_counter()
    notes = []
    for event in run_finetune(job, device, feature_net=net, report_every_s=10):
        if event.message and "KID" in event.message:
            notes.append(event.message)  # a KID that did not fit in the run's time cap
        if event.done:
            last = event.preview
            result = done_metrics(event, notes)
        elif event.preview is not None and first is None:
            first = event.preview
        elif event.losses:
            log.info("step %d  loss_d %.3f  loss_g %.3f", event.step, *_losses(event))
    result["wall_seconds_total"] = round(time.perf_counter() - started, 1)
    result["train_seconds_cap"] = args.seconds
    return result, first, last


def _losses(event) -> tuple[float, float]:
    return event.losses["loss_d"], event.losses["loss_g"]


def _device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"cpu ({os.cpu_count()} cores, {platform.machine()})"


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=120.0, help="fine-tuning wall time")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=2e-4)
    p.add_argument("--target-images", type=int, default=2000)
    p.add_argument("--kid-samples", type=int, default=2000)
    p.add_argument("--throughput-steps", type=int, default=200)
    p.add_argument("--throughput-repeats", type=int, default=3, help="alternating runs per loop")
    p.add_argument("--images-dir", type=Path, default=ROOT.parent / "shared" / "images")
    p.add_argument("--device", default=None)
    p.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "finetune.json")
    p.add_argument("--samples-png", type=Path, help="before/after sample grids as one PNG")
    args = p.parse_args()

    device = resolve_device(args.device)
    torch.manual_seed(0)
    net = load_efficientnet_lite0(device)
    images = painting_crops(args.images_dir, args.target_images, 64)
    results = {
        **stamp(FINETUNE_MEASURES),  # the time, load and command; the keys below say more
        "device": _device_name(device),
        "base_model": BASE,
        "target": f"{args.target_images} random crops of {len(PAINTINGS)} paintings, 64x64",
        "throughput": throughput(
            device, images, args.batch_size, args.throughput_steps, args.throughput_repeats
        ),
    }
    log.info("throughput: %s", results["throughput"])
    with tempfile.TemporaryDirectory() as tmp:  # the run's checkpoint stays out of checkpoints/
        (Path(tmp) / BASE).symlink_to(store.resolve(BASE))
        os.environ["GAN_STUDIO_CHECKPOINTS"] = tmp
        run, before, after = finetune_run(device, images, net, args)
    results["finetune"] = run | {"batch_size": args.batch_size, "lr": args.lr}
    log.info("fine-tune: %s", run)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    if args.samples_png and before is not None and after is not None:
        pair = [make_grid(torch.from_numpy(s).permute(0, 3, 1, 2), 8, 2) for s in (before, after)]
        Image.fromarray(torch.cat(pair, dim=2).permute(1, 2, 0).numpy()).save(args.samples_png)
    log.info("%s", json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
