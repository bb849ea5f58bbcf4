"""Models that belong to someone: one namespace per owner id, with quotas and eviction.

- Shipped models and those the owner made (the checkpoints folder) and the Hub models the
  owner configured are *shared*: visible to everyone, deletable by no visitor.
- A visitor's model lives in `<data>/models/<owner_id>/<name>` and is visible only to that
  visitor: listing, resolving and deleting another visitor's model all answer exactly as for a
  model that does not exist, so names in other namespaces are not revealed.
- The owner at the keyboard keeps today's behaviour: their models are the shared ones.
- Eviction: anonymous models expire `anon_ttl_h` after their last write; when all visitors'
  models exceed `visitor_budget_mb`, the oldest anonymous models go first. A model in use (a
  `lease`) is never evicted or deleted.
"""

from __future__ import annotations

import logging
import re
import shutil
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from core.errors import UserInputError
from core.identity import ANON_PREFIX, Identity
from core.quotas import Quotas

log = logging.getLogger(__name__)

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_OWNER_RE = re.compile(r"^(anon-[0-9a-f]{32}|hf-[A-Za-z0-9][A-Za-z0-9._-]{0,95})$")
MB = 1024 * 1024


class ModelNotVisibleError(UserInputError):
    """No model of that name for this caller (missing, or someone else's: the same message)."""


def validate_name(name: object) -> str:
    if not isinstance(name, str) or not _NAME_RE.fullmatch(name) or ".." in name:
        raise UserInputError(
            f"invalid model name {name!r}: use letters, digits, '.', '_' and '-' (at most 64)"
        )
    return name


def validate_owner_id(owner_id: str) -> str:
    if not _OWNER_RE.fullmatch(owner_id) or ".." in owner_id:
        raise ValueError(f"not a visitor namespace: {owner_id!r}")
    return owner_id


def folder_mb(folder: Path) -> float:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()) / MB


def _complete(folder: Path) -> bool:
    return (folder / CONFIG_NAME).is_file() and (folder / WEIGHTS_NAME).is_file()


@dataclass(frozen=True)
class OwnedModel:
    owner_id: str
    name: str
    folder: Path
    mtime: float
    mb: float


