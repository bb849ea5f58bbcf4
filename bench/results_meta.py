"""What every results file records about itself: the device, torch version, commit, the load
average, the command line, and the paths of the code it measures (`bench.stale` compares them
with `git log`)."""

from __future__ import annotations

import os
import platform
import shlex
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

ROOT = Path(__file__).resolve().parent.parent


def git_head(paths: list[str] | None = None) -> str:
    """The full commit measured, `+dirty` when tracked files (of `paths`, if given) had local
    changes."""
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no", "--", *(paths or [])],
            cwd=ROOT,
            capture_output=True,
            text=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return sha + ("+dirty" if dirty else "")


def device_name(device: torch.device) -> str:
    import torch

    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"cpu ({platform.processor() or platform.machine()}, {os.cpu_count()} cores)"


def command_line() -> str:
    """The command line this process was started with (`python -m bench.x --flag ...`)."""
    return shlex.join(["python", *sys.orig_argv[1:]])


def stamp(measures: list[str], device: torch.device | str = "cpu") -> dict:
    """The fields `bench.stale` and a reader need: what ran where, at which commit, how."""
    import torch

    return {
        "device": device_name(torch.device(device)),
        "torch": torch.__version__,
        "commit": git_head(measures),
        "measures": list(measures),
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "load_average_1_5_15": [round(x, 2) for x in os.getloadavg()],
        "command": command_line(),
    }


def describe(benchmark: str, what: str, device: torch.device, measures: list[str]) -> dict:
    """The header of a results file."""
    import torch

    head = {"benchmark": benchmark, "what": what} | stamp(measures, device)
    return head | {"cuda": torch.version.cuda, "threads": torch.get_num_threads()}
