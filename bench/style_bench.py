"""Style-transfer benchmark: our fast path against a plain reference, in the same process.

The reference is the PyTorch tutorial's algorithm written straightforwardly: VGG19 features
(max pooling), content loss at conv4_2, Gram style losses at conv1_1..conv5_1 (MSE, Gram divided
by C*H*W), content_weight 1, style_weight 1e6, `torch.optim.LBFGS` (lr 1, no line search,
the image clamped to [0, 1] in the closure), float32, start from the content image.

Ours is `style.transfer.stylize` on the same VGG19 weights with the same objective (same
layers, losses and weights, `normalize_losses=False`, no TV), so the only differences are the
implementation: sync-free compact L-BFGS, bfloat16 autocast, channels_last, CUDA graph.
Both final images (as 8-bit images) are scored with the reference's float32 loss function.
Both run with the app's backend flags (`core.device.resolve_device`: cuDNN autotuning, TF32),
so only the algorithmic work differs.

On CUDA it also times our default app path (EfficientNet-Lite0 or VGG19 with the app's
settings), and on the CPU the offline target (EfficientNet-Lite0, 256 px, 100 iterations).

    python -m bench.style_bench             # GPU if any: 512 px, 300 iterations
    python -m bench.style_bench --quick     # CI-sized CPU run: 96 px, 10 iterations
    python -m bench.style_bench --device cpu --threads 2 --app-only   # the offline CPU target
    python -m bench.style_bench --out bench/results/style_gpu.json
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parent.parent
STYLE_MEASURES = [
    "style",
    "core/device.py",
    "bench/style_bench.py",
]  # the code its results measure (bench.stale)
sys.path.insert(0, str(ROOT))

from bench.results_meta import stamp  # noqa: E402
from core.device import resolve_device  # noqa: E402
from core.images import load_rgb  # noqa: E402
from style import networks  # noqa: E402
from style.losses import gram_matrix  # noqa: E402
from style.networks import LossNetwork, NetworkSpec  # noqa: E402
from style.transfer import (  # noqa: E402
    StyleSettings,
    output_size,
    resize,
    run_to_end,
    stylize,
    to_tensor,
)
from style.vgg import VGG19Features  # noqa: E402

log = logging.getLogger("style_bench")
IMAGES = ROOT.parent / "shared" / "images"  # --images to read them elsewhere
CONTENT_LAYER = "conv4_2"
STYLE_LAYERS = ("conv1_1", "conv2_1", "conv3_1", "conv4_1", "conv5_1")
CONTENT_WEIGHT, STYLE_WEIGHT = 1.0, 1e6


def vgg19_weights(device: torch.device) -> tuple[VGG19Features, str]:
    """The Hub's VGG19 when reachable or cached, else deterministic random (Kaiming) weights."""
    try:
        module = networks.load_vgg19(device, pool="max")
        return module, f"hub:{networks.vgg19_ref()}"
    except Exception as e:  # offline machines: no Hub
        log.warning("VGG19 weights unavailable (%s): using seeded random weights", e)
    torch.manual_seed(0)
    module = VGG19Features(pool="max")
    for m in module.modules():
        if isinstance(m, torch.nn.Conv2d):
            torch.nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            torch.nn.init.zeros_(m.bias)
    module.features = module.features[:30]
    return module.eval().requires_grad_(False).to(device), "random (seed 0, Kaiming normal)"


def reference_losses(
    vgg: VGG19Features, image: torch.Tensor, content: torch.Tensor, style: torch.Tensor
) -> dict[str, float]:
    """The reference's float32 objective on an image: content, style and weighted total."""
    with torch.no_grad():
        layers = frozenset((CONTENT_LAYER, *STYLE_LAYERS))
        fx, fc, fs = (vgg.feature_maps(t, layers) for t in (image, content, style))
        c = F.mse_loss(fx[CONTENT_LAYER], fc[CONTENT_LAYER])
        s = sum(F.mse_loss(gram_matrix(fx[k]), gram_matrix(fs[k])) for k in STYLE_LAYERS)
    return {
        "content_loss": float(c),
        "style_loss": float(s),
        "total": float(CONTENT_WEIGHT * c + STYLE_WEIGHT * s),
    }


