"""Helpers for API tests: raw HTTP calls (for what `gradio_client` will not send: NaN, forged
paths) and small inputs."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
from PIL import Image


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
