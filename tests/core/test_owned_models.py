"""Ownership of visitors' models: namespaces, visibility, quotas and eviction."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from core.errors import UserInputError
from core.identity import OWNER, Identity
from core.owned_models import ModelNotVisibleError, OwnedModels
from core.quotas import Quotas

A = Identity(kind="anonymous", owner_id="anon-" + "a" * 32)
B = Identity(kind="anonymous", owner_id="anon-" + "b" * 32)
ALICE = Identity(kind="signed_in", owner_id="hf-alice", username="alice", token="t")


def write_model(folder: Path, mb: float = 0.1, mtime: float | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text("{}")
    (folder / "model.safetensors").write_bytes(b"\0" * int(mb * 1024 * 1024))
    if mtime is not None:
        for f in folder.iterdir():
            os.utime(f, (mtime, mtime))
    return folder


@pytest.fixture
def shared_dir(tmp_path) -> Path:
    write_model(tmp_path / "checkpoints" / "shipped-faces")
    return tmp_path / "checkpoints"


def registry(tmp_path, shared_dir, clock=lambda: 1e9, **quotas) -> OwnedModels:
    return OwnedModels(
        tmp_path / "data" / "models",
        Quotas(**quotas),
        shared=lambda: ["shipped-faces"],
        shared_folder=lambda name: shared_dir / name,
        clock=clock,
    )


def test_b_cannot_see_resolve_or_delete_a_model(tmp_path, shared_dir):
    reg = registry(tmp_path, shared_dir)
    write_model(reg.check_new(A, "my-faces"))
    assert reg.visible_to(A) == ["shipped-faces", "my-faces"]
    assert reg.visible_to(B) == ["shipped-faces"]
    with pytest.raises(ModelNotVisibleError) as seen:
        reg.resolve(B, "my-faces")
    with pytest.raises(ModelNotVisibleError) as missing:
        reg.resolve(B, "never-made")
    assert str(seen.value).replace("my-faces", "X") == str(missing.value).replace("never-made", "X")
    with pytest.raises(ModelNotVisibleError):
        reg.delete(B, "my-faces")
    assert reg.resolve(A, "my-faces").is_dir()


def test_same_name_in_two_namespaces(tmp_path, shared_dir):
    reg = registry(tmp_path, shared_dir)
    fa, fb = reg.check_new(A, "my-faces"), reg.check_new(ALICE, "my-faces")
    write_model(fa), write_model(fb)
    assert fa != fb
    assert reg.resolve(A, "my-faces") == fa and reg.resolve(ALICE, "my-faces") == fb
    reg.delete(A, "my-faces")
    assert reg.resolve(ALICE, "my-faces") == fb
    with pytest.raises(ModelNotVisibleError):
        reg.resolve(A, "my-faces")


def test_shared_models_visible_to_all_and_not_deletable(tmp_path, shared_dir):
    reg = registry(tmp_path, shared_dir)
    for who in (A, ALICE, OWNER):
        assert reg.resolve(who, "shipped-faces") == shared_dir / "shipped-faces"
    with pytest.raises(UserInputError, match="shared model"):
        reg.delete(A, "shipped-faces")
    with pytest.raises(UserInputError, match="shared model"):
        reg.check_new(A, "shipped-faces")
    assert (shared_dir / "shipped-faces").is_dir()


@pytest.mark.parametrize("name", ["../x", "a/b", ".hidden", "", "x" * 65, "..", "a\\b"])
def test_path_tricks_in_names_refused(tmp_path, shared_dir, name):
    reg = registry(tmp_path, shared_dir)
    with pytest.raises(UserInputError, match="invalid model name"):
        reg.check_new(A, name)
    with pytest.raises(UserInputError, match="invalid model name"):
        reg.resolve(A, name)


def test_bad_namespace_refused(tmp_path, shared_dir):
    reg = registry(tmp_path, shared_dir)
    with pytest.raises(ValueError):
        reg.folder("../owner", "x")


def test_model_count_and_mb_quotas(tmp_path, shared_dir):
    reg = registry(tmp_path, shared_dir, max_models_per_visitor=2, max_mb_per_visitor=1.0)
    write_model(reg.check_new(A, "one"), mb=0.5)
    write_model(reg.check_new(A, "two"), mb=0.4)
    with pytest.raises(UserInputError, match="at most 2"):
        reg.check_new(A, "three")
    reg.check_new(A, "two")  # replacing one's own model is not a new one
    with pytest.raises(UserInputError, match="1 MB"):
        reg.check_size(A, 0.2)
    reg.check_size(B, 0.2)


def test_ttl_expires_anonymous_models_only(tmp_path, shared_dir):
    now = 1_000_000.0
    reg = registry(tmp_path, shared_dir, clock=lambda: now, anon_ttl_h=24)
    old = write_model(reg.folder(A.owner_id, "old"), mtime=now - 25 * 3600)
    fresh = write_model(reg.folder(A.owner_id, "fresh"), mtime=now - 1 * 3600)
    signed = write_model(reg.folder(ALICE.owner_id, "kept"), mtime=now - 90 * 3600)
    removed = reg.evict()
    assert [m.name for m in removed] == ["old"]
    assert not old.exists() and fresh.exists() and signed.exists()


def test_budget_evicts_oldest_anonymous_first_never_in_use(tmp_path, shared_dir):
    now = 1_000_000.0
    reg = registry(tmp_path, shared_dir, clock=lambda: now, visitor_budget_mb=1.0)
    oldest = write_model(reg.folder(A.owner_id, "oldest"), mb=0.4, mtime=now - 30)
    older = write_model(reg.folder(B.owner_id, "older"), mb=0.4, mtime=now - 20)
    newest = write_model(reg.folder(B.owner_id, "newest"), mb=0.4, mtime=now - 10)
    with reg.lease(A.owner_id, "oldest"):
        removed = reg.evict()
        with pytest.raises(UserInputError, match="in use"):
            reg.delete(A, "oldest")
    assert [m.name for m in removed] == ["older"]
    assert oldest.exists() and not older.exists() and newest.exists()
    assert not reg.in_use(A.owner_id, "oldest")


def test_owner_keeps_todays_view(tmp_path, shared_dir):
    reg = registry(tmp_path, shared_dir)
    write_model(reg.check_new(A, "visitor-model"))
    assert reg.visible_to(OWNER) == ["shipped-faces"]
    with pytest.raises(ValueError):
        reg.check_new(OWNER, "x")
