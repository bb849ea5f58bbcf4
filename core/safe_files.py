"""Guards on files that arrive through Gradio file inputs, and a decoded-pixels budget.

Gradio 6.31 lets a raw API caller put any path in a file input's payload (see docs/upstream.md):
a *directory* inside its cache passes the cache check (and later kills the cache cleanup), and an
`http(s)://` URL is downloaded with no size limit. `upload_path` accepts only a regular file
inside Gradio's upload folder, symlinks resolved. Call it on every file a handler receives,
first thing.

`FilePayloadGuard` is the same check at the API boundary, as ASGI middleware: it refuses such a
payload before Gradio's pre-processing touches it (a check in the handler comes too late for
both holes). `check_pixels` reads only image headers (PIL's `Image.open` is lazy) and refuses
an upload whose images would decode to more than a budget of pixels, before any is decoded.
"""

from __future__ import annotations

import json
import os
import stat
import tempfile
import zipfile
from collections.abc import Iterable, Iterator
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
    (`draft`: DCT scaling, up to 1/8) that keeps both sides at least `max_side`."""
    im = Image.open(path)
    if im.format == "JPEG":
        im.draft("RGB", (max_side, max_side))
    return im


# --- The API boundary ----------------------------------------------------------------------

MAX_JSON_BODY = 8 * 1024 * 1024


def file_payload_paths(data: Any) -> Iterator[str]:
    """Every `path` of a file payload (a dict with a string `path` and a `meta`, `url` or
    `orig_name` key, as Gradio's FileData) anywhere inside a decoded JSON body."""
    if isinstance(data, dict):
        path = data.get("path")
        if isinstance(path, str) and {"meta", "url", "orig_name"} & data.keys():
            yield path
        for value in data.values():
            yield from file_payload_paths(value)
    elif isinstance(data, list):
        for value in data:
            yield from file_payload_paths(value)


def check_payload(body: bytes, root: Path | None = None) -> None:
    """UserInputError when a JSON request body names a file that `upload_path` refuses."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return  # not JSON: Gradio answers it, no file payload to move
    for path in file_payload_paths(data):
        upload_path(path, root)


class FilePayloadGuard:
    """ASGI middleware: refuses (400) a JSON POST whose file payloads are URLs, folders or
    files outside the upload folder, *before* Gradio's pre-processing downloads the URL or
    queues the folder for deletion (a check in the event handler comes too late)."""

    def __init__(self, app: Any, root: Path | None = None, max_body: int = MAX_JSON_BODY) -> None:
        self.app = app
        self.root = root
        self.max_body = max_body

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        headers = dict(scope.get("headers", []))
        if scope["type"] != "http" or scope.get("method") != "POST":
            await self.app(scope, receive, send)
            return
        content_type = headers.get(b"content-type", b"")
        if content_type and b"json" not in content_type:  # FastAPI reads no type as JSON
            await self.app(scope, receive, send)
            return
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                await _reply(send, 413, "request body too large")
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        try:
            check_payload(body, self.root)
        except UserInputError as e:
            await _reply(send, 400, str(e))
            return
        replayed = False

        async def replay() -> dict:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)


async def _reply(send: Any, status: int, detail: str) -> None:
    payload = json.dumps({"detail": detail}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(payload))]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})
