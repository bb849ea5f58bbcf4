"""The admission gate: one visitor (fresh session hashes, one cookie, one address, forged
`X-Forwarded-For` hops, or the `call`/`call/v2` routes) cannot fill Gradio's queue, a full
queue answers with a clear message, uploads have a budget, MCP callers each have their own
identity, and every route Gradio serves is classified. A real tiny Gradio app."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import gradio as gr
import httpx
import pytest
from starlette.middleware import Middleware

from core.admission import (
    JOB,
    MCP,
    UPLOAD,
    AdmissionGate,
    client_address,
    gradio_pending,
    route_kind,
    unclassified_routes,
)
from core.identity import COOKIE_NAME, Signer
from core.quotas import Quotas
from core.uploads import UploadBudget

SIGNER = Signer(b"q" * 32)
QUOTAS = Quotas(max_pending_per_visitor=2, max_pending_per_address=3, queue_size=4)
UPLOAD_BUDGET = 100_000  # bytes per visitor


@pytest.fixture(scope="module")
def served():
    """(api url, demo, release event, identities seen by `echo`) of a tiny app behind the gate."""
    release, seen = threading.Event(), []

    def slow(x: str) -> str:
        release.wait(30)
        return x

    def echo(x: str, request: gr.Request) -> str:
        """Echo x.

        Args:
            x: any text
        """
        seen.append(request.cookies.get(COOKIE_NAME))
        return x

    with gr.Blocks(analytics_enabled=False) as demo:
        box = gr.Textbox()
        box.submit(slow, box, box, api_name="slow", concurrency_limit=1)
        box.change(echo, box, box, api_name="echo")
    demo.queue(max_size=256)
    gate = Middleware(
        AdmissionGate,
        quotas=QUOTAS,
        signer=SIGNER,
        pending=lambda: gradio_pending(demo, SIGNER, hops=1),
        hops=1,
        uploads=UploadBudget(UPLOAD_BUDGET, 10**9, 600.0),
    )
    _, url, _ = demo.launch(
        prevent_thread_lock=True, quiet=True, mcp_server=True, app_kwargs={"middleware": [gate]}
    )
    yield url.rstrip("/") + "/gradio_api", demo, release, seen
    release.set()
    demo.close()


@pytest.fixture
def api(served):
    """The api url with an empty queue; the jobs a test leaves are released after it."""
    url, demo, release, _ = served
    release.clear()
    yield url
    release.set()
    for _ in range(200):  # let the released jobs finish
        if not gradio_pending(demo, SIGNER):
            break
        threading.Event().wait(0.05)


def join(api: str, visitor: str, address: str, session: str) -> httpx.Response:
    body = {
        "data": ["x"],
        "fn_index": 0,
        "session_hash": session,
        "event_data": None,
        "trigger_id": None,
    }
    headers = {"X-Forwarded-For": address, "Cookie": f"{COOKIE_NAME}={visitor}"}
    return httpx.post(f"{api}/queue/join", json=body, headers=headers, timeout=30)


def call(api: str, address: str, v2: bool) -> httpx.Response:
    """A raw session-less, cookie-less `call` or `call/v2` of `slow`."""
    route, body = ("call/v2/slow", {"x": "x"}) if v2 else ("call/slow", {"data": ["x"]})
    headers = {"X-Forwarded-For": address}
    return httpx.post(f"{api}/{route}", json=body, headers=headers, timeout=30)


def test_pending_caps_per_visitor_address_and_queue(api):
    a, b, c, d, e = (SIGNER.new_anonymous_token() for _ in range(5))
    assert join(api, a, "1.1.1.1", "s1").status_code == 200
    assert join(api, a, "1.1.1.1", "s2").status_code == 200
    flood = join(api, a, "1.1.1.1", "fresh-session-hash")
    assert flood.status_code == 429 and "you already have 2 jobs" in flood.json()["detail"]
    assert join(api, b, "1.1.1.1", "s3").status_code == 200
    same_address = join(api, c, "1.1.1.1", "s4")
    assert same_address.status_code == 429 and "network address" in same_address.json()["detail"]
    assert join(api, d, "2.2.2.2", "s5").status_code == 200
    full = join(api, e, "3.3.3.3", "s6")
    assert full.status_code == 503 and "the queue is full" in full.json()["detail"]


def test_forged_cookie_counts_as_its_session(api):
    forged = "anon-" + "0" * 32 + ".x"
    assert join(api, forged, "1.1.1.1", "s1").status_code == 200
    assert join(api, forged, "1.1.1.1", "s1").status_code == 200
    assert join(api, forged, "1.1.1.1", "s1").status_code == 429


def test_call_routes_are_admitted_like_joins(api):
    """The finding: from an address at its cap, 65 of 70 `call`s were accepted, and then every
    visitor got 'queue is full'. Now none is, and another visitor still gets in."""
    for session in ("s1", "s2", "s3"):  # three visitors fill the address's cap of 3
        assert join(api, SIGNER.new_anonymous_token(), "1.1.1.1", session).status_code == 200
    codes = [call(api, "1.1.1.1", v2=i % 2 == 1).status_code for i in range(70)]
    assert codes.count(200) == 0 and set(codes) == {429}
    other = join(api, SIGNER.new_anonymous_token(), "2.2.2.2", "s9")
    assert other.status_code == 200


def test_session_less_calls_count_against_the_address(api):
    codes = [call(api, "1.1.1.1", v2=i % 2 == 1).status_code for i in range(70)]
    assert codes.count(200) <= QUOTAS.max_pending_per_address
    assert join(api, SIGNER.new_anonymous_token(), "2.2.2.2", "s1").status_code == 200


def test_parallel_calls_are_admitted_only_up_to_the_cap(api):
    """70 `call`s at once: the gate counts the ones it let through until Gradio queued them."""
    with ThreadPoolExecutor(max_workers=35) as pool:
        codes = list(pool.map(lambda i: call(api, "1.1.1.1", v2=i % 2 == 1).status_code, range(70)))
    assert 1 <= codes.count(200) <= QUOTAS.max_pending_per_address
    assert join(api, SIGNER.new_anonymous_token(), "2.2.2.2", "s1").status_code == 200


def test_forged_first_hops_share_the_proxys_hop(api):
    """The finding: a different forged first `X-Forwarded-For` hop on each join got 63 joins
    in. The address is the hop the proxy appended (the last one), so they share one cap."""
    codes = []
    for i in range(63):
        forged = f"10.0.{i}.1, 1.1.1.1"
        codes.append(join(api, SIGNER.new_anonymous_token(), forged, f"s{i}").status_code)
    assert codes.count(200) == QUOTAS.max_pending_per_address


def test_client_address_takes_the_trusted_hop():
    headers = [(b"x-forwarded-for", b"6.6.6.6, 1.1.1.1, 10.0.0.2")]
    assert client_address(headers, "10.0.0.9", hops=0) == "10.0.0.9"
    assert client_address(headers, "10.0.0.9", hops=1) == "10.0.0.2"
    assert client_address(headers, "10.0.0.9", hops=2) == "1.1.1.1"
    assert client_address([], "10.0.0.9", hops=1) == "10.0.0.9"


def upload(api: str, cookie: str, size: int) -> httpx.Response:
    files = {"files": ("a.bin", b"\0" * size, "application/octet-stream")}
    headers = {"Cookie": f"{COOKIE_NAME}={cookie}", "X-Forwarded-For": "1.1.1.1"}
    return httpx.post(f"{api}/upload", files=files, headers=headers, timeout=30)


def test_upload_budget_per_visitor(api):
    greedy, other = SIGNER.new_anonymous_token(), SIGNER.new_anonymous_token()
    assert upload(api, greedy, UPLOAD_BUDGET // 2).status_code == 200
    refused = upload(api, greedy, UPLOAD_BUDGET // 2)
    assert refused.status_code == 429 and "upload limit reached" in refused.json()["detail"]
    assert upload(api, other, UPLOAD_BUDGET // 2).status_code == 200


def test_upload_budget_total():
    budget = UploadBudget(per_visitor_bytes=100, total_bytes=150, window_s=60.0)
    budget.record("a", 100)
    assert "this server has taken its limit" in budget.refusal("b", 60)
    assert budget.refusal("b", 50) is None


def mcp_call(api: str, address: str, session: str = "") -> httpx.Response:
    rpc = {"jsonrpc": "2.0", "id": 1, "method": "tools/call"}
    rpc["params"] = {"name": "echo", "arguments": {"x": "hi"}}
    headers = {"X-Forwarded-For": address, "Accept": "application/json, text/event-stream"}
    if session:
        headers["mcp-session-id"] = session
    return httpx.post(f"{api}/mcp/", json=rpc, headers=headers, timeout=30)


def test_each_mcp_caller_has_its_own_identity(served, api):
    """The finding: cookie-less MCP callers shared Gradio's loopback client's identity, so
    four of them locked a fifth out. Each address (and MCP session) is a visitor of its own."""
    seen = served[3]
    seen.clear()
    for address in ("1.1.1.1", "2.2.2.2", "2.2.2.2", "3.3.3.3"):
        response = mcp_call(api, address)
        assert response.status_code == 200 and "hi" in response.text
    mcp_call(api, "3.3.3.3", session="another-session")
    visitors = [SIGNER.anonymous_id(token) for token in seen]
    assert None not in visitors and len(visitors) == 5
    assert visitors[1] == visitors[2] and len(set(visitors)) == 4


def test_every_route_that_can_start_work_is_classified(served):
    """Walks the live route table (mounted apps included): a POST route or mount that a later
    Gradio adds fails here until `ROUTE_KINDS` has a row for it."""
    demo = served[1]
    assert unclassified_routes(demo.server_app.routes) == []
    for path, kind in (
        ("/gradio_api/queue/join", JOB),
        ("/gradio_api/call/generate", JOB),
        ("/gradio_api/call/v2/generate", JOB),
        ("/gradio_api/run/generate", JOB),
        ("/gradio_api/upload", UPLOAD),
        ("/gradio_api/mcp/", MCP),
        ("/gradio_api/mcp/messages/", MCP),
    ):
        assert route_kind(path) == kind, path


def test_an_unknown_route_fails_the_walk():
    from starlette.routing import Mount, Route

    routes = [Route("/gradio_api/new_thing", lambda r: None, methods=["POST"])]
    routes.append(Mount("/gradio_api/other", app=lambda s, r, se: None))
    assert len(unclassified_routes(routes)) == 2


def test_an_upload_without_a_declared_size_is_cut_off_at_the_budget(api):
    """A chunked body (no Content-Length) is counted as it arrives and stopped past the
    budget; what arrived counts."""
    cookie = SIGNER.new_anonymous_token()
    boundary = "b0undary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="a.bin"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()

    def chunks():
        yield head
        for _ in range(30):
            yield b"\0" * 10_000  # 300 KB in all, the budget is 100 KB

    headers = {
        "Cookie": f"{COOKIE_NAME}={cookie}",
        "Content-Type": f"multipart/form-data; boundary={boundary}",
    }
    try:
        cut = httpx.post(f"{api}/upload", content=chunks(), headers=headers, timeout=30)
        assert cut.status_code != 200
    except httpx.HTTPError:
        pass  # the server stopped reading
    assert upload(api, cookie, 10).status_code == 429
