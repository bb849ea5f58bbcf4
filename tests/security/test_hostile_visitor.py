"""The app as on a public Space (`SPACE_ID` and `HF_TOKEN` set, a stand-in Hub that records
every request and its `Authorization` header), attacked by visitors through the raw queue
(`/gradio_api/queue/join` with any `fn_index`, private events included), with forged session
hashes, other visitors' model names, path tricks and typed Hub ids.

Each test fails when the protection it names is removed (see the README's Security section).
"""

from __future__ import annotations

import contextlib
import dataclasses
import inspect
import io
import json
import secrets
import threading
import time
import zipfile
from pathlib import Path

import httpx
import pytest
from PIL import Image

from core import store
from core.identity import COOKIE_NAME, Identity
from gan.models.dcgan import GeneratorConfig
from tests.api_helpers import english
from tests.conftest import ROOT, launch_app, tiny_generator
from tests.hub_api_server import RecordingHub

SERVER_TOKEN = "hf_server_" + "S3CRET" * 4
PRIVATE_REPO = "someorg/private-model"


@pytest.fixture(scope="module")
def space(tmp_path_factory):
    """(url, demo, services, hub): the app launched as on a Space."""
    hub = RecordingHub().start()
    hub.add(PRIVATE_REPO, "config.json", b"{}")
    hub.add(PRIVATE_REPO, "model.safetensors", b"x" * 10)
    hub.private[PRIVATE_REPO] = SERVER_TOKEN  # only the server's token opens it
    checkpoints = tmp_path_factory.mktemp("space-checkpoints")
    for child in (ROOT / "checkpoints").iterdir():
        if child.is_dir() and not child.name.startswith("."):
            (checkpoints / child.name).symlink_to(child)
    env = {
        "SPACE_ID": "owner/gan-studio",
        "SYSTEM": "spaces",  # what a Space sets; Gradio's own test for one
        "HF_TOKEN": SERVER_TOKEN,
        "HF_ENDPOINT": hub.url,
        "GAN_STUDIO_CHECKPOINTS": str(checkpoints),
        "GAN_STUDIO_DATA": str(tmp_path_factory.mktemp("space-data")),
        "GAN_STUDIO_SECRET": secrets.token_hex(16),
        "GAN_STUDIO_HEAVY_JOB_MAX_S": "2",
        "GAN_STUDIO_MAX_TOTAL_FRAMES": "60",
        "GAN_STUDIO_MAX_DECODED_PIXELS_PER_UPLOAD": "20000000",
    }
    with pytest.MonkeyPatch.context() as mp:
        for key, value in env.items():
            mp.setenv(key, value)
        mp.delenv("HF_HUB_OFFLINE", raising=False)
        import gradio.oauth as oauth

        for name in ("OAUTH_CLIENT_ID", "OAUTH_CLIENT_SECRET", "OAUTH_SCOPES"):
            mp.setattr(oauth, name, "stand-in")
        mp.setattr(oauth, "OPENID_PROVIDER_URL", hub.url)
        store.forget_hub_probe()
        from ui.services import build_services

        services = build_services()
        demo, url = launch_app(services)
        try:
            yield url.rstrip("/"), demo, services, hub
        finally:
            demo.close()
            hub.stop()
            store.forget_hub_probe()


