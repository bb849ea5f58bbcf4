"""Convert the LPIPS v0.1 VGG linear layers of the `lpips` wheel to `checkpoints/lpips-vgg16-lin/`.

Source: the PyPI package `lpips==0.1.4` (BSD-2-Clause, Zhang et al. 2018), file
`lpips/weights/v0.1/vgg.pth`: five 1x1 convolutions (`lin{k}.model.1.weight`, shape (1, C, 1, 1)).
The wheel is downloaded with `pip download --no-deps`, its sha256 is checked, and the state dict
is read with `torch.load(weights_only=True)` from that verified local file; it is written as
config.json + model.safetensors (`lin{k}.weight`) + README.md. The VGG16 backbone is not part of
it (it comes from the Hub, see style/lpips.py). The converted checkpoint is committed, so this
script only needs to run again to reproduce it:

    python scripts/convert_lpips.py [--wheel lpips-0.1.4-py3-none-any.whl]
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.store import checkpoints_dir, save_pretrained  # noqa: E402
from scripts.wheels import load_member, read_text, verified_wheel  # noqa: E402
from style.lpips import LIN_NAME, LPIPS_CHANNELS  # noqa: E402

log = logging.getLogger("convert_lpips")

PACKAGE = "lpips==0.1.4"
WHEEL = "lpips-0.1.4-py3-none-any.whl"
WHEEL_SHA256 = "fd537af5828b69d2e6ffc0a397bd506dbc28ca183543617690844c08e102ec5e"
MEMBER = "lpips/weights/v0.1/vgg.pth"
LICENCE_MEMBER = "lpips-0.1.4.dist-info/LICENSE"

CARD = """---
license: bsd-2-clause
library_name: pytorch
tags: [lpips, perceptual-similarity, vgg16]
---
# LPIPS v0.1 linear layers for VGG16, GAN Studio format

The learned 1x1 "linear" layers of LPIPS (Zhang, Isola, Efros, Shechtman & Wang, "The
Unreasonable Effectiveness of Deep Features as a Perceptual Metric", CVPR 2018) for the VGG16
backbone, version 0.1. GAN Studio's Project tab uses LPIPS as the loss that fits a latent to a
photo (`style/lpips.py`); the VGG16 backbone (`timm/vgg16.tv_in1k`) is loaded from the Hub.

- Origin: PyPI package `lpips` 0.1.4 (https://github.com/richzhang/PerceptualSimilarity), file
  `lpips/weights/v0.1/vgg.pth`; wheel sha256 `{sha}`.
- Conversion: `scripts/convert_lpips.py` renamed `lin{{k}}.model.1.weight` to `lin{{k}}.weight`
  (shapes (1, C, 1, 1), C = 64, 128, 256, 512, 512, non-negative); values unchanged (float32).
- Licence: BSD 2-Clause, as the package states; its text follows.

```
{licence}
```
"""


def lin_tensors(sd: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """`lin{k}.model.1.weight` -> `lin{k}.weight`, checking shapes and signs."""
    out = {}
    for k, c in enumerate(LPIPS_CHANNELS):
        t = sd[f"lin{k}.model.1.weight"].float()
        if t.shape != (1, c, 1, 1) or (t < 0).any():
            raise SystemExit(f"unexpected lin{k} weight: shape {tuple(t.shape)}")
        out[f"lin{k}.weight"] = t
    return out


def convert(wheel: Path, target: Path) -> Path:
    sd, licence = load_member(wheel, MEMBER), read_text(wheel, LICENCE_MEMBER)
    config = {
        "model_type": "lpips-linear",
        "backbone": "vgg16",
        "version": "0.1",
        "channels": list(LPIPS_CHANNELS),
        "source": f"pypi:{PACKAGE}",
        "source_file": MEMBER,
        "source_sha256": WHEEL_SHA256,
        "license": "bsd-2-clause",
    }
    card = CARD.format(sha=WHEEL_SHA256, licence=licence)
    return save_pretrained(target, config, lin_tensors(sd), card)


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wheel", type=Path, help="an already downloaded wheel (sha256 checked)")
    parser.add_argument("--out", type=Path, default=checkpoints_dir() / LIN_NAME)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        wheel = verified_wheel(PACKAGE, WHEEL, WHEEL_SHA256, Path(tmp), args.wheel)
        log.info("wrote %s", convert(wheel, args.out))


if __name__ == "__main__":
    main()
