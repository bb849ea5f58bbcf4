"""core.images directly: every kind of source, the modes users upload, the limits, to_uint8."""

from __future__ import annotations

import struct
import tracemalloc
import zlib

import numpy as np
import pytest
from PIL import Image

from core.errors import UserInputError
from core.images import load_rgb, to_uint8


def _save(image: Image.Image, path, **kwargs) -> str:
    image.save(path, **kwargs)
    return str(path)


def _write(path, data: bytes) -> str:
    path.write_bytes(data)
    return str(path)


def test_paths_pil_images_and_arrays_all_give_8_bit_rgb(tmp_path):
    rgb = Image.new("RGB", (40, 33), (10, 20, 30))
    path = _save(rgb, tmp_path / "a.png")
    for source in (path, tmp_path / "a.png", rgb, np.asarray(rgb)):
        image = load_rgb(source)
        assert image.mode == "RGB" and image.size == (40, 33)
        assert image.getpixel((0, 0)) == (10, 20, 30)


def test_float_arrays_in_0_1_are_scaled_and_grey_arrays_become_rgb():
    image = load_rgb(np.full((32, 32), 0.5, dtype=np.float32))
    assert image.mode == "RGB" and image.getpixel((3, 3)) == (127, 127, 127)
    with pytest.raises(UserInputError, match="NaN"):
        load_rgb(np.full((32, 32, 3), np.nan))
    with pytest.raises(UserInputError, match="unsupported shape"):
        load_rgb(np.zeros((32, 32, 2), dtype=np.uint8))


def test_transparency_is_composited_on_white(tmp_path):
    rgba = Image.new("RGBA", (32, 32), (255, 0, 0, 0))  # fully transparent red
    assert load_rgb(_save(rgba, tmp_path / "t.png")).getpixel((5, 5)) == (255, 255, 255)


def test_16_bit_greyscale_is_rescaled(tmp_path):
    grey = Image.fromarray(np.full((32, 32), 65535, dtype=np.uint16))
    assert load_rgb(_save(grey, tmp_path / "g.png")).getpixel((0, 0)) == (255, 255, 255)


def png_16_bit_rgb(a: np.ndarray) -> bytes:
    """A 16-bit RGB PNG of uint16 (H, W, 3) (Pillow writes none)."""
    h, w, _ = a.shape
    rows = b"".join(b"\0" + row.astype(">u2").tobytes() for row in a)

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", w, h, 16, 2, 0, 0, 0)
    body = chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")
    return b"\x89PNG\r\n\x1a\n" + body


def eight_bit_scene(h: int = 48, w: int = 40) -> np.ndarray:
    """uint8 (H, W, 3) with every level 0-255 in it."""
    return (np.arange(h * w * 3).reshape(h, w, 3) * 7 % 256).astype(np.uint8)


def test_16_bit_images_match_their_8_bit_versions(tmp_path):
    """16-bit greyscale PNG (I;16), big-endian TIFF (I;16B) and 16-bit RGB PNG give the
    8-bit image they were made from (x 257), within one level."""
    rgb8 = eight_bit_scene()
    grey8 = rgb8[..., 0]
    wide = grey8.astype(np.uint16) * 257
    sources = {
        "I;16 png": (_save(Image.fromarray(wide), tmp_path / "g.png"), grey8),
        "I;16B tiff": (_save(Image.fromarray(wide.astype(">u2")), tmp_path / "b.tif"), grey8),
        "RGB 16-bit png": (
            _write(tmp_path / "c.png", png_16_bit_rgb(rgb8.astype(np.uint16) * 257)),
            rgb8,
        ),
    }
    sources["I (32-bit) image"] = (Image.fromarray(wide.astype(np.int32)), grey8)
    stretched = grey8.astype(np.float32) / 255 * 4 - 1  # floats from -1 to 3: min to max
    sources["F image"] = (Image.fromarray(stretched), grey8)
    for name, (path, expected) in sources.items():
        got = np.asarray(load_rgb(path)).astype(int)
        want = expected.astype(int)
        want = np.repeat(want[..., None], 3, axis=2) if want.ndim == 2 else want
        assert np.abs(got - want).max() <= 1, name


def test_a_16_bit_image_never_becomes_a_full_size_float64_array(tmp_path):
    """The red team's 16-bit PNGs became float64 (8 bytes a pixel) before anything else."""
    side = 1024
    wide = (np.arange(side * side).reshape(side, side) % 65536).astype(np.uint16)
    path = _save(Image.fromarray(wide), tmp_path / "w.png")
    tracemalloc.start()
    try:
        load_rgb(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < side * side * 8  # less than one float64 copy (the old path made several)


def test_cmyk_jpeg_becomes_rgb(tmp_path):
    cmyk = Image.new("CMYK", (32, 32), (0, 0, 0, 0))
    image = load_rgb(_save(cmyk, tmp_path / "c.jpg"))
    assert image.mode == "RGB" and min(image.getpixel((4, 4))) > 240  # no ink: white


def test_exif_orientation_is_applied(tmp_path):
    wide = Image.new("RGB", (64, 32))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    path = _save(wide, tmp_path / "r.jpg", exif=exif)
    assert load_rgb(path).size == (32, 64)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: None, "please upload"),
        (lambda p: "  ", "please upload"),
        (lambda p: str(p / "missing.png"), "could not be read"),
        (lambda p: _write(p / "empty.png", b""), "empty file"),
        (lambda p: _write(p / "x.png", b"not an image"), "not an image"),
    ],
)
def test_unusable_sources_are_clear_errors(tmp_path, make, message):
    with pytest.raises(UserInputError, match=message):
        load_rgb(make(tmp_path), what="content image")


def test_size_limits(tmp_path):
    small = _save(Image.new("RGB", (20, 100)), tmp_path / "s.png")
    with pytest.raises(UserInputError, match="at least 32 px"):
        load_rgb(small)
    assert load_rgb(small, min_side=16).size == (20, 100)
    with pytest.raises(UserInputError, match="pixel limit"):
        load_rgb(Image.new("RGB", (100, 100)), max_pixels=5000)


def test_to_uint8_maps_minus_one_to_one_onto_0_255_and_moves_channels_last():
    x = np.stack([np.full((3, 2, 2), v, dtype=np.float32) for v in (-1.0, 0.0, 1.0, 2.0)])
    out = to_uint8(x)
    assert out.shape == (4, 2, 2, 3) and out.dtype == np.uint8
    assert [int(out[i, 0, 0, 0]) for i in range(4)] == [0, 128, 255, 255]  # 127.5 rounds to 128
