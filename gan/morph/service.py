"""The Morph service: two photos projected (the Project service, as a projection runs alone),
a looping morph video between their latents, and D's realness score along the walk.

One long job, a generator of `core.events.Progress`: the live previews of both projections,
then the video. `stop(session)` stops the projection in progress and skips what is left.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from core import media
from core.events import Progress
from core.runs import RunRegistry
from gan import latents
from gan.generate.service import DISPLAY_SIZE
from gan.judge.judge import MAX_IMAGES
from gan.library.service import Origin
from gan.morph.morph import MorphSettings, morph_walk
from gan.project.projection import CropBox, ProjectSettings

log = logging.getLogger(__name__)

PHOTOS = ("a", "b")


@dataclass
class Morphed:
    """A finished (or stopped) morph: the video and its frames, D's logits per frame (None
    without a D), the latent files of both photos and their projections beside the targets."""

    video: Path | None = None
    frames: np.ndarray | None = None  # (T, H, W, 3) uint8, the first equal to the last
    realness: list[float] | None = None
    files: list[Path] = field(default_factory=list)
    pairs: list[np.ndarray] = field(default_factory=list)  # target | projection, per photo
    stopped: bool = False


class Morpher:
    """Morph jobs on the Project service's projections and the studio's generators."""

    def __init__(self, projector: Any, judge: Any = None, library: Any = None) -> None:
        self.projector = projector  # gan.project.service.Projector
        self.studio = projector.studio
        self.judge = judge  # gan.judge.service.Judge, for D's realness
        self.library = library  # gan.library.service.LatentLibrary: where both latents go
        self.runs = RunRegistry()

    def stop(self, session: str) -> bool:
        stopped = self.runs.stop(session)
        return self.projector.stop(session) or stopped

    def morph(
        self,
        name: str,
        photo_a: Any,
        photo_b: Any,
        settings: MorphSettings,
        session: str = "api",
        owner: str | None = None,
    ) -> Iterator[Progress]:
        """Progress over both projections (steps 0..2 x steps), then a last event with
        `done=True` and `output` a `Morphed`. Both latents go into `owner`'s My latents (with
        a library and an owner) as projections."""
        out = Morphed()
        found: list[latents.Latent] = []
        total = 2 * settings.steps + 1
        with self.runs.running(session) as stop:
            for i, photo in enumerate((photo_a, photo_b)):
                events = self._project(name, photo, settings, session)
                result = yield from _offset(events, i * settings.steps, total, PHOTOS[i])
                found.append(latents.Latent(result.result.space, result.result.latent))
                out.pairs.append(result.comparison)
                if result.result.stopped or stop.is_set():
                    out.stopped = True
                    break
            folder = self.studio.output_dir()
            out.files = _save_latents(found, folder)
            self._keep(name, found, owner)
            if not out.stopped:
                self._video(name, found, settings, folder, out)
        yield Progress(step=total, total=total, done=True, stopped=out.stopped, output=out)

    def _project(
        self, name: str, photo: Any, settings: MorphSettings, session: str
    ) -> Iterator[Progress]:
        project = ProjectSettings(
            steps=settings.steps, w_plus=settings.w_plus, preview_every=max(settings.steps // 10, 1)
        )
        face = 0 if settings.align else None
        return self.projector.project(name, photo, CropBox(), project, session, face=face)

    def _keep(self, name: str, found: list[latents.Latent], owner: str | None) -> None:
        """The projected latents into the owner's My latents (thumbnails: their faces)."""
        if self.library is None or owner is None:
            return
        for latent in found:
            self.library.add(owner, name, latent, Origin("projection"))

    def _video(
        self,
        name: str,
        found: list[latents.Latent],
        settings: MorphSettings,
        folder: Path,
        out: Morphed,
    ) -> None:
        path = morph_walk(found[0].value, found[1].value, settings.frames)
        out.frames = self.render(name, found[0].space, path)
        big = media.upscale_frames(out.frames, DISPLAY_SIZE)
        out.video = media.save_mp4(big, folder / "morph.mp4", settings.fps)
        out.files.append(out.video)
        out.realness = self.realness(name, out.frames)

    def render(self, name: str, space: str, path: torch.Tensor) -> np.ndarray:
        """The walk's images: z through G, or W+ through the synthesis network."""
        if space == "w":
            return self.studio.render(name, path)
        return self.studio.synthesize(name, path)

    def realness(self, name: str, frames: np.ndarray) -> list[float] | None:
        """D's logit for each frame (None when the model has no D), in chunks D accepts."""
        if self.judge is None or not self.judge.has_discriminator(name):
            return None
        logits: list[float] = []
        for start in range(0, len(frames), MAX_IMAGES):
            logits += self.judge.score(name, list(frames[start : start + MAX_IMAGES])).logits
        return logits


def _offset(events: Iterator[Progress], before: int, total: int, photo: str) -> Iterator[Progress]:
    """The projection's events counted on the morph's whole scale; returns its `Projected`."""
    for event in events:
        if event.done:
            return event.output
        yield Progress(
            step=before + event.step,
            total=total,
            losses=event.losses,
            preview=event.preview,
            message=photo,
        )
    raise RuntimeError("the projection ended without a result")


def _save_latents(found: list[latents.Latent], folder: Path) -> list[Path]:
    files: list[Path] = []
    for photo, latent in zip(PHOTOS, found, strict=False):
        files += latents.save_latent(latent, folder, f"photo_{photo}")
    return files
