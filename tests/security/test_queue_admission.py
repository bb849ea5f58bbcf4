"""The queue flood: one visitor (fresh session hashes, one cookie or one address) cannot fill
Gradio's queue, and a full queue answers with a clear message. A real tiny Gradio app."""

from __future__ import annotations

import threading

import gradio as gr
import httpx
import pytest
from starlette.middleware import Middleware

from core.admission import QueueAdmission, gradio_pending
from core.identity import COOKIE_NAME, Signer
from core.quotas import Quotas

SIGNER = Signer(b"q" * 32)
QUOTAS = Quotas(max_pending_per_visitor=2, max_pending_per_address=3, queue_size=4)


@pytest.fixture
def api():
    release = threading.Event()

    def slow(x: str) -> str:
        release.wait(30)
        return x

    with gr.Blocks(analytics_enabled=False) as demo:
        box = gr.Textbox()
        box.submit(slow, box, box, api_name="slow", concurrency_limit=1)
    demo.queue(max_size=64)
    admission = Middleware(
        QueueAdmission,
        quotas=QUOTAS,
        signer=SIGNER,
        pending=lambda: gradio_pending(demo, SIGNER, trust_forwarded=True),
        trust_forwarded=True,
    )
    _, url, _ = demo.launch(
        prevent_thread_lock=True, quiet=True, app_kwargs={"middleware": [admission]}
    )
    yield url.rstrip("/") + "/gradio_api"
    release.set()
    demo.close()


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
