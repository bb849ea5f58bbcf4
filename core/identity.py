"""Who is asking: the owner at the keyboard, an anonymous visitor, or a signed-in visitor.

- The *owner* is the person at the keyboard: the app is served only on a loopback address, not
  shared, and not on a Space (`SPACE_ID` unset). The owner's namespace is "owner".
- Everyone else is a *visitor*. A visitor who signed in with Hugging Face (`gr.OAuthProfile`) is
  "hf-<username>" and carries their own OAuth token (never the server's).
- An anonymous visitor gets an unguessable random id "anon-<32 hex>", issued by the server and
  signed with HMAC-SHA256 under the server secret, never derived from anything they type. It
  travels in an HttpOnly cookie (`VisitorCookieMiddleware` sets it on the first response, the
  page load for a browser and `/config` for a `gradio_client.Client`, which keeps the cookies of
  that response for its whole life). `identify` also takes the same signed token from a
  `gr.BrowserState` (`browser_token_for` makes it), for a page whose browser blocks the cookie
  (a Space inside an iframe); the tabs do not pass one yet. A tampered or foreign token is
  ignored. A caller with neither gets an id derived (HMAC) from its Gradio session hash, so it
  keeps one identity per session (a page reload is a new visitor) and cannot pick another
  visitor's id.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import logging
import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any, Literal

from core.errors import UserInputError

log = logging.getLogger(__name__)

OWNER_ID = "owner"
ANON_PREFIX = "anon-"
HF_PREFIX = "hf-"
COOKIE_NAME = "gan_studio_visitor"
COOKIE_MAX_AGE_S = 30 * 24 * 3600
SECRET_ENV = "GAN_STUDIO_SECRET"

_ANON_RE = re.compile(r"^anon-[0-9a-f]{32}$")
_HF_USER_RE = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,94}[A-Za-z0-9])?$")
Kind = Literal["owner", "anonymous", "signed_in"]


# --- Deployment ----------------------------------------------------------------------------


def is_loopback(server_name: str) -> bool:
    """True for "localhost", 127.0.0.0/8 and ::1; False for "0.0.0.0", names and other IPs."""
    name = server_name.strip().strip("[]").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class Deployment:
    """How the app is served, which decides whether the person at the keyboard is the owner."""

    space_id: str | None = None
    server_name: str = "127.0.0.1"
    share: bool = False

    @classmethod
    def from_env(
        cls,
        server_name: str | None = None,
        share: bool = False,
        env: Mapping[str, str] = os.environ,
    ) -> Deployment:
        """`SPACE_ID` from the environment; the server name from the argument, else
        `GRADIO_SERVER_NAME`, else Gradio's default 127.0.0.1."""
        name = server_name or env.get("GRADIO_SERVER_NAME") or "127.0.0.1"
        return cls(space_id=env.get("SPACE_ID") or None, server_name=name, share=share)

    @property
    def on_space(self) -> bool:
        return self.space_id is not None

    @property
    def owner_at_keyboard(self) -> bool:
        return not self.on_space and not self.share and is_loopback(self.server_name)


# --- Identity ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Identity:
    """Who is asking. `owner_id` is the namespace of their runs and models."""

    kind: Kind
    owner_id: str
    username: str | None = None
    token: str | None = field(default=None, repr=False)  # the visitor's OAuth token only

    @property
    def is_owner(self) -> bool:
        return self.kind == "owner"

    @property
    def is_anonymous(self) -> bool:
        return self.kind == "anonymous"

    def require_signed_in(self, action: str = "push to the Hub") -> str | None:
        """The OAuth token of a signed-in visitor; None for the owner (their own login)."""
        if self.is_owner:
            return None
        if self.kind != "signed_in" or not self.token:
            raise UserInputError(f"sign in with Hugging Face to {action}")
        return self.token


OWNER = Identity(kind="owner", owner_id=OWNER_ID)


# --- Signing -------------------------------------------------------------------------------


