"""One admission gate in front of every Gradio route that can start work.

Gradio counts only the queue's total size, so one visitor could fill it: through
`queue/join` with fresh session hashes, and through `call/<api>`, `call/v2/<api>`, `run/<api>`
and MCP, which Gradio never checks at all (the red team got 65 of 70 `call`s accepted from an
address already at its cap). `AdmissionGate` (ASGI middleware) classifies each request by
`ROUTE_KINDS`, a table of Gradio 6.31's route paths (a test walks the live route table so that
a route a later Gradio adds fails until it is classified; an unknown POST counts as a job):

- a *job* route is refused over the per-visitor or per-address cap on pending jobs (read from
  Gradio's queue by `gradio_pending`: waiting or running, whichever route queued them), with
  429, or with a clear 503 when the whole queue is full;
- an *upload* is held to the visitor's and the server's upload budget (`core.uploads`);
- an *MCP* request gets an identity of its own (Gradio runs every tool call through one
  loopback client, so cookie-less MCP callers shared one visitor): a signed visitor cookie
  derived from the caller's address and MCP session id, which Gradio copies into the loopback
  call; a tool call is then capped like a job;
- a *closed* route (Gradio's vibe editor and run-history hooks) answers 404 to visitors.

The caller's address is the `X-Forwarded-For` hop that the trusted proxy appended: the
`hops`-th from the end (`GAN_STUDIO_TRUSTED_PROXY_HOPS`, 1 on a Space, else 0: the socket's
peer), never a hop the caller wrote.
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from http.cookies import SimpleCookie
from typing import Any

from core.asgi import read_body, replay, send_json
from core.identity import COOKIE_NAME, Signer
from core.quotas import Quotas, queue_full_message
from core.safe_files import MAX_JSON_BODY
from core.uploads import UploadBudget

Who = tuple[str, str]  # (visitor key, client address)
Headers = list[tuple[bytes, bytes]]

JOB, UPLOAD, MCP, FREE, CLOSED = "job", "upload", "mcp", "free", "closed"
HOPS_ENV = "GAN_STUDIO_TRUSTED_PROXY_HOPS"
_API = r"/gradio_api"
ROUTE_KINDS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), kind)
    for pattern, kind in (
        (_API + r"/queue/join/?$", JOB),
        (_API + r"/call/v2/[^/]+/?$", JOB),
        (_API + r"/call/[^/]+/?$", JOB),
        (_API + r"/(run|api)/[^/]+/?$", JOB),
        (_API + r"/component_server/?$", JOB),
        (_API + r"/process_recording/?$", JOB),
        (_API + r"/upload/?$", UPLOAD),
        (_API + r"/mcp(/.*)?$", MCP),
        (_API + r"/(cancel|reset)/?$", FREE),  # stop or forget the caller's own job
        (_API + r"/stream/[^/]+(/close)?/?$", FREE),  # input to a job already admitted
        (r"^/login/?$", FREE),  # Gradio's password login (unused)
        (_API + r"/(vibe-edit|undo-vibe-edit|vibe-code|vibe-starter-queries)/?$", CLOSED),
        (_API + r"/run-history/connect/?$", CLOSED),
    )
)


def route_kind(path: str) -> str | None:
    """The kind of a request path (or a route template with its `{params}` filled in) in
    `ROUTE_KINDS`; None when the table does not know it."""
    for pattern, kind in ROUTE_KINDS:
        if pattern.search(path):
            return kind
    return None


def request_kind(method: str, path: str) -> str:
    """What the gate does with a request: GETs are free except MCP's; an unknown POST is a job."""
    kind = route_kind(path)
    if kind == MCP:
        return MCP
    if method != "POST":
        return FREE
    return kind or JOB


def served_routes(routes: Iterable[Any], prefix: str = "") -> list[tuple[str, frozenset[str]]]:
    """(path, methods) of every route of a Starlette/FastAPI route table, mounted apps and
    included routers walked into; a mount that is a bare ASGI app takes any method ("*")."""
    found: list[tuple[str, frozenset[str]]] = []
    for route in routes:
        included = getattr(route, "original_router", None)  # FastAPI's included router
        if included is not None:
            found += served_routes(included.routes, prefix)
            continue
        path = prefix + getattr(route, "path", "")
        methods = getattr(route, "methods", None)
        if methods is not None:
            found.append((path, frozenset(methods)))
            continue
        inner = getattr(route, "routes", None)
        if inner:
            found += served_routes(inner, path)
        found.append((path, frozenset({"*"})))
    return found


