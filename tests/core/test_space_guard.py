"""The composition helper picks visitor or owner settings from how the app is served."""

from __future__ import annotations

from core.identity import OWNER
from core.space_guard import SpaceGuard


def build(tmp_path, **env):
    env = {"GAN_STUDIO_DATA": str(tmp_path), **env}
    return SpaceGuard.from_env(
        None, False, shared=lambda: ["shipped"], shared_folder=lambda n: tmp_path / n, env=env
    )


def test_on_a_space_visitors_get_safe_quotas_and_all_middleware(tmp_path):
    guard = build(tmp_path, SPACE_ID="someone/space")
    assert not guard.deployment.owner_at_keyboard and not guard.quotas.allow_hub_ids
    assert len(guard.middleware(demo=None)) == 3
    assert guard.who(None, None, None).is_anonymous
    assert guard.models.root == tmp_path / "models"
    assert (tmp_path / ".gan-studio-secret").is_file()


def test_on_a_laptop_the_owner_keeps_todays_behaviour(tmp_path):
    guard = build(tmp_path)
    assert guard.who(None, None, None) == OWNER
    assert guard.quotas.allow_hub_ids and guard.hub.owner_login
    assert len(guard.middleware(demo=None)) == 2


def test_secret_survives_a_restart(tmp_path):
    first, second = build(tmp_path, SPACE_ID="a/b"), build(tmp_path, SPACE_ID="a/b")
    token = first.signer.new_anonymous_token()
    assert second.signer.anonymous_id(token) is not None


def test_resolve_typed_id_refused_for_visitors_and_own_models_first(tmp_path, monkeypatch):
    import pytest

    from core.hub_access import HubRefusedError
    from core.identity import Identity

    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # any request would fail loudly
    guard = build(tmp_path, SPACE_ID="someone/space")
    visitor = Identity(kind="anonymous", owner_id="anon-" + "c" * 32)
    with pytest.raises(HubRefusedError, match="turned off"):
        guard.resolve(visitor, "someorg/private-model@main")
    folder = guard.models.check_new(visitor, "mine")
    folder.mkdir(parents=True)
    (folder / "config.json").write_text("{}")
    (folder / "model.safetensors").write_bytes(b"w")
    assert guard.resolve(visitor, "mine") == folder


def test_visitors_use_configured_hub_network_files_and_name_no_other(tmp_path, monkeypatch):
    import pytest

    from core import store
    from core.errors import UserInputError
    from core.identity import Identity

    sha = "a" * 40
    monkeypatch.setenv("GAN_STUDIO_HUB_MODELS", f"nv/sg2@{sha}:ffhq.pkl")
    monkeypatch.setattr(store, "_hub_file_converter", lambda ref, target: target)
    guard = build(tmp_path, SPACE_ID="someone/space")
    visitor = Identity(kind="anonymous", owner_id="anon-" + "c" * 32)
    folder = guard.resolve(visitor, f"nv/sg2@{sha}:ffhq.pkl")
    assert folder.parent == store.zoo_dir()
    with pytest.raises(UserInputError, match="owner configured"):
        guard.resolve(visitor, f"nv/sg2@{sha}:other.pkl")
    with pytest.raises(UserInputError):
        guard.resolve(visitor, f"someone/else@{sha}:x.pkl")