def reference_stylize(
    vgg: VGG19Features, content: torch.Tensor, style: torch.Tensor, steps: int
) -> torch.Tensor:
    """The tutorial's loop, float32, torch.optim.LBFGS; `steps` closure evaluations."""
    layers = frozenset((CONTENT_LAYER, *STYLE_LAYERS))
    with torch.no_grad():
        content_target = vgg.feature_maps(content, layers)[CONTENT_LAYER]
        fs = vgg.feature_maps(style, layers)
        style_targets = {k: gram_matrix(fs[k]) for k in STYLE_LAYERS}
    x = content.clone().requires_grad_(True)
    opt = torch.optim.LBFGS([x], max_iter=steps, tolerance_grad=-1, tolerance_change=-1)

    def closure() -> torch.Tensor:
        with torch.no_grad():
            x.clamp_(0, 1)
        opt.zero_grad()
        f = vgg.feature_maps(x, layers)
        style_loss = sum(F.mse_loss(gram_matrix(f[k]), style_targets[k]) for k in STYLE_LAYERS)
        content_loss = F.mse_loss(f[CONTENT_LAYER], content_target)
        loss = STYLE_WEIGHT * style_loss + CONTENT_WEIGHT * content_loss
        loss.backward()
        return loss

    opt.step(closure)
    with torch.no_grad():
        x.clamp_(0, 1)
    return x.detach()


def bench_spec() -> NetworkSpec:
    return NetworkSpec(
        key="vgg19-bench",
        label="VGG19 (benchmark: tutorial layers)",
        content_layers=(CONTENT_LAYER,),
        style_layers=dict.fromkeys(STYLE_LAYERS, 1.0),
    )


def ours_settings(steps: int, size: int, **kw) -> StyleSettings:
    # Our style loss averages the layers (weights sum to 1); the tutorial sums 5 layers.
    return StyleSettings(
        steps=steps,
        size=size,
        content_weight=CONTENT_WEIGHT,
        style_weight=STYLE_WEIGHT * len(STYLE_LAYERS),
        tv_weight=0.0,
        init="content",
        multiscale=False,
        preview_every=steps,
        normalize_losses=False,
        **kw,
    )


def backend_flags(device: torch.device) -> None:
    """The app's CUDA settings (`core.device.resolve_device`: cuDNN autotuning, TF32 matmuls
    and convolutions), for the reference and ours alike: only the algorithmic work differs."""
    resolve_device(str(device))


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def timed(fn, device: torch.device, repeats: int) -> tuple[float, list[float], object]:
    """Median wall time of `repeats` runs after one warm-up run (cuDNN autotuning)."""
    result = fn()
    times = []
    for _ in range(repeats):
        sync(device)
        t = time.perf_counter()
        result = fn()
        sync(device)
        times.append(time.perf_counter() - t)
    return statistics.median(times), times, result


def timed_alternating(fns: dict, device: torch.device, repeats: int) -> dict:
    """{name: (median, all times, last result)}: one warm-up run each, then `repeats` rounds
    in which every function runs once, the order rotating round by round (a shared machine's
    load falls on all of them alike)."""
    names = list(fns)
    results = {name: fns[name]() for name in names}
    times: dict[str, list[float]] = {name: [] for name in names}
    for r in range(repeats):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            sync(device)
            t = time.perf_counter()
            results[name] = fns[name]()
            sync(device)
            times[name].append(time.perf_counter() - t)
    return {n: (statistics.median(times[n]), times[n], results[n]) for n in names}


def run(args: argparse.Namespace) -> dict:
    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    if args.threads:
        torch.set_num_threads(args.threads)
    content_img = load_rgb(args.images / args.content)
    style_img = load_rgb(args.images / args.style)
    wh = output_size(*content_img.size, args.size)
    content = resize(to_tensor(content_img, device), wh)
    style = resize(to_tensor(style_img, device), output_size(*style_img.size, args.size))
    results: dict = {
        **stamp(STYLE_MEASURES),  # the time, load and command; the keys below say more
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "python": platform.python_version(),
        "cpu_threads": torch.get_num_threads(),
        "content": args.content,
        "style": args.style,
        "size": list(wh),
        "steps": args.steps,
        "timing": f"median of {args.repeats} runs after a warm-up run, same process",
        "load_average_at_start": list(os.getloadavg()),
    }
    if args.app_only:  # the offline target alone: EfficientNet-Lite0, app defaults
        results["app_path"] = app_path(device, content_img, style_img, args)
        results["load_average_at_end"] = list(os.getloadavg())
        return results
    vgg, weights = vgg19_weights(device)
    net = LossNetwork(vgg, bench_spec(), weights)
    results["vgg19_weights"] = weights

    def quantized(x: torch.Tensor) -> torch.Tensor:
        return (x.clamp(0, 1) * 255).round() / 255

    backend_flags(device)
    variants = {"ours": {}}
    if device.type == "cuda":
        variants |= {
            "ours_no_amp": {"amp": False},
            "ours_no_cuda_graph": {"cuda_graph": False},
            "ours_no_amp_no_graph": {"amp": False, "cuda_graph": False},
            "ours_history100": {"history_size": 100},
        }

    def ours(kw: dict) -> torch.Tensor:
        settings = ours_settings(args.steps, args.size, **kw)
        ev = run_to_end(stylize(content_img, [style_img], settings, net, device))
        return to_tensor(ev.output, device)

    fns = {"reference": lambda: reference_stylize(vgg, content, style, args.steps)}
    fns |= {name: (lambda kw=kw: ours(kw)) for name, kw in variants.items()}
    timings = timed_alternating(fns, device, args.repeats)
    results["timing"] = f"median of {args.repeats} alternating rounds after a warm-up run each"
    ref_t, ref_all, ref_x = timings["reference"]
    results["reference"] = {
        "seconds": ref_t,
        "runs": ref_all,
        **reference_losses(vgg, quantized(ref_x), content, style),
    }
    results["backend"] = (
        "the app's flags for both (core.device.resolve_device: cudnn.benchmark on, TF32 "
        "matmul and conv on)"
        if device.type == "cuda"
        else "cpu"
    )
    for name, kw in variants.items():
        t, all_t, x = timings[name]
        results[name] = {
            "seconds": t,
            "runs": all_t,
            "settings": kw or "default (bf16 autocast and CUDA graph on CUDA)",
            **reference_losses(vgg, x, content, style),
        }
        results[name]["speedup_vs_reference"] = ref_t / t
        log.info("%s: %.3f s (reference %.3f s)", name, t, ref_t)
    ours_r, ref_r = results["ours"], results["reference"]
    results["ours_losses_no_worse"] = {
        "style": ours_r["style_loss"] <= ref_r["style_loss"],
        "content": ours_r["content_loss"] <= ref_r["content_loss"],
        "total": ours_r["total"] <= ref_r["total"],
    }
    if args.app_path:
        results["app_path"] = app_path(device, content_img, style_img, args)
    if args.large:
        results["large_outputs"] = large_outputs(device, content_img, style_img, args)
    return results


