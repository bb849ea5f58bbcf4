"""A per-visitor library of small items (the latent library, "My latents"), on the server.

Each item is a folder `<root>/<owner_id>/<item_id>/` holding its files and `meta.json`:

- the item id is 32 random hex digits made here; a visitor never names a path, and every id
  a request carries is checked against the caller's own namespace (someone else's item, a
  malformed id and a missing one all answer the same "no such entry");
- an item is written into a temporary folder and renamed into place (atomic: a killed writer
  leaves no half item, and its temporary folder is never listed);
- per-visitor quotas (`Quotas.library_max_items`, `library_max_mb`): the oldest items give way
  to a new one; anonymous visitors' items expire `anon_ttl_h` after they were made, as their
  models do; all visitors' items together stay within `library_budget_mb` (the oldest
  anonymous ones go first, whoever they belong to); the owner at the keyboard has generous
  limits.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import shutil
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from core.errors import UserInputError
from core.identity import ANON_PREFIX
from core.quotas import Quotas

log = logging.getLogger(__name__)

META_NAME = "meta.json"
MB = 1024 * 1024
MAX_NAME = 80
_ID_RE = re.compile(r"^[0-9a-f]{32}$")
_OWNER_RE = re.compile(r"^(owner|anon-[0-9a-f]{32}|hf-[A-Za-z0-9][A-Za-z0-9._-]{0,95})$")
_FILE_RE = re.compile(r"^[a-z][a-z0-9_-]{0,31}\.(npy|json|png)$")
NO_ENTRY = "no such entry in My latents; pick one from the list"


@dataclass(frozen=True)
class Item:
    """One stored item: its id, folder, metadata (with `name` and `created`) and size."""

    item_id: str
    folder: Path
    meta: dict
    nbytes: int

    @property
    def name(self) -> str:
        return str(self.meta.get("name", ""))

    @property
    def created(self) -> float:
        return float(self.meta.get("created", 0.0))

    def file(self, name: str) -> Path:
        return self.folder / name


def _owner(owner_id: str) -> str:
    if not isinstance(owner_id, str) or not _OWNER_RE.fullmatch(owner_id) or ".." in owner_id:
        raise ValueError(f"not a library namespace: {owner_id!r}")
    return owner_id


def _age(item: Item) -> float:
    return item.created


def clean_name(name: object) -> str:
    """A visitor's name for an item: printable text, one line, at most MAX_NAME characters."""
    text = " ".join(str(name or "").split())
    text = "".join(c for c in text if c.isprintable())
    if not text:
        raise UserInputError("give the entry a name", "msg.error.library_name")
    return text[:MAX_NAME]


