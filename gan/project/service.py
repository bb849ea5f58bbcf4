"""The Project service: a photo into a generator's latent space, as a stoppable long job.

The perceptual loss is made by a factory that the composition root passes in (`style.lpips`:
LPIPS-VGG16, or the EfficientNet-Lite0 fallback offline), so `gan` does not import `style`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from core import media, store
from core.errors import UserInputError
from core.events import Progress
from core.images import PHOTO, load_rgb
from core.runs import RunRegistry
from gan import DEFAULT_MODEL, latents
from gan.align.service import Aligner
from gan.generate.service import DISPLAY_SIZE, FaceStudio
from gan.models import families
from gan.project.examples import EXAMPLES_DIR, project_example
from gan.project.projection import (
    CropBox,
    Projection,
    ProjectionResult,
    ProjectSettings,
    prepare_target,
    psnr,
)

log = logging.getLogger(__name__)

VIDEO_FPS = 12


@dataclass
class Projected:
    """A finished (or stopped) projection and its files."""

    result: ProjectionResult
    comparison: np.ndarray  # target | projection, side by side, upscaled
    latent_text: str  # the JSON that Edit and Generate import
    psnr_db: float
    files: list[Path]
    video: Path | None
    loss_label: str


class Projector:
    """Projection jobs on the studio's generators; one stoppable run per session key."""

    def __init__(
        self,
        studio: FaceStudio,
        loss_factory: Callable[[], Any],
        example_dir: Path | None = None,
        aligner: Aligner | None = None,
    ) -> None:
        """`example_dir` holds the generated example faces (default: beside the studio's
        output folder, so inside Gradio's cache when the studio's outputs are); `aligner`
        cuts FFHQ-aligned face crops (`gan.align`) when a request asks for one."""
        self.studio = studio
        self.aligner = aligner
        self.loss_factory = loss_factory  # () -> perceptual loss with features/distance/label
        self.runs = RunRegistry()
        self.example_dir = example_dir or studio.output_root.parent / "gan-studio-examples"
        self._example_lock = threading.Lock()

    def example_photo(self, name: str) -> Path:
        """The photo of the built-in example `name` (`gan.project.examples`): a painting from
        examples/, or a face of the bundled DCGAN at the example's seed, rendered on first use
        (and again if a cache clean-up removed it), upscaled to DISPLAY_SIZE."""
        example = project_example(name)
        if example.painting is not None:
            return EXAMPLES_DIR / example.painting
        path = self.example_dir / f"{DEFAULT_MODEL}-seed{example.seed}.png"
        with self._example_lock:
            if not path.is_file():
                faces = self.studio.generate(DEFAULT_MODEL, seeds=[int(example.seed)])
                self.example_dir.mkdir(parents=True, exist_ok=True)
                partial = path.with_name(path.name + ".part")
                media.upscale(faces.images[0], DISPLAY_SIZE).save(partial, format="PNG")
                partial.replace(path)  # whole or absent, for readers in other processes
                log.info("example face written: %s", path)
        return path

    def loss_label(self) -> str:
        """The perceptual loss a run uses (loaded once, then cached by the factory)."""
        return str(self.loss_factory().label)

    def crop_preview(self, photo: Any, crop: CropBox) -> Image.Image:
        """The photo with the crop box drawn on it (scaled down for the page)."""
        image = load_rgb(photo, what=PHOTO)
        image.thumbnail((512, 512))
        box = crop.pixels(image.width, image.height)
        draw = ImageDraw.Draw(image)
        width = max(2, image.width // 150)
        draw.rectangle(box, outline=(255, 64, 64), width=width)
        return image

    def is_face_model(self, name: str) -> bool:
        """Whether `name` draws faces, so that its photos are aligned by default (by its name
        alone when its config cannot be read: this runs on page load, before any request)."""
        if not name:
            return False
        try:
            config = store.read_config(store.resolve(name))
        except Exception as e:  # e.g. a Hub model not fetched yet, or not this visitor's
            log.info("face model? %s: config not read (%s)", name, e)
            config = {}
        return families.is_face_model(config, name)

    def align_preview(self, photo: Any, face: int = 0) -> tuple[Image.Image, int]:
        """The photo with each face's FFHQ square drawn (face `face` in red), and the count."""
        return self._aligner().preview(photo, face)

    def target(self, photo: Any, resolution: int, crop: CropBox, face: int | None) -> Any:
        """The photo's crop, or with `face` (0 = the largest) its FFHQ-aligned face, as the
        (1, 3, R, R) target in [0, 1]."""
        if face is None:
            return prepare_target(photo, resolution, crop)
        return prepare_target(self._aligner().align(photo, resolution, face).image, resolution)

    def _aligner(self) -> Aligner:
        if self.aligner is None:
            raise UserInputError("face alignment is not available on this server")
        return self.aligner

    def project(
        self,
        name: str,
        photo: Any,
        crop: CropBox,
        settings: ProjectSettings,
        session: str = "api",
        face: int | None = None,
    ) -> Iterator[Progress]:
        """Progress events (live preview every `settings.preview_every` steps); the last one
        has `done=True` and `output` a `Projected`. `stop(session)` keeps the current result.
        With `face` (0 = the largest) the photo is FFHQ-aligned first and `crop` unused."""
        generator = self.studio.generator(name)
        target = self.target(photo, _resolution(generator), crop, face)
        loss = self.loss_factory()
        job = Projection(generator, target, loss, settings)
        with self.runs.running(session) as stop:
            for event in job.run(stop):
                if event.done:
                    event.output = self._finish(event.output, loss.label, settings.preview_every)
                    event.metrics["psnr"] = event.output.psnr_db
                yield event

    def stop(self, session: str) -> bool:
        return self.runs.stop(session)

    def _finish(self, result: ProjectionResult, label: str, every: int) -> Projected:
        folder = self.studio.output_dir()
        latent = latents.Latent(result.space, result.latent)
        files = latents.save_latent(latent, folder, "projected")
        pair = media.upscale_frames(np.stack([result.target, result.image]), DISPLAY_SIZE)
        comparison = np.concatenate(list(pair), axis=1)
        files.append(media.save_png(result.image, folder / "projected.png"))
        files.append(media.save_png(comparison, folder / "target_vs_projected.png"))
        video = _video(result, folder) if result.frames else None
        if video is not None:
            files.append(video)
        value = psnr(result.image, result.target)
        log.info("projection: %d/%d steps, PSNR %.1f dB", result.step, result.total, value)
        return Projected(
            result, comparison, latents.latent_json(latent), value, files, video, label
        )


def _video(result: ProjectionResult, folder: Path) -> Path:
    """MP4 of the optimisation: the target beside each preview frame."""
    frames = np.stack([np.concatenate([result.target, f], axis=1) for f in result.frames])
    big = media.upscale_frames(frames, 2 * DISPLAY_SIZE)
    return media.save_mp4(big, folder / "projection.mp4", VIDEO_FPS)


def _resolution(generator: Any) -> int:
    return families.image_size(generator)
