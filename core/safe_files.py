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
import struct
import tempfile
import zipfile
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from PIL import Image

from core.asgi import read_body, replay, send_json
from core.errors import UserInputError

# A URL in a file input would make the server fetch it (SSRF, no size limit): refused. Note that
# gradio_client's `handle_file("https://...")` sends the URL itself; `handle_file(path)` uploads.
NOT_A_ZIP = "{name} is not a readable .zip archive"
URL_REFUSED = (
    "upload the file itself: URLs are not accepted here (with gradio_client, download the "
    "file and pass handle_file(local_path), which uploads it)"
)
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
        raise UserInputError("expected an uploaded file", "msg.error.expected_file")
    return os.fspath(value)


def upload_path(value: Any, root: Path | None = None) -> Path:
    """The resolved path of an uploaded file, or UserInputError for a URL, a directory, a
    special file, a missing file or anything outside the upload folder."""
    raw = _raw_path(value)
    if raw.strip().lower().startswith(_URL_PREFIXES) or "://" in raw:
        raise UserInputError(URL_REFUSED, "msg.error.url_refused")
    root = (root or upload_folder()).resolve()
    try:
        path = Path(raw).resolve(strict=True)
        mode = path.stat().st_mode
    except (OSError, RuntimeError):  # missing, or a symlink loop
        raise UserInputError(
            "the uploaded file is missing; upload it again", "msg.error.upload_gone"
        ) from None
    if not path.is_relative_to(root) or path == root:
        raise UserInputError(
            "only files uploaded to this app are accepted", "msg.error.foreign_file"
        )
    if not stat.S_ISREG(mode):
        raise UserInputError(
            "expected an uploaded file, not a folder or a special file", "msg.error.not_a_file"
        )
    return path


def upload_paths(values: Iterable[Any] | None, root: Path | None = None) -> list[Path]:
    return [upload_path(v, root) for v in (values or [])]


# --- Zip archives ----------------------------------------------------------------------------

MAX_ZIP_ENTRIES = 20_000  # entries in one uploaded zip (images and everything else)
_EOCD = struct.Struct("<4s4H2LH")  # end of central directory record
_ZIP64_LOCATOR = struct.Struct("<4sLQL")
_ZIP64_EOCD = struct.Struct("<4sQ2H2L4Q")
_CENTRAL_ENTRY = b"PK\x01\x02"  # the signature of each central directory entry


def zip_entry_count(path: Path) -> int:
    """How many entries zip `path` holds, from its end records and central directory, read
    raw (never through `zipfile`, which parses every entry first): the larger of the count
    that the end record claims and the entry signatures in the central directory, so a record
    that lies low does not help. UserInputError when it is not a readable zip."""
    with open(path, "rb") as f:
        f.seek(0, os.SEEK_END)
        size = f.tell()
        tail_start = max(0, size - _EOCD.size - 0xFFFF - _ZIP64_LOCATOR.size)  # comment <= 64 KiB
        f.seek(tail_start)
        tail = f.read()
        at = _end_record(tail)
        if at is None:
            raise UserInputError(NOT_A_ZIP, "msg.error.not_a_zip", name=path.name)
        *_, claimed, cd_size, cd_offset, _ = _EOCD.unpack_from(tail, at)
        cd_end = tail_start + at  # the central directory ends where the end records begin
        if claimed == 0xFFFF or cd_size == 0xFFFFFFFF or cd_offset == 0xFFFFFFFF:
            claimed, cd_size, cd_end = _zip64_counts(f, tail, at)
        cd_start = cd_end - cd_size
        if cd_start < 0 or cd_size > size:
            raise UserInputError(NOT_A_ZIP, "msg.error.not_a_zip", name=path.name)
        f.seek(cd_start)
        signatures = _count_in(f, cd_size, _CENTRAL_ENTRY)
    return max(claimed, signatures)


def _end_record(tail: bytes) -> int | None:
    """Where the end record starts in `tail` (the file's end): the last signature whose
    comment length reaches the end exactly (a comment may hold the signature too)."""
    at = len(tail)
    while (at := tail.rfind(b"PK\x05\x06", 0, at)) >= 0:
        if len(tail) - at >= _EOCD.size:
            comment = _EOCD.unpack_from(tail, at)[-1]
            if at + _EOCD.size + comment == len(tail):
                return at
    return None


def _zip64_counts(f: Any, tail: bytes, at: int) -> tuple[int, int, int]:
    """(entries, central directory size, where the ZIP64 end record starts) from it."""
    if at < _ZIP64_LOCATOR.size:
        raise UserInputError("not a readable .zip archive (no ZIP64 end record)")
    sig, _, record_at, _ = _ZIP64_LOCATOR.unpack_from(tail, at - _ZIP64_LOCATOR.size)
    f.seek(record_at)
    record = f.read(_ZIP64_EOCD.size)
    if sig != b"PK\x06\x07" or len(record) < _ZIP64_EOCD.size or record[:4] != b"PK\x06\x06":
        raise UserInputError("not a readable .zip archive (bad ZIP64 end record)")
    *_, total, cd_size, _ = _ZIP64_EOCD.unpack(record)
    return total, cd_size, record_at