class ItemStore:
    """Items under `root`, one namespace per owner id (see the module docstring)."""

    def __init__(self, root: Path, quotas: Quotas, clock: Callable[[], float] = time.time) -> None:
        self.root = root
        self.quotas = quotas
        self._clock = clock
        self._lock = threading.RLock()

    def now(self) -> float:
        return self._clock()

    def _base(self, owner_id: str) -> Path:
        return self.root / _owner(owner_id)

    def items(self, owner_id: str) -> list[Item]:
        """The caller's items, newest first (expired ones are removed first)."""
        self.expire(owner_id)
        base = self._base(owner_id)
        if not base.is_dir():
            return []
        found = [self._read(c) for c in base.iterdir() if _ID_RE.fullmatch(c.name)]
        return sorted((i for i in found if i), key=lambda i: i.created, reverse=True)

    def get(self, owner_id: str, item_id: object) -> Item:
        """The caller's item `item_id`; the same UserInputError for a malformed id, a missing
        item and someone else's."""
        if isinstance(item_id, str) and _ID_RE.fullmatch(item_id):
            item = self._read(self._base(owner_id) / item_id)
            if item is not None and not self._expired(owner_id, item):
                return item
        raise UserInputError(NO_ENTRY, "msg.error.library_missing")

    def add(self, owner_id: str, files: Mapping[str, bytes], meta: Mapping[str, object]) -> Item:
        """Store a new item atomically; the oldest items give way when over the quotas."""
        size = sum(len(data) for data in files.values())
        if size > self.quotas.library_max_mb * MB:
            raise UserInputError(
                "this latent is too large for My latents ({limit} MB)",
                "msg.error.library_too_large",
                limit=f"{self.quotas.library_max_mb:g}",
            )
        item_id = secrets.token_hex(16)
        base = self._base(owner_id)
        with self._lock:
            self._make_room(owner_id, size)
            self._within_budget(size)
            base.mkdir(parents=True, exist_ok=True)
            tmp = base / f".tmp-{item_id}"
            tmp.mkdir()
            try:
                for name, data in files.items():
                    if not _FILE_RE.fullmatch(name) or name == META_NAME:
                        raise ValueError(f"not an item file name: {name!r}")
                    (tmp / name).write_bytes(data)
                full = {**meta, "created": self._clock()}
                (tmp / META_NAME).write_text(json.dumps(full))
                tmp.rename(base / item_id)
            except BaseException:
                shutil.rmtree(tmp, ignore_errors=True)
                raise
        log.info("library: stored an item (%d bytes)", size)
        return self.get(owner_id, item_id)

    def rename(self, owner_id: str, item_id: object, name: object) -> Item:
        """Give the caller's item a new name (its metadata is replaced atomically)."""
        with self._lock:
            item = self.get(owner_id, item_id)
            meta = {**item.meta, "name": clean_name(name)}
            tmp = item.folder / f".{META_NAME}.{secrets.token_hex(4)}"
            tmp.write_text(json.dumps(meta))
            tmp.replace(item.folder / META_NAME)
        return self.get(owner_id, item.item_id)

    def delete(self, owner_id: str, item_id: object) -> None:
        """Delete the caller's item (someone else's answers as a missing one)."""
        with self._lock:
            item = self.get(owner_id, item_id)
            shutil.rmtree(item.folder)

    def used(self, owner_id: str) -> tuple[int, int]:
        """(items, bytes) the caller holds."""
        items = self.items(owner_id)
        return len(items), sum(i.nbytes for i in items)

    def expire(self, owner_id: str) -> int:
        """Remove an anonymous visitor's items older than `anon_ttl_h`; how many went."""
        base = self._base(owner_id)
        if not owner_id.startswith(ANON_PREFIX) or not base.is_dir():
            return 0
        removed = 0
        with self._lock:
            for child in base.iterdir():
                item = self._read(child) if _ID_RE.fullmatch(child.name) else None
                if item is not None and self._expired(owner_id, item):
                    shutil.rmtree(child, ignore_errors=True)
                    removed += 1
        return removed

    def _expired(self, owner_id: str, item: Item) -> bool:
        ttl_s = self.quotas.anon_ttl_h * 3600
        return owner_id.startswith(ANON_PREFIX) and item.created < self._clock() - ttl_s

    def _make_room(self, owner_id: str, size: int) -> None:
        """Drop the caller's oldest items until one more of `size` bytes fits the quotas."""
        items = self.items(owner_id)
        total = sum(i.nbytes for i in items)
        limit_bytes = self.quotas.library_max_mb * MB
        while items and (len(items) >= self.quotas.library_max_items or total + size > limit_bytes):
            oldest = items.pop()
            shutil.rmtree(oldest.folder, ignore_errors=True)
            total -= oldest.nbytes
            log.info("library: the oldest item gave way to a new one")

    def _within_budget(self, size: int) -> None:
        """Drop the oldest anonymous items (anyone's) until `size` more bytes fit the budget
        of all visitors' items; refuse when they cannot."""
        budget = self.quotas.library_budget_mb * MB
        every = self._everyone()
        total = sum(i.nbytes for _, i in every)
        anonymous = sorted((i for o, i in every if o.startswith(ANON_PREFIX)), key=_age)
        if total - sum(i.nbytes for i in anonymous) + size > budget:
            raise UserInputError(
                "My latents is full on this server; try again later", "msg.error.library_full"
            )
        for item in anonymous:
            if total + size <= budget:
                break
            shutil.rmtree(item.folder, ignore_errors=True)
            total -= item.nbytes

    def _everyone(self) -> list[tuple[str, Item]]:
        """(owner id, item) of every namespace."""
        if not self.root.is_dir():
            return []
        found = []
        for base in self.root.iterdir():
            if base.is_dir() and _OWNER_RE.fullmatch(base.name):
                ids = [c for c in base.iterdir() if _ID_RE.fullmatch(c.name)]
                found += [(base.name, i) for i in map(self._read, ids) if i]
        return found

    @staticmethod
    def _read(folder: Path) -> Item | None:
        """The item in `folder`, or None when it is not a whole item."""
        try:
            meta = json.loads((folder / META_NAME).read_text())
            nbytes = sum(f.stat().st_size for f in folder.iterdir() if f.is_file())
        except (OSError, ValueError):
            return None
        return Item(folder.name, folder, meta, nbytes) if isinstance(meta, dict) else None
