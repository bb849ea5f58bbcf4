"""core.media directly: grids and strips by hand, nearest-neighbour upscaling, PNG, GIF, MP4."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from core import media


def _frames(n: int, h: int = 4, w: int = 6) -> np.ndarray:
    return np.stack([np.full((h, w, 3), 10 * (i + 1), dtype=np.uint8) for i in range(n)])


def test_grid_places_each_image_with_white_padding():
    out = media.grid(_frames(5), ncols=3, pad=2)
    assert out.shape == (2 * (4 + 2) + 2, 3 * (6 + 2) + 2, 3)
    assert (out[0] == 255).all() and (out[:, 0] == 255).all()  # padding
    assert (out[2:6, 2:8] == 10).all() and (out[2:6, 10:16] == 20).all()  # images 1 and 2
    assert (out[8:12, 10:16] == 50).all()  # image 5: second row, second column
    assert (out[8:12, 18:24] == 255).all()  # the empty sixth cell
    assert media.grid(_frames(4)).shape[1] == 2 * 8 + 2  # default: a square-ish grid


def test_strip_wraps_after_max_per_row():
    assert media.strip(_frames(3)).shape[0] == 4 + 4  # one row
    assert media.strip(_frames(5), max_per_row=2).shape[0] == 3 * 6 + 2  # three rows


def test_upscale_is_nearest_neighbour_and_never_shrinks():
    image = np.zeros((2, 4, 3), dtype=np.uint8)
    image[0, 0] = 255
    big = np.asarray(media.upscale(image, 8))
    assert big.shape == (4, 8, 3) and set(np.unique(big)) == {0, 255}
    assert (big[:2, :2] == 255).all() and (big[2:, :2] == 0).all()
    assert media.upscale(image, 3).size == (4, 2)
    frames = media.upscale_frames(_frames(2, 4, 6), 13)
    assert frames.shape == (2, 12, 18, 3) and (frames[1] == 20).all()


def test_png_round_trip(tmp_path):
    image = _frames(1)[0]
    assert np.array_equal(np.asarray(Image.open(media.save_png(image, tmp_path / "a.png"))), image)
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(media.png_bytes(image)))), image)


def test_page_png_is_lossless_for_any_pixels_and_views(tmp_path):
    rng = np.random.default_rng(0)
    nchw = rng.integers(0, 256, (2, 3, 7, 5), dtype=np.uint8)
    image = nchw.transpose(0, 2, 3, 1)[1]  # a strided view, as the generator's batches give
    image[0, 0], image[1, 0] = 255, 0  # an "Up" difference that wraps below zero
    path = media.save_page_png(image, tmp_path / "a.png")
    with Image.open(path) as png:
        png.verify()  # every chunk's CRC
    with Image.open(path) as png:
        assert png.mode == "RGB" and np.array_equal(np.asarray(png), image)


def test_page_png_leaves_other_images_to_pillow(tmp_path):
    gray = np.arange(48, dtype=np.uint8).reshape(6, 8)
    with Image.open(media.save_page_png(gray, tmp_path / "g.png")) as png:
        assert png.mode == "L" and np.array_equal(np.asarray(png), gray)


def test_gif_keeps_every_frame_and_loops(tmp_path):
    path = media.save_gif(_frames(5, 8, 8), tmp_path / "a.gif", fps=10)
    with Image.open(path) as gif:
        assert gif.n_frames == 5 and gif.info["loop"] == 0 and gif.info["duration"] == 100


def test_mp4_is_h264_with_even_sides(tmp_path):
    path = media.save_mp4(_frames(6, 17, 23), tmp_path / "a.mp4", fps=12)
    data = path.read_bytes()
    assert data[4:8] == b"ftyp" and b"avc1" in data[:4096] + data[-65536:]
    assert data.index(b"moov") < data.index(b"mdat")  # faststart: playable while loading
