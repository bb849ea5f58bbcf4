"""What the app promises a public Space (README, SECURITY): each test here checks one promise.

The attacks are the ones people try: path traversal in the file routes, forged file paths in
API calls, other people's files, huge uploads, pickles, Hub ids with `..`, token leaks.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import secrets
from pathlib import Path

import httpx
import pytest
from safetensors.torch import save

import app
from core import store
from tests.api_helpers import call_raw
from tests.conftest import ROOT, tiny_generator

SOURCE_DIRS = ("core", "gan", "style", "ui")
SECRET_FILES = ["/etc/passwd", "/proc/self/environ", str(ROOT / "app.py")]


def file_url(app_url: str, path: str) -> str:
    return f"{app_url.rstrip('/')}/gradio_api/file={path}"


def gradio_path(url: str) -> str:
    """The server path inside a `/gradio_api/file=` URL."""
    return url.split("/gradio_api/file=", 1)[1]


# --- nothing is served from a path a user supplies -----------------------------------------------


@pytest.mark.parametrize(
    "route",
    [
        "gradio_api/file=/etc/passwd",
        "gradio_api/file=%2Fetc%2Fpasswd",
        "gradio_api/file=//etc/passwd",
        "gradio_api/file=file:///etc/passwd",
        "gradio_api/file=../../../../etc/passwd",
        "gradio_api/file=%2e%2e/%2e%2e/%2e%2e/etc/passwd",
        "gradio_api/file=/tmp/gradio/../../etc/passwd",
        "gradio_api/file=/tmp/gradio/%2e%2e/%2e%2e/etc/passwd",
        "gradio_api/file/etc/passwd",
        "file=/etc/passwd",
        "static/../../../etc/passwd",
        "assets/..%2f..%2f..%2fetc/passwd",
        "gradio_api/file=/proc/self/environ",
        "gradio_api/file=app.py",
        f"gradio_api/file={ROOT}/app.py",
        f"gradio_api/file={ROOT}/checkpoints/dcgan-digiface/model.safetensors",
        "gradio_api/file=checkpoints/dcgan-digiface/config.json",
        "gradio_api/file=http://127.0.0.1:9/",
        "gradio_api/proxy=http://127.0.0.1:9/",
    ],
)
def test_file_routes_refuse_paths_outside_gradios_own_folders(app_url, route):
    response = httpx.get(app_url.rstrip("/") + "/" + route, timeout=60)
    assert response.status_code in (400, 403, 404), response.text[:200]
    assert "root:" not in response.text and "import gradio" not in response.text


def test_forged_file_paths_in_api_calls_are_refused(app_url, client):
    """A client cannot make the app read a server file by naming it as an 'upload'."""
    for path in SECRET_FILES:
        body = (
            '{"data": ["1", 1, "dcgan-digiface", "", '
            f'{{"path": "{path}", "meta": {{"_type": "gradio.FileData"}}}}, '
            '"const", 0, 0, 0, 0, 0, null, false]}'
        )
        event, detail = call_raw(app_url, "generate", body)
        assert event == "error"
        assert "root:" not in str(detail)
        assert "input values" not in str(detail)  # refused for the path, not the arity
    assert client.predict(seeds="1", api_name="/generate")[0]


def test_the_apps_own_output_folder_is_not_listed(app_url, app_services, client):
    """The faces are written inside Gradio's cache (served as they are, without a copy), each
    request in its own folder with a 256-bit random name: the folders are not served, a file
    is reachable only by its unguessable path."""
    client.predict(seeds="1", api_name="/generate")
    outputs = app_services.studio.output_root
    made = sorted((p for p in outputs.rglob("*") if p.is_file()), key=lambda p: p.stat().st_mtime)
    assert made, "the app writes its files under FaceStudio.output_root"
    assert re.fullmatch(r"[0-9a-f]{64}", made[-1].parent.name)
    for path in [outputs, made[-1].parent]:
        assert httpx.get(file_url(app_url, str(path)), timeout=60).status_code == 403


# --- one session cannot reach another's uploads and outputs --------------------------------------


def server_paths(app_url: str, seeds: str) -> list[Path]:
    """The server-side paths of /generate's files, as the server announces them (a plain
    `gradio_client` would show its own downloaded copies instead)."""
    event, data = call_raw(
        app_url,
        "generate",
        f'{{"data": ["{seeds}", 1, "dcgan-digiface", "", null, "const", 0, 0, 0, 0, 0, '
        "null, false]}",
    )
    assert event == "complete", data
    paths: list[Path] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("path"), str):
                paths.append(Path(node["path"]))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(data)
    assert paths
    return paths


def test_outputs_live_at_unguessable_urls(app_url):
    """Gradio serves a file only from its upload folder, under a folder named by a keyed hash
    of the content (a secret seed): the URL is a capability nobody else can derive."""
    served = server_paths(app_url, "11")[0]
    folder = served.parent.name
    assert re.fullmatch(r"[0-9a-f]{64}", folder)
    assert folder != hashlib.sha256(served.read_bytes()).hexdigest()  # keyed, not plain sha256
    assert httpx.get(file_url(app_url, str(served)), timeout=60).status_code == 200
    # Neighbours cannot be listed or guessed.
    root = served.parent.parent
    for guess in [served.parent, root, root / secrets.token_hex(32) / served.name]:
        assert httpx.get(file_url(app_url, str(guess)), timeout=60).status_code == 403, guess


def test_an_upload_is_stored_under_a_keyed_name(app_url, tmp_path):
    """Knowing a file's content is not enough to find someone's upload of it."""
    content = b"[" + b", ".join([b"0.5"] * 100) + b"]"
    response = httpx.post(
        app_url.rstrip("/") + "/gradio_api/upload",
        files={"files": ("mine.json", content)},
        timeout=60,
    )
    assert response.status_code == 200
    (uploaded,) = response.json()
    folder = Path(uploaded).parent.name
    assert re.fullmatch(r"[0-9a-f]{64}", folder)
    assert folder != hashlib.sha256(content).hexdigest()


def test_upload_names_cannot_escape_the_upload_folder(app_url, tmp_path):
    target = tmp_path / "escaped.json"
    evil = f"../../../../../..{target}"
    response = httpx.post(
        app_url.rstrip("/") + "/gradio_api/upload", files={"files": (evil, b"[1]")}, timeout=60
    )
    assert response.status_code in (200, 400)
    assert not target.exists()
    if response.status_code == 200:
        (uploaded,) = response.json()
        assert Path(uploaded).name == "escaped.json"
        assert ".." not in uploaded


def test_two_sessions_never_share_output_folders(app_url):
    mine = {p.parent for p in server_paths(app_url, "1-2")}
    theirs = {p.parent for p in server_paths(app_url, "3-4")}
    assert not mine & theirs


# --- uploads are size-limited ---------------------------------------------------------------------


def test_max_file_size_is_set_and_enforced(app_url, client):
    assert app.launch_options()["max_file_size"] == app.MAX_UPLOAD
    config = httpx.get(app_url.rstrip("/") + "/config", timeout=60).json()
    limit = config["max_file_size"]
    assert limit and limit <= 100 * 2**20
    huge = b"\0" * (limit + 1)
    response = httpx.post(
        app_url.rstrip("/") + "/gradio_api/upload",
        files={"files": ("z.npy", huge)},
        timeout=60,
    )
    assert response.status_code == 413
    assert client.predict(seeds="1", api_name="/generate")[0]


# --- no share link unless asked for; no extra folders served --------------------------------------


def test_no_share_link_unless_asked_for(monkeypatch):
    monkeypatch.delenv("GRADIO_SHARE", raising=False)
    options = app.launch_options()
    assert options["share"] is False
    assert options["allowed_paths"] == []
    monkeypatch.setenv("GRADIO_SHARE", "1")
    assert app.launch_options()["share"] is True


def test_no_run_history_is_kept(app_url):
    """Gradio's run history would keep every input (a pasted Hub token too) and can write it
    to a Hub bucket: it is off, its page and its routes are gone."""
    assert app.launch_options()["run_history"] is False
    base = app_url.rstrip("/")
    assert httpx.get(base + "/config", timeout=60).json().get("run_history") is False
    assert httpx.get(base + "/gradio_api/runs", timeout=60).status_code == 404
    assert httpx.post(
        base + "/gradio_api/run-history/connect", json={}, timeout=60
    ).status_code in (404, 405)


def test_main_launches_with_the_security_options(monkeypatch):
    """`python app.py` uses launch_options() and binds to localhost by default."""
    seen: dict = {}

    class FakeDemo:
        def __init__(self, services=None):
            self.services = services

        def queue(self, **kwargs):
            return self

        def launch(self, **kwargs):
            seen.update(kwargs)

    monkeypatch.delenv("GRADIO_SERVER_NAME", raising=False)
    monkeypatch.delenv("GRADIO_SHARE", raising=False)
    monkeypatch.setattr(app, "build_demo", FakeDemo)
    monkeypatch.setattr(app.store, "hub_reachable", lambda: False)
    monkeypatch.setattr(app, "freeze_startup_heap", lambda: seen.setdefault("frozen", 1))
    app.main()
    assert seen["frozen"]  # the start-up heap is frozen out of the garbage collector's sight
    assert seen["share"] is False
    assert seen["server_name"] == "127.0.0.1"
    assert seen["max_file_size"] == app.MAX_UPLOAD
    assert not seen.get("allowed_paths")
    assert seen["run_history"] is False


# --- safetensors only from the network ---------------------------------------------------------


def test_no_code_path_unpickles():
    """No `torch.load`, `pickle.load(s)`, `allow_pickle=True` or remote code in the app."""
    pattern = re.compile(
        r"torch\.load\(|pickle\.loads?\(|allow_pickle\s*=\s*True|trust_remote_code\s*=\s*True"
        r"|weights_only\s*=\s*False|torch\.hub\.load"
    )
    # The converters are the owner's explicit, offline step on a file they chose (issue 9),
    # and the face detector reads the weights inside its installed wheel (never a download):
    # they alone may call `torch.load`, and only with `weights_only=True`.
    converter = re.compile(r"torch\.load\(.*weights_only=True")
    trusted = (ROOT / "gan" / "convert", ROOT / "gan" / "align" / "detector.py")
    offenders = []
    for folder in SOURCE_DIRS:
        for path in (ROOT / folder).rglob("*.py"):
            allowed = converter if any(path.is_relative_to(t) for t in trusted) else None
            for number, line in enumerate(path.read_text().splitlines(), 1):
                if pattern.search(line) and not (allowed and allowed.search(line)):
                    offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    for number, line in enumerate((ROOT / "app.py").read_text().splitlines(), 1):
        if pattern.search(line):
            offenders.append(f"app.py:{number}: {line.strip()}")
    assert not offenders, "\n".join(offenders)


def test_a_hub_repo_with_only_pickled_weights_is_refused(hub):
    hub.add("someone/pickled", "config.json", b'{"model_type": "dcgan-generator"}')
    hub.add("someone/pickled", "pytorch_model.bin", b"\x80\x04 pickle")
    with pytest.raises(store.ModelNotFoundError, match="model.safetensors is not in Hub repo"):
        store.resolve("someone/pickled@main")
    assert hub.count("GET", ".bin") == 0


@pytest.mark.parametrize(
    "spec",
    [
        "someone/..@main",
        "../someone/x@main",
        "someone/x@../../main",
        "someone/x@main/../../../etc",
        "someone%2F..%2Fx@main",
        "someone/x\n@main",
        "someone/x@main\x00",
        "someone//x@main",
        "https://evil.example/x@main",
    ],
)
def test_hub_repo_ids_with_traversal_never_reach_the_network(hub, spec):
    with pytest.raises(store.UserInputError):
        store.resolve(spec)
    assert hub.requests == []


# --- tokens are never logged or returned -------------------------------------------------------


TOKEN = "hf_" + "S3cr3tT0k3n" * 3


def test_the_hub_token_is_sent_but_never_logged_or_shown(hub, monkeypatch, caplog):
    generator = tiny_generator()
    hub.add("someone/tiny", "config.json", json.dumps(generator.config.to_dict()).encode())
    hub.add("someone/tiny", "model.safetensors", save(generator.state_dict()))
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    caplog.set_level(logging.DEBUG)
    messages = []
    store.resolve("someone/tiny@main")
    for spec in ["someone/missing@main", "someone/tiny@nope"]:
        with pytest.raises(store.UserInputError) as error:
            store.resolve(spec)
        messages.append(str(error.value))
    assert f"Bearer {TOKEN}" in hub.auth_headers  # the token was in use...
    assert TOKEN not in caplog.text  # ...but never logged
    assert not any(TOKEN in m for m in messages)  # ...nor shown


def test_credentials_in_the_hub_endpoint_are_never_shown(monkeypatch, caplog):
    monkeypatch.setenv("HF_ENDPOINT", "http://user:p4ssw0rd@127.0.0.1:9")
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    store.forget_hub_probe()
    caplog.set_level(logging.INFO)
    try:
        status = app.hub_status()
        with pytest.raises(store.ModelNotFoundError) as error:
            store.resolve("someone/x@main")
    finally:
        store.forget_hub_probe()
    assert "p4ssw0rd" not in status + str(error.value) + caplog.text


def test_the_token_is_not_in_any_page_or_api_description(app_url, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    base = app_url.rstrip("/")
    for route in ["/", "/config", "/gradio_api/info", "/gradio_api/info?all_endpoints=true"]:
        assert TOKEN not in httpx.get(base + route, timeout=60).text, route


def test_a_pushed_token_is_never_logged_or_returned(hub, checkpoints, monkeypatch, caplog):
    """The Fine-tune tab's push: the token reaches the Hub, not the logs, the answer or errors."""
    from core import publish

    generator = tiny_generator()
    store.save_pretrained(
        checkpoints / "mine", generator.config.to_dict(), generator.state_dict(), "# mine\n"
    )
    monkeypatch.delenv("HF_TOKEN", raising=False)
    caplog.set_level(logging.DEBUG)
    url = publish.push_to_hub("mine", "someone/mine", token=TOKEN)
    assert f"Bearer {TOKEN}" in hub.auth_headers
    hub.stop()  # the Hub goes away mid-session: the error must not carry the token either
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")
    store.forget_hub_probe()
    with pytest.raises(store.UserInputError) as error:
        publish.push_to_hub("mine", "someone/mine", token=TOKEN)
    hub.start()  # so the fixture can stop it
    assert TOKEN not in url + str(error.value) + caplog.text