class Visitor:
    """A raw API caller with its own cookie jar (its signed anonymous id) and session hash."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.http = httpx.Client(timeout=60)
        self.http.get(f"{url}/config")  # the visitor cookie is set on the first response
        # It is `Secure` on a Space (https); send it over this test's plain http too.
        self.cookie = self.http.cookies.get(COOKIE_NAME)
        self.http.cookies.clear()
        self.http.headers["Cookie"] = f"{COOKIE_NAME}={self.cookie}"
        self.session = secrets.token_hex(6)

    def owner_id(self, services) -> str:
        return services.guard.signer.anonymous_id(self.cookie)

    def call(self, demo, api_name: str, data: list) -> tuple[bool, object]:
        """(success, output data or error message) of one queued event."""
        index = next(i for i, fn in demo.fns.items() if fn.api_name == api_name)
        body = {"data": data, "fn_index": index, "session_hash": self.session}
        joined = self.http.post(f"{self.url}/gradio_api/queue/join", json=body)
        if joined.status_code != 200:
            return False, f"HTTP {joined.status_code}: {joined.text}"
        return self._result()

    def _result(self) -> tuple[bool, object]:
        params = {"session_hash": self.session}
        with self.http.stream("GET", f"{self.url}/gradio_api/queue/data", params=params) as r:
            for line in r.iter_lines():
                if not line.startswith("data:"):
                    continue
                message = json.loads(line[5:])
                if message.get("msg") == "process_completed":
                    output = message.get("output") or {}
                    if message.get("success"):
                        return True, output.get("data")
                    return False, str(output.get("error"))
        return False, "no result"


def plant_model(services, owner_id: str, name: str) -> Path:
    """A tiny fine-tuned model in a visitor's namespace."""
    folder = services.guard.models.root / owner_id / name
    G = tiny_generator()
    folder.parent.mkdir(parents=True, exist_ok=True)
    store.save_pretrained(folder, G.config.to_dict(), G.state_dict(), card="# test model")
    assert isinstance(G.config, GeneratorConfig)
    return folder


def inputs_of(demo, api_name: str, **values) -> list:
    """The default payload of an event's inputs, with some replaced by parameter name."""
    index = next(i for i, fn in demo.fns.items() if fn.api_name == api_name)
    fn = demo.fns[index]
    names = [p for p in inspect.signature(fn.fn).parameters if not p.startswith("gs_")]
    names = [n for n in names if n not in ("request", "progress")]
    data = [c.value for c in fn.inputs]
    for key, value in values.items():
        data[names.index(key)] = value
    return data


@pytest.fixture(scope="module")
def visitors(space):
    url, _, services, _ = space
    a, b = Visitor(url), Visitor(url)
    plant_model(services, a.owner_id(services), "my-faces")
    return a, b


# --- every event checks who is asking ----------------------------------------------------------

# Events that touch no model, file, run or token.
# Gradio's own example loader and the lab's preset fill in form values only.
HARMLESS = {
    "random_seeds",
    "hub_status",
    "device_line",  # ui.header: "Running on CPU." in the browser's language
    "network_status",
    "_check_login_status",
    "load_example_input",  # Gradio's examples: form values, cached outputs of default models
    "load_example_output",
    "load_example",
    "preset",  # ui.lab: a preset's settings into the sliders
    "reset_sliders",  # ui.edit: sliders back to 0
    "send_latent",  # ui.project: copies text between two boxes of the same page
    "loss_note",  # ui.project: names the perceptual loss (a public network, fetched with no token)
    "hidden_file",  # ui.generate: hides and empties the downloads box (no input)
    "shown_file",  # ui.generate: shows it (no input)
    "visible_if_any",  # ui.common: a downloads box shown once it holds files (reads no file)
    "stop_armed",  # ui.common: the Stop button's colour (no input)
    "stop_neutral",
    "matching_preset",  # ui.lab: which preset four slider values are (numbers only)
    "preset_2d",  # ui.lab2d_widget: a 2D preset's settings into the form (no run)
    "add_point",  # ui.lab2d_widget: a clicked pixel into the page's own points (numbers only)
    "clear_points",  # ui.lab2d_widget: empties them (no input)
    "restore",  # ui.links: a permalink's query parameters into the form
    "rerun",  # ui.links: calls the tab's own checked handler with the caller's request
    "first_run",  # ui.links: the same, with the tab's defaults
    "rerun_stream",
    "selected_face",  # ui.generate: the index of the face clicked (no input)
    "chosen_entry",  # ui.library: the id of the thumbnail clicked, from the page's own list
}


