"""2D lab speed on this machine: training steps per second while Play redraws, per preset.

Plays each preset through the service as the page does (ticks of `SLICE_S` training, then a
frame: D's view and G's view, each encoded as the PNG that Gradio sends), and reports steps/s
and frames/s, in wall time and per CPU second of this process (the machine may be shared:
the load average is recorded too), with the collapse meter at the end. Targets: >= 20
steps/s and >= 2 frames/s on a 2-core CPU.

    python -m bench.lab2d                       # writes bench/results/lab2d_cpu.json
    python -m bench.lab2d --presets ring --out /tmp/lab2d.json
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import os
import platform
import time
from pathlib import Path

import torch
from PIL import Image

from bench.results_meta import describe
from gan.lab2d.service import SLICE_S, Frame, Lab2D, Run2D
from gan.lab2d.settings import PRESETS

log = logging.getLogger("bench.lab2d")
OUT = Path(__file__).resolve().parent / "results" / "lab2d_cpu.json"
MEASURES = ["gan/lab2d", "ui/lab2d_widget.py"]  # the code whose speed this measures


def encoded(frame: Frame) -> Frame:
    """`frame`, after its two views were encoded as PNGs (Gradio's work per frame)."""
    for view in (frame.d_view, frame.g_view):
        Image.fromarray(view).save(io.BytesIO(), format="png")
    return frame


def cpu_ms(fn, n: int) -> float:
    """CPU milliseconds of this process per call of `fn` (n calls)."""
    started = time.process_time()
    for _ in range(n):
        fn()
    return (time.process_time() - started) / n * 1000


def costs(name: str) -> dict:
    """CPU ms of one training step and of one frame (drawn and PNG-encoded) of preset
    `name`, and Play's rates on one free core from them."""
    run = Run2D(PRESETS[name], None)
    for _ in range(20):
        run.trainer.step()
    step = cpu_ms(run.trainer.step, 200)
    frame = cpu_ms(lambda: encoded(run.frame()), 10)
    fps = 1 / (SLICE_S + frame / 1000)
    return {
        "cpu_ms_per_step": round(step, 2),
        "cpu_ms_per_frame": round(frame, 1),
        "one_free_core_steps_per_s": round(SLICE_S / (step / 1000) * fps, 1),
        "one_free_core_frames_per_s": round(fps, 2),
    }


def play(name: str, seconds: float) -> dict:
    """Play preset `name` for about `seconds`; its rates and final meter."""
    lab, settings = Lab2D(), PRESETS[name]
    started, cpu = time.perf_counter(), time.process_time()
    frame, frames = encoded(lab.play(name, settings)), 1
    while frame.playing and time.perf_counter() - started < seconds:
        frame = encoded(lab.tick(name, settings))
        frames += 1
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    steps = frame.counters.g_steps
    return {
        "preset": name,
        "steps": steps,
        "frames": frames,
        "wall_s": round(wall, 2),
        "steps_per_s": round(steps / wall, 1),
        "frames_per_s": round(frames / wall, 2),
        "cpu_s": round(cpu, 2),
        "steps_per_cpu_s": round(steps / cpu, 1),
        "frames_per_cpu_s": round(frames / cpu, 2),
        "modes_covered": f"{frame.coverage.covered}/{frame.coverage.modes}",
        "collapsed": frame.coverage.collapsed,
        **costs(name),
    }


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    parser = argparse.ArgumentParser()
    parser.add_argument("--presets", nargs="*", default=list(PRESETS))
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    rows = [play(name, args.seconds) for name in args.presets]
    for row in rows:
        log.info("%s", row)
    what = "2D lab Play: training steps/s and frames/s per preset"
    result = {
        **describe("lab2d", what, torch.device("cpu"), MEASURES),
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "targets": {"steps_per_s": 20, "frames_per_s": 2},
        "presets": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
