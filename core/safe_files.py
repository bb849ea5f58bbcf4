"""Guards on files that arrive through Gradio file inputs, and a decoded-pixels budget.

Gradio 6.31 lets a raw API caller put any path in a file input's payload (see docs/upstream.md):
a *directory* inside its cache passes the cache check (and later kills the cache cleanup), and an
`http(s)://` URL is downloaded with no size limit. `upload_path` accepts only a regular file
inside Gradio's upload folder, symlinks resolved. Call it on every file a handler receives,
first thing.

`check_pixels` reads only image headers (PIL's `Image.open` is lazy) and refuses an upload
whose images would decode to more than a budget of pixels, before any pixel is decoded.
"""

from __future__ import annotations

import os
import stat
import tempfile
import zipfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from PIL import Image

from core.errors import UserInputError

_URL_PREFIXES = ("http://", "https://", "ftp://", "data:", "file:")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif", ".tif", ".tiff")


def upload_folder() -> Path:
    """Gradio's upload folder, by the rule of `gradio.utils.get_upload_folder` (6.31):
    `$GRADIO_TEMP_DIR`, else `<system temp>/gradio`, resolved."""
    return Path(
        os.environ.get("GRADIO_TEMP_DIR") or Path(tempfile.gettempdir()) / "gradio"
    ).resolve()


def _raw_path(value: Any) -> str:
    """The path of a Gradio file value: a str/Path, or an object/dict with `.path`/`["path"]`
    (gr.File gives a str or `NamedString`; a FileData dict on the raw API)."""
    if isinstance(value, dict):
        value = value.get("path")
    elif not isinstance(value, str | os.PathLike):
        value = getattr(value, "path", None) or getattr(value, "name", None)
    if not isinstance(value, str | os.PathLike):
        raise UserInputError("expected an uploaded file")
    return os.fspath(value)


def upload_path(value: Any, root: Path | None = None) -> Path:
    """The resolved path of an uploaded file, or UserInputError for a URL, a directory, a
    special file, a missing file or anything outside the upload folder."""
    raw = _raw_path(value)
    if raw.strip().lower().startswith(_URL_PREFIXES) or "://" in raw:
        raise UserInputError("upload the file itself: URLs are not accepted here")
    root = (root or upload_folder()).resolve()
    try:
        path = Path(raw).resolve(strict=True)
        mode = path.stat().st_mode
    except (OSError, RuntimeError):  # missing, or a symlink loop
        raise UserInputError("the uploaded file is missing; upload it again") from None
    if not path.is_relative_to(root) or path == root:
        raise UserInputError("only files uploaded to this app are accepted")
    if not stat.S_ISREG(mode):
        raise UserInputError("expected an uploaded file, not a folder or a special file")
    return path


def upload_paths(values: Iterable[Any] | None, root: Path | None = None) -> list[Path]:
    return [upload_path(v, root) for v in (values or [])]


# --- Decoded pixels ------------------------------------------------------------------------


def image_pixels(source: Any) -> int:
    """Width x height from the header only (no pixel is decoded); UserInputError when the
    header is not an image's."""
    try:
        with Image.open(source) as im:
            width, height = im.size
            frames = int(getattr(im, "n_frames", 1) or 1)
    except (OSError, ValueError, Image.DecompressionBombError, SyntaxError) as e:
        raise UserInputError(f"not a readable image ({type(e).__name__})") from None
    return width * height * frames


def _zip_members(path: Path) -> Iterable[tuple[str, Any]]:
    with zipfile.ZipFile(path) as zf:
        for info in zf.infolist():
            if not info.is_dir() and info.filename.lower().endswith(IMAGE_SUFFIXES):
                with zf.open(info) as member:
                    yield info.filename, member


def check_pixels(paths: Iterable[Path], budget: int) -> int:
    """Sum the decoded pixels of every image (a zip's image members included) from headers,
    raising a clear UserInputError as soon as the sum passes `budget`; returns the sum."""
    total = 0
    for path in paths:
        members = _zip_members(path) if zipfile.is_zipfile(path) else [(path.name, path)]
        for name, source in members:
            total += image_pixels(source)
            if total > budget:
                raise UserInputError(
                    f"the upload would decode to more than {budget / 1e6:.0f} megapixels "
                    f"(stopped at {name}); upload fewer or smaller images"
                )
    return total


def open_reduced(path: Path, max_side: int) -> Image.Image:
    """Open an image already within budget, decoding a large JPEG at a reduced scale
    (`draft`: DCT scaling, up to 1/8) when it is far bigger than `max_side`."""
    im = Image.open(path)
    if im.format == "JPEG":
        im.draft("RGB", (max_side, max_side))
    return im
