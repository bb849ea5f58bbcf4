"""Small ASGI helpers for the app's middleware (`core.admission`, `core.safe_files`): read a
request body within a limit, hand it on to the app again, answer a JSON error."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any


async def read_body(receive: Any, limit: int) -> bytes | None:
    """The whole request body, or None when it is over `limit` bytes."""
    chunks, size, more = [], 0, True
    while more:
        message = await receive()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        more = message.get("more_body", False)
    return b"".join(chunks)


def replay(body: bytes, receive: Any) -> Callable[[], Any]:
    """A `receive` that gives `body` once, then defers to the real one (disconnects)."""
    sent = False

    async def replayed() -> dict:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replayed


async def send_json(send: Any, status: int, body: dict[str, Any]) -> None:
    """A complete JSON response."""
    payload = json.dumps(body).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(payload))]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})
