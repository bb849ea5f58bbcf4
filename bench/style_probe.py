"""GPU probe for the style-transfer benchmark case: profile of one iteration and variants.

python bench/style_probe.py --images .gpu_images
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import style_bench as sb  # noqa: E402
from core.images import load_rgb  # noqa: E402
from style import losses, stepper, transfer  # noqa: E402
from style.networks import LossNetwork  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--images", type=Path, default=ROOT / ".gpu_images")
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--only", default="")
    p.add_argument("--device", default="cuda")
    p.add_argument("--size", type=int, default=512)
    args = p.parse_args()
    dev = torch.device(args.device)
    ci, si = load_rgb(args.images / "tubingen.jpg"), load_rgb(args.images / "starry_night.jpg")
    wh = transfer.output_size(*ci.size, args.size)
    content = transfer.resize(transfer.to_tensor(ci, dev), wh)
    style = transfer.resize(transfer.to_tensor(si, dev), transfer.output_size(*si.size, args.size))
    vgg, weights = sb.vgg19_weights(dev)
    net = LossNetwork(vgg, sb.bench_spec(), weights)
    sb.backend_flags(dev, app=True)

    def once(network, steps=args.steps, **kw):
        s = sb.ours_settings(steps, args.size, **kw)
        return transfer.run_to_end(transfer.stylize(ci, [si], s, network, dev))

    def timeit(name, network=net, patch=None, **kw):
        undo = patch() if patch else None
        try:
            once(network, **kw)
            ts = []
            for _ in range(3):
                sb.sync(dev)
                t = time.perf_counter()
                ev = once(network, **kw)
                sb.sync(dev)
                ts.append(time.perf_counter() - t)
            sb.sync(dev)
            t = time.perf_counter()
            once(network, steps=1, **kw)
            sb.sync(dev)
            setup = time.perf_counter() - t
        finally:
            if undo:
                undo()
        x = transfer.to_tensor(ev.output, dev)
        r = sb.reference_losses(vgg, x, content, style)
        print(
            f"VARIANT {name:28s} median {statistics.median(ts):.3f} s runs "
            f"{[round(t, 3) for t in ts]} setup(1 step) {setup:.3f} s  content "
            f"{r['content_loss']:.5f} style {r['style_loss']:.3e} total {r['total']:.5f}",
            flush=True,
        )

    def set_attr(mod, name, value):
        def apply():
            old = getattr(mod, name)
            setattr(mod, name, value)
            return lambda: setattr(mod, name, old)

        return apply

    def gram_bf16(f):
        n, c, h, w = f.shape
        with torch.autocast("cuda", enabled=False):
            ff = f.permute(0, 2, 3, 1).reshape(n, h * w, c).bfloat16()
            return torch.bmm(ff.transpose(1, 2), ff).float() / (c * h * w)

    # --- profile of the default replay
    if not args.only or "prof" in args.only:
        settings = sb.ours_settings(args.steps, args.size)
        vgg.to(memory_format=torch.channels_last)
        spec = net.spec
        layers = (frozenset(spec.content_layers), frozenset(spec.style_layers))
        for name, network in (("default", net.with_bf16_weights()),):
            network.module.to(memory_format=torch.channels_last)
            ct, st = transfer._targets(network, layers, content, [style], [1.0], True)
            obj = losses.StyleObjective(ct, st, spec.style_layers, 1.0, 5e6, 0.0, False)
            stp = transfer._Stepper(network, obj, content, settings, args.steps, True, True)
            for k in range(10):
                stp.step(k)
            sb.sync(dev)
            e0, e1 = torch.cuda.Event(True), torch.cuda.Event(True)
            e0.record()
            for _ in range(100):
                stp.graph.replay()
            e1.record()
            sb.sync(dev)
            print(f"REPLAY {name}: {e0.elapsed_time(e1) / 100:.3f} ms/iteration", flush=True)
            if True:
                with torch.profiler.profile(
                    activities=[torch.profiler.ProfilerActivity.CUDA]
                ) as prof:
                    for _ in range(10):
                        stp.graph.replay()
                    sb.sync(dev)
                print(
                    prof.key_averages().table(
                        sort_by="cuda_time_total", row_limit=40, max_name_column_width=70
                    ),
                    flush=True,
                )
            del stp

    if args.only == "prof":
        return
    # --- variants
    timeit("default")
    timeit("warmup3", patch=set_attr(stepper, "WARMUP_STEPS", 3))
    timeit("history10", history_size=10)
    timeit("history5", history_size=5)
    timeit("fp32_weights_copy", patch=set_attr(type(net), "with_bf16_weights", lambda n: n))
    timeit("gram_bf16_out", patch=set_attr(losses, "gram_matrix", gram_bf16))


if __name__ == "__main__":
    main()