def test_every_event_identifies_its_caller_on_the_server(space):
    _, demo, _, _ = space
    for fn in demo.fns.values():
        if fn.fn is None or fn.name in HARMLESS:
            continue
        params = inspect.signature(fn.fn).parameters
        assert {"gs_request", "gs_profile", "gs_oauth"} <= params.keys(), fn.name


def test_only_the_readme_endpoints_are_public(space):
    url, _, _, _ = space
    info = httpx.get(f"{url}/gradio_api/info", timeout=60).json()
    public = {name.strip("/") for name in info["named_endpoints"]}
    import app

    assert public == set(app.API_ENDPOINTS)
    readme = (ROOT / "README.md").read_text()
    api = readme.split("## API", 1)[1].split("\n## ", 1)[0]
    assert all(f'api_name="/{name}"' in api for name in public)


def test_the_mcp_tools_are_the_visitors_only(space):
    """On a public Space the MCP server offers MCP_TOOLS only (names get the Space's prefix):
    no fine-tune, lab run or projection, although they stay in the API."""
    from tests.ui.test_mcp import check_tools, mcp_schema

    url, _, _, _ = space
    schema = mcp_schema(url)
    check_tools(schema)
    names = {tool["name"] for tool in schema}
    assert "gan_studio_generate" in names
    assert not any(w in n for n in names for w in ("train", "compare", "finetune", "project"))


def test_analytics_are_off(space):
    _, demo, _, _ = space
    assert demo.analytics_enabled is False


# --- visitor B cannot touch visitor A's model --------------------------------------------------


def test_b_cannot_see_a_model_that_a_sees(space, visitors):
    _, demo, _, _ = space
    a, b = visitors
    ok, data = a.call(demo, "update", [None])
    assert ok and "my-faces" in json.dumps(data)
    ok, data = b.call(demo, "update", [None])
    assert ok and "my-faces" not in json.dumps(data)


def test_b_cannot_generate_with_a_model(space, visitors):
    _, demo, _, _ = space
    a, b = visitors
    payload = inputs_of(demo, "generate", seeds="1", model="my-faces")
    ok, _ = a.call(demo, "generate", payload)
    assert ok
    ok, error = b.call(demo, "generate", payload)
    assert not ok and "no model 'my-faces'" in error


def test_a_kept_lab_run_is_a_visitors_own_model_that_b_cannot_see(space, visitors, monkeypatch):
    _, demo, services, _ = space
    a, b = visitors
    # this module's 2 s job cap is too short for the toy set on a busy machine
    quotas = dataclasses.replace(services.guard.quotas, heavy_job_max_s=120)
    monkeypatch.setattr(services.guard, "quotas", quotas)
    ok, data = a.call(demo, "lab_train", inputs_of(demo, "lab_train", steps=10, save_as="kept"))
    assert ok, data
    folder = services.guard.models.root / a.owner_id(services) / "kept"
    assert (folder / "timelapse.gif").is_file() and (folder / store.DISCRIMINATOR_NAME).is_file()
    assert not (store.checkpoints_dir() / "kept").exists()  # not the shared folder
    assert str(folder) not in json.dumps(data)
    payload = inputs_of(demo, "generate", seeds="1", model="kept")
    assert a.call(demo, "generate", payload)[0]
    ok, error = b.call(demo, "generate", payload)
    assert not ok and "no model 'kept'" in error
    ok, data = b.call(demo, "update", [None])
    assert ok and "kept" not in json.dumps(data)


def test_b_cannot_resume_push_or_delete_a_model(space, visitors):
    _, demo, services, _ = space
    a, b = visitors
    resume = inputs_of(demo, "finetune", name="my-faces", resume=True, images=None)
    ok, error = b.call(demo, "finetune", resume)
    assert not ok and "nothing to resume" in error
    ok, error = b.call(demo, "push", ["my-faces", "b/my-faces", SERVER_TOKEN, True])
    assert not ok and "sign in with Hugging Face" in error
    ok, error = b.call(demo, "delete_model", ["my-faces"])
    assert not ok and "no model 'my-faces'" in error
    assert (services.guard.models.root / a.owner_id(services) / "my-faces").is_dir()


