"""StyleGAN2 training speed on a GPU: our trainer against NVIDIA's `train.py`, same GPU, same run.

For each `--rows` entry RES:BATCH (default 256 px at batch 32, FFHQ-like `paper256`, and
1024 px at batch 8, `stylegan2`), with random weights and a folder of random images:

- ours: `gan.finetune.sg2_trainer.StyleGAN2Trainer` with the config's settings (ADA,
  lazy R1 with its gamma, path length 2, style mixing 0.9), fp32 with TF32 on; images/s
  over `--steps` timed steps after a warm-up, and the peak GPU memory;
- NVIDIA (only with `--nvidia PATH`, a checkout of NVlabs/stylegan2-ada-pytorch kept outside
  the project): `train.py --cfg CFG --batch BATCH --kimg KIMG --metrics none` run on the same
  folder, its own CUDA ops (compiled at start: the log says whether they loaded) and its
  mixed precision; images/s = 1000 / sec-per-kimg of its last tick, peak memory from `gpumem`.
  `--nvidia-fp32` adds a row with its `--fp32 1`.

No network is needed (NVIDIA's code needs its own packages: click, psutil, scipy, ninja).

    python bench/finetune_sg2_speed.py --nvidia /scratch/stylegan2-ada-pytorch \\
        --out bench/results/finetune_sg2_gpu.json
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.results_meta import stamp  # noqa: E402
from gan.finetune.sg2_trainer import SG2TrainConfig, StyleGAN2Trainer  # noqa: E402
from gan.models.stylegan2 import StyleGAN2Config, StyleGAN2Generator  # noqa: E402
from gan.models.stylegan2_d import (  # noqa: E402
    StyleGAN2Discriminator,
    StyleGAN2DiscriminatorConfig,
)

log = logging.getLogger("bench.finetune_sg2_speed")
MEASURES = [  # the code its results measure (bench.stale): the trainer and its networks
    "gan/finetune",
    "gan/models/stylegan2.py",
    "gan/models/stylegan2_config.py",
    "gan/models/stylegan2_ops.py",
    "gan/models/stylegan2_d.py",
    "bench/finetune_sg2_speed.py",
]
# NVIDIA's train.py configs (cfg_specs): channel_base = fmaps * 32768, mbstd group, R1 gamma.
CONFIGS = {
    "paper256": {"channel_base": 16384, "mbstd": 8, "gamma": 1.0},
    "stylegan2": {"channel_base": 32768, "mbstd": 4, "gamma": 10.0},
}
TICK = re.compile(r"tick\s+(\d+)\s+kimg\s+([\d.]+).*?sec/kimg\s+([\d.]+).*?gpumem\s+([\d.]+)")


def cfg_for(resolution: int) -> str:
    return "paper256" if resolution <= 256 else "stylegan2"


def random_images(folder: Path, n: int, resolution: int) -> torch.Tensor:
    """`n` smooth random RGB images, written as PNGs (for NVIDIA) and returned (for ours)."""
    folder.mkdir(parents=True, exist_ok=True)
    g = torch.Generator().manual_seed(0)
    low = torch.rand(n, 3, 8, 8, generator=g)
    up = torch.nn.functional.interpolate(low, size=(resolution, resolution), mode="bicubic")
    images = (up.clamp(0, 1) * 255).round().to(torch.uint8)
    for i, image in enumerate(images):
        Image.fromarray(image.permute(1, 2, 0).numpy()).save(folder / f"{i:05d}.png")
    return images


def our_models(resolution: int, cfg: str):
    spec = CONFIGS[cfg]
    g_config = StyleGAN2Config(
        img_resolution=resolution,
        mapping_layers=8,
        channel_base=spec["channel_base"],
        channel_max=512,
        conv_clamp=256,
    )
    d_config = StyleGAN2DiscriminatorConfig(
        img_resolution=resolution,
        channel_base=spec["channel_base"],
        channel_max=512,
        conv_clamp=256,
        mbstd_group_size=spec["mbstd"],
    )
    return StyleGAN2Generator(g_config), StyleGAN2Discriminator(d_config)


def _sync(device: torch.device, reset_peak: bool = False) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        if reset_peak:
            torch.cuda.reset_peak_memory_stats(device)


def ours(images: torch.Tensor, batch: int, steps: int, device: torch.device) -> dict:
    """Images/s of our training step and the peak GPU memory."""
    resolution = images.shape[-1]
    cfg = cfg_for(resolution)
    torch.manual_seed(0)
    G, D = our_models(resolution, cfg)
    config = SG2TrainConfig(
        batch_size=batch,
        r1_gamma=CONFIGS[cfg]["gamma"],
        pl_weight=2.0,
        augment="ada",
        d_loss_threshold=0.0,
        d_warmup=0,
    )
    trainer = StyleGAN2Trainer(G, D, config, images.to(device), device, d_pretrained=True)
    for _ in range(max(5, steps // 5)):  # warm-up: cuDNN autotuning, the allocator
        trainer.train_step()
    _sync(device, reset_peak=True)
    start = time.perf_counter()
    for _ in range(steps):
        trainer.train_step()
    _sync(device)
    seconds = time.perf_counter() - start
    cuda = device.type == "cuda"
    return {
        "images_per_s": round(batch * steps / seconds, 1),
        "peak_memory_gb": round(torch.cuda.max_memory_allocated(device) / 2**30, 2)
        if cuda
        else None,
        "steps_timed": steps,
        "precision": "fp32 (TF32 matmul/cuDNN on)",
    }


def nvidia(path: Path, data: Path, work: Path, batch: int, kimg: int, fp32: bool) -> dict:
    """Run NVIDIA's train.py on `data`; images/s from its last tick's sec/kimg."""
    resolution = Image.open(next(data.glob("*.png"))).size[0]
    cmd = [sys.executable, str(path / "train.py"), "--outdir", str(work / "nvidia-runs")]
    cmd += ["--data", str(data), "--gpus", "1", "--cfg", cfg_for(resolution)]
    cmd += ["--batch", str(batch), "--kimg", str(kimg), "--snap", "100000", "--metrics", "none"]
    cmd += ["--aug", "ada", "--mirror", "0", "--workers", "2"] + (["--fp32", "1"] if fp32 else [])
    log.info("%s", " ".join(cmd))
    done = subprocess.run(cmd, cwd=path, capture_output=True, text=True, check=False)
    text = done.stdout + done.stderr
    (work / f"nvidia-{resolution}-{'fp32' if fp32 else 'mixed'}.log").write_text(text)
    ticks = [m.groups() for m in TICK.finditer(text)]
    ticks = [t for t in ticks if int(t[0]) > 0]  # tick 0 is the start-up
    plugins = re.findall(r'Setting up PyTorch plugin "(\w+)"\.\.\. (\w+)', text)
    out: dict = {"returncode": done.returncode, "custom_ops": dict(plugins), "fp32": fp32}
    if not ticks:
        return out | {"error": text[-2000:]}
    _, _, sec_per_kimg, gpumem = ticks[-1]
    return out | {
        "images_per_s": round(1000 / float(sec_per_kimg), 1),
        "peak_memory_gb": float(gpumem),
        "ticks": len(ticks),
        "precision": "fp32" if fp32 else "mixed (fp16 in the 4 highest resolutions)",
    }


def row(spec: str, args, device: torch.device, work: Path) -> dict:
    resolution, batch = (int(v) for v in spec.split(":"))
    data = work / f"data-{resolution}"
    images = random_images(data, args.images, resolution)
    out = {"resolution": resolution, "batch_size": batch, "cfg": cfg_for(resolution)}
    out["ours"] = ours(images, batch, args.steps, device)
    log.info("ours %s: %s", spec, out["ours"])
    if args.nvidia is not None:
        kimg = args.kimg if resolution <= 256 else max(8, args.kimg // 2)
        runs = [False, True] if args.nvidia_fp32 else [False]
        for fp32 in runs:
            key = "nvidia_fp32" if fp32 else "nvidia"
            out[key] = nvidia(args.nvidia, data, work, batch, kimg, fp32)
            log.info("%s %s: %s", key, spec, out[key])
        if "images_per_s" in out["nvidia"]:
            ratio = out["ours"]["images_per_s"] / out["nvidia"]["images_per_s"]
            out["ratio_ours_vs_nvidia"] = round(ratio, 3)
    return out


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", default="256:32,1024:8", help="RES:BATCH,... per row")
    p.add_argument("--steps", type=int, default=50, help="our timed steps per row")
    p.add_argument("--images", type=int, default=256, help="random training images per row")
    p.add_argument("--nvidia", type=Path, help="NVIDIA's stylegan2-ada-pytorch checkout")
    p.add_argument("--nvidia-fp32", action="store_true", help="also NVIDIA with --fp32 1")
    p.add_argument("--kimg", type=int, default=16, help="NVIDIA's run length at 256 px")
    p.add_argument("--workdir", type=Path, help="scratch folder (default: a temporary one)")
    p.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "finetune_sg2_gpu.json")
    args = p.parse_args()
    if not torch.cuda.is_available():
        raise SystemExit("this benchmark needs a CUDA GPU")
    if args.nvidia is not None and not (args.nvidia / "train.py").is_file():
        raise SystemExit(f"no train.py in {args.nvidia}")
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True
    torch.backends.cudnn.benchmark = True
    device = torch.device("cuda")
    results = stamp(MEASURES, device) | {"numpy": np.__version__}
    with tempfile.TemporaryDirectory() as tmp:
        work = args.workdir or Path(tmp)
        results["rows"] = [row(spec, args, device, work) for spec in args.rows.split(",")]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    log.info("%s", json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
