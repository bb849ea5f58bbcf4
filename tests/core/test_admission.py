"""The admission gate's pure rules: route kinds, the trusted-proxy setting, MCP identities."""

from __future__ import annotations

import pytest

from core.admission import (
    CLOSED,
    FREE,
    JOB,
    MCP,
    mcp_token,
    proxy_hops,
    request_kind,
    with_cookie,
)
from core.identity import COOKIE_NAME, Signer

SIGNER = Signer(b"a" * 32)


def test_unknown_posts_are_jobs_and_gets_are_free():
    assert request_kind("POST", "/gradio_api/something_new") == JOB
    assert request_kind("GET", "/gradio_api/call/generate/abc") == FREE
    assert request_kind("GET", "/gradio_api/mcp/sse") == MCP
    assert request_kind("POST", "/gradio_api/cancel") == FREE
    assert request_kind("POST", "/gradio_api/vibe-edit/") == CLOSED


def test_trusted_proxy_hops_setting():
    assert proxy_hops(on_space=True, env={}) == 1
    assert proxy_hops(on_space=False, env={}) == 0
    assert proxy_hops(on_space=True, env={"GAN_STUDIO_TRUSTED_PROXY_HOPS": "2"}) == 2
    with pytest.raises(ValueError, match="GAN_STUDIO_TRUSTED_PROXY_HOPS"):
        proxy_hops(on_space=True, env={"GAN_STUDIO_TRUSTED_PROXY_HOPS": "-1"})


def test_an_mcp_identity_per_address_and_session():
    def visitor(address: str, session: str = "") -> str | None:
        headers = [(b"mcp-session-id", session.encode())] if session else []
        return SIGNER.anonymous_id(mcp_token(SIGNER, headers, "", address))

    assert visitor("1.1.1.1") == visitor("1.1.1.1") is not None
    assert len({visitor("1.1.1.1"), visitor("2.2.2.2"), visitor("1.1.1.1", "s")}) == 3
    sse = SIGNER.anonymous_id(mcp_token(SIGNER, [], "session_id=s", "1.1.1.1"))
    assert sse == visitor("1.1.1.1", "s")
    assert Signer(b"b" * 32).anonymous_id(mcp_token(SIGNER, [], "", "1.1.1.1")) is None


def test_with_cookie_replaces_only_the_visitor_cookie():
    forged = f"other=1; {COOKIE_NAME}=forged".encode()
    headers = with_cookie([(b"cookie", forged), (b"host", b"x")], "tok")
    assert headers == [(b"host", b"x"), (b"cookie", f"other=1; {COOKIE_NAME}=tok".encode())]
