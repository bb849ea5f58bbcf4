"""`python -m gan.finetune`: the headless loop, resume, and DDP under torchrun (gloo, CPU)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core import store
from gan.finetune.checkpoint import STATE_NAME
from tests.conftest import ROOT, tiny_generator


@pytest.fixture
def setup(checkpoints, tmp_path):
    G = tiny_generator()
    store.save_pretrained(checkpoints / "tiny", G.config.to_dict(), G.state_dict(), "# tiny\n")
    data = tmp_path / "data"
    data.mkdir()
    rng = np.random.default_rng(0)
    for i in range(10):
        pixels = rng.integers(0, 256, (24, 24, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(data / f"{i}.png")
    (data / "notes.txt").write_text("not an image")
    return checkpoints, data


def _run(args: list[str], env_checkpoints: Path, torchrun: int = 0) -> subprocess.CompletedProcess:
    env = os.environ | {"GAN_STUDIO_CHECKPOINTS": str(env_checkpoints), "GAN_STUDIO_DEVICE": "cpu"}
    env["OMP_NUM_THREADS"] = "1"
    env["PYTHONFAULTHANDLER"] = "1"  # a worker that aborts shows where, in its stderr
    launcher = [sys.executable]
    if torchrun:
        launcher += ["-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={torchrun}"]
    cmd = [*launcher, "-m", "gan.finetune", *args]
    return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=240)


def test_cli_trains_saves_and_resumes(setup, tmp_path):
    checkpoints, data = setup
    summary = tmp_path / "summary.json"
    common = ["--data", str(data), "--name", "cli-ft", "--model", "tiny", "--no-kid"]
    done = _run(
        [*common, "--steps", "3", "--batch-size", "4", "--summary", str(summary)], checkpoints
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(summary.read_text())["steps"] == 3
    assert "notes.txt" in done.stderr  # the skipped file is reported
    again = _run([*common, "--steps", "2", "--batch-size", "4", "--resume"], checkpoints)
    assert again.returncode == 0, again.stderr
    state = json.loads((checkpoints / "cli-ft" / STATE_NAME).read_text())
    assert state["steps_done"] == 5


def test_cli_bad_input_exits_with_a_message(setup):
    checkpoints, data = setup
    bad = _run(
        ["--data", str(data), "--name", "x", "--model", "tiny", "--lr-g", "nan"], checkpoints
    )
    assert bad.returncode == 2 and "lr_g must be a finite number" in bad.stderr


def test_torchrun_two_processes_gloo(setup, tmp_path):
    checkpoints, data = setup
    summary = tmp_path / "summary.json"
    args = ["--data", str(data), "--name", "ddp-ft", "--model", "tiny", "--no-kid"]
    args += ["--steps", "6", "--batch-size", "4", "--d-warmup", "2", "--summary", str(summary)]
    args += ["--d-loss-threshold", "1.4"]  # some D steps skipped: ranks must agree on it
    done = _run(args, checkpoints, torchrun=2)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "rank 1 of 2" in done.stderr
    assert json.loads(summary.read_text())["steps"] == 6
    assert store.local_model_dir("ddp-ft") is not None


_EXIT = (
    "import atexit, logging\n"
    "from gan.finetune.cli import exit_process\n"
    "atexit.register(lambda: print('teardown', flush=True))\n"
    "logging.basicConfig()\n"
    "logging.getLogger('x').warning('logged')\n"
    "print('printed', end='')\n"
    "exit_process(3)\n"
)


@pytest.mark.parametrize(("world_size", "teardown"), [("2", False), ("1", True)])
def test_a_torchrun_worker_exits_without_teardown_but_keeps_its_output(world_size, teardown):
    env = os.environ | {"WORLD_SIZE": world_size}
    done = subprocess.run(
        [sys.executable, "-c", _EXIT], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert done.returncode == 3, done.stderr
    assert done.stdout.startswith("printed") and "logged" in done.stderr  # both flushed
    assert ("teardown" in done.stdout) is teardown  # a worker skips the atexit handlers


@pytest.fixture
def sg2_setup(setup):
    from tests.gan.finetune.sg2_tiny import tiny_g

    checkpoints, data = setup
    G = tiny_g()
    store.save_pretrained(checkpoints / "sg2", G.config.to_dict(), G.state_dict(), "# sg2\n")
    return checkpoints, data


def test_cli_stylegan2_defaults_and_flags(sg2_setup, tmp_path):
    checkpoints, data = sg2_setup
    args = ["--data", str(data), "--name", "cli-sg2", "--model", "sg2", "--no-kid"]
    args += ["--steps", "3", "--augment", "diffaugment", "--r1-gamma", "0.5"]
    done = _run(args, checkpoints)
    assert done.returncode == 0, done.stderr[-3000:]
    state = json.loads((checkpoints / "cli-sg2" / STATE_NAME).read_text())
    cfg = state["sg2_config"]
    assert state["steps_done"] == 3 and cfg["batch_size"] == 4 and cfg["lr_g"] == 0.0025
    assert cfg["augment"] == "diffaugment" and cfg["r1_gamma"] == 0.5
    assert "fresh one is trained" in done.stderr


def test_torchrun_two_processes_gloo_stylegan2(sg2_setup, tmp_path):
    checkpoints, data = sg2_setup
    summary = tmp_path / "summary.json"
    args = ["--data", str(data), "--name", "ddp-sg2", "--model", "sg2", "--no-kid"]
    args += ["--steps", "4", "--batch-size", "2", "--d-warmup", "1", "--summary", str(summary)]
    done = _run(args, checkpoints, torchrun=2)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "rank 1 of 2" in done.stderr
    assert json.loads(summary.read_text())["steps"] == 4
    assert store.read_config(checkpoints / "ddp-sg2")["model_type"] == "stylegan2-generator"