def large_outputs(device: torch.device, content_img, style_img, args) -> list[dict]:
    """Coarse-to-fine runs at 1024 and 2048 px with the app's defaults: time and peak memory."""
    net = networks.load_loss_network(device, prefer=networks.EFFICIENTNET)
    out = []
    for size in (1024, 2048):
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        t = time.perf_counter()
        settings = StyleSettings(steps=200, size=size)
        ev = run_to_end(stylize(content_img, [style_img], settings, net, device))
        sync(device)
        row = {
            "size": list(ev.output.size),
            "steps_per_scale": 200,
            "scales": int(ev.metrics["num_scales"]),
            "network": net.label,
            "seconds": time.perf_counter() - t,
            "final_losses": ev.history[-1],
        }
        if device.type == "cuda":
            row["peak_gpu_memory_gib"] = torch.cuda.max_memory_allocated(device) / 2**30
        if args.save_images:
            path = args.save_images / f"style_{size}.jpg"
            ev.output.save(path, quality=90)
            row["image"] = path.name
        out.append(row)
    return out


def app_path(device: torch.device, content_img, style_img, args) -> dict:
    """Our default app run (offline network, app settings) as the UI would start it."""
    net = networks.load_loss_network(device, prefer=networks.EFFICIENTNET)
    size, steps = (256, 100) if device.type == "cpu" else (args.size, args.steps)
    settings = StyleSettings(steps=steps, size=size, preview_every=10)

    def once():
        return run_to_end(stylize(content_img, [style_img], settings, net, device))

    t, all_t, ev = timed(once, device, args.repeats)
    h = ev.history
    return {
        "network": net.label,
        "size": list(ev.output.size),
        "steps": steps,
        "seconds": t,
        "runs": all_t,
        "settings": "app defaults (content_color init, L-BFGS, previews every 10 iterations)",
        "first_losses": h[0],
        "final_losses": h[-1],
    }


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    p = argparse.ArgumentParser(description="style transfer: ours vs the tutorial reference")
    p.add_argument("--quick", action="store_true", help="CI-sized: CPU, 96 px, 10 iterations")
    p.add_argument("--device")
    p.add_argument("--size", type=int, default=512)
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--content", default="tubingen.jpg")
    p.add_argument("--style", default="starry_night.jpg")
    p.add_argument("--images", type=Path, default=IMAGES)
    p.add_argument("--no-app-path", dest="app_path", action="store_false")
    p.add_argument(
        "--app-only", action="store_true", help="only the app path (CPU: 256 px, 100 iterations)"
    )
    p.add_argument("--large", action="store_true", help="also time 1024 and 2048 px outputs")
    p.add_argument("--out", type=Path)
    p.add_argument("--save-images", type=Path, help="folder for the large outputs' images")
    args = p.parse_args()
    if args.quick:
        args.device, args.size, args.steps, args.repeats = "cpu", 96, 10, 1
        args.app_path = False
    results = run(args)
    default = "style_gpu.json" if results["device"] != "cpu" else "style_cpu.json"
    out = args.out or ROOT / "bench" / "results" / default
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    log.info("wrote %s", out)
    print(json.dumps({k: v for k, v in results.items() if k != "runs"}, indent=2, default=str))


if __name__ == "__main__":
    main()
