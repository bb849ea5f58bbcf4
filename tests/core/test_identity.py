"""Who is asking: owner only at the keyboard, unguessable signed anonymous ids, tamper-proof."""

from __future__ import annotations

import os
import re
from types import SimpleNamespace

import pytest

from core.errors import UserInputError
from core.identity import (
    COOKIE_NAME,
    OWNER,
    Deployment,
    Signer,
    VisitorCookieMiddleware,
    browser_token_for,
    identify,
    is_loopback,
    load_secret,
)
from tests.conftest import run_coroutine

SPACE = Deployment(space_id="someone/gan-studio")
signer = Signer(b"s" * 32)


def request(cookies=None, session_hash="abc123"):
    return SimpleNamespace(cookies=cookies or {}, session_hash=session_hash)


@pytest.mark.parametrize(
    ("deployment", "owner"),
    [
        (Deployment(), True),
        (Deployment(server_name="localhost"), True),
        (Deployment(server_name="::1"), True),
        (Deployment(server_name="0.0.0.0"), False),
        (Deployment(server_name="192.168.1.5"), False),
        (Deployment(share=True), False),
        (Deployment(space_id="a/b"), False),
        (Deployment(space_id="a/b", server_name="127.0.0.1"), False),
    ],
)
def test_owner_only_on_loopback_without_share_or_space(deployment, owner):
    who = identify(request(), None, None, deployment, signer=signer)
    assert who.is_owner is owner
    assert (who == OWNER) is owner


def test_deployment_from_env_reads_space_id():
    assert Deployment.from_env(env={"SPACE_ID": "a/b"}).on_space
    assert Deployment.from_env(env={}).owner_at_keyboard
    assert not Deployment.from_env(env={"GRADIO_SERVER_NAME": "0.0.0.0"}).owner_at_keyboard
    assert not is_loopback("example.com")


def test_anonymous_ids_are_random_and_well_formed():
    ids = {signer.anonymous_id(signer.new_anonymous_token()) for _ in range(500)}
    assert len(ids) == 500
    assert all(re.fullmatch(r"anon-[0-9a-f]{32}", i) for i in ids)


def test_anonymous_id_is_never_taken_from_a_typed_name():
    forged = "anon-" + "0" * 32  # a well-formed id, unsigned
    who = identify(request({COOKIE_NAME: forged}), None, None, SPACE, signer=signer)
    assert who.owner_id != forged
    who = identify(request(), None, None, SPACE, signer=signer, browser_token=forged)
    assert who.owner_id != forged


def test_signed_cookie_gives_the_same_id_across_sessions():
    token = signer.new_anonymous_token()
    a = identify(request({COOKIE_NAME: token}, "page-1"), None, None, SPACE, signer=signer)
    b = identify(request({COOKIE_NAME: token}, "page-2"), None, None, SPACE, signer=signer)
    assert a.owner_id == b.owner_id == token.rpartition(".")[0]
    assert a.kind == "anonymous" and a.token is None


@pytest.mark.parametrize("where", ["value", "mac", "other-secret", "not-anon"])
def test_tampered_token_is_rejected(where):
    token = signer.new_anonymous_token()
    value, _, mac = token.rpartition(".")
    forged = {
        "value": value[:-1] + ("1" if value[-1] != "1" else "2") + "." + mac,
        "mac": value + "." + mac[:-1] + ("A" if mac[-1] != "A" else "B"),
        "other-secret": Signer(b"t" * 32).new_anonymous_token(),
        "not-anon": signer.sign("hf-alice"),
    }[where]
    assert signer.anonymous_id(forged) is None
    who = identify(request({COOKIE_NAME: forged}), None, None, SPACE, signer=signer)
    assert who.owner_id != forged.rpartition(".")[0]


def test_session_fallback_is_stable_and_not_chosen_by_the_caller():
    a = identify(request(session_hash="s1"), None, None, SPACE, signer=signer)
    b = identify(request(session_hash="s1"), None, None, SPACE, signer=signer)
    c = identify(request(session_hash="s2"), None, None, SPACE, signer=signer)
    assert a.owner_id == b.owner_id != c.owner_id
    assert "s1" not in a.owner_id
    assert Signer(b"t" * 32).session_id("s1") != a.owner_id


def test_browser_state_token_round_trip():
    who = identify(request(session_hash="s1"), None, None, SPACE, signer=signer)
    saved = browser_token_for(who, signer)
    later = identify(
        request(session_hash="s9"), None, None, SPACE, signer=signer, browser_token=saved
    )
    assert later.owner_id == who.owner_id
    assert browser_token_for(OWNER, signer) is None


def test_signed_in_visitor_uses_their_own_token():
    profile = SimpleNamespace(username="alice")
    token = SimpleNamespace(token="oauth-alice")
    who = identify(request(), profile, token, SPACE, signer=signer)
    assert (who.kind, who.owner_id, who.token) == ("signed_in", "hf-alice", "oauth-alice")
    assert who.require_signed_in() == "oauth-alice"
    assert "oauth-alice" not in repr(who)


def test_bad_username_refused():
    with pytest.raises(UserInputError):
        identify(request(), SimpleNamespace(username="../x"), None, SPACE, signer=signer)


def test_anonymous_must_sign_in_to_push_and_owner_uses_own_login():
    anon = identify(request(), None, None, SPACE, signer=signer)
    with pytest.raises(UserInputError, match="sign in with Hugging Face"):
        anon.require_signed_in()
    assert OWNER.require_signed_in() is None


def test_secret_is_created_once_private_and_env_wins(tmp_path):
    path = tmp_path / "data" / "secret"
    first = load_secret(path, env={})
    assert len(first) == 32 and load_secret(path, env={}) == first
    assert os.stat(path).st_mode & 0o077 == 0
    assert load_secret(path, env={"GAN_STUDIO_SECRET": "x" * 20}) == b"x" * 20
    assert not list(path.parent.glob("*.tmp-*"))


def _serve(middleware, cookie: str | None) -> list[tuple[bytes, bytes]]:
    sent = []

    async def app(scope, receive, send):
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async def send(message):
        sent.append(message)

    headers = [(b"cookie", f"{COOKIE_NAME}={cookie}".encode())] if cookie else []
    scope = {"type": "http", "method": "GET", "path": "/", "headers": headers}
    run_coroutine(middleware(app)(scope, None, send))
    return sent[0]["headers"]


def test_cookie_middleware_issues_a_signed_cookie_only_when_missing_or_invalid():
    mw = lambda app: VisitorCookieMiddleware(app, signer, secure=True)  # noqa: E731
    issued = dict(_serve(mw, None))[b"set-cookie"].decode()
    token = issued.split(";")[0].split("=", 1)[1]
    assert signer.anonymous_id(token)
    assert "HttpOnly" in issued and "Secure" in issued and "SameSite=None" in issued
    assert _serve(mw, token) == []
    assert b"set-cookie" in dict(_serve(mw, "anon-" + "0" * 32 + ".bad"))