class Signer:
    """HMAC-SHA256 signatures of short values under the server secret."""

    def __init__(self, secret: bytes) -> None:
        if len(secret) < 16:
            raise ValueError("the server secret must be at least 16 bytes")
        self._key = hashlib.sha256(b"gan-studio-visitor\0" + secret).digest()

    def _mac(self, value: str) -> str:
        digest = hmac.new(self._key, value.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")

    def sign(self, value: str) -> str:
        return f"{value}.{self._mac(value)}"

    def verify(self, token: Any) -> str | None:
        """The signed value, or None when `token` is not a string this server signed."""
        if not isinstance(token, str) or len(token) > 256 or "." not in token:
            return None
        value, _, mac = token.rpartition(".")
        return value if hmac.compare_digest(mac, self._mac(value)) else None

    def new_anonymous_token(self) -> str:
        """A fresh signed anonymous id: 128 random bits from the OS generator."""
        return self.sign(ANON_PREFIX + secrets.token_hex(16))

    def anonymous_id(self, token: Any) -> str | None:
        """The anonymous id inside a signed token, or None (tampered, foreign, or not anon)."""
        value = self.verify(token)
        return value if value is not None and _ANON_RE.fullmatch(value) else None

    def session_id(self, session_hash: str) -> str:
        """A stable anonymous id for a session without a cookie: HMAC of its session hash, so a
        caller cannot choose the resulting id."""
        return self.derived_id("session", session_hash)

    def derived_id(self, purpose: str, value: str) -> str:
        """An anonymous id derived (HMAC) from `value` for `purpose` ("session", "mcp")."""
        digest = hmac.new(self._key, f"{purpose}\0{value}".encode(), hashlib.sha256)
        return ANON_PREFIX + digest.hexdigest()[:32]


def load_secret(path: Path, env: Mapping[str, str] = os.environ) -> bytes:
    """The server secret: `$GAN_STUDIO_SECRET` when set, else the file at `path`, created once
    with 32 random bytes (atomically: written aside, then hard-linked into place, so two
    processes starting together agree on one secret)."""
    if env.get(SECRET_ENV):
        return env[SECRET_ENV].encode()
    if path.is_file():
        return path.read_bytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.tmp-{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, secrets.token_bytes(32))
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(tmp, path)  # fails when another process won the race: use theirs
    except FileExistsError:
        pass
    finally:
        tmp.unlink()
    return path.read_bytes()


# --- Who is asking -------------------------------------------------------------------------


def _cookie(request: Any, name: str) -> Any:
    """One cookie of a `gr.Request` (whose `.cookies` is Gradio's `Obj`, not a Mapping), a
    Starlette request, or None."""
    try:
        cookies = getattr(request, "cookies", None)
        return cookies.get(name) if cookies is not None else None
    except (AttributeError, TypeError):
        return None


def _signed_in(profile: Any, token: Any) -> Identity:
    username = getattr(profile, "username", None)
    if not isinstance(username, str) or not _HF_USER_RE.fullmatch(username):
        raise UserInputError("the Hugging Face sign-in gave no valid username; sign in again")
    oauth = getattr(token, "token", None)
    return Identity(
        kind="signed_in",
        owner_id=HF_PREFIX + username,
        username=username,
        token=oauth if isinstance(oauth, str) and oauth else None,
    )


def identify(
    request: Any,
    profile: Any,
    token: Any,
    deployment: Deployment,
    *,
    signer: Signer | None = None,
    browser_token: Any = None,
) -> Identity:
    """Who is asking, from the Gradio request, the OAuth profile and token Gradio injected
    (`gr.Request | None`, `gr.OAuthProfile | None`, `gr.OAuthToken | None`), and how the app
    is served. Visitors without a valid signed cookie or `browser_token` get the id of their
    session hash; a call with no request at all gets a fresh random id."""
    if deployment.owner_at_keyboard:
        return OWNER
    if profile is not None:
        return _signed_in(profile, token)
    if signer is None:
        raise RuntimeError("identify() needs the server's Signer for anonymous visitors")
    anon = signer.anonymous_id(_cookie(request, COOKIE_NAME))
    anon = anon or signer.anonymous_id(browser_token)
    session_hash = getattr(request, "session_hash", None)
    if anon is None and isinstance(session_hash, str) and session_hash:
        anon = signer.session_id(session_hash)
    if anon is None:
        anon = signer.anonymous_id(signer.new_anonymous_token())
    return Identity(kind="anonymous", owner_id=str(anon))


def browser_token_for(identity: Identity, signer: Signer, current: Any = None) -> str | None:
    """The value a `gr.BrowserState` should hold for this visitor: their current valid token,
    else a token of their anonymous id. None for the owner and signed-in visitors."""
    if not identity.is_anonymous:
        return None
    if signer.anonymous_id(current) == identity.owner_id:
        return str(current)
    return signer.sign(identity.owner_id)


# --- Cookie middleware ---------------------------------------------------------------------


class VisitorCookieMiddleware:
    """ASGI middleware: gives every HTTP client without a valid visitor cookie a fresh signed
    anonymous id in an HttpOnly cookie. `secure=True` (on a Space, served over https inside an
    iframe) sets `Secure; SameSite=None`, else `SameSite=Lax`."""

    def __init__(self, app: Any, signer: Signer, secure: bool = False) -> None:
        self.app = app
        self.signer = signer
        self.secure = secure

    def _has_valid_cookie(self, scope: dict) -> bool:
        for name, value in scope.get("headers", []):
            if name == b"cookie":
                jar: SimpleCookie = SimpleCookie()
                try:
                    jar.load(value.decode("latin-1"))
                except Exception:  # a malformed cookie header: treat as absent
                    continue
                if COOKIE_NAME in jar and self.signer.anonymous_id(jar[COOKIE_NAME].value):
                    return True
        return False

    def set_cookie_header(self, token: str) -> bytes:
        attrs = f"{COOKIE_NAME}={token}; Path=/; Max-Age={COOKIE_MAX_AGE_S}; HttpOnly"
        attrs += "; Secure; SameSite=None" if self.secure else "; SameSite=Lax"
        return attrs.encode("latin-1")

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or self._has_valid_cookie(scope):
            await self.app(scope, receive, send)
            return
        header = self.set_cookie_header(self.signer.new_anonymous_token())

        async def send_with_cookie(message: dict) -> None:
            if message["type"] == "http.response.start":
                message = {
                    **message,
                    "headers": [*message.get("headers", []), (b"set-cookie", header)],
                }
            await send(message)

        await self.app(scope, receive, send_with_cookie)
