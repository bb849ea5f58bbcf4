"""Safe image input and output shared by every tab.

User files arrive as paths (Gradio uploads) or PIL images. `load_rgb` turns any of them into
an 8-bit RGB `PIL.Image` or raises `UserInputError` with a message a person understands:
corrupt files, non-images, decompression bombs, tiny images. It also normalises the modes
users actually upload (CMYK, RGBA/LA/P with transparency, 16-bit and float greyscale) and
applies the EXIF orientation so phone photos are upright.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from core.errors import Phrase, UserInputError

log = logging.getLogger(__name__)

IMAGENET_MEAN = (0.485, 0.456, 0.406)  # per-channel RGB statistics of ImageNet, for
IMAGENET_STD = (0.229, 0.224, 0.225)  # the feature networks trained on it
MAX_PIXELS = 40_000_000  # ~6300x6300; larger files are refused before decoding
MAX_FILE_BYTES = 50 * 1024 * 1024
MIN_SIDE = 32
# What a message calls the file (`load_rgb(..., what=...)`), in the page's languages.
IMAGE = Phrase("image", "msg.what.image")
PHOTO = Phrase("photo", "msg.what.photo")
CONTENT_IMAGE = Phrase("content image", "msg.what.content_image")


def style_image(number: int) -> Phrase:
    return Phrase("style image {number}", "msg.what.style_image", number=number)


def numbered_image(number: int) -> Phrase:
    return Phrase("image {number}", "msg.what.numbered_image", number=number)


def named_file(name: str) -> Phrase:
    return Phrase("file {name}", "msg.what.named_file", name=name)


# Pillow warns at MAX_IMAGE_PIXELS and raises at twice that; we check ourselves first.
Image.MAX_IMAGE_PIXELS = MAX_PIXELS


def load_rgb(
    source: str | Path | Image.Image | np.ndarray | None,
    *,
    what: Phrase | str = IMAGE,
    min_side: int = MIN_SIDE,
    max_pixels: int = MAX_PIXELS,
) -> Image.Image:
    """Open `source` as an upright 8-bit RGB image, or raise `UserInputError`."""
    if source is None or (isinstance(source, str) and not source.strip()):
        raise UserInputError("please upload a {what}", "msg.error.upload_missing", what=what)
    if isinstance(source, np.ndarray):
        source = _array_to_image(source, what)
    image = source if isinstance(source, Image.Image) else _open(Path(source), what, max_pixels)
    if image.width * image.height > max_pixels:
        raise too_many_pixels(what, image, max_pixels)
    image = _to_rgb(image)
    if min(image.size) < min_side:
        raise UserInputError(
            "the {what} is {width}x{height}: each side must be at least {min_side} px",
            "msg.error.image_too_small",
            what=what,
            width=image.width,
            height=image.height,
            min_side=min_side,
        )
    return image


def too_many_pixels(what: Phrase, image: Image.Image, max_pixels: int) -> UserInputError:
    return UserInputError(
        "the {what} is {width}x{height}: over the {limit}-pixel limit",
        "msg.error.image_too_large",
        what=what,
        width=image.width,
        height=image.height,
        limit=f"{max_pixels:,}",
    )


def _open(path: Path, what: Phrase, max_pixels: int) -> Image.Image:
    try:
        size = path.stat().st_size
    except OSError as e:
        raise UserInputError(
            "the {what} could not be read", "msg.error.unreadable", what=what
        ) from e
    if size == 0:
        raise UserInputError("the {what} is an empty file", "msg.error.empty_file", what=what)
    if size > MAX_FILE_BYTES:
        raise UserInputError(
            "the {what} is {mb} MB: the limit is 50 MB",
            "msg.error.file_too_big",
            what=what,
            mb=f"{size / 2**20:.0f}",
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(path)
            if image.width * image.height > max_pixels:
                raise too_many_pixels(what, image, max_pixels)
            image.load()
            return _upright(image, to_8_bit(image))
    except UserInputError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise UserInputError(
            "the {what} is too large to decode safely", "msg.error.decompression_bomb", what=what
        ) from e
    except UnidentifiedImageError as e:
        raise UserInputError(
            "the {what} is not an image Pillow can read", "msg.error.not_an_image", what=what
        ) from e
    except (OSError, SyntaxError, ValueError) as e:  # truncated or corrupt data
        raise UserInputError(
            "the {what} is corrupt or truncated ({detail})",
            "msg.error.corrupt",
            what=what,
            detail=e,
        ) from e


def _to_rgb(image: Image.Image) -> Image.Image:
    """8-bit RGB; transparency is composited on white, 16-bit and float are rescaled."""
    image = to_8_bit(image)
    if image.mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    if image.mode in {"RGBA", "LA", "PA", "RGBa", "La"}:
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    if image.mode != "RGB":
        image = image.convert("RGB")  # L, 1, P, CMYK, YCbCr, LAB, HSV
    return image


WIDE_MODES = {"I;16", "I;16B", "I;16L", "I;16N", "I", "F"}  # 16-bit, 32-bit int and float grey
STRIP_ROWS = 256  # rows converted at a time: the temporaries stay a few MB at any width
_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


def to_8_bit(image: Image.Image) -> Image.Image:
    """A 16-bit, 32-bit or float greyscale image as 8-bit "L" (others unchanged), converted
    strip by strip, so no full-size wide array is ever built: 16-bit values v give
    round(v / 257) (a 16-bit copy of an 8-bit image gives the 8-bit image back), 32-bit
    integers the same when they pass 255, floats are stretched from their min to their max."""
    if image.mode not in WIDE_MODES:
        return image
    value_range = None if image.mode.startswith("I;16") else _range(image)
    out = np.empty((image.height, image.width), np.uint8)
    for top in range(0, image.height, STRIP_ROWS):
        strip = image.crop((0, top, image.width, min(top + STRIP_ROWS, image.height)))
        out[top : top + strip.height] = _strip_to_8_bit(np.asarray(strip), value_range)
    return Image.fromarray(out, "L")


_SIXTEEN_TO_8 = np.rint(np.arange(65536) / 257).astype(np.uint8)  # a lookup per 16-bit value


def _strip_to_8_bit(a: np.ndarray, value_range: tuple[float, float] | None) -> np.ndarray:
    """A strip of 16-bit values (`value_range` None) or of values in `value_range`, as uint8."""
    if value_range is None:
        return _SIXTEEN_TO_8[a]
    lo, hi = value_range
    a = (np.nan_to_num(a.astype(np.float32), nan=lo) - lo) * (255.0 / (hi - lo or 1.0))
    return np.rint(a.clip(0, 255))


def _range(image: Image.Image) -> tuple[float, float]:
    """The input range of a 32-bit or float image that maps to 0-255."""
    lo, hi = image.getextrema()
    if image.mode == "F":
        return float(lo), float(hi)
    return 0.0, 65535.0 if hi > 255 else 255.0


def _upright(original: Image.Image, image: Image.Image) -> Image.Image:
    """`image` (made from `original`) turned as `original`'s EXIF orientation says."""
    orientation = original.getexif().get(0x0112, 1)
    return image.transpose(_TRANSPOSE[orientation]) if orientation in _TRANSPOSE else image


def _array_to_image(a: np.ndarray, what: Phrase) -> Image.Image:
    if a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[2] not in (1, 3, 4)):
        raise UserInputError(
            "the {what} has an unsupported shape {shape}",
            "msg.error.shape",
            what=what,
            shape=a.shape,
        )
    if a.dtype != np.uint8:
        if not np.isfinite(a).all():
            raise UserInputError(
                "the {what} contains NaN or infinite values",
                "msg.error.non_finite_image",
                what=what,
            )
        scale = 255.0 if a.max() <= 1.0 else 1.0
        a = (a.astype(np.float64) * scale).clip(0, 255).astype(np.uint8)
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[:, :, 0]
    return Image.fromarray(a)


def to_uint8(images: np.ndarray) -> np.ndarray:
    """Float images in [-1, 1], NCHW, to uint8 NHWC."""
    a = (np.asarray(images, dtype=np.float32) + 1.0) * 127.5
    return a.clip(0, 255).round().astype(np.uint8).transpose(0, 2, 3, 1)
