"""Face alignment as the FFHQ data set was made (Karras et al. 2019, appendix A).

FFHQ's faces were cut out of the photos with an oriented square found from the eyes and the
mouth alone: its side grows with the eye-to-eye and eye-to-mouth distances, it turns with the
line between the eyes (and the perpendicular to the eye-mouth line), and its centre sits a
little below the eyes. The photo is then shrunk (when the square is far larger than the output),
cropped to the square plus a border, padded by reflection where the square leaves the photo
(the padding blurred and faded to the photo's median colour, so a generator is not shown a
mirror image), and resampled into the output square.

Pure geometry on numpy and PIL: the landmarks come from `gan.align.detector`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageFilter

MAX_TRANSFORM_SIZE = 4096  # FFHQ resampled into 4096 px, then scaled down to 1024 px


@dataclass(frozen=True)
class Landmarks:
    """The five points of a face in photo pixels (x, y): the eye on the image's left, the
    eye on its right, the nose tip, the mouth corners left and right."""

    points: np.ndarray  # (5, 2)

    @property
    def eye_left(self) -> np.ndarray:
        return self.points[0]

    @property
    def eye_right(self) -> np.ndarray:
        return self.points[1]

    @property
    def mouth_avg(self) -> np.ndarray:
        return (self.points[3] + self.points[4]) * 0.5


def ffhq_quad(landmarks: Landmarks) -> np.ndarray:
    """The oriented crop (4, 2): top-left, bottom-left, bottom-right, top-right corners."""
    eye_avg = (landmarks.eye_left + landmarks.eye_right) * 0.5
    eye_to_eye = landmarks.eye_right - landmarks.eye_left
    eye_to_mouth = landmarks.mouth_avg - eye_avg
    x = eye_to_eye - np.flipud(eye_to_mouth) * [-1, 1]  # along the eyes, squared with the mouth
    x = x / np.hypot(*x)
    x = x * max(np.hypot(*eye_to_eye) * 2.0, np.hypot(*eye_to_mouth) * 1.8)
    y = np.flipud(x) * [-1, 1]  # x turned by 90 degrees: down the face
    c = eye_avg + eye_to_mouth * 0.1
    return np.stack([c - x - y, c - x + y, c + x + y, c + x - y]).astype(np.float64)


def quad_side(quad: np.ndarray) -> float:
    """The side of the square `quad` in pixels."""
    return float(np.hypot(*(quad[3] - quad[0])))


def aligned_crop(image: Image.Image, quad: np.ndarray, output_size: int) -> Image.Image:
    """The photo resampled inside `quad` into an `output_size` square (shrink, crop, pad,
    transform, as FFHQ's were)."""
    image, quad = _shrink(image, quad, output_size)
    image, quad = _crop(image, quad)
    image, quad = _pad(image, quad)
    size = min(MAX_TRANSFORM_SIZE, 4 * output_size)
    data = tuple((quad + 0.5).flatten())
    out = image.transform((size, size), Image.Transform.QUAD, data, Image.Resampling.BILINEAR)
    return out.resize((output_size, output_size), Image.Resampling.LANCZOS)


def _shrink(image: Image.Image, quad: np.ndarray, size: int) -> tuple[Image.Image, np.ndarray]:
    """Scale the photo down by a whole factor while the square stays over twice `size`."""
    shrink = math.floor(quad_side(quad) / size * 0.5)
    if shrink <= 1:
        return image, quad
    small = (round(image.width / shrink), round(image.height / shrink))
    return image.resize(small, Image.Resampling.LANCZOS), quad / shrink


def _border(quad: np.ndarray) -> int:
    return max(round(quad_side(quad) * 0.1), 3)


def _crop(image: Image.Image, quad: np.ndarray) -> tuple[Image.Image, np.ndarray]:
    """Cut the photo down to the square's bounding box plus a border."""
    border = _border(quad)
    low, high = np.floor(quad.min(0)).astype(int), np.ceil(quad.max(0)).astype(int)
    left, top = max(low[0] - border, 0), max(low[1] - border, 0)
    right = min(high[0] + border, image.width)
    bottom = min(high[1] + border, image.height)
    if right - left >= image.width and bottom - top >= image.height:
        return image, quad
    return image.crop((left, top, right, bottom)), quad - [left, top]


def _pad(image: Image.Image, quad: np.ndarray) -> tuple[Image.Image, np.ndarray]:
    """Reflect the photo where the square leaves it, blurred and faded toward its median."""
    border = _border(quad)
    low, high = np.floor(quad.min(0)).astype(int), np.ceil(quad.max(0)).astype(int)
    pad = np.maximum([-low[0], -low[1], high[0] - image.width, high[1] - image.height], 0)
    pad = pad + border * (pad > 0)
    if pad.max() <= border - 4 or not pad.any():
        return image, quad
    pad = np.maximum(pad, round(quad_side(quad) * 0.3))
    a = np.asarray(image, dtype=np.float32)
    a = np.pad(a, ((pad[1], pad[3]), (pad[0], pad[2]), (0, 0)), mode="reflect")
    mask = _pad_mask(a.shape[0], a.shape[1], pad)
    blurred = _blur(a, quad_side(quad) * 0.02)
    a += (blurred - a) * np.clip(mask * 3.0 + 1.0, 0.0, 1.0)
    a += (np.median(a, axis=(0, 1)) - a) * np.clip(mask, 0.0, 1.0)
    out = Image.fromarray(np.uint8(np.clip(np.rint(a), 0, 255)), "RGB")
    return out, quad + pad[:2]


def _pad_mask(height: int, width: int, pad: np.ndarray) -> np.ndarray:
    """(H, W, 1): 0 inside the photo, rising to 1 at the padding's outer edge."""
    y, x = np.ogrid[:height, :width]
    left, top, right, bottom = (float(max(p, 1)) for p in pad)
    mx = 1.0 - np.minimum(x / left, (width - 1 - x) / right)
    my = 1.0 - np.minimum(y / top, (height - 1 - y) / bottom)
    return np.maximum(mx, my).astype(np.float32)[..., None]


def _blur(a: np.ndarray, radius: float) -> np.ndarray:
    image = Image.fromarray(np.uint8(np.clip(a, 0, 255)), "RGB")
    blurred = image.filter(ImageFilter.GaussianBlur(radius=max(radius, 0.5)))
    return np.asarray(blurred, dtype=np.float32)
