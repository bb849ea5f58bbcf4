"""The per-visitor item store behind My latents: quotas, expiry, atomic writes, id checks."""

from __future__ import annotations

import pytest

from core.errors import UserInputError
from core.library import ItemStore
from core.quotas import Quotas

A = "anon-" + "a" * 32
B = "anon-" + "b" * 32


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def make(tmp_path, clock=None, **limits) -> ItemStore:
    quotas = Quotas(**limits)
    return ItemStore(tmp_path / "library", quotas, clock or Clock())


def add(store: ItemStore, owner: str, name: str = "x", size: int = 10):
    return store.add(owner, {"latent.npy": b"0" * size}, {"name": name})


def test_an_item_is_seen_only_by_its_owner(tmp_path):
    store = make(tmp_path)
    item = add(store, A, "mine")
    assert [i.name for i in store.items(A)] == ["mine"]
    assert store.items(B) == []
    for act in (
        lambda: store.get(B, item.item_id),
        lambda: store.rename(B, item.item_id, "taken"),
        lambda: store.delete(B, item.item_id),
    ):
        with pytest.raises(UserInputError, match="no such entry"):
            act()
    assert store.get(A, item.item_id).name == "mine"  # untouched


@pytest.mark.parametrize(
    "bad_id", ["../" + "a" * 32, "a" * 31, "A" * 32, "", None, 42, "a" * 32 + "/..", "."]
)
def test_malformed_ids_answer_as_missing_ones_and_touch_no_path(tmp_path, bad_id):
    store = make(tmp_path)
    add(store, A)
    with pytest.raises(UserInputError, match="no such entry"):
        store.get(A, bad_id)
    with pytest.raises(UserInputError, match="no such entry"):
        store.delete(A, bad_id)
    assert len(store.items(A)) == 1


def test_bad_owner_ids_are_refused(tmp_path):
    store = make(tmp_path)
    for owner in ("../owner", "anon-../../x", "hf-a/b", ""):
        with pytest.raises(ValueError):
            store.items(owner)


def test_the_oldest_items_give_way_over_the_count_quota(tmp_path):
    clock = Clock()
    store = make(tmp_path, clock, library_max_items=3)
    for i in range(5):
        clock.now += 1
        add(store, A, f"n{i}")
    assert [i.name for i in store.items(A)] == ["n4", "n3", "n2"]


def test_the_oldest_items_give_way_over_the_mb_quota_and_a_too_large_one_is_refused(tmp_path):
    clock = Clock()
    store = make(tmp_path, clock, library_max_mb=0.001)  # 1048 bytes
    for i in range(3):
        clock.now += 1
        add(store, A, f"n{i}", size=400)
    assert [i.name for i in store.items(A)] == ["n2", "n1"]
    with pytest.raises(UserInputError, match="too large"):
        add(store, A, "big", size=2000)


def test_all_visitors_share_a_budget_the_oldest_anonymous_items_go_first(tmp_path):
    clock = Clock()
    store = make(tmp_path, clock, library_budget_mb=0.001)  # 1048 bytes for everyone
    signed_in = "hf-someone"
    for owner in (A, signed_in, B):
        clock.now += 1
        add(store, owner, size=400)
    assert store.items(A) == [] and len(store.items(B)) == 1  # A's was the oldest anonymous
    clock.now += 1
    add(store, B, size=400)
    assert len(store.items(signed_in)) == 1  # a signed-in visitor's item is never taken
    with pytest.raises(UserInputError, match="full"):
        add(store, signed_in, size=900)
    assert len(store.items(B)) == 1  # nothing was taken for a write that cannot fit


def test_anonymous_items_expire_and_signed_in_ones_stay(tmp_path):
    clock = Clock()
    store = make(tmp_path, clock, anon_ttl_h=1.0)
    signed_in = "hf-someone"
    old = add(store, A)
    add(store, signed_in)
    clock.now += 3601
    assert store.items(A) == []
    assert not old.folder.exists()
    assert len(store.items(signed_in)) == 1


def test_an_interrupted_write_leaves_no_item(tmp_path):
    store = make(tmp_path)
    with pytest.raises(ValueError):
        store.add(A, {"latent.npy": b"1", "../escape.npy": b"2"}, {"name": "x"})
    assert store.items(A) == []
    assert not list((tmp_path / "library" / A).iterdir())  # no temporary folder left
    assert not (tmp_path / "library" / "escape.npy").exists()


def test_rename_replaces_the_name_only(tmp_path):
    store = make(tmp_path)
    item = store.add(A, {"latent.npy": b"1"}, {"name": "old", "space": "z"})
    renamed = store.rename(A, item.item_id, "  new\nname\x00 ")
    assert renamed.name == "new name" and renamed.meta["space"] == "z"
    with pytest.raises(UserInputError, match="name"):
        store.rename(A, item.item_id, "   ")
