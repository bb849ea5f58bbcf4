"""Face generation on a GPU: this project's StyleGAN2 / StyleGAN3-T against NVIDIA's code.

NVIDIA's code is unpacked at run time from `../shared/reference/` into a scratch folder
(`bench.nvidia_reference`); on a GPU its CUDA ops build at first use. Both generators get the
same random weights (NVIDIA's G, seed 0, copied into ours by name) and the same z; round by
round, alternating the order, each path renders one batch (`noise_mode="const"`), synchronised.
Reports images/s, peak GPU memory and the largest pixel difference from NVIDIA's images for:

- `nvidia`: NVIDIA's G with its CUDA ops and its fp16 layers (`num_fp16_res=4`, as trained);
- `ours`: this project's module in float32 (TF32 matmuls allowed, as the app runs it);
- tries, each recorded whether it helps or fails: `channels_last`, `bf16` (autocast),
  `fp16` (autocast), `compile` (`torch.compile`), `cuda_graphs` (`torch.compile` with
  `mode="reduce-overhead"`, which captures CUDA graphs).

    python -m bench.generate_gpu --family stylegan2 --res 1024 --batch 8
    python -m bench.generate_gpu --family stylegan3 --res 1024 --batch 8
    python -m bench.generate_gpu --family stylegan2 --dry-run     # 32 px on the CPU, no tries
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import nvidia_reference  # noqa: E402
from bench.results_meta import describe  # noqa: E402
from gan import latents  # noqa: E402

log = logging.getLogger("bench.generate_gpu")
TRIES = ("channels_last", "bf16", "fp16", "compile", "cuda_graphs")
MEASURES = {
    "stylegan2": [
        "gan/models/stylegan2.py",
        "gan/models/stylegan2_ops.py",
        "bench/generate_gpu.py",
    ],
    "stylegan3": [
        "gan/models/stylegan3.py",
        "gan/models/stylegan3_ops.py",
        "bench/generate_gpu.py",
    ],
}
NVIDIA_PACKAGES = {"training", "torch_utils", "dnnlib", "legacy", "metrics"}
SG3_T = dict(channel_base=32768, channel_max=512)


def nvidia_kwargs(family: str, res: int, tiny: bool) -> dict:
    """NVIDIA Generator kwargs as its train.py builds them (FFHQ configs)."""
    kw = dict(z_dim=512, w_dim=512, c_dim=0, img_resolution=res, img_channels=3)
    synthesis = dict(num_fp16_res=4, conv_clamp=256)
    if family == "stylegan2":
        synthesis |= dict(channel_base=32768, channel_max=512, architecture="skip")
    else:
        synthesis |= SG3_T | dict(magnitude_ema_beta=0.5 ** (32 / 20e3))
    if tiny:
        kw |= dict(z_dim=32, w_dim=32)
        synthesis |= dict(channel_base=synthesis["channel_base"] // 64, channel_max=32)
    return kw | {"synthesis_kwargs": synthesis}


def networks(family: str, res: int, tiny: bool, device: torch.device):
    """(NVIDIA's G, ours) with the same weights, in eval mode, without gradients."""
    kw = nvidia_kwargs(family, res, tiny)
    synthesis = kw.pop("synthesis_kwargs")
    torch.manual_seed(0)
    if family == "stylegan2":
        from training import networks as theirs_module  # NVIDIA's stylegan2-ada-pytorch

        from gan.models.stylegan2 import StyleGAN2Config as Config
        from gan.models.stylegan2 import StyleGAN2Generator as Ours

        mapping_layers = 8
    else:
        from training import networks_stylegan3 as theirs_module  # NVIDIA's stylegan3

        from gan.models.stylegan3 import StyleGAN3Config as Config
        from gan.models.stylegan3 import StyleGAN3Generator as Ours

        mapping_layers = 2
    mapping = dict(num_layers=mapping_layers)
    if family == "stylegan2":
        theirs = theirs_module.Generator(**kw, mapping_kwargs=mapping, synthesis_kwargs=synthesis)
    else:
        theirs = theirs_module.Generator(**kw, mapping_kwargs=mapping, **synthesis)
    ours_synthesis = {k: v for k, v in synthesis.items() if k != "num_fp16_res"}
    if family == "stylegan3":
        ours_synthesis["num_fp16_res"] = synthesis["num_fp16_res"]
    ours = Ours(Config(**kw, mapping_layers=mapping_layers, **ours_synthesis))
    ours.load_state_dict(theirs.state_dict())
    return [G.eval().requires_grad_(False).to(device) for G in (theirs, ours)]


def try_path(name: str, G: torch.nn.Module, z: torch.Tensor) -> Callable[[], torch.Tensor]:
    """The call that renders one batch with try `name` ("ours" = none)."""
    if name == "channels_last":
        G = G.to(memory_format=torch.channels_last)
    if name in ("compile", "cuda_graphs"):
        mode = "reduce-overhead" if name == "cuda_graphs" else "default"
        G = torch.compile(G, mode=mode)
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(name)

    def run() -> torch.Tensor:
        with torch.no_grad(), torch.autocast(z.device.type, dtype, enabled=dtype is not None):
            return G(z, None, noise_mode="const").float()

    return run


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_paths(paths: dict, rounds: int, batch: int, device: torch.device) -> dict:
    """Warm-up (2 calls each, which compiles), then `rounds` alternating rounds."""
    out: dict[str, dict] = {}
    images: dict[str, torch.Tensor] = {}
    for name, run in list(paths.items()):
        try:
            if device.type == "cuda":
                torch.cuda.reset_peak_memory_stats(device)
            images[name] = run()
            run()
            sync(device)
            out[name] = {"seconds": []}
            if device.type == "cuda":
                out[name]["peak_memory_mb"] = round(torch.cuda.max_memory_allocated(device) / 2**20)
        except Exception as e:  # a try that fails is recorded, not fatal
            log.warning("%s failed: %s", name, e)
            out[name] = {"failed": f"{type(e).__name__}: {e}"[:300]}
            paths.pop(name)
    for r in range(rounds):
        for name in list(paths) if r % 2 == 0 else list(paths)[::-1]:
            started = time.perf_counter()
            paths[name]()
            sync(device)
            out[name]["seconds"].append(time.perf_counter() - started)
    reference = images.get("nvidia")
    for name in paths:
        out[name] = summarise(out[name], batch, images[name], reference)
    return out


def summarise(row: dict, batch: int, image: torch.Tensor, reference) -> dict:
    seconds = sorted(row.pop("seconds"))
    median = seconds[len(seconds) // 2]
    row |= {"median_s": round(median, 4), "images_per_s": round(batch / median, 2)}
    if reference is not None:
        row["max_abs_diff_vs_nvidia"] = float((image - reference).abs().max())
    return row


def custom_ops() -> dict[str, bool]:
    """Which of NVIDIA's CUDA ops loaded (False: it fell back to its reference code)."""
    loaded = {}
    for name in ("bias_act", "upfirdn2d", "filtered_lrelu"):
        module = sys.modules.get(f"torch_utils.ops.{name}")
        if module is not None:
            loaded[name] = getattr(module, "_plugin", None) is not None
    return loaded


def check_all(scratch: Path) -> None:
    """Both families' reference code unpacks, imports, and its weights load into ours (one
    process: the two checkouts' packages share names, so the first is forgotten)."""
    for family in MEASURES:
        code = nvidia_reference.unpack(family, scratch)
        nvidia_reference.import_path(code)
        networks(family, 32, True, torch.device("cpu"))
        sys.path.remove(str(code))
        for name in [m for m in sys.modules if m.split(".")[0] in NVIDIA_PACKAGES]:
            del sys.modules[name]
        log.info("%s: NVIDIA's code imports and its weights load into ours", family)


def run(args: argparse.Namespace) -> dict:
    device = torch.device("cpu" if args.dry_run else args.device)
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True
    res, batch = (32, 2) if args.dry_run else (args.res, args.batch)
    scratch = args.scratch or Path(tempfile.mkdtemp(prefix="gan-studio-nvidia-"))
    nvidia_reference.import_path(nvidia_reference.unpack(args.family, scratch))
    theirs, ours = networks(args.family, res, args.dry_run, device)
    z = latents.seeds_to_z(list(range(batch)), ours.z_dim).to(device)
    paths = {"nvidia": try_path("ours", theirs, z), "ours": try_path("ours", ours, z)}
    tries = [] if args.dry_run or device.type != "cuda" else args.tries.split(",")
    paths |= {name: try_path(name, ours, z) for name in tries if name}
    rows = time_paths(paths, 1 if args.dry_run else args.rounds, batch, device)
    for row in rows.values():
        if "images_per_s" in row and "images_per_s" in rows.get("nvidia", {}):
            row["ratio_vs_nvidia"] = round(row["images_per_s"] / rows["nvidia"]["images_per_s"], 3)
    what = f"{args.family} {res} px, batch {batch}, random weights, same in both"
    return describe(f"generate_{args.family}", what, device, MEASURES[args.family]) | {
        "rounds": args.rounds,
        "nvidia_custom_ops": custom_ops(),
        "paths": rows,
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--family", choices=sorted(MEASURES), default="stylegan2")
    p.add_argument("--res", type=int, default=1024)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--rounds", type=int, default=10)
    p.add_argument("--device", default="cuda")
    p.add_argument("--tries", default=",".join(TRIES), help="comma-separated, '' for none")
    p.add_argument("--scratch", type=Path, help="where NVIDIA's code is unpacked")
    p.add_argument("--dry-run", action="store_true", help="32 px, batch 2, on the CPU")
    p.add_argument("--check-only", action="store_true", help="both families: build, no timing")
    p.add_argument("--out", type=Path)
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    if args.check_only:
        check_all(args.scratch or Path(tempfile.mkdtemp(prefix="gan-studio-nvidia-")))
        return 0
    result = run(args)
    out = args.out or ROOT / "bench" / "results" / f"generate_{args.family}_gpu.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    log.info("wrote %s: %s", out, json.dumps(result["paths"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
