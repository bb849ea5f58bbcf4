"""Convert the DCGAN face generator shipped in `gan-face-generate==1.1.1` into `checkpoints/`.

    python -m scripts.convert_face_model [--wheel PATH] [--out checkpoints/dcgan-digiface]

Fetches the wheel with `pip download --no-deps` (installing it would pull wandb), checks its
sha256, reads `weights.tar` with `torch.load(weights_only=True)` (a local file from a checked
wheel: no arbitrary unpickling) and writes config.json + model.safetensors + a model card.
"""

from __future__ import annotations

import argparse
import logging
import tempfile
from pathlib import Path

from core.store import ROOT, save_pretrained
from gan.models.dcgan import Generator, GeneratorConfig
from scripts.wheels import load_member, verified_wheel

log = logging.getLogger(__name__)

PACKAGE = "gan-face-generate==1.1.1"
WHEEL_NAME = "gan_face_generate-1.1.1-py3-none-any.whl"
WHEEL_SHA256 = "24102f4be41d164e44251168ede0458a45e498a888c81493e2aea48529640569"
MEMBER = "gan_face_generate/weights.tar"

CARD = """---
license: mit
library_name: pytorch
tags: [gan, dcgan, faces, image-generation]
---

# DCGAN faces 64x64 (DigiFace-1M)

A DCGAN generator (Radford et al. 2016; the PyTorch DCGAN tutorial architecture, nz=100,
ngf=64) that makes 64x64 synthetic faces. It was trained on
[DigiFace-1M](https://github.com/microsoft/DigiFace1M) (Bae et al. 2023, synthetic faces
rendered from 3D models) by the authors of the PyPI package `gan-face-generate` 1.1.1,
whose wheel ships the weights as `weights.tar` (`netG_state_dict`).

Converted for GAN Studio by `scripts/convert_face_model.py`: the wheel's sha256 is checked
({sha}), the state dict is read with `torch.load(weights_only=True)` and written unchanged
(same tensor names, float32) as `model.safetensors`.

- Input: z ~ N(0, I) of shape (N, 100); output: images in [-1, 1] of shape (N, 3, 64, 64).
- No discriminator was published: fine-tuning starts one fresh.
- Limitations: 64x64 only; DigiFace-1M faces are rendered, not photographs, so outputs look
  synthetic; no claims about demographic coverage.

## Licence

MIT License, Copyright (c) the gan-face-generate authors. Permission is hereby granted, free
of charge, to any person obtaining a copy of this software and associated documentation files
(the "Software"), to deal in the Software without restriction, including without limitation
the rights to use, copy, modify, merge, publish, distribute, sublicense, and/or sell copies of
the Software, and to permit persons to whom the Software is furnished to do so, subject to the
following conditions: The above copyright notice and this permission notice shall be included
in all copies or substantial portions of the Software. THE SOFTWARE IS PROVIDED "AS IS",
WITHOUT WARRANTY OF ANY KIND.

The DigiFace-1M dataset has its own licence (research use); see its repository.
"""


def convert(wheel: Path, out: Path) -> Path:
    state = load_member(wheel, MEMBER)["netG_state_dict"]
    config = GeneratorConfig(nz=100, ngf=64, nc=3, image_size=64)
    generator = Generator(config)
    generator.load_state_dict(state)  # strict: proves the layout matches
    tensors = {k: v.float() for k, v in generator.state_dict().items()}
    meta = {"source": PACKAGE, "source_sha256": WHEEL_SHA256}
    return save_pretrained(
        out,
        {**config.to_dict(), "source": PACKAGE, "dataset": "DigiFace-1M"},
        tensors,
        CARD.replace("{sha}", WHEEL_SHA256),
        metadata=meta,
    )


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wheel", type=Path, help="an already downloaded wheel")
    parser.add_argument("--out", type=Path, default=ROOT / "checkpoints" / "dcgan-digiface")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        wheel = verified_wheel(PACKAGE, WHEEL_NAME, WHEEL_SHA256, Path(tmp), args.wheel)
        log.info("wrote %s", convert(wheel, args.out))


if __name__ == "__main__":
    main()