class OwnedModels:
    """Visitors' models under `root` (`<data>/models`); `shared()` names the models everyone
    sees (shipped, owner-made and owner-configured) and `shared_folder(name)` resolves one."""

    def __init__(
        self,
        root: Path,
        quotas: Quotas,
        shared: Callable[[], list[str]],
        shared_folder: Callable[[str], Path],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.root = root
        self.quotas = quotas
        self._shared = shared
        self._shared_folder = shared_folder
        self._clock = clock
        self._lock = threading.RLock()
        self._leases: Counter[tuple[str, str]] = Counter()

    # --- Paths and listing -----------------------------------------------------------------

    def folder(self, owner_id: str, name: str) -> Path:
        """`<root>/<owner_id>/<name>` for a visitor (validated: no path tricks)."""
        return self.root / validate_owner_id(owner_id) / validate_name(name)

    def own(self, owner_id: str) -> list[str]:
        """Names of this visitor's complete models, sorted."""
        base = self.root / validate_owner_id(owner_id)
        if not base.is_dir():
            return []
        return sorted(c.name for c in base.iterdir() if _NAME_RE.fullmatch(c.name) and _complete(c))

    def visible_to(self, identity: Identity) -> list[str]:
        """Shared models first, then the caller's own (the owner sees the shared ones: theirs)."""
        shared = list(self._shared())
        if identity.is_owner:
            return shared
        return shared + [n for n in self.own(identity.owner_id) if n not in shared]

    def resolve(self, identity: Identity, name: str) -> Path:
        """The folder of a model the caller may use: their own first, then a shared one."""
        validate_name(name)
        if not identity.is_owner:
            folder = self.folder(identity.owner_id, name)
            if _complete(folder):
                return folder
        if name in self._shared():
            return self._shared_folder(name)
        raise ModelNotVisibleError(f"no model {name!r} here; pick one from the model list")

    # --- Writing and deleting ----------------------------------------------------------------

    def check_new(self, identity: Identity, name: str) -> Path:
        """The folder a new (or replaced) model of the caller's goes to, after the name and the
        count quota; raises UserInputError when not allowed."""
        validate_name(name)
        if identity.is_owner:
            raise ValueError("the owner's models go to the checkpoints folder, not a namespace")
        if name in self._shared():
            raise UserInputError(f"{name!r} is the name of a shared model; choose another name")
        own = self.own(identity.owner_id)
        if name not in own and len(own) >= self.quotas.max_models_per_visitor:
            raise UserInputError(
                f"you have {len(own)} models (at most {self.quotas.max_models_per_visitor}); "
                "delete one first"
            )
        return self.folder(identity.owner_id, name)

    def check_size(self, identity: Identity, extra_mb: float) -> None:
        """Refuse a write that would take the visitor over their MB quota."""
        if identity.is_owner:
            return
        used = self.used_mb(identity.owner_id)
        if used + extra_mb > self.quotas.max_mb_per_visitor:
            raise UserInputError(
                f"your models use {used:.0f} MB; this one ({extra_mb:.0f} MB) would exceed "
                f"your {self.quotas.max_mb_per_visitor:.0f} MB; delete one first"
            )

    def used_mb(self, owner_id: str) -> float:
        return sum(m.mb for m in self.models() if m.owner_id == owner_id)

    def delete(self, identity: Identity, name: str) -> None:
        """Delete one of the caller's own models (never a shared one, nor one in use)."""
        validate_name(name)
        if identity.is_owner or not _complete(self.folder(identity.owner_id, name)):
            if name in self._shared():
                raise UserInputError(f"{name!r} is a shared model and cannot be deleted here")
            raise ModelNotVisibleError(f"no model {name!r} here; pick one from the model list")
        with self._lock:
            if self._leases[(identity.owner_id, name)]:
                raise UserInputError(f"{name!r} is in use; try again when its job has finished")
            shutil.rmtree(self.folder(identity.owner_id, name))
        log.info("deleted a visitor model (%s)", name)

    # --- Leases and eviction -----------------------------------------------------------------

    @contextmanager
    def lease(self, owner_id: str, name: str) -> Iterator[None]:
        """Mark a model as in use (generating, resuming, pushing) so nothing evicts it."""
        key = (owner_id, name)
        with self._lock:
            self._leases[key] += 1
        try:
            yield
        finally:
            with self._lock:
                self._leases[key] -= 1
                if self._leases[key] <= 0:
                    del self._leases[key]

    def in_use(self, owner_id: str, name: str) -> bool:
        with self._lock:
            return self._leases[(owner_id, name)] > 0

    def models(self) -> list[OwnedModel]:
        """Every visitor's complete model, oldest first (by last write)."""
        found = []
        if not self.root.is_dir():
            return found
        for base in self.root.iterdir():
            if not base.is_dir() or not _OWNER_RE.fullmatch(base.name):
                continue
            for folder in base.iterdir():
                if _NAME_RE.fullmatch(folder.name) and _complete(folder):
                    mtime = max(f.stat().st_mtime for f in folder.iterdir())
                    found.append(
                        OwnedModel(base.name, folder.name, folder, mtime, folder_mb(folder))
                    )
        return sorted(found, key=lambda m: m.mtime)

    def evict(self) -> list[OwnedModel]:
        """Remove expired anonymous models, then the oldest anonymous ones while visitors'
        models exceed the budget; never a leased model. Returns what was removed."""
        removed = []
        with self._lock:
            models = self.models()
            cutoff = self._clock() - self.quotas.anon_ttl_h * 3600
            total = sum(m.mb for m in models)
            for m in models:
                if not m.owner_id.startswith(ANON_PREFIX) or self.in_use(m.owner_id, m.name):
                    continue
                if m.mtime < cutoff or total > self.quotas.visitor_budget_mb:
                    shutil.rmtree(m.folder, ignore_errors=True)
                    total -= m.mb
                    removed.append(m)
        for m in removed:
            log.info("evicted anonymous model %s (%.1f MB)", m.name, m.mb)
        return removed
