"""A toy training set made at run time with PIL: coloured shapes on coloured backgrounds.

Each image is one filled circle, square, triangle or ring with a random size, position and
colour on a plain background of another colour. Shapes are drawn at 4x and downsampled
(anti-aliased edges). Image `i` of a set depends only on `(seed, i)`, so a set is the same on
every machine, and a larger set starts with the smaller one.
"""

from __future__ import annotations

import random

import numpy as np
from PIL import Image, ImageDraw

from core.errors import UserInputError

SHAPES = ("circle", "square", "triangle", "ring")
PALETTE = (
    (230, 57, 70),
    (241, 196, 15),
    (46, 204, 113),
    (52, 152, 219),
    (155, 89, 182),
    (236, 240, 241),
    (44, 62, 80),
    (230, 126, 34),
)
MAX_IMAGES = 20_000
SUPERSAMPLE = 4


def toy_image(seed: int, index: int, size: int = 32) -> Image.Image:
    """Image `index` of the toy set with this `seed`."""
    rng = random.Random(f"gan-lab-toy/{seed}/{index}")  # str seeds hash the same everywhere
    background, fill = rng.sample(PALETTE, 2)
    big = size * SUPERSAMPLE
    image = Image.new("RGB", (big, big), background)
    radius = rng.uniform(0.18, 0.38) * big
    cx = rng.uniform(radius, big - radius)
    cy = rng.uniform(radius, big - radius)
    _draw(ImageDraw.Draw(image), rng.choice(SHAPES), cx, cy, radius, fill, background)
    return image.resize((size, size), Image.Resampling.LANCZOS)


def _draw(draw, shape: str, cx: float, cy: float, r: float, fill, background) -> None:
    box = (cx - r, cy - r, cx + r, cy + r)
    if shape == "circle":
        draw.ellipse(box, fill=fill)
    elif shape == "square":
        draw.rectangle(box, fill=fill)
    elif shape == "triangle":
        draw.polygon([(cx, cy - r), (cx + r, cy + r * 0.8), (cx - r, cy + r * 0.8)], fill=fill)
    else:  # ring
        draw.ellipse(box, fill=fill)
        inner = r * 0.55
        draw.ellipse((cx - inner, cy - inner, cx + inner, cy + inner), fill=background)


def toy_dataset(n: int = 512, size: int = 32, seed: int = 0) -> np.ndarray:
    """`n` toy images as uint8 (n, size, size, 3)."""
    if not 1 <= int(n) <= MAX_IMAGES:
        raise UserInputError(f"the toy set has between 1 and {MAX_IMAGES} images; got {n}")
    if size < 16 or size & (size - 1):
        raise UserInputError(f"image size must be a power of two >= 16; got {size}")
    return np.stack([np.asarray(toy_image(seed, i, size)) for i in range(int(n))])
