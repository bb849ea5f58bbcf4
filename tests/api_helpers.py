"""Helpers for API tests: raw HTTP calls (for what `gradio_client` will not send: NaN, forged
paths) and small inputs."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
from PIL import Image

from ui.i18n import translate


def call_raw(app_url: str, api: str, body: str, timeout: float = 60.0) -> tuple[str, object]:
    """POST a hand-written JSON body to `/gradio_api/call/<api>` and read the event stream.

    Returns `("complete", data)` or `("error", message)`.
    """
    base = app_url.rstrip("/")
    response = httpx.post(
        f"{base}/gradio_api/call/{api}",
        content=body,
        headers={"content-type": "application/json"},
        timeout=timeout,
    )
    if response.status_code != 200:
        return "error", f"HTTP {response.status_code}: {response.text}"
    event_id = response.json()["event_id"]
    stream = httpx.get(f"{base}/gradio_api/call/{api}/{event_id}", timeout=timeout).text
    event, data = "", None
    for line in stream.splitlines():
        if line.startswith("event:"):
            event = line.split(":", 1)[1].strip()
        elif line.startswith("data:"):
            data = line.split(":", 1)[1].strip()
    if event == "error":
        payload = json.loads(data) if data and data != "null" else None
        return "error", (payload or {}).get("error") if isinstance(payload, dict) else payload
    return event, json.loads(data) if data else None


def small_style_pair(folder: Path) -> tuple[str, str]:
    """A 64x64 photo and painting (from ../shared/images) for quick style-transfer calls."""
    from tests.conftest import SHARED_IMAGES

    paths = []
    for name in ("tubingen.jpg", "starry_night.jpg"):
        with Image.open(SHARED_IMAGES / name) as image:
            image.convert("RGB").resize((64, 64)).save(folder / f"{name}.png")
        paths.append(str(folder / f"{name}.png"))
    return paths[0], paths[1]


def english(label: object) -> object:
    """A component's label as `/config` gives it, in English: a `gr.I18n` key (a
    `translation_metadata` dict, or Gradio's `__i18n__{...}` string) becomes its English text."""
    if isinstance(label, str) and label.startswith("__i18n__"):
        label = json.loads(label[len("__i18n__") :])
    if isinstance(label, dict) and label.get("__type__") == "translation_metadata":
        return translate(label["key"])
    return label


def page_event(app_url: str, name: str, first_output: str) -> int:
    """The id of a page event (private ones included) from `/config`: the one whose
    `api_name` starts with `name` and whose first output has the label `first_output`."""
    config = httpx.get(app_url.rstrip("/") + "/config", timeout=60).json()
    labels = {c["id"]: english(c.get("props", {}).get("label")) for c in config["components"]}
    for dep in config["dependencies"]:
        api = str(dep.get("api_name") or "")
        if api.startswith(name) and dep["outputs"] and labels[dep["outputs"][0]] == first_output:
            return int(dep["id"])
    raise LookupError(f"no event {name}* with first output {first_output!r}")


def queue_call(
    app_url: str, fn_index: int, data: list, session: str, query: str = "", timeout: float = 600
) -> tuple[bool, object, list]:
    """Run one event through the page's queue (`/gradio_api/queue/join`, as the browser does,
    the page URL's query string included): (success, last output data or error, the data of
    each streamed output; the first is whole, later ones may be diffs)."""
    base = app_url.rstrip("/")
    with httpx.Client(timeout=timeout) as http:
        body = {"data": data, "fn_index": fn_index, "session_hash": session}
        joined = http.post(f"{base}/gradio_api/queue/join?{query}", json=body)
        if joined.status_code != 200:
            return False, f"HTTP {joined.status_code}: {joined.text}", []
        streamed: list = []
        params = {"session_hash": session}
        with http.stream("GET", f"{base}/gradio_api/queue/data", params=params) as r:
            for line in r.iter_lines():
                if not line.startswith("data:"):
                    continue
                message = json.loads(line[5:])
                if message.get("msg") == "process_generating":
                    streamed.append((message.get("output") or {}).get("data"))
                if message.get("msg") == "process_completed":
                    output = message.get("output") or {}
                    if message.get("success"):
                        return True, output.get("data"), streamed
                    return False, str(output.get("error")), streamed
    return False, "no result", streamed
