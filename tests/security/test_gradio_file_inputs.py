"""The two Gradio 6.31 file-input holes (docs/upstream.md), through a tiny real Gradio app
with `FilePayloadGuard`: a folder in the cache and a URL as a file input's path are refused
before Gradio pre-processes them (no deletion queued, no download)."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import gradio as gr
import httpx
import pytest
import safehttpx
from starlette.middleware import Middleware

from core.safe_files import FilePayloadGuard, upload_path


@pytest.fixture(scope="module")
def web():
    """Any web server: records whether Gradio fetched from it."""
    hits: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

        def do_GET(self) -> None:
            hits.append(self.path)
            self.send_response(200)
            self.send_header("Content-Length", "4")
            self.end_headers()
            self.wfile.write(b"data")

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", hits
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def app():
    def describe(f: str) -> str:
        return upload_path(f).name  # the handler-side guard, as every handler should

    with gr.Blocks(analytics_enabled=False) as demo:
        f, out = gr.File(), gr.Textbox()
        f.upload(describe, f, out, api_name="describe")
    demo.queue()
    _, url, _ = demo.launch(
        prevent_thread_lock=True,
        quiet=True,
        app_kwargs={"middleware": [Middleware(FilePayloadGuard)]},
    )
    yield demo, url.rstrip("/") + "/gradio_api"
    demo.close()


def join(api: str, path: str) -> httpx.Response:
    payload = {
        "data": [{"path": path, "meta": {"_type": "gradio.FileData"}}],
        "fn_index": 0,
        "session_hash": "hostile",
        "event_data": None,
        "trigger_id": None,
    }
    return httpx.post(f"{api}/queue/join", json=payload, timeout=30)


def test_folder_in_cache_is_refused_and_never_queued_for_deletion(app):
    demo, api = app
    uploaded = httpx.post(f"{api}/upload", files={"files": ("a.png", b"png")}, timeout=60).json()[0]
    folder = uploaded.rsplit("/", 1)[0]
    r = join(api, folder)
    assert r.status_code == 422 and "not a folder" in r.json()["error"]
    assert not any(folder in s for s in demo.temp_file_sets)


def test_url_path_is_refused_before_any_download(app, web, monkeypatch):
    _, api = app
    base, hits = web
    monkeypatch.setattr(safehttpx, "is_public_ip", lambda ip: True)  # as a public host would be
    r = join(api, f"{base}/big.bin")
    assert r.status_code == 422 and "URLs are not accepted" in r.json()["error"]
    assert hits == []


def test_gradio_clients_url_input_is_refused_with_the_reason(app, web, tmp_path, monkeypatch):
    """issue 19: `handle_file("https://...")` sends the URL itself (gradio_client 6 does not
    download it), and the caller saw a bare 400. Now the client raises the app's reason; a
    local file given to `handle_file` is uploaded and works, as the README says."""
    from gradio_client import Client, handle_file
    from gradio_client.exceptions import ValidationError

    _, api = app
    base, hits = web
    monkeypatch.setattr(safehttpx, "is_public_ip", lambda ip: True)
    client = Client(api.removesuffix("/gradio_api"), verbose=False)
    with pytest.raises(ValidationError, match="URLs are not accepted.*handle_file\\(local_path\\)"):
        client.predict(handle_file(f"{base}/photo.png"), api_name="/describe")
    assert hits == []
    local = tmp_path / "photo.png"
    local.write_bytes(b"data")
    assert client.predict(handle_file(str(local)), api_name="/describe") == "photo.png"


def test_real_upload_still_works(app):
    _, api = app
    uploaded = httpx.post(f"{api}/upload", files={"files": ("a.png", b"png")}, timeout=60).json()[0]
    assert join(api, uploaded).status_code == 200
