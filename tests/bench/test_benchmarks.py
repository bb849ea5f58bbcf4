"""The benchmarks run in CI in a tiny form, so they keep working; their figures are not judged
here (speed targets live in the results files, measured on real hardware)."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench import stale
from tests.conftest import ROOT, SHARED_IMAGES

# What every results file records about itself (bench.results_meta.stamp).
RECORDED = {
    "commit",
    "measures",
    "device",
    "torch",
    "measured_at",
    "load_average_1_5_15",
    "command",
}


def run_bench(script: list[str], flags: str, out: Path, timeout_s: float = 300) -> dict:
    """Run a benchmark with `flags` (space-separated) and `--out out`; return its results."""
    command = [sys.executable, *script, *flags.split(), "--out", str(out)]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=timeout_s)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return json.loads(out.read_text())


def assert_fresh(out: Path) -> None:
    """`out` records what `bench.stale` needs, names measured paths that exist, and is judged
    fresh on this tree (a `+dirty` commit is fresh while HEAD is still that commit)."""
    result = json.loads(out.read_text())
    assert set(result) >= RECORDED, sorted(RECORDED - set(result))
    assert result["measures"] and all((ROOT / p).exists() for p in result["measures"])
    assert result["command"].startswith("python ") and str(out) in result["command"]
    row = stale.status(out)
    assert row.state == stale.FRESH, row


@pytest.mark.parametrize(
    "script",
    [
        ["-m", "bench.convert_snapshot", "--res", "64", "--channel-max", "32"],
        ["-m", "bench.highres", "--preset", "tiny (3 x 1 s)"],
        ["-m", "bench.style_preview", "--quick", "--timing-only"],
    ],
    ids=lambda script: script[1],
)
def test_a_tiny_run_writes_a_fresh_result(script: list[str], tmp_path: Path):
    run_bench(script, "", tmp_path / "result.json")
    assert_fresh(tmp_path / "result.json")


@pytest.mark.parametrize(
    "module",
    ["finetune_sg2_quality", "finetune_sg2_speed", "session_memory", "stylegan3_cpu"],
)
def test_scripts_not_run_here_name_measured_paths_that_exist(module: str):
    measures = importlib.import_module(f"bench.{module}").MEASURES
    assert measures and all((ROOT / p).exists() for p in measures), measures


def test_style_bench_quick(tmp_path: Path):
    result = run_bench(["-m", "bench.style_bench"], "--quick", tmp_path / "style.json")
    for run in ("reference", "ours"):
        assert result[run]["seconds"] > 0
        assert result[run]["content_loss"] >= 0 and result[run]["style_loss"] >= 0
    assert result["ours"]["speedup_vs_reference"] > 0
    assert_fresh(tmp_path / "style.json")


def test_finetune_bench_tiny(tmp_path: Path):
    flags = "--device cpu --seconds 8 --batch-size 8 --target-images 32 --kid-samples 32"
    flags += " --throughput-steps 3 --throughput-repeats 1"
    result = run_bench(
        ["bench/finetune_bench.py", "--images-dir", str(SHARED_IMAGES)],
        flags,
        tmp_path / "finetune.json",
    )
    assert result["finetune"]["steps"] >= 1
    run = result["finetune"]
    for kid in (run["kid_before"], run["kid_after"]):  # a KID is inside the run's time cap
        assert (kid is not None and kid >= 0) or "skipped" in " ".join(run["kid_notes"])
    assert result["throughput"]["reference_images_per_s"] > 0
    assert_fresh(tmp_path / "finetune.json")


def test_load_bench_tiny(tmp_path: Path):
    flags = "--users 2 --duration 8 --settle 1 --mix style --style-size 64 --style-steps 3"
    result = run_bench(["-m", "bench.load"], flags, tmp_path / "load.json", 400)
    row = result["mixes"]["style"]
    assert row["endpoints"]["/generate"]["ok"] > 0 and row["failed_requests"] == 0, row
    assert row["order_errors"] == 0 and row["memory_mb"]["warm"] > 0
    assert set(row["goals_met"]) >= {"generate_p50", "generate_p95", "results_in_order"}
    assert_fresh(tmp_path / "load.json")


def test_cheap_path_bench_tiny(tmp_path: Path):
    flags = "--rounds 1 --calls 1 --no-browser --base none"  # one app: CI's time
    result = run_bench(["-m", "bench.cheap_path"], flags, tmp_path / "cheap.json", 400)
    for kind in ("server_ms", "client_ms"):
        assert result[kind]["ours"]["p50"] > 0
    assert result["goal"]["server_p50_ms_at_most"] == 100
    assert_fresh(tmp_path / "cheap.json")


def test_cheap_path_cpu_split_tiny(tmp_path: Path):
    result = run_bench(
        ["-m", "bench.cheap_path_cpu"], "--calls 1 --warmup 0", tmp_path / "split.json"
    )
    parts = result["cpu_ms"]
    assert set(parts) == {"process_api", "forward", "pngs", "postprocess"}
    assert all(parts[p]["p50"] > 0 for p in parts)
    assert_fresh(tmp_path / "split.json")


def test_gpu_all_dry_run_checks_its_inputs_and_lists_every_step(tmp_path: Path):
    env = {**os.environ, "GPU_ALL_SCRATCH": str(tmp_path / "scratch")}
    done = subprocess.run(
        ["bash", "bench/gpu_all.sh", "--dry-run"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "weights load into ours" in done.stdout
    for step in ("stylegan2 1024", "stylegan3-T 1024", "fine-tune 256", "Gatys 512", "DCGAN"):
        assert step in done.stdout
    total = int(done.stdout.split("caps in all: ")[1].split()[0])
    assert total < 8 * 60  # the whole run stays under 8 minutes


def test_stylegan2_cpu_bench_quick(tmp_path: Path):
    result = run_bench(["-m", "bench.stylegan2_cpu"], "--quick", tmp_path / "sg2.json")
    for run in ("nvidia", "baseline", "studio", "api"):
        assert result[run]["median_s"] > 0
    assert result["studio"]["speedup_vs_nvidia"] > 0
    assert result["nvidia"]["torch_threads_used"] == result["studio"]["torch_threads_used"]
    assert result["nvidia"]["image_max_abs_diff_vs_ours"] < 1e-3  # the same weights
    assert len(result["machine"]["load_average_1_5_15"]) == 3
    assert_fresh(tmp_path / "sg2.json")
