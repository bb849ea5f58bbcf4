"""Bounded Hub access: typed ids make no request when refused, never carry the server's token,
are measured before any download, and missing/private repos answer alike."""

from __future__ import annotations

import json

import pytest

from core.hub_access import HubAccess, HubRefusedError, not_found_message
from core.quotas import Quotas
from tests.hub_api_server import RecordingHub

SERVER_TOKEN = "hf_server_secret_token"


@pytest.fixture
def hub(monkeypatch, tmp_path):
    server = RecordingHub().start()
    monkeypatch.setenv("HF_ENDPOINT", server.url)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    monkeypatch.setenv("HF_TOKEN", SERVER_TOKEN)  # as on a Space with the secret set
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    yield server
    server.stop()


def add_model(hub: RecordingHub, repo_id: str, weights: bytes = b"w" * 100) -> None:
    hub.add(repo_id, "config.json", json.dumps({"model_type": "dcgan-generator"}).encode())
    hub.add(repo_id, "model.safetensors", weights)
    hub.add(repo_id, "README.md", b"card")
    hub.add(repo_id, "evil.pkl", b"not fetched")


def access(allow: bool = True, max_mb: float = 1.0, configured=()) -> HubAccess:
    return HubAccess(Quotas(allow_hub_ids=allow, hub_max_mb=max_mb), lambda: configured)


def test_typed_id_refused_by_default_makes_no_request(hub):
    add_model(hub, "someone/faces")
    with pytest.raises(HubRefusedError, match="turned off"):
        access(allow=Quotas().allow_hub_ids).fetch("someone/faces", "main")
    assert hub.requests == []


def test_allowed_typed_id_is_fetched_without_any_token(hub):
    add_model(hub, "someone/faces")
    folder = access().fetch("someone/faces", "main", ["README.md"])
    assert (folder / "model.safetensors").read_bytes() == b"w" * 100
    assert hub.requests, "the fetch went to the stand-in Hub"
    assert all(auth is None for auth in hub.authorizations())


def test_only_the_store_files_are_fetched(hub):
    add_model(hub, "someone/faces")
    access().fetch("someone/faces", "main", ["README.md", "discriminator.safetensors"])
    assert not any("evil.pkl" in p for p in hub.paths())
    with pytest.raises(Exception, match="refusing to fetch"):
        access().fetch("someone/faces", "main", ["evil.pkl"])


def test_size_limit_from_metadata_before_any_download(hub):
    add_model(hub, "someone/huge", weights=b"x" * (2 * 1024 * 1024))
    with pytest.raises(HubRefusedError, match="over this server's 1 MB limit"):
        access(max_mb=1.0).fetch("someone/huge", "main")
    assert [m for m, _, _ in hub.requests] == ["POST"]  # paths-info only: nothing downloaded
    assert "paths-info" in hub.paths()[0]


def test_missing_and_private_repos_get_the_same_message(hub):
    add_model(hub, "org/private-model")
    hub.private["org/private-model"] = SERVER_TOKEN
    messages = []
    for repo in ("org/private-model", "org/no-such-model"):
        with pytest.raises(HubRefusedError) as e:
            access().fetch(repo, "main")
        messages.append(str(e.value).replace(repo, "<repo>"))
    assert messages[0] == messages[1] == not_found_message("<repo>@main")
    assert all(auth is None for auth in hub.authorizations())


def test_missing_revision_same_message(hub):
    add_model(hub, "someone/faces")
    with pytest.raises(HubRefusedError) as e:
        access().fetch("someone/faces", "v9")
    assert str(e.value) == not_found_message("someone/faces@v9")


def test_configured_private_model_reads_with_server_token(hub):
    add_model(hub, "org/private-model")
    hub.private["org/private-model"] = SERVER_TOKEN
    owner_configured = access(allow=False, configured=[("org/private-model", "main")])
    folder = owner_configured.fetch("org/private-model", "main")
    assert (folder / "config.json").is_file()
    assert set(hub.authorizations()) == {f"Bearer {SERVER_TOKEN}"}


def test_configured_repo_at_another_revision_is_a_typed_id(hub):
    add_model(hub, "org/private-model")
    acc = access(allow=False, configured=[("org/private-model", "main")])
    with pytest.raises(HubRefusedError, match="turned off"):
        acc.fetch("org/private-model", "other")
    assert hub.requests == []


def test_owner_at_keyboard_uses_their_login_for_typed_ids(hub):
    add_model(hub, "org/private-model")
    hub.private["org/private-model"] = SERVER_TOKEN
    owner = HubAccess(Quotas.for_owner(), owner_login=True)
    assert (owner.fetch("org/private-model", "main") / "config.json").is_file()


def test_unreachable_hub_uses_only_the_cache(hub):
    add_model(hub, "someone/faces")
    access().fetch("someone/faces", "main")
    seen = len(hub.requests)
    offline = HubAccess(Quotas(allow_hub_ids=True), reachable=lambda: False)
    assert (offline.fetch("someone/faces", "main") / "model.safetensors").is_file()
    assert len(hub.requests) == seen
    with pytest.raises(HubRefusedError, match="not cached here"):
        offline.fetch("someone/other", "main")
    assert len(hub.requests) == seen
