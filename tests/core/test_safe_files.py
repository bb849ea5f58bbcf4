"""Only regular files inside the upload folder are accepted; pixel budget from headers."""

from __future__ import annotations

import io
import json
import stat
import struct
import zipfile
from pathlib import Path

import pytest
from PIL import Image, ImageFile

from core.errors import UserInputError
from core.safe_files import (
    FilePayloadGuard,
    check_payload,
    check_pixels,
    image_pixels,
    open_reduced,
    open_zip,
    upload_folder,
    upload_path,
    zip_entry_count,
)
from tests.conftest import run_coroutine


@pytest.fixture
def uploads(tmp_path, monkeypatch) -> Path:
    root = tmp_path / "gradio"
    (root / "abc123").mkdir(parents=True)
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(root))
    return root


def test_upload_folder_follows_gradio_temp_dir(uploads):
    assert upload_folder() == uploads.resolve()


def test_regular_file_inside_accepted_in_every_shape(uploads):
    f = uploads / "abc123" / "face.png"
    f.write_bytes(b"x")
    for value in (str(f), f, {"path": str(f), "meta": {"_type": "gradio.FileData"}}):
        assert upload_path(value) == f.resolve()


@pytest.mark.parametrize("which", ["root", "subdir"])
def test_directory_refused(uploads, which):
    target = uploads if which == "root" else uploads / "abc123"
    with pytest.raises(UserInputError, match="not a folder" if which == "subdir" else "only files"):
        upload_path(str(target))


@pytest.mark.parametrize(
    "url", ["http://example.com/big.bin", "https://x/y.png", "HTTPS://X/Y", "file:///etc/passwd"]
)
def test_url_refused(uploads, url):
    with pytest.raises(UserInputError, match="URLs are not accepted"):
        upload_path(url)


def test_outside_and_symlink_out_refused(uploads, tmp_path):
    outside = tmp_path / "secret.txt"
    outside.write_text("x")
    link = uploads / "abc123" / "link.png"
    link.symlink_to(outside)
    for value in (str(outside), str(link), str(uploads / "abc123" / ".." / ".." / "secret.txt")):
        with pytest.raises(UserInputError, match="only files uploaded"):
            upload_path(value)
    with pytest.raises(UserInputError, match="missing"):
        upload_path(str(uploads / "nope.png"))


def test_special_file_refused(uploads):
    import os

    fifo = uploads / "abc123" / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(UserInputError, match="special file"):
        upload_path(str(fifo))


def png(width: int, height: int) -> bytes:
    buf = io.BytesIO()
    Image.new("L", (width, height)).save(buf, format="PNG")
    return buf.getvalue()


def test_pixel_budget_from_header_without_decoding(tmp_path, monkeypatch):
    big = tmp_path / "bomb.png"
    big.write_bytes(png(3000, 3000))
    zipped = tmp_path / "bombs.zip"
    with zipfile.ZipFile(zipped, "w", zipfile.ZIP_DEFLATED) as zf:
        for i in range(5):
            zf.writestr(f"m{i}.png", png(1000, 1000))
        zf.writestr("notes.txt", "not an image")

    def no_decode(self, *args, **kwargs):
        raise AssertionError("pixels were decoded")

    monkeypatch.setattr(Image.Image, "load", no_decode)
    monkeypatch.setattr(ImageFile.ImageFile, "load", no_decode)
    assert image_pixels(big) == 9_000_000
    with pytest.raises(UserInputError, match="more than 5 megapixels"):
        check_pixels([big], budget=5_000_000)
    with pytest.raises(UserInputError, match="m3.png"):
        check_pixels([zipped], budget=3_500_000)
    assert check_pixels([zipped], budget=5_000_000) == 5_000_000


def test_not_an_image_is_a_clear_error(tmp_path):
    f = tmp_path / "x.png"
    f.write_bytes(b"not an image at all")
    with pytest.raises(UserInputError, match="not a readable image"):
        image_pixels(f)


def test_bad_files_and_members_count_nothing_and_are_left_to_the_reader(tmp_path):
    """A nested zip or a text file named .png, a symlink member, a corrupt member: the pixel
    check passes over them (the reader skips and lists them), and still counts the rest."""
    good = tmp_path / "good.png"
    good.write_bytes(png(100, 100))
    text = tmp_path / "notes.png"
    text.write_bytes(b"not an image")
    zipped = tmp_path / "set.zip"
    with zipfile.ZipFile(zipped, "w") as zf:
        zf.writestr("a.png", png(100, 100))
        zf.writestr("nested.png", zip_bytes({"inner.png": png(10, 10)}))
        zf.writestr("text.png", "hello")
        link = zipfile.ZipInfo("link.png")
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(link, "/etc/passwd")
    assert check_pixels([good, text, zipped], budget=10**6) == 20_000


