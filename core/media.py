"""Images and animations out: grids, strips, PNG, GIF and browser-playable MP4."""

from __future__ import annotations

import io
import math
import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def upscale(image: np.ndarray, size: int) -> Image.Image:
    """Nearest-neighbour upscale for display: keeps the generator's pixels visible and crisp."""
    pil = Image.fromarray(image)
    if pil.width >= size:
        return pil
    return pil.resize((size, size * pil.height // pil.width), Image.Resampling.NEAREST)


def grid(images: np.ndarray, ncols: int | None = None, pad: int = 2) -> np.ndarray:
    """(N, H, W, 3) uint8 -> one (rows*H', cols*W', 3) image with white padding."""
    n, h, w, c = images.shape
    ncols = ncols or math.ceil(math.sqrt(n))
    nrows = math.ceil(n / ncols)
    out = np.full((nrows * (h + pad) + pad, ncols * (w + pad) + pad, c), 255, np.uint8)
    for i, image in enumerate(images):
        r, col = divmod(i, ncols)
        y, x = pad + r * (h + pad), pad + col * (w + pad)
        out[y : y + h, x : x + w] = image
    return out


def strip(images: np.ndarray, max_per_row: int = 12) -> np.ndarray:
    """Frames side by side, wrapping after `max_per_row`."""
    return grid(images, ncols=min(len(images), max_per_row))


def upscale_frames(frames: np.ndarray, size: int) -> np.ndarray:
    """Integer nearest-neighbour upscaling of (N, H, W, 3) frames to at least `size` px."""
    factor = max(1, math.ceil(size / frames.shape[2]))
    return frames.repeat(factor, axis=1).repeat(factor, axis=2)


def save_png(image: np.ndarray, path: Path, compress_level: int = 6) -> Path:
    """A lossless PNG; `compress_level` 1 writes faster for some 10% more bytes (pages)."""
    Image.fromarray(image).save(path, format="PNG", compress_level=compress_level)
    return path


def save_page_png(image: np.ndarray, path: Path) -> Path:
    """A lossless RGB PNG written fast, for the page: every row "Up"-filtered in one numpy
    step, then zlib level 1. About half the CPU time of Pillow at `compress_level=1` (which
    picks a filter row by row) for some 6% more bytes; other images go through Pillow."""
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        return save_png(image, path, compress_level=1)
    path.write_bytes(page_png_bytes(image))
    return path


def page_png_bytes(image: np.ndarray) -> bytes:
    """(H, W, 3) uint8 as PNG bytes: filter type 2 (Up) on each row, zlib level 1."""
    h, w, _ = image.shape
    rows = image.reshape(h, w * 3)
    filtered = np.empty((h, w * 3 + 1), np.uint8)
    filtered[:, 0] = 2  # Up: each byte minus the one above it (the first row: minus 0)
    filtered[0, 1:] = rows[0]
    np.subtract(rows[1:], rows[:-1], out=filtered[1:, 1:])  # wraps modulo 256, as PNG wants
    header = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)  # 8 bits, RGB, no interlace
    idat = zlib.compress(filtered.tobytes(), 1)
    return PNG_SIGNATURE + _chunk(b"IHDR", header) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")


def _chunk(kind: bytes, data: bytes) -> bytes:
    """One PNG chunk: length, type, data, CRC of type and data."""
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_bytes(image: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return buffer.getvalue()


def save_gif(frames: np.ndarray, path: Path, fps: int = 12) -> Path:
    """Looping GIF, one frame per latent (no frame merging, so frame counts are exact)."""
    pil = [Image.fromarray(f) for f in frames]
    pil[0].save(
        path,
        format="GIF",
        save_all=True,
        append_images=pil[1:],
        duration=round(1000 / fps),
        loop=0,
        optimize=False,
        disposal=1,
    )
    return path


def save_mp4(frames: np.ndarray, path: Path, fps: int = 12) -> Path:
    """H.264 in yuv420p with even sides and faststart: plays in every browser."""
    import imageio_ffmpeg  # here, so that training code can import this module without it

    h, w = frames.shape[1] // 2 * 2, frames.shape[2] // 2 * 2
    writer = imageio_ffmpeg.write_frames(
        str(path),
        (w, h),
        fps=fps,
        codec="libx264",
        pix_fmt_out="yuv420p",
        macro_block_size=2,
        output_params=["-movflags", "+faststart", "-crf", "18"],
        ffmpeg_log_level="error",
    )
    writer.send(None)  # start the encoder
    for frame in frames:
        writer.send(np.ascontiguousarray(frame[:h, :w]))
    writer.close()
    return path


def thumbnail(image: np.ndarray, max_side: int) -> np.ndarray:
    """`image` (H, W, 3) uint8, downscaled (Lanczos) to fit `max_side` when it is larger."""
    if max(image.shape[:2]) <= max_side:
        return image
    pil = Image.fromarray(image)
    pil.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    return np.asarray(pil)
