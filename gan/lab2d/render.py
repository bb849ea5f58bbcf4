"""The 2D lab's live views as RGB images (numpy + PIL), after poloclub's GAN Lab colours:
green for real, purple for fake.

- D's view: D's decision regions as a heat map (green where D says "real", purple where it
  says "fake"), the real and G's points, and the arrows -dL_G/dx that G's points receive;
- G's view: G's manifold (the image of a grid of z lines through G) with the real and G's
  points.
"""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image, ImageDraw

from gan.lab2d.distributions import VIEW
from gan.lab2d.trainer import Trainer2D

SIZE = 320  # pixels per side
HEAT = 64  # D is evaluated on a HEAT x HEAT grid, then scaled up
ARROWS = 96  # G's points that get an arrow
ARROW_PX = 28.0  # the length of the longest arrows (95th percentile), in pixels
REAL = (22, 150, 70)
FAKE = (128, 50, 160)
FAKE_SIDE = np.array([196, 160, 214], dtype=np.float32)  # heat map where D says "fake"
REAL_SIDE = np.array([160, 214, 176], dtype=np.float32)  # ... where it says "real"
MIDDLE = np.array([250, 250, 250], dtype=np.float32)


def to_pixels(points: torch.Tensor) -> np.ndarray:
    """(N, 2) points in [-VIEW, VIEW]^2 -> (N, 2) pixel coordinates (y pointing down)."""
    p = points.detach().cpu().numpy().astype(np.float64)
    x = (p[:, 0] + VIEW) / (2 * VIEW) * SIZE
    y = (VIEW - p[:, 1]) / (2 * VIEW) * SIZE
    return np.stack([x, y], axis=1)


def heat_map(realness: torch.Tensor) -> Image.Image:
    """A (H, W) realness in [0, 1] coloured purple (0) - white (0.5) - green (1), scaled
    up to SIZE x SIZE."""
    r = realness.detach().cpu().numpy().astype(np.float32)[..., None]
    low = MIDDLE + (FAKE_SIDE - MIDDLE) * np.clip(1 - 2 * r, 0, 1)
    colours = np.where(r < 0.5, low, MIDDLE + (REAL_SIDE - MIDDLE) * np.clip(2 * r - 1, 0, 1))
    image = Image.fromarray(colours.astype(np.uint8), "RGB")
    return image.resize((SIZE, SIZE), Image.Resampling.BILINEAR)


def _dots(image: Image.Image, points: torch.Tensor, colour: tuple) -> Image.Image:
    """`image` with a 3 x 3 dot of `colour` at each point (stamped in numpy: one call for
    all points, several times faster than drawing each)."""
    a = np.array(image)
    p = np.rint(to_pixels(points)).astype(np.int64)
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            x, y = p[:, 0] + dx, p[:, 1] + dy
            inside = (x >= 0) & (x < SIZE) & (y >= 0) & (y < SIZE)
            a[y[inside], x[inside]] = colour
    return Image.fromarray(a)


def _arrows(draw: ImageDraw.ImageDraw, start: torch.Tensor, push: torch.Tensor) -> None:
    """An arrow along `push` from each of the `start` points, scaled together."""
    a, v = to_pixels(start[:ARROWS]), push[:ARROWS].detach().cpu().numpy().astype(np.float64)
    v = v * np.array([1.0, -1.0])  # y points down in pixels
    norm = np.linalg.norm(v, axis=1)
    scale = ARROW_PX / max(float(np.percentile(norm, 95)), 1e-12)
    v, norm = v * scale, norm * scale
    longest = 1.5 * ARROW_PX  # the few much longer arrows clipped, so they hide nothing
    v = v * np.minimum(1.0, longest / np.maximum(norm, 1e-12))[:, None]
    for (x, y), (dx, dy), n in zip(a, v, np.minimum(norm, longest), strict=True):
        if n < 1.0:
            continue
        draw.line((x, y, x + dx, y + dy), fill=(40, 40, 40), width=1)
        ux, uy = dx / n, dy / n
        tip = (x + dx, y + dy)
        for side in (1, -1):  # the head: two short strokes back from the tip
            hx = tip[0] - 5 * ux + side * 3 * uy
            hy = tip[1] - 5 * uy - side * 3 * ux
            draw.line((tip[0], tip[1], hx, hy), fill=(40, 40, 40), width=1)


def d_view(run: Trainer2D) -> np.ndarray:
    """D's heat map, the real points, G's points and their gradient arrows (SIZE, SIZE, 3)."""
    points, push = run.arrows()
    image = _dots(_dots(heat_map(run.decision(HEAT, VIEW)), run.real_shown, REAL), points, FAKE)
    _arrows(ImageDraw.Draw(image), points, push)
    return np.asarray(image)


def g_view(run: Trainer2D) -> np.ndarray:
    """G's manifold (the images of the z grid lines), the real points and G's points."""
    image = Image.new("RGB", (SIZE, SIZE), (255, 255, 255))
    draw = ImageDraw.Draw(image)
    for curve in run.manifold():
        draw.line([tuple(p) for p in to_pixels(curve)], fill=(205, 190, 222), width=1)
    image = _dots(_dots(image, run.real_shown, (150, 205, 165)), run.samples(), FAKE)
    return np.asarray(image)


def from_pixel(x: float, y: float) -> tuple[float, float]:
    """A pixel of a view (x right, y down) -> the point of the plane under it."""
    return (x / SIZE * 2 - 1) * VIEW, (1 - y / SIZE * 2) * VIEW


def points_view(points: list[list[float]] | None) -> np.ndarray:
    """The visitor's clicked points on a blank view (the "my points" data set)."""
    image = Image.new("RGB", (SIZE, SIZE), (255, 255, 255))
    if points:
        image = _dots(image, torch.tensor(points, dtype=torch.float32).reshape(-1, 2), REAL)
    return np.asarray(image)