def test_b_cannot_list_see_download_rename_delete_or_use_my_latents(space, visitors):
    """A keeps faces in My latents; B, with A's entry ids (copied or guessed) and the
    entries' own paths on the server, gets nothing of them."""
    _, demo, services, _ = space
    a, b = visitors
    ok, _ = a.call(demo, "generate", inputs_of(demo, "generate", seeds="7", save_to_library=True))
    assert ok
    ok, (_, entries) = a.call(demo, "library_list", [])
    assert ok and [e["name"] for e in entries] == ["seed 7"]
    entry_id = entries[0]["entry_id"]
    ok, (gallery, theirs) = b.call(demo, "library_list", [])
    assert ok and theirs == [] and gallery == []
    for api, data in (
        ("library_files", [entry_id]),
        ("library_rename", [entry_id, "mine now"]),
        ("library_delete", [entry_id]),
        ("library_files", ["0" * 32]),  # a guessed id answers the same
    ):
        ok, error = b.call(demo, api, data)
        assert not ok and "no such entry" in error, (api, error)
    stored = services.library.store.get(a.owner_id(services), entry_id)
    forged = {"path": str(stored.file("latent.json")), "meta": {"_type": "gradio.FileData"}}
    payload = inputs_of(demo, "generate", latent_files=[forged])
    ok, error = b.call(demo, "generate", payload)
    assert not ok and "only files uploaded to this app are accepted" in error
    reloaded = Visitor(space[0])  # A's page again after a reload: a new session, A's cookie
    reloaded.http.headers["Cookie"] = a.http.headers["Cookie"]
    ok, (_, entries) = reloaded.call(demo, "library_list", [])
    assert ok and [(e["entry_id"], e["name"]) for e in entries] == [(entry_id, "seed 7")]


def test_a_forged_session_hash_or_cookie_does_not_give_a_identity(space, visitors):
    _, demo, _, _ = space
    a, _ = visitors
    forger = Visitor(space[0])
    forger.http.headers["Cookie"] = f"{COOKIE_NAME}=anon-{'0' * 32}.forged"
    forger.session = a.session + "x"
    ok, error = forger.call(demo, "generate", inputs_of(demo, "generate", model="my-faces"))
    assert not ok and "no model" in error


def test_b_stop_does_not_reach_a_run(space, visitors):
    """Stop flags live in the caller's namespace: B's Stop with A's session hash is B's."""
    from ui.common import _WHO, session_key

    class Request:
        session_hash = "same-hash"

    keys = []
    for owner in ("anon-" + "a" * 32, "anon-" + "b" * 32):
        token = _WHO.set(Identity("anonymous", owner))
        keys.append(session_key(Request()))
        _WHO.reset(token)
    assert keys[0] != keys[1]


def test_visitors_delete_their_own_model(space):
    url, demo, services, _ = space
    c = Visitor(url)
    folder = plant_model(services, c.owner_id(services), "to-delete")
    ok, _ = c.call(demo, "delete_model", ["to-delete"])
    assert ok and not folder.exists()


# --- the server's token and typed Hub ids ------------------------------------------------------


def test_a_typed_hub_id_makes_no_request_and_no_copy(space, visitors):
    """The red team's private-model copy: `/generate` with a private repo's id."""
    _, demo, _, hub = space
    _, b = visitors
    before = len(hub.requests)
    spec = f"{PRIVATE_REPO}@main"
    ok, error = b.call(demo, "generate", inputs_of(demo, "generate", model=spec))
    assert not ok and "typed Hub ids are turned off" in error
    ok, error = b.call(demo, "finetune", inputs_of(demo, "finetune", model=spec, name="copy"))
    assert not ok
    assert not [p for p in hub.paths()[before:] if "someorg" in p]


def test_no_request_carries_the_servers_token(space, visitors):
    _, demo, _, hub = space
    a, b = visitors
    for visitor in (a, b):
        visitor.call(demo, "generate", inputs_of(demo, "generate", model="dcgan-digiface"))
        visitor.call(demo, "push", ["my-faces", "x/y", "", True])
    leaked = [r for r in hub.requests if SERVER_TOKEN in (r[2] or "")]
    assert not leaked, leaked


