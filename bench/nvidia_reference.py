"""NVIDIA's reference code, unpacked at run time into a scratch folder outside the project.

`../shared/reference/` holds stylegan2-ada-pytorch and stylegan3 as tarballs (never copied into
the project). `unpack(name, scratch)` extracts one (once) and adds a one-line `pkg_resources`
stand-in beside it (their conv2d_gradfix imports `pkg_resources.parse_version`, which newer
setuptools dropped); `import_path(folder)` puts both first on `sys.path`.

    python -m bench.nvidia_reference /tmp/gan-studio-ref    # unpack both, print the folders
"""

from __future__ import annotations

import importlib.util
import logging
import subprocess
import sys
from pathlib import Path

log = logging.getLogger("bench.nvidia_reference")
ROOT = Path(__file__).resolve().parent.parent
REFERENCE = ROOT.parent / "shared" / "reference"
TARBALLS = {"stylegan2": "stylegan2-ada-pytorch.tar.gz", "stylegan3": "stylegan3.tar.gz"}
STAND_IN = "from packaging.version import parse as parse_version  # stand-in\n"
# NVIDIA's code imports scipy (not a requirement here): where it is missing, a stand-in with
# what it calls: StyleGAN3's Kaiser-window low-pass design (StyleGAN3-T only; no `special`),
# the full convolution that ADA's AugmentPipe builds its filter bank with, and an empty
# `linalg` (train.py imports it for FID, which `--metrics none` never computes).
SCIPY_SIGNAL = """import numpy as np


def convolve(in1, in2, mode="full"):
    assert mode == "full", mode
    a, b = np.asarray(in1, dtype=np.float64), np.asarray(in2, dtype=np.float64)
    out = np.zeros([m + n - 1 for m, n in zip(a.shape, b.shape)])
    for index in np.ndindex(*b.shape):
        out[tuple(slice(i, i + m) for i, m in zip(index, a.shape))] += b[index] * a
    return out


def kaiser_atten(numtaps, width):
    return 2.285 * (numtaps - 1) * np.pi * width + 7.95


def kaiser_beta(a):
    if a > 50:
        return 0.1102 * (a - 8.7)
    return 0.5842 * (a - 21) ** 0.4 + 0.07886 * (a - 21) if a > 21 else 0.0


def firwin(numtaps, cutoff, width, fs):
    nyq = fs / 2
    c = cutoff / nyq
    m = np.arange(numtaps) - (numtaps - 1) / 2
    h = c * np.sinc(c * m) * np.kaiser(numtaps, kaiser_beta(kaiser_atten(numtaps, width / nyq)))
    return h / h.sum()
"""


def tarball(name: str) -> Path:
    """The tarball of `name` ("stylegan2" or "stylegan3"); FileNotFoundError when missing."""
    path = REFERENCE / TARBALLS[name]
    if not path.is_file():
        raise FileNotFoundError(f"NVIDIA's reference code is not at {path}")
    return path


def unpack(name: str, scratch: Path) -> Path:
    """`name`'s code unpacked under `scratch` (outside the project, once); the folder that
    holds its `training/` package. The stand-in goes to `scratch/shims`."""
    scratch = scratch.resolve()
    if scratch.is_relative_to(ROOT):
        raise ValueError("unpack NVIDIA's code outside the project")
    code = scratch / TARBALLS[name].removesuffix(".tar.gz")  # the tarball's one top folder
    if not (code / "training").is_dir():
        scratch.mkdir(parents=True, exist_ok=True)
        subprocess.run(["tar", "xzf", str(tarball(name)), "-C", str(scratch)], check=True)
    shims = scratch / "shims"
    shims.mkdir(exist_ok=True)
    (shims / "pkg_resources.py").write_text(STAND_IN)
    if importlib.util.find_spec("scipy") is None:
        (shims / "scipy").mkdir(exist_ok=True)
        (shims / "scipy" / "__init__.py").write_text("")
        (shims / "scipy" / "optimize.py").write_text("")
        (shims / "scipy" / "signal.py").write_text(SCIPY_SIGNAL)
        (shims / "scipy" / "linalg.py").write_text("")
    return code


def import_path(code: Path) -> None:
    """NVIDIA's code (one of the two at a time) and the stand-in first on `sys.path`."""
    for path in (code.parent / "shims", code):
        if str(path) not in sys.path:
            sys.path.insert(0, str(path))


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    scratch = Path((argv or sys.argv[1:] or ["/tmp/gan-studio-reference"])[0])
    for name in TARBALLS:
        print(unpack(name, scratch))
    return 0


if __name__ == "__main__":
    sys.exit(main())
