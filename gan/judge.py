"""The discriminator's verdict: D's raw logit and sigmoid "looks real" probability per image.

Works with the DCGAN discriminator (`discriminator.safetensors` of a fine-tuned checkpoint) and
the StyleGAN2 discriminator (same file name, its config JSON in the safetensors metadata under
`config`). Images are scored one at a time by default, so an image's verdict does not depend on
the others in the set (StyleGAN2's minibatch-stddev layer then sees a group of one);
`together=True` scores the set as one batch, as during training.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from safetensors import SafetensorError, safe_open
from torch import nn

from core import images as image_io
from core import store
from core.errors import UserInputError

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


def _metadata_config(path: Path) -> dict | None:
    try:
        with safe_open(str(path), framework="pt", device="cpu") as f:
            text = (f.metadata() or {}).get("config")
    except (SafetensorError, OSError) as e:
        raise store.ModelLoadError(f"{path.name} is corrupt or not a safetensors file ({e})") from e
    if text is None:
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise store.ModelLoadError(f"{path.name}: its config metadata is not JSON") from e


def build_discriminator(path: Path, image_size: int) -> nn.Module:
    """D from a safetensors file: StyleGAN2 when its metadata says so, else a DCGAN D."""
    config = _metadata_config(path)
    tensors = store.read_safetensors(path)
    if config and config.get("model_type") == "stylegan2-discriminator":
        from gan.models.stylegan2_d import StyleGAN2Discriminator, StyleGAN2DiscriminatorConfig

        model: nn.Module = StyleGAN2Discriminator(StyleGAN2DiscriminatorConfig.from_dict(config))
    else:
        model = _dcgan_discriminator(tensors, image_size, path.name)
    try:
        model.load_state_dict(tensors)
    except RuntimeError as e:
        raise store.ModelLoadError(f"{path.name} does not match its config ({e})") from e
    return model.eval().requires_grad_(False)


def _dcgan_discriminator(tensors: dict, image_size: int, label: str) -> nn.Module:
    from gan.models.dcgan import Discriminator, DiscriminatorConfig

    first = tensors.get("main.0.weight")
    if first is None:
        raise store.ModelLoadError(f"{label} is not a DCGAN or StyleGAN2 discriminator")
    config = DiscriminatorConfig(ndf=first.shape[0], nc=first.shape[1], image_size=image_size)
    return Discriminator(config)


def load_discriminator(name: str, device: torch.device | str = "cpu") -> nn.Module:
    """The discriminator saved with model `name`; UserInputError when it has none."""
    folder = store.resolve(name)
    path = store.discriminator_file(name, folder)
    if path is None:
        raise UserInputError(NO_DISCRIMINATOR)
    config = store.read_config(folder)
    size = int(config.get("image_size") or config.get("img_resolution") or 64)
    return build_discriminator(path, size).to(device)


# --- Scoring --------------------------------------------------------------------------------


def resolution_of(discriminator: nn.Module) -> tuple[int, int]:
    """(channels, resolution) that D takes."""
    config = discriminator.config
    if hasattr(config, "img_resolution"):
        return int(config.img_channels), int(config.img_resolution)
    return int(config.nc), int(config.image_size)


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


@dataclass
class Judged:
    """A verdict with the images it is about (uint8 HWC, as D saw them) and their labels."""

    verdict: Verdict
    images: list[np.ndarray]
    labels: list[str]


class Judge:
    """Service: loads each model's D once (reloaded when the file changes) and scores uploads,
    and faces the model makes (`faces(name, seeds)`, e.g. `FaceStudio`-backed, passed in)."""

    def __init__(self, device: torch.device | str = "cpu", faces: Any = None) -> None:
        self.device = torch.device(device)
        self.faces = faces  # (name, seeds) -> uint8 images (N, H, W, 3)
        self._cache: dict[str, tuple[tuple, nn.Module]] = {}

    def discriminator(self, name: str) -> nn.Module:
        if not name:
            raise UserInputError("choose a model")
        folder = store.resolve(name)
        path = store.discriminator_file(name, folder)
        if path is None:
            raise UserInputError(NO_DISCRIMINATOR)
        stat = path.stat()
        key = (str(path), stat.st_mtime_ns, stat.st_size)
        cached = self._cache.get(name)
        if cached is None or cached[0] != key:
            self._cache[name] = (key, load_discriminator(name, self.device))
        return self._cache[name][1]

    def score(self, name: str, sources: Sequence[Any], together: bool = False) -> Verdict:
        D = self.discriminator(name)
        channels, resolution = resolution_of(D)
        return judge(D, prepare_images(sources, resolution, channels), together)

    def score_request(
        self, name: str, sources: Sequence[Any], seeds: list[int] | None = None
    ) -> Judged:
        """Uploads (in upload order), then the model's faces for `seeds`: D's verdict on all."""
        D = self.discriminator(name)
        channels, resolution = resolution_of(D)
        items: list[Any] = list(sources or [])
        labels = [_label(item, i) for i, item in enumerate(items)]
        if seeds:
            if self.faces is None:
                raise UserInputError("this server cannot generate faces to judge")
            items += list(self.faces(name, seeds))
            labels += [f"seed {s}" for s in seeds]
        batch = prepare_images(items, resolution, channels)
        shown = list(image_io.to_uint8(batch.numpy()))
        return Judged(judge(D, batch), shown, labels)


def _label(source: Any, index: int) -> str:
    """An upload's file name (Gradio keeps the original name), else its position."""
    if isinstance(source, (str, Path)):
        return Path(source).name
    return f"upload {index + 1}"