def test_a_signed_in_push_sends_only_the_visitors_oauth_token(space):
    """A stand-in for Gradio's OAuth: the profile and token it would inject."""
    import gradio as gr

    from ui.common import friendly, guarding
    from ui.finetune import FinetuneHandlers

    _, _, services, hub = space
    plant_model(services, "hf-bob", "bobs-faces")
    with guarding(services.guard):
        push = friendly(FinetuneHandlers(services.tuner).push)
    profile = gr.OAuthProfile(
        {"preferred_username": "bob", "name": "Bob", "picture": "", "profile": ""}
    )
    oauth = gr.OAuthToken(token="hf_oauth_bob", scope="write-repos", expires_at=0)
    before = len(hub.requests)
    with contextlib.suppress(gr.Error):  # the stand-in Hub does not create repos
        push("bobs-faces", "bob/bobs-faces", SERVER_TOKEN, True, gs_profile=profile, gs_oauth=oauth)
    sent = hub.authorizations()[before:]
    assert sent and set(sent) == {"Bearer hf_oauth_bob"}
    with pytest.raises(gr.Error, match="repo of your own"):
        push("bobs-faces", "owner/stolen", "", True, gs_profile=profile, gs_oauth=oauth)


def test_the_token_box_is_gone_on_a_space(space):
    url, _, _, _ = space
    config = httpx.get(f"{url}/config", timeout=60).json()
    labels = {c["id"]: english(c.get("props", {}).get("label")) for c in config["components"]}
    boxes = [c for c in config["components"] if "Hub token" in str(labels[c["id"]])]
    assert boxes and all(c["props"].get("visible") is False for c in boxes)


# --- quotas ------------------------------------------------------------------------------------


def test_anonymous_fine_tunes_are_capped_with_a_clear_message(space, visitors):
    _, demo, _, _ = space
    _, b = visitors
    payload = inputs_of(demo, "finetune", steps=5000, name="long-run")
    ok, error = b.call(demo, "finetune", payload)
    assert not ok and "anonymous fine-tunes are limited to 300 steps" in error


def test_the_frame_flood_is_refused(space, visitors):
    """The red team's 6 keyframes x 120 frames."""
    _, demo, _, _ = space
    _, b = visitors
    payload = inputs_of(demo, "interpolate", seeds="1,2,3,4,5,6", frames=120)
    ok, error = b.call(demo, "interpolate", payload)
    assert not ok and "over this server's limit of 60" in error


def upload(visitor: Visitor, name: str, data: bytes) -> dict:
    files = {"files": (name, data)}
    path = visitor.http.post(f"{visitor.url}/gradio_api/upload", files=files).json()[0]
    return {"path": path, "orig_name": name, "meta": {"_type": "gradio.FileData"}}


def test_the_pixel_bomb_zip_is_refused_from_headers(space, visitors):
    """The red team's zip of 6320x6320 one-colour PNGs, to the private upload preview."""
    _, demo, _, _ = space
    _, b = visitors
    png = io.BytesIO()
    Image.new("L", (6320, 6320)).save(png, format="PNG")
    packed = io.BytesIO()
    with zipfile.ZipFile(packed, "w", zipfile.ZIP_DEFLATED) as zf:
        for i in range(40):
            zf.writestr(f"bomb{i}.png", png.getvalue())
    payload = [[upload(b, "bomb.zip", packed.getvalue())], "dcgan-digiface", "ada", [], 1]
    ok, error = b.call(demo, "preview_upload", payload)
    assert not ok and "megapixels" in error


