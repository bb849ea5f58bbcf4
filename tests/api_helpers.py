"""Raw HTTP calls to the app's API, for what `gradio_client` will not send (NaN, forged paths)."""

from __future__ import annotations

import json

import httpx


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
