"""`core.store.scoped`: a visitor's request sees their own models and the shared ones, never
another visitor's, and reaches the Hub only through the scope's bounded access."""

from __future__ import annotations

from pathlib import Path

import pytest

from core import store
from tests.conftest import tiny_generator


def save(folder: Path) -> Path:
    folder.parent.mkdir(parents=True, exist_ok=True)
    G = tiny_generator()
    return store.save_pretrained(folder, G.config.to_dict(), G.state_dict(), card="# t")


def scope_for(root: Path, owner: str, fetched: list) -> store.Scope:
    def fetch(ref, files):
        fetched.append((str(ref), files))
        raise store.ModelNotFoundError("refused")

    return store.Scope(own=root / owner, fetch_hub=fetch, hub_token=lambda ref: False)


def test_a_visitor_sees_own_and_shared_models_only(checkpoints, tmp_path):
    save(checkpoints / "shared-model")
    root = tmp_path / "models"
    save(root / "anon-a" / "mine")
    fetched: list = []
    with store.scoped(scope_for(root, "anon-a", fetched)):
        assert store.resolve("mine") == root / "anon-a" / "mine"
        assert store.resolve("shared-model") == checkpoints / "shared-model"
        assert store.list_local() == ["shared-model"]
        assert store.own_models_dir() == root / "anon-a"
    with store.scoped(scope_for(root, "anon-b", fetched)):
        with pytest.raises(store.ModelNotFoundError, match="no model 'mine'"):
            store.resolve("mine")
        assert store.local_model_dir("shared-model") is None  # not theirs to resume or push
    assert store.resolve("shared-model") == checkpoints / "shared-model"  # no scope: as before
    assert store.own_models_dir() == checkpoints


def test_a_typed_hub_id_goes_only_through_the_scope(checkpoints, tmp_path, hub):
    fetched: list = []
    refused = pytest.raises(store.ModelNotFoundError, match="refused")
    with store.scoped(scope_for(tmp_path, "anon-a", fetched)), refused:
        store.resolve("someorg/private@main")
    assert fetched == [("someorg/private@main", ["config.json", "model.safetensors"])]
    assert not [p for _, p in hub.requests if "someorg" in p]