def zip_bytes(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, payload in members.items():
            zf.writestr(name, payload)
    return buf.getvalue()


# --- Zip entry counts: read from the end records, before zipfile parses any entry ------------


def many_entry_zip(path: Path, entries: int, claimed: int | None = None) -> Path:
    """A zip whose central directory lists `entries` empty members (all one local entry),
    built as bytes; its end record claims `claimed` (default: the truth, ZIP64 above 65,535)."""
    name = b"a.png"
    local = struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, 0, 0, 0, 0, 0, 0, len(name), 0) + name
    entry = struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 20, 20, *[0] * 7, len(name), *[0] * 6)
    directory = entry + name
    cd = directory * entries
    claimed = entries if claimed is None else claimed
    end = b""
    if claimed > 0xFFFF:
        record = struct.pack(
            "<4sQ2H2L4Q", b"PK\x06\x06", 44, 45, 45, 0, 0, claimed, claimed, len(cd), len(local)
        )
        end += record + struct.pack("<4sLQL", b"PK\x06\x07", 0, len(local) + len(cd), 1)
        claimed = 0xFFFF
    end += struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, claimed, claimed, len(cd), len(local), 0)
    path.write_bytes(local + cd + end)
    return path


def test_a_zip_of_300000_entries_is_refused_before_any_entry_is_parsed(tmp_path, monkeypatch):
    """issue 19: a 300,000-entry zip held the train lane for 15.8 s before the refusal."""
    huge = many_entry_zip(tmp_path / "huge.zip", 300_000)
    assert zipfile.is_zipfile(huge) and zip_entry_count(huge) == 300_000
    liar = many_entry_zip(tmp_path / "liar.zip", 300_000, claimed=1)  # end record lies low
    assert zip_entry_count(liar) == 300_000

    def parsed(*args, **kwargs):
        raise AssertionError("zipfile parsed the central directory")

    monkeypatch.setattr(zipfile, "ZipFile", parsed)
    for path in (huge, liar):
        with pytest.raises(UserInputError, match="has 300,000 entries: the limit is 20,000"):
            open_zip(path)
        with pytest.raises(UserInputError, match="300,000 entries"):
            check_pixels([path], budget=10**9)


def test_entry_counts_of_ordinary_zips(tmp_path):
    small = tmp_path / "small.zip"
    small.write_bytes(zip_bytes({f"{i}.png": b"" for i in range(12)}))
    assert zip_entry_count(small) == 12
    with zipfile.ZipFile(small, "a") as zf:
        zf.comment = b"PK\x05\x06 a comment that looks like an end record" * 10
    assert zip_entry_count(small) == 12
    with open_zip(many_entry_zip(tmp_path / "zip64.zip", 70_000), limit=70_000) as zf:
        assert len(zf.infolist()) == 70_000  # zipfile reads the crafted ZIP64 zip alike
    not_zip = tmp_path / "x.zip"
    not_zip.write_bytes(b"hello")
    with pytest.raises(UserInputError, match="not a readable .zip"):
        open_zip(not_zip)


def test_jpeg_draft_decodes_reduced(tmp_path):
    f = tmp_path / "photo.jpg"
    Image.new("RGB", (1024, 768)).save(f, format="JPEG")
    with open_reduced(f, 128) as im:
        assert im.size == (256, 192)  # the smallest DCT scale keeping both sides >= 128


def test_payload_check_finds_nested_file_data(uploads):
    good = uploads / "abc123" / "ok.png"
    good.write_bytes(b"x")
    ok = {"data": [{"path": str(good), "meta": {"_type": "gradio.FileData"}}, [1, "text"]]}
    check_payload(json.dumps(ok).encode())
    for bad in (str(uploads / "abc123"), "http://example.com/x.png"):
        body = {"data": [[{"path": bad, "orig_name": "x.png"}]], "fn_index": 0}
        with pytest.raises(UserInputError):
            check_payload(json.dumps(body).encode())
    check_payload(b"not json")


def run_guard(body: bytes, content_type: bytes = b"application/json", root: Path | None = None):
    seen, sent = [], []

    async def app(scope, receive, send):
        seen.append((await receive())["body"])
        await send({"type": "http.response.start", "status": 200, "headers": []})

    async def receive():
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": "POST", "headers": [(b"content-type", content_type)]}
    guard = FilePayloadGuard(app, root=root)
    run_coroutine(guard(scope, receive, send))
    return seen, sent[0]["status"]


def test_guard_refuses_before_the_app_and_replays_good_bodies(uploads):
    bad = json.dumps({"data": [{"path": str(uploads), "meta": {}}]}).encode()
    assert run_guard(bad, root=uploads) == ([], 422)
    good = json.dumps({"data": ["hello"]}).encode()
    assert run_guard(good, root=uploads) == ([good], 200)
    assert run_guard(bad, b"multipart/form-data", root=uploads) == ([bad], 200)
    assert run_guard(bad, b"", root=uploads) == ([], 422)  # FastAPI parses it as JSON
