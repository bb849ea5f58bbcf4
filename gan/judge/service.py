"""The Judge service: loads each model's D once (reloaded when its file changes) and scores
uploads and the model's own faces with it (`gan.judge.judge`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from core import images as image_io
from core import store
from core.errors import UserInputError
from gan.judge.judge import (
    NO_DISCRIMINATOR,
    Verdict,
    judge,
    load_discriminator,
    prepare_images,
    resolution_of,
)


@dataclass
class Judged:
    """A verdict with the images it is about (uint8 HWC, as D saw them) and their labels."""

    verdict: Verdict
    images: list[np.ndarray]
    labels: list[str]


class Judge:
    """Service: loads each model's D once (reloaded when the file changes) and scores uploads,
    and faces the model makes (`faces(name, seeds)`, e.g. `FaceStudio`-backed, passed in)."""

    def __init__(
        self, device: torch.device | str = "cpu", faces: Any = None, latent_faces: Any = None
    ) -> None:
        self.device = torch.device(device)
        self.faces = faces  # (name, seeds) -> uint8 images (N, H, W, 3)
        self.latent_faces = latent_faces  # (name, latent files) -> uint8 images (N, H, W, 3)
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

    def has_discriminator(self, name: str) -> bool:
        """Whether model `name` was saved with its D."""
        return bool(name) and store.discriminator_file(name, store.resolve(name)) is not None

    def score(self, name: str, sources: Sequence[Any], together: bool = False) -> Verdict:
        D = self.discriminator(name)
        channels, resolution = resolution_of(D)
        return judge(D, prepare_images(sources, resolution, channels), together)

    def score_request(
        self,
        name: str,
        sources: Sequence[Any],
        seeds: list[int] | None = None,
        latent_files: Sequence[str] | None = None,
    ) -> Judged:
        """Uploads (in upload order), the model's faces for `seeds`, then its faces for the
        latent files (My latents): D's verdict on all."""
        D = self.discriminator(name)
        channels, resolution = resolution_of(D)
        items: list[Any] = list(sources or [])
        labels = [_label(item, i) for i, item in enumerate(items)]
        if seeds:
            if self.faces is None:
                raise UserInputError("this server cannot generate faces to judge")
            items += list(self.faces(name, seeds))
            labels += [f"seed {s}" for s in seeds]
        if latent_files:
            if self.latent_faces is None:
                raise UserInputError("this server cannot generate faces to judge")
            faces = list(self.latent_faces(name, latent_files))
            items += faces
            labels += [f"latent {i + 1}" for i in range(len(faces))]
        batch = prepare_images(items, resolution, channels)
        shown = list(image_io.to_uint8(batch.numpy()))
        return Judged(judge(D, batch), shown, labels)


def _label(source: Any, index: int) -> str:
    """An upload's file name (Gradio keeps the original name), else its position."""
    if isinstance(source, (str, Path)):
        return Path(source).name
    return f"upload {index + 1}"