def unclassified_routes(routes: Iterable[Any]) -> list[str]:
    """The routes that could start work (POST, or any method) which `ROUTE_KINDS` does not
    know: each must get a row there (a later Gradio may add one)."""
    missing = []
    for path, methods in served_routes(routes):
        if methods & {"POST", "PUT", "PATCH", "DELETE", "*"}:
            sample = re.sub(r"\{[^}]*\}", "x", path)
            if route_kind(sample) is None:
                missing.append(f"{','.join(sorted(methods))} {path}")
    return missing


def proxy_hops(on_space: bool, env: Mapping[str, str] = os.environ) -> int:
    """How many proxies in front of the app append to `X-Forwarded-For`: the setting, else 1
    on a Space (its proxy) and 0 elsewhere (the header is the caller's to write)."""
    raw = env.get(HOPS_ENV, "").strip()
    if not raw:
        return 1 if on_space else 0
    if not raw.isdigit():
        raise ValueError(f"{HOPS_ENV}={raw!r} must be a whole number")
    return int(raw)


def _header(headers: Iterable[tuple[bytes, bytes]], name: bytes) -> str:
    for key, value in headers:
        if key.lower() == name:
            return value.decode("latin-1")
    return ""


def cookie_visitor(signer: Signer, cookie_header: str) -> str | None:
    """The signed anonymous id in a visitor cookie header, else None."""
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(cookie_header)
    except Exception:  # a malformed header counts as no cookie
        return None
    return signer.anonymous_id(jar[COOKIE_NAME].value) if COOKIE_NAME in jar else None


def visitor_key(signer: Signer, cookie_header: str, session_hash: str, address: str) -> str:
    """The signed anonymous id of the visitor cookie, else one derived from the session hash
    (the same ids `identify` gives), else the address: a session-less call has no other."""
    found = cookie_visitor(signer, cookie_header)
    if found:
        return found
    return signer.session_id(session_hash) if session_hash else "address:" + address


def client_address(headers: Iterable[tuple[bytes, bytes]], peer: str, hops: int) -> str:
    """The caller's address: the `hops`-th `X-Forwarded-For` hop from the end (the one the
    outermost trusted proxy appended; hops the caller wrote come before it), else the peer."""
    if hops <= 0:
        return peer
    chain = [h.strip() for h in _header(headers, b"x-forwarded-for").split(",") if h.strip()]
    return chain[-hops] if len(chain) >= hops else (chain[0] if chain else peer)


def request_who(
    signer: Signer, headers: Iterable[tuple[bytes, bytes]], peer: str, session_hash: str, hops: int
) -> Who:
    """(visitor key, client address) of a request, from its raw headers and socket peer."""
    headers = list(headers)
    address = client_address(headers, peer, hops)
    return visitor_key(signer, _header(headers, b"cookie"), session_hash, address), address


def gradio_pending(demo: Any, signer: Signer, hops: int = 0) -> list[Who]:
    """(visitor, address) of each job waiting in or run by a Gradio 6.31 queue (`demo._queue`:
    `event_queue_per_concurrency_id[...].queue` and `active_jobs`, each event holding the
    request that queued it: `queue/join`, `call`, `call/v2` or MCP's loopback). Gradio gives a
    call without a session hash the event's own id as one; such a job counts by its address."""
    queue = demo._queue
    events = [e for q in queue.event_queue_per_concurrency_id.values() for e in q.queue]
    events += [e for job in queue.active_jobs if job for e in job]
    found = []
    for event in events:
        request = event.request
        peer = request.client.host if getattr(request, "client", None) else ""
        session = "" if event.session_hash == event._id else event.session_hash
        found.append(request_who(signer, request.headers.raw, peer, session, hops))
    return found


def mcp_token(signer: Signer, headers: Headers, query: str, address: str) -> str:
    """A signed visitor token for an MCP caller: one per address and MCP session (the
    `mcp-session-id` header, or the SSE transport's `session_id`), unguessable without the
    server secret."""
    session = _header(headers, b"mcp-session-id") or _query_value(query, "session_id")
    return signer.sign(signer.derived_id("mcp", f"{address}\0{session}"))


def _query_value(query: str, name: str) -> str:
    for part in query.split("&"):
        key, _, value = part.partition("=")
        if key == name:
            return value
    return ""


def with_cookie(headers: Headers, token: str) -> Headers:
    """`headers` with the visitor cookie set to `token` (the caller's other cookies kept)."""
    others = [
        part.strip()
        for key, value in headers
        if key.lower() == b"cookie"
        for part in value.decode("latin-1").split(";")
        if part.strip() and not part.strip().startswith(COOKIE_NAME + "=")
    ]
    kept = [(k, v) for k, v in headers if k.lower() != b"cookie"]
    cookie = "; ".join([*others, f"{COOKIE_NAME}={token}"])
    return [*kept, (b"cookie", cookie.encode("latin-1"))]


