"""The discriminator's verdict: D's raw logit and sigmoid "looks real" probability per image.

Works with the DCGAN discriminator (`discriminator.safetensors` of a fine-tuned checkpoint) and
the StyleGAN2 discriminator (same file name, its config JSON in the safetensors metadata under
`config`). Images are scored one at a time by default, so an image's verdict does not depend on
the others in the set (StyleGAN2's minibatch-stddev layer then sees a group of one);
`together=True` scores the set as one batch, as during training.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch import nn

from core import images as image_io
from core import store
from core.errors import UserInputError
from gan.models import families

DISCRIMINATOR_NAME = store.DISCRIMINATOR_NAME
MAX_IMAGES = 64
NO_DISCRIMINATOR = (
    "this model has no discriminator; fine-tune it to get one (the Fine-tune tab saves D beside"
    " G), or convert a StyleGAN2 pickle together with its D"
)


@dataclass
class Verdict:
    """Scores in upload order; `ranking` lists indices from most to least real."""

    logits: list[float]
    probabilities: list[float]
    ranking: list[int]

    def to_json(self) -> dict[str, Any]:
        return {"logits": self.logits, "probabilities": self.probabilities, "ranking": self.ranking}


def sigmoid(x: float) -> float:
    """Numerically safe logistic function."""
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


def rank(logits: Sequence[float]) -> list[int]:
    """Indices by logit, highest first; ties keep upload order."""
    return sorted(range(len(logits)), key=lambda i: (-logits[i], i))


# --- Loading D ------------------------------------------------------------------------------


def build_discriminator(path: Path, image_size: int) -> nn.Module:
    """D from a safetensors file: the family its metadata names, else a DCGAN D (older files)."""
    return (
        families.load_discriminator_file(path, families.DCGAN, image_size)
        .eval()
        .requires_grad_(False)
    )


def load_discriminator(name: str, device: torch.device | str = "cpu") -> nn.Module:
    """The discriminator saved with model `name`; UserInputError when it has none."""
    folder = store.resolve(name)
    if store.discriminator_file(name, folder) is None:
        raise UserInputError(NO_DISCRIMINATOR)
    D = families.load(name, "D")
    return D.eval().requires_grad_(False).to(device)


# --- Scoring --------------------------------------------------------------------------------


def resolution_of(discriminator: nn.Module) -> tuple[int, int]:
    """(channels, resolution) that D takes."""
    return families.image_shape(discriminator)


def prepare_images(sources: Sequence[Any], resolution: int, channels: int = 3) -> torch.Tensor:
    """Uploads (paths, PIL images or HWC arrays) -> (N, C, R, R) in [-1, 1]: centred square
    crop, resize. Bad files raise UserInputError naming the upload."""
    if not sources:
        raise UserInputError("upload at least one image to judge")
    if len(sources) > MAX_IMAGES:
        raise UserInputError(f"judge at most {MAX_IMAGES} images at a time")
    out = []
    for i, source in enumerate(sources, start=1):
        image = image_io.load_rgb(source, what=image_io.numbered_image(i), min_side=8)
        side = min(image.size)
        left, top = (image.width - side) // 2, (image.height - side) // 2
        image = image.crop((left, top, left + side, top + side))
        image = image.resize((resolution, resolution), Image.Resampling.LANCZOS)
        a = np.asarray(image.convert("L" if channels == 1 else "RGB"), dtype=np.float32)
        a = a[..., None] if a.ndim == 2 else a
        out.append(torch.from_numpy(a / 127.5 - 1.0).permute(2, 0, 1))
    return torch.stack(out)


def _c(discriminator: nn.Module, n: int, label: int | None, device: torch.device):
    c_dim = int(getattr(discriminator, "c_dim", 0) or 0)
    if c_dim == 0:
        return None
    if label is None or not 0 <= label < c_dim:
        raise UserInputError(f"this discriminator is conditional: choose a class 0-{c_dim - 1}")
    return torch.nn.functional.one_hot(torch.full((n,), label), c_dim).float().to(device)


@torch.no_grad()
def logits(
    discriminator: nn.Module,
    images: torch.Tensor,
    together: bool = False,
    label: int | None = None,
) -> list[float]:
    """Raw D logits, one per image in order. `images`: (N, C, R, R) in [-1, 1]."""
    device = next(discriminator.parameters()).device
    images = images.to(device, torch.float32)
    batches = [images] if together else list(images.split(1))
    out: list[float] = []
    for batch in batches:
        c = _c(discriminator, len(batch), label, device)
        args = (batch,) if c is None else (batch, c)
        try:
            out += discriminator(*args).flatten().float().cpu().tolist()
        except (ValueError, RuntimeError) as e:
            if together:
                raise UserInputError(f"these images cannot be scored as one batch ({e})") from e
            raise
    return out


def judge(
    discriminator: nn.Module,
    images: torch.Tensor,
    together: bool = False,
    label: int | None = None,
) -> Verdict:
    """D's verdict on images (N, C, R, R) in [-1, 1]."""
    scores = logits(discriminator, images, together, label)
    return Verdict(scores, [sigmoid(s) for s in scores], rank(scores))
