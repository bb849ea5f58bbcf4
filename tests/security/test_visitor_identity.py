"""Visitor identity through a real Gradio app: the signed cookie survives a reload, a
`gradio_client.Client` keeps one identity for its life, forged cookies are ignored, and a
signed-in visitor (Gradio's local OAuth mock) is hf-<username> with their own token."""

from __future__ import annotations

import json

import gradio as gr
import httpx
import pytest
from gradio_client import Client
from starlette.middleware import Middleware

from core.identity import COOKIE_NAME, Deployment, Signer, VisitorCookieMiddleware, identify

SIGNER = Signer(b"k" * 32)
SPACE = Deployment(space_id="someone/gan-studio")


def whoami(request: gr.Request, profile: gr.OAuthProfile | None, token: gr.OAuthToken | None):
    who = identify(request, profile, token, SPACE, signer=SIGNER)
    return json.dumps({"id": who.owner_id, "kind": who.kind, "token": who.token})


def launch(login: bool):
    with gr.Blocks(analytics_enabled=False) as demo:
        if login:
            gr.LoginButton()
        out, button = gr.Textbox(), gr.Button()
        button.click(whoami, None, out, api_name="whoami")
    demo.queue()
    _, url, _ = demo.launch(
        prevent_thread_lock=True,
        quiet=True,
        app_kwargs={"middleware": [Middleware(VisitorCookieMiddleware, signer=SIGNER)]},
    )
    return demo, url


@pytest.fixture(scope="module")
def url():
    demo, url = launch(login=False)
    yield url
    demo.close()


def ask(client: Client) -> dict:
    return json.loads(client.predict(api_name="/whoami"))


def test_client_keeps_its_identity_and_clients_differ(url):
    one, two = Client(url, verbose=False), Client(url, verbose=False)
    a1, a2, b = ask(one), ask(one), ask(two)
    assert a1["id"] == a2["id"] != b["id"]
    assert a1["kind"] == "anonymous"
    assert SIGNER.anonymous_id(one.cookies[COOKIE_NAME]) == a1["id"]


def test_reload_keeps_the_cookie_identity(url):
    cookie = httpx.get(url, timeout=60).cookies[COOKIE_NAME]  # the page load sets it
    pages = [
        Client(url, verbose=False, httpx_kwargs={"cookies": {COOKIE_NAME: cookie}}) for _ in "ab"
    ]
    assert pages[0].session_hash != pages[1].session_hash
    assert ask(pages[0])["id"] == ask(pages[1])["id"] == SIGNER.anonymous_id(cookie)


def test_forged_cookie_is_ignored(url):
    victim = Client(url, verbose=False)
    victim_id = ask(victim)["id"]
    forged = victim_id + ".forged-signature"
    attacker = Client(url, verbose=False, httpx_kwargs={"cookies": {COOKIE_NAME: forged}})
    assert ask(attacker)["id"] != victim_id


@pytest.fixture
def machine_login(monkeypatch):
    """Gradio's OAuth mock signs in as the machine's Hub login: stand in for that login."""
    import gradio.oauth

    user = {"type": "user", "name": "alice", "fullname": "Alice", "avatarUrl": ""}
    monkeypatch.setattr(gradio.oauth, "get_token", lambda: "hf_machine_token")
    monkeypatch.setattr(gradio.oauth, "whoami", lambda: user)


def test_signed_in_visitor_through_gradio_oauth_mock(machine_login):
    pytest.importorskip("itsdangerous", reason="gradio[oauth] is needed for gr.LoginButton")
    demo, url = launch(login=True)
    try:
        with httpx.Client(base_url=url, follow_redirects=False) as browser:
            callback = browser.get("/login/huggingface").headers["location"]
            session = browser.get(callback).cookies["session"]
        signed_in = Client(url, verbose=False, httpx_kwargs={"cookies": {"session": session}})
        who = ask(signed_in)
        assert who == {
            "id": "hf-alice",
            "kind": "signed_in",
            "token": "mock-oauth-token-for-local-dev",
        }
        assert ask(Client(url, verbose=False))["kind"] == "anonymous"
    finally:
        demo.close()