class AdmissionGate:
    """ASGI middleware in front of every route that can start work; see the module docstring.

    `pending()` lists (visitor, address) of the jobs waiting or running; `signer` reads the
    visitor cookie; `hops` is the number of trusted proxies; `uploads` the upload budget."""

    def __init__(
        self,
        app: Any,
        quotas: Quotas,
        signer: Signer,
        pending: Callable[[], list[Who]],
        hops: int = 0,
        uploads: UploadBudget | None = None,
    ) -> None:
        self.app = app
        self.quotas = quotas
        self.signer = signer
        self.pending = pending
        self.hops = hops
        self.uploads = uploads or UploadBudget.from_quotas(quotas)
        self._inflight: Counter[Who] = Counter()  # admitted, not yet answered (not queued yet)

    def refusal(self, who: Who) -> tuple[int, str] | None:
        """(status, message) when a job of `who` must be refused, else None."""
        pending = self.pending() + list(self._inflight.elements())
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
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        kind = request_kind(scope.get("method", ""), scope.get("path", ""))
        handler = {JOB: self._job, UPLOAD: self._upload, MCP: self._mcp, CLOSED: self._closed}
        await handler.get(kind, self.app)(scope, receive, send)

    def _address(self, scope: dict) -> str:
        peer = (scope.get("client") or ("", 0))[0]
        return client_address(scope.get("headers", []), peer, self.hops)

    async def _job(self, scope: dict, receive: Any, send: Any) -> None:
        """Cap a job by its visitor and address; the session hash is read from a JSON body (a
        multipart one, such as `process_recording`'s, is passed on unread)."""
        headers = scope.get("headers", [])
        body = None
        content_type = _header(headers, b"content-type")
        if not content_type or "json" in content_type:  # FastAPI parses both as JSON
            body = await read_body(receive, MAX_JSON_BODY)
            if body is None:
                await _reply(send, 413, "request body too large")
                return
        try:
            session_hash = str(json.loads(body or b"{}").get("session_hash") or "")
        except (ValueError, AttributeError):
            session_hash = ""
        peer = (scope.get("client") or ("", 0))[0]
        who = request_who(self.signer, headers, peer, session_hash, self.hops)
        refused = self.refusal(who)
        if refused is not None:
            await _reply(send, *refused)
            return
        self._inflight[who] += 1  # until Gradio has queued it (parallel joins see it)
        try:
            await self.app(scope, receive if body is None else replay(body, receive), send)
        finally:
            self._inflight[who] -= 1
            if not self._inflight[who]:
                del self._inflight[who]

    async def _mcp(self, scope: dict, receive: Any, send: Any) -> None:
        """Give a cookie-less MCP caller its own identity; cap its tool calls like jobs."""
        headers = list(scope.get("headers", []))
        address = self._address(scope)
        if not cookie_visitor(self.signer, _header(headers, b"cookie")):
            query = scope.get("query_string", b"").decode("latin-1")
            headers = with_cookie(headers, mcp_token(self.signer, headers, query, address))
            scope = {**scope, "headers": headers}
        if scope.get("method") != "POST":
            await self.app(scope, receive, send)
            return
        body = await read_body(receive, MAX_JSON_BODY)
        if body is None:
            await _reply(send, 413, "request body too large")
            return
        if b"tools/call" in body:
            visitor = cookie_visitor(self.signer, _header(headers, b"cookie")) or ""
            refused = self.refusal((visitor, address))
            if refused is not None:
                await _reply(send, *refused)
                return
        await self.app(scope, replay(body, receive), send)

    async def _upload(self, scope: dict, receive: Any, send: Any) -> None:
        """Hold an upload to the budget: refuse it when its declared size is over, and cut its
        body off once what arrives passes what is left."""
        headers = scope.get("headers", [])
        address = self._address(scope)
        key = visitor_key(self.signer, _header(headers, b"cookie"), "", address)
        declared = _header(headers, b"content-length")
        size = int(declared) if declared.isdigit() else 0
        message = self.uploads.refusal(key, max(size, 1))
        if message is not None:
            await _reply(send, 429, message)
            return
        self.uploads.record(key, size)  # reserved now, so parallel uploads cannot overspend
        allowed, received = size or self.uploads.allowance(key), 0

        async def counted() -> dict:
            nonlocal received
            if received > allowed:
                return {"type": "http.disconnect"}
            event = await receive()
            received += len(event.get("body", b""))
            return {"type": "http.disconnect"} if received > allowed else event

        try:
            await self.app(scope, counted, send)
        finally:
            self.uploads.record(key, received - size)

    async def _closed(self, scope: dict, receive: Any, send: Any) -> None:
        await _reply(send, 404, "not found")


async def _reply(send: Any, status: int, detail: str) -> None:
    await send_json(send, status, {"detail": detail, "error": detail})