def _count_in(f: Any, length: int, needle: bytes, chunk: int = 1 << 22) -> int:
    """Occurrences of `needle` in the next `length` bytes of `f`, read in chunks."""
    count, carry = 0, b""
    while length > 0:
        block = f.read(min(chunk, length))
        if not block:
            break
        length -= len(block)
        data = carry + block
        count += data.count(needle)
        carry = data[-(len(needle) - 1) :]  # a needle across the blocks' border is whole next
    return count


def check_zip_entries(path: Path, limit: int = MAX_ZIP_ENTRIES) -> None:
    """UserInputError when zip `path` holds more than `limit` entries (nothing is parsed)."""
    count = zip_entry_count(path)
    if count > limit:
        raise UserInputError(
            "{name} has {count} entries: the limit is {limit}; upload fewer files",
            "msg.error.zip_entries",
            name=path.name,
            count=f"{count:,}",
            limit=f"{limit:,}",
        )


def open_zip(path: Path, limit: int = MAX_ZIP_ENTRIES) -> zipfile.ZipFile:
    """`zipfile.ZipFile(path)` once its entry count is within `limit` (every reader of an
    uploaded zip opens it here)."""
    check_zip_entries(path, limit)
    try:
        return zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, EOFError) as e:
        raise UserInputError(
            NOT_A_ZIP + " ({detail})", "msg.error.not_a_zip_detail", name=path.name, detail=e
        ) from None


# --- Decoded pixels ------------------------------------------------------------------------


# A corrupt, encrypted or oddly compressed zip member (the reader skips and lists it).
_BAD_MEMBER = (zipfile.BadZipFile, zlib.error, NotImplementedError, RuntimeError, EOFError)


class UnreadableImageError(UserInputError):
    """A file (or zip member) whose header is not an image's."""


def image_pixels(source: Any) -> int:
    """Width x height from the header only (no pixel is decoded); `UnreadableImageError` when the
    header is not an image's, UserInputError when PIL calls it a decompression bomb."""
    try:
        with Image.open(source) as im:
            width, height = im.size
            frames = int(getattr(im, "n_frames", 1) or 1)
    except Image.DecompressionBombError:
        raise UserInputError(
            "an image has far too many pixels to decode; upload a smaller one",
            "msg.error.pixel_bomb",
        ) from None
    except (OSError, ValueError, SyntaxError) as e:
        raise UnreadableImageError(f"not a readable image ({type(e).__name__})") from None
    return width * height * frames


def _zip_members(path: Path) -> Iterable[tuple[str, Any]]:
    """The regular members of zip `path` that are named as images (links, folders and other
    names are left to the reader, which skips and lists them)."""
    with open_zip(path) as zf:
        for info in zf.infolist():
            kind = stat.S_IFMT(info.external_attr >> 16)  # 0: the archiver recorded none
            regular = not kind or kind == stat.S_IFREG
            if regular and not info.is_dir() and info.filename.lower().endswith(IMAGE_SUFFIXES):
                try:
                    member = zf.open(info)
                except _BAD_MEMBER:
                    continue
                with member:
                    yield info.filename, member


def check_pixels(paths: Iterable[Path], budget: int) -> int:
    """Sum the decoded pixels of every image (a zip's image members included) from headers,
    raising a clear UserInputError as soon as the sum passes `budget`; returns the sum. A
    file or member that is not a readable image counts nothing here: the reader skips and
    lists it (or refuses it when it was the only one)."""
    total = 0
    for path in paths:
        members = _zip_members(path) if zipfile.is_zipfile(path) else [(path.name, path)]
        for name, source in members:
            try:
                total += image_pixels(source)
            except (UnreadableImageError, *_BAD_MEMBER):
                continue
            if total > budget:
                raise UserInputError(
                    "the upload would decode to more than {megapixels} megapixels "
                    "(stopped at {name}); upload fewer or smaller images",
                    "msg.error.pixel_budget",
                    megapixels=f"{budget / 1e6:.0f}",
                    name=name,
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
    """ASGI middleware: refuses (422) a JSON POST whose file payloads are URLs, folders or
    files outside the upload folder, *before* Gradio's pre-processing downloads the URL or
    queues the folder for deletion (a check in the event handler comes too late). The answer
    is in Gradio's validation format, so `gradio_client` raises a `ValidationError` that
    carries the message (a bare 400 would show no reason); `error` holds it for raw callers."""

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
        body = await read_body(receive, self.max_body)
        if body is None:
            await _reply(send, 413, "request body too large")
            return
        try:
            check_payload(body, self.root)
        except UserInputError as e:
            await _reply(send, 422, str(e), validation=True)
            return
        await self.app(scope, replay(body, receive), send)


async def _reply(send: Any, status: int, detail: str, validation: bool = False) -> None:
    """A JSON error answer: `{"detail": detail}`, or Gradio's validation format (which
    `gradio_client` shows as a `ValidationError`) with the message also in `error`."""
    body: dict[str, Any] = {"detail": detail}
    if validation:
        failed = {"__type__": "validate", "is_valid": False, "parameter_name": "a file input"}
        body = {"detail": [{**failed, "message": detail}], "error": detail}
    await send_json(send, status, body)
