"""Bounded access to Hugging Face Hub repos named by a visitor (`owner/name@revision`).

- Typed Hub ids are refused unless `Quotas.allow_hub_ids` (off by default for visitors); a
  refused id makes no request at all.
- When allowed, a typed id is fetched with `token=False`: never the server's `HF_TOKEN` nor the
  machine's saved login, so a private repo stays private.
- The sizes of the wanted files come from the Hub's metadata (`HfApi.get_paths_info`) before any
  download; a repo whose wanted files exceed `hub_max_mb` is refused.
- Only the file names the store needs are fetched (`ALLOWED_FILES`).
- A missing repo, a private one, a gated one and a missing revision get the same message, so a
  visitor cannot learn whether a private repo exists.
- The Hub models the owner configured (`GAN_STUDIO_HUB_MODELS`) are fetched with the server's
  read token (huggingface_hub's default, `token=None`), so private or gated ones still work.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from huggingface_hub import HfApi, hf_hub_download
from huggingface_hub import constants as hf_constants

from core.errors import UserInputError
from core.quotas import Quotas

log = logging.getLogger(__name__)

ALLOWED_FILES = frozenset(
    {"config.json", "model.safetensors", "README.md", "discriminator.safetensors"}
)
REQUIRED_FILES = ("config.json", "model.safetensors")
MB = 1024 * 1024


class HubRefusedError(UserInputError):
    """A typed Hub id that this server does not fetch (off, too big, missing or private)."""


def _endpoint() -> str:
    return os.environ.get("HF_ENDPOINT", hf_constants.ENDPOINT).rstrip("/")


def not_found_message(spec: str) -> str:
    """One message for a missing, private or gated repo, or a missing revision or file."""
    return f"no public GAN Studio model at {spec} on the Hub (check the id and revision)"


class HubAccess:
    """Fetch the files of a pinned Hub repo under the rules of the module docstring.

    `configured()` gives the owner's configured repos as `(repo_id, revision)` pairs;
    `owner_login=True` (the owner at the keyboard) lets typed ids use the machine's login, as
    today; `reachable()` (the store's Hub probe) sends an unreachable Hub straight to the local
    cache; `api_factory(endpoint)` makes the `HfApi` (a seam for tests)."""

    def __init__(
        self,
        quotas: Quotas,
        configured: Callable[[], Iterable[tuple[str, str]]] = tuple,
        owner_login: bool = False,
        reachable: Callable[[], bool] = lambda: True,
        api_factory: Callable[[str], Any] = lambda endpoint: HfApi(endpoint=endpoint),
    ) -> None:
        self.quotas = quotas
        self._configured = configured
        self.owner_login = owner_login
        self._reachable = reachable
        self._api_factory = api_factory

    def is_configured(self, repo_id: str, revision: str) -> bool:
        return (repo_id, revision) in set(self._configured())

    def token_for(self, repo_id: str, revision: str) -> bool | None:
        """None (the server's read token, or the owner's login) for a configured repo or for
        the owner at the keyboard; False (no token at all) for a visitor's typed id."""
        return None if self.owner_login or self.is_configured(repo_id, revision) else False

    def check_allowed(self, repo_id: str, revision: str) -> None:
        """Refuse a typed id when typed ids are off (before any request)."""
        if not self.is_configured(repo_id, revision) and not self.quotas.allow_hub_ids:
            raise HubRefusedError(
                "models from typed Hub ids are turned off on this server; "
                "pick one from the model list"
            )

    def wanted(self, files: Iterable[str]) -> list[str]:
        names = list(dict.fromkeys(files))
        for name in names:
            if name not in ALLOWED_FILES:
                raise UserInputError(f"refusing to fetch {name!r}: not a file of a model folder")
        return names

    def sizes(self, repo_id: str, revision: str, files: list[str]) -> dict[str, int]:
        """Sizes in bytes of those of `files` that exist, from the Hub's metadata (one
        request, no download)."""
        spec = f"{repo_id}@{revision}"
        api = self._api_factory(_endpoint())
        try:
            infos = api.get_paths_info(
                repo_id, files, revision=revision, token=self.token_for(repo_id, revision)
            )
        except Exception as e:  # missing, private, gated, bad revision, network: one message
            log.info("Hub metadata for a requested repo failed: %s", type(e).__name__)
            raise HubRefusedError(not_found_message(spec)) from None
        return {
            i.path: int(getattr(i, "size", 0) or 0)
            for i in infos
            if getattr(i, "size", None) is not None
        }

    def check_sizes(self, spec: str, sizes: dict[str, int]) -> None:
        missing = [f for f in REQUIRED_FILES if f not in sizes]
        if missing:
            raise HubRefusedError(not_found_message(spec))
        total_mb = sum(sizes.values()) / MB
        if total_mb > self.quotas.hub_max_mb:
            raise HubRefusedError(
                f"{spec} is {total_mb:.0f} MB, over this server's {self.quotas.hub_max_mb:.0f} "
                "MB limit for Hub models"
            )

    def fetch(self, repo_id: str, revision: str, files: Iterable[str] = REQUIRED_FILES) -> Path:
        """Check, measure, then download the wanted files; returns their snapshot folder."""
        spec = f"{repo_id}@{revision}"
        self.check_allowed(repo_id, revision)
        names = self.wanted([*REQUIRED_FILES, *files])
        if not self._reachable():
            return self._cached(repo_id, revision, names)
        sizes = self.sizes(repo_id, revision, names)
        self.check_sizes(spec, sizes)
        token = self.token_for(repo_id, revision)
        folder = None
        for name in (n for n in names if n in sizes):
            folder = self._download(repo_id, revision, name, token).parent
        assert folder is not None  # REQUIRED_FILES are in sizes
        return folder

    def _cached(self, repo_id: str, revision: str, names: list[str]) -> Path:
        """The Hub cannot be reached: only files already in the local cache (they passed the
        size check when they were downloaded)."""
        folder = None
        for name in names:
            try:
                path = self._download(repo_id, revision, name, False, local_only=True)
            except HubRefusedError:
                if name in REQUIRED_FILES:
                    raise HubRefusedError(
                        f"{repo_id}@{revision} is not cached here and the Hub cannot be reached"
                    ) from None
                continue
            folder = path.parent
        assert folder is not None
        return folder

    def _download(
        self, repo_id: str, revision: str, name: str, token: bool | None, local_only: bool = False
    ) -> Path:
        try:
            path = hf_hub_download(
                repo_id,
                name,
                revision=revision,
                token=token,
                local_files_only=local_only,
                etag_timeout=5,
                endpoint=_endpoint(),
                cache_dir=os.environ.get("HF_HUB_CACHE") or None,
            )
        except Exception as e:
            log.info("Hub download of a requested file failed: %s", type(e).__name__)
            raise HubRefusedError(not_found_message(f"{repo_id}@{revision}")) from None
        return Path(path)
