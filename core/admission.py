"""Admission to Gradio's queue: a cap on pending jobs per visitor and per client address, and
a clear "queue is full" message, checked at `POST .../queue/join` before Gradio queues the job.

Gradio counts only the queue's total size, so one visitor with fresh session hashes could fill
it (the red team got 64 of 70 joins accepted). This ASGI middleware counts the jobs already
waiting or running (read from Gradio's queue by `pending`) for the same visitor (their signed
cookie, else their session hash) and the same address, and answers 429 over a cap, 503 with a
clear message when the whole queue is full.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from http.cookies import SimpleCookie
from typing import Any

from core.identity import COOKIE_NAME, Signer
from core.quotas import Quotas, queue_full_message

Who = tuple[str, str]  # (visitor key, client address)


def _header(headers: Iterable[tuple[bytes, bytes]], name: bytes) -> str:
    for key, value in headers:
        if key.lower() == name:
            return value.decode("latin-1")
    return ""


def visitor_key(signer: Signer, cookie_header: str, session_hash: str) -> str:
    """The signed anonymous id of the visitor cookie, else one derived from the session hash
    (the same ids `identify` gives)."""
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(cookie_header)
    except Exception:  # a malformed header counts as no cookie
        jar = SimpleCookie()
    token = jar[COOKIE_NAME].value if COOKIE_NAME in jar else None
    return signer.anonymous_id(token) or signer.session_id(session_hash or "none")


def client_address(headers: Iterable[tuple[bytes, bytes]], peer: str, trust_forwarded: bool) -> str:
    """The caller's address: the first `X-Forwarded-For` hop behind a trusted proxy (a
    Space's), else the socket's peer."""
    if trust_forwarded:
        forwarded = _header(headers, b"x-forwarded-for").split(",")[0].strip()
        if forwarded:
            return forwarded
    return peer


def request_who(
    signer: Signer,
    headers: Iterable[tuple[bytes, bytes]],
    peer: str,
    session_hash: str,
    trust_forwarded: bool = False,
) -> Who:
    """(visitor key, client address) of a request, from its raw headers and socket peer."""
    headers = list(headers)
    key = visitor_key(signer, _header(headers, b"cookie"), session_hash)
    return key, client_address(headers, peer, trust_forwarded)


def gradio_pending(demo: Any, signer: Signer, trust_forwarded: bool = False) -> list[Who]:
    """(visitor, address) of each job waiting in or run by a Gradio 6.31 queue (`demo._queue`:
    `event_queue_per_concurrency_id[...].queue` and `active_jobs`, each event holding its
    join request)."""
    queue = demo._queue
    events = [e for q in queue.event_queue_per_concurrency_id.values() for e in q.queue]
    events += [e for job in queue.active_jobs if job for e in job]
    found = []
    for event in events:
        request = event.request
        peer = request.client.host if getattr(request, "client", None) else ""
        found.append(
            request_who(signer, request.headers.raw, peer, event.session_hash, trust_forwarded)
        )
    return found


class QueueAdmission:
    """ASGI middleware for `POST .../queue/join`; see the module docstring.

    `pending()` lists (visitor, address) of the jobs waiting or running; `signer` reads the
    visitor cookie; `trust_forwarded` takes the address from `X-Forwarded-For` (on a Space)."""

    def __init__(
        self,
        app: Any,
        quotas: Quotas,
        signer: Signer,
        pending: Callable[[], list[Who]],
        trust_forwarded: bool = False,
    ) -> None:
        self.app = app
        self.quotas = quotas
        self.signer = signer
        self.pending = pending
        self.trust_forwarded = trust_forwarded

    def who(self, headers: Iterable[tuple[bytes, bytes]], peer: str, session_hash: str) -> Who:
        return request_who(self.signer, headers, peer, session_hash, self.trust_forwarded)

    def refusal(self, who: Who) -> tuple[int, str] | None:
        """(status, message) when this join must be refused, else None."""
        pending = self.pending()
        if len(pending) >= self.quotas.queue_size:
            return 503, queue_full_message(self.quotas)
        if sum(1 for k, _ in pending if k == who[0]) >= self.quotas.max_pending_per_visitor:
            return 429, (
                f"you already have {self.quotas.max_pending_per_visitor} jobs waiting or "
                "running; wait for one to finish"
            )
        if sum(1 for _, a in pending if a == who[1]) >= self.quotas.max_pending_per_address:
            return 429, (
                f"{self.quotas.max_pending_per_address} jobs from your network address are "
                "waiting or running; try again soon"
            )
        return None

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope.get("method") != "POST":
            await self.app(scope, receive, send)
            return
        if not scope.get("path", "").endswith("/queue/join"):
            await self.app(scope, receive, send)
            return
        body, more = b"", True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        try:
            session_hash = str(json.loads(body).get("session_hash") or "")
        except (ValueError, AttributeError):
            session_hash = ""
        peer = (scope.get("client") or ("", 0))[0]
        refused = self.refusal(self.who(scope.get("headers", []), peer, session_hash))
        if refused is not None:
            await _reply(send, *refused)
            return
        sent = False

        async def replay() -> dict:
            nonlocal sent
            if sent:
                return await receive()
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)


async def _reply(send: Any, status: int, detail: str) -> None:
    payload = json.dumps({"detail": detail, "error": detail}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(payload))]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})
