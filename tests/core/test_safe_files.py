"""Only regular files inside the upload folder are accepted; pixel budget from headers."""

from __future__ import annotations

import io
import json
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
    upload_folder,
    upload_path,
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
        check_pixels([f], budget=10)


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
    assert run_guard(bad, root=uploads) == ([], 400)
    good = json.dumps({"data": ["hello"]}).encode()
    assert run_guard(good, root=uploads) == ([good], 200)
    assert run_guard(bad, b"multipart/form-data", root=uploads) == ([bad], 200)
    assert run_guard(bad, b"", root=uploads) == ([], 400)  # FastAPI parses it as JSON