def _png(color: tuple[int, int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (32, 32), color).save(out, format="PNG")
    return out.getvalue()


def test_bad_members_and_files_are_skipped_and_listed_not_fatal(space, visitors):
    """issue 19: one bad member (a nested zip named .png, a symlink) refused the whole zip.
    Now the good images are prepared and every bad one is named in the note."""
    _, demo, _, _ = space
    _, b = visitors
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as zf:
        zf.writestr("inner.png", _png((1, 2, 3)))
    packed = io.BytesIO()
    with zipfile.ZipFile(packed, "w", zipfile.ZIP_DEFLATED) as zf:
        for i in range(8):
            zf.writestr(f"good{i}.png", _png((30 * i, 200, 100)))
        zf.writestr("nested.png", inner.getvalue())
        zf.writestr("words.png", "not an image")
        link = zipfile.ZipInfo("link.png")
        link.external_attr = (0o120777) << 16  # a symlink
        zf.writestr(link, "/etc/passwd")
        zf.writestr("folder/", b"")
    files = [
        upload(b, "set.zip", packed.getvalue()),
        upload(b, "alone.png", _png((9, 9, 9))),
        upload(b, "broken.png", b"\x89PNG but not really"),
    ]
    ok, output = b.call(demo, "preview_upload", [files, "dcgan-digiface", "ada", [], 1])
    assert ok, output
    note = output[1]
    assert "9 images" in note
    for name in ("nested", "words", "link", "broken"):
        assert f"{name}\\.png" in note, (name, note)  # listed (Markdown-escaped)


def test_a_directory_path_is_refused(space, visitors):
    _, demo, _, _ = space
    _, b = visitors
    cache = Path(upload(b, "a.json", b"[0]")["path"]).parent
    folder = {"path": str(cache), "orig_name": "x", "meta": {"_type": "gradio.FileData"}}
    ok, error = b.call(demo, "generate", inputs_of(demo, "generate", latent_file=folder))
    assert not ok and "HTTP 422" in error and "folder" in error
    assert cache.is_dir()


def test_a_url_path_is_refused(space, visitors):
    _, demo, _, _ = space
    _, b = visitors
    url = {"path": "http://127.0.0.1:9/big", "orig_name": "x", "meta": {"_type": "gradio.FileData"}}
    ok, error = b.call(demo, "generate", inputs_of(demo, "generate", latent_file=url))
    assert not ok and "URL" in error


def test_a_long_stylisation_is_stopped_at_the_cap(space, visitors, tmp_path):
    """The red team's 2000 steps at 1024 px: stopped at the heavy-job cap (2 s here)."""
    from tests.api_helpers import small_style_pair

    _, demo, _, _ = space
    _, b = visitors
    content, style = small_style_pair(tmp_path)
    payload = inputs_of(
        demo,
        "stylize",
        content=upload(b, "c.png", Path(content).read_bytes()),
        style=upload(b, "s.png", Path(style).read_bytes()),
        steps=2000,
        size=64,
        optimizer="adam",
        network="EfficientNet-Lite0 (offline)",
    )
    ok, error = b.call(demo, "stylize", payload)
    assert not ok and "2 s limit" in error


def test_one_heavy_job_per_visitor(space):
    from core.errors import UserInputError
    from ui.policy import checked

    _, _, services, _ = space
    who = Identity("anonymous", "anon-" + "c" * 32)
    first = checked("stylize", services.guard, who, [], (), {})
    second = checked("finetune", services.guard, who, [], (), {})
    refused = pytest.raises(UserInputError, match="one heavy job at a time")
    with first, refused, second:
        pass


def test_queue_admission_is_installed_for_visitors(space):
    _, demo, _, _ = space
    from core.admission import AdmissionGate
    from core.safe_files import FilePayloadGuard

    classes = {m.cls for m in demo.app.user_middleware}
    assert {AdmissionGate, FilePayloadGuard} <= classes


def test_every_route_of_the_app_is_classified_by_the_gate(space):
    """The real app's route table (MCP mounts included): no route that can start work is
    unknown to the admission gate."""
    from core.admission import unclassified_routes

    _, demo, _, _ = space
    assert unclassified_routes(demo.app.routes) == []


def test_session_less_api_calls_keep_no_session_state(space):
    """The finding: each raw `call/generate` without a session hash left a copy of the
    page's state behind (+413 MB after 600 calls). Now none stays."""
    from core.sessions import LeanStateHolder

    url, demo, services, _ = space
    holder = demo.app.state_holder
    assert isinstance(holder, LeanStateHolder)
    assert holder.capacity == services.guard.quotas.max_sessions
    before = len(holder.session_data)
    payload = {"data": inputs_of(demo, "generate", seeds="1")}
    for _ in range(3):
        event = httpx.post(f"{url}/gradio_api/call/generate", json=payload, timeout=60)
        event_id = event.json()["event_id"]
        result = httpx.get(f"{url}/gradio_api/call/generate/{event_id}", timeout=60)
        assert "event: complete" in result.text
    assert len(holder.session_data) == before
    assert len(holder) - len(holder.session_data) <= 1  # the last call's, until the next


def _served_folders(output: object) -> set[Path]:
    """The folders of the files that an event's output names (its FileData paths)."""
    if isinstance(output, dict):
        found = {Path(output["path"]).parent} if isinstance(output.get("path"), str) else set()
        return found.union(*(_served_folders(v) for v in output.values()))
    if isinstance(output, list):
        return set().union(*(_served_folders(v) for v in output))
    return set()


def test_a_visitors_outputs_are_removed_after_the_ttl_by_one_thread(space, monkeypatch):
    """issue 19: the clean-up looked for a folder of another name (it removed nothing) and
    started a 120 s timer thread per call (881 calls: 1,181 threads). Now each request folder
    of a visitor's files goes after `GAN_STUDIO_OUTPUT_TTL_S`, removed by one sweeper thread."""
    from core.sweeper import THREAD_NAME

    url, demo, services, _ = space
    guard = services.guard
    monkeypatch.setattr(guard, "quotas", dataclasses.replace(guard.quotas, output_ttl_s=1.5))
    visitor = Visitor(url)
    folders: set[Path] = set()

    def threads() -> tuple[int, int]:
        alive = threading.enumerate()
        return sum(isinstance(t, threading.Timer) for t in alive), sum(
            t.name == THREAD_NAME for t in alive
        )

    for seed in range(1, 13):
        ok, output = visitor.call(demo, "generate", inputs_of(demo, "generate", seeds=str(seed)))
        assert ok, output
        folders |= _served_folders(output)
        if seed == 1:  # the guard's sweeper has started
            after_one = threads()
    assert len(folders) >= 12 and all(f.parent == services.studio.output_root for f in folders)
    assert threads() == after_one  # no thread per call (before: a Timer each)
    assert after_one[1] >= 1
    deadline = time.monotonic() + 30
    while any(f.exists() for f in folders) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not [f for f in folders if f.exists()]


def test_main_bounds_the_queue_and_adds_the_guards_middleware(monkeypatch):
    """`python app.py` on a Space: a bounded queue, the visitor cookie, the file-payload guard
    and queue admission (the red team's queue flood), analytics off."""
    import os

    import app
    from core.admission import AdmissionGate

    seen: dict = {}

    class FakeDemo:
        def __init__(self, services=None):
            self.gan_studio_guard = services.guard
            self._queue = None

        def queue(self, **kwargs):
            seen["queue"] = kwargs

        def launch(self, **kwargs):
            seen.update(kwargs)

    monkeypatch.setenv("SPACE_ID", "owner/gan-studio")
    monkeypatch.setenv("GAN_STUDIO_SECRET", secrets.token_hex(16))
    monkeypatch.setattr(app, "build_demo", FakeDemo)
    monkeypatch.setattr(app.store, "hub_reachable", lambda: False)
    monkeypatch.setattr(app, "freeze_startup_heap", lambda: 0)
    app.main()
    assert seen["queue"]["max_size"] == 64 + 8
    classes = [m.cls for m in seen["app_kwargs"]["middleware"]]
    assert AdmissionGate in classes
    assert os.environ["GRADIO_ANALYTICS_ENABLED"] == "False"
