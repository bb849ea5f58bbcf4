"""The Align service: finds the faces in a photo and cuts out one FFHQ-aligned crop.

Made once at start-up (`ui.services.build_services`); the detector is loaded on first use and
kept by the service (never at import). It always runs on the CPU: it is small and fast there.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from core.errors import UserInputError
from core.images import PHOTO, load_rgb
from gan.align.align import aligned_crop, ffhq_quad
from gan.align.detector import Face, MTCNNDetector

log = logging.getLogger(__name__)

PREVIEW_SIDE = 512
CHOSEN, OTHER = (255, 64, 64), (255, 220, 64)  # the chosen face's square, the others'


@dataclass
class Aligned:
    """The aligned crop of face `index` (largest first) and every face found."""

    image: Image.Image
    quad: np.ndarray  # (4, 2) in photo pixels
    faces: list[Face]
    index: int


class Aligner:
    """Face detection and FFHQ alignment; `detector_factory` makes the detector once."""

    def __init__(self, detector_factory: Callable[[], Any] = MTCNNDetector) -> None:
        self.detector_factory = detector_factory
        self._detector: Any = None
        self._lock = threading.Lock()

    def detector(self) -> Any:
        with self._lock:
            if self._detector is None:
                self._detector = self.detector_factory()
            return self._detector

    def faces(self, photo: Any) -> list[Face]:
        """The faces in `photo`, largest first (possibly none)."""
        return self.detector().detect(load_rgb(photo, what=PHOTO))

    def align(self, photo: Any, size: int, face: int = 0) -> Aligned:
        """The FFHQ crop of face number `face` (0 = the largest) at `size` px."""
        image = load_rgb(photo, what=PHOTO)
        faces = self.detector().detect(image)
        index = choose(faces, face)
        quad = ffhq_quad(faces[index].landmarks)
        return Aligned(aligned_crop(image, quad, size), quad, faces, index)

    def preview(self, photo: Any, face: int = 0) -> tuple[Image.Image, int]:
        """The photo (scaled down) with each face's FFHQ square drawn, the chosen one in red;
        and how many faces were found."""
        image = load_rgb(photo, what=PHOTO)
        faces = self.detector().detect(image)
        index = choose(faces, face)
        return draw_quads(image, faces, index), len(faces)


def choose(faces: list[Face], face: int) -> int:
    """Check the choice of face: UserInputError when none was found or it is out of range."""
    if not faces:
        raise UserInputError(
            "no face was found in the photo: upload a photo of a face, or turn face alignment"
            " off to project the photo as it is",
            "msg.error.no_face",
        )
    if not 0 <= int(face) < len(faces):
        raise UserInputError(
            "there is no face number {face}: the photo has {count}",
            "msg.error.no_such_face",
            face=int(face) + 1,
            count=len(faces),
        )
    return int(face)


def draw_quads(image: Image.Image, faces: list[Face], index: int) -> Image.Image:
    """Each face's FFHQ square on a copy of the photo scaled to `PREVIEW_SIDE`."""
    scale = min(1.0, PREVIEW_SIDE / max(image.size))
    shown = image.resize((round(image.width * scale), round(image.height * scale)))
    draw = ImageDraw.Draw(shown)
    width = max(2, shown.width // 150)
    order = [i for i in range(len(faces)) if i != index] + [index]  # the chosen one on top
    for i in order:
        corners = [tuple(p) for p in ffhq_quad(faces[i].landmarks) * scale]
        draw.polygon(corners, outline=CHOSEN if i == index else OTHER, width=width)
    return shown
