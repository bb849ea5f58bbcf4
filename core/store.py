"""Model store: a model is a folder with `config.json`, `model.safetensors` and a model card.

Resolution order (`resolve`):
1. a local folder `checkpoints/<name>/`;
2. a Hugging Face Hub repo at a pinned revision (`owner/name@revision`), through
   `hf_hub_download` and its cache;
3. a clear `ModelNotFoundError`.

Only `.safetensors`, `.json` and `.md` files are ever fetched from the network, so nothing
from the network is unpickled. When the Hub cannot be reached (probed once with a short
timeout and remembered for a while) downloads go straight to the local cache
(`local_files_only=True`) instead of retrying for ~20 s, so start-up and requests never stall.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlparse

import httpx
import torch
from huggingface_hub import constants as hf_constants
from huggingface_hub import hf_hub_download
from huggingface_hub.errors import EntryNotFoundError, LocalEntryNotFoundError
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file

from core.errors import UserInputError
from core.paths import data_dir

log = logging.getLogger(__name__)
R = TypeVar("R")  # a parsed configuration entry

ROOT = Path(__file__).resolve().parent.parent
CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
DISCRIMINATOR_NAME = "discriminator.safetensors"  # a model's D, when it has one
GENERATOR_TRAIN_NAME = "generator_train.safetensors"  # the raw G beside G_ema, when kept
CARD_NAME = "README.md"
REMOTE_SUFFIXES = (".safetensors", ".json", ".md")

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_REPO_PART = r"[A-Za-z0-9](?:[A-Za-z0-9._-]{0,94}[A-Za-z0-9])?"
_REPO_RE = re.compile(rf"^{_REPO_PART}/{_REPO_PART}$")
_REVISION_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,127}$")


class ModelNotFoundError(UserInputError):
    """No local folder and no reachable (or cached) Hub repo of that name."""


class ModelLoadError(UserInputError):
    """A model was found but its files are unreadable (corrupt, wrong format, wrong shapes)."""


def checkpoints_dir() -> Path:
    """Folder of local models: `$GAN_STUDIO_CHECKPOINTS`, else `checkpoints/` in the repo."""
    return Path(os.environ.get("GAN_STUDIO_CHECKPOINTS", ROOT / "checkpoints"))


def validate_name(name: str) -> str:
    """A local model name is one safe folder name: no separators, no `..`, no hidden files."""
    if not isinstance(name, str) or not _NAME_RE.fullmatch(name) or ".." in name:
        raise UserInputError(
            f"invalid model name {name!r}: use letters, digits, '.', '_' and '-' (at most 64)"
        )
    return name


@dataclass(frozen=True)
class HubRef:
    """A Hub repo pinned at a revision (a commit sha, or a tag or branch)."""

    repo_id: str
    revision: str = "main"

    @classmethod
    def parse(cls, spec: str) -> HubRef:
        """Parse `owner/name@revision` (or `owner/name`, pinned to `main`) and validate both."""
        repo_id, _, revision = spec.strip().partition("@")
        if not _REPO_RE.fullmatch(repo_id) or ".." in repo_id or "--" in repo_id:
            raise UserInputError(f"invalid Hub repo id {repo_id!r}: expected 'owner/name'")
        revision = revision or "main"
        if not _REVISION_RE.fullmatch(revision) or ".." in revision:
            raise UserInputError(f"invalid Hub revision {revision!r}")
        return cls(repo_id, revision)

    def __str__(self) -> str:
        return f"{self.repo_id}@{self.revision}"


@dataclass(frozen=True)
class HubFileRef:
    """A network file (NVIDIA `.pkl`, rosinality `.pt`) in a Hub repo, pinned to a commit:
    `owner/name@<40-hex sha>:path`. Only the owner names these (`GAN_STUDIO_HUB_MODELS`); the
    app converts each once, in the converter's sandbox, into `zoo_dir()`."""

    repo_id: str
    revision: str
    path: str

    @classmethod
    def parse(cls, spec: str) -> HubFileRef:
        repo, _, path = spec.strip().partition(":")
        ref = HubRef.parse(repo)
        if not _SHA_RE.fullmatch(ref.revision):
            raise UserInputError(f"a Hub network file needs a commit sha, not {ref.revision!r}")
        if not _FILE_RE.fullmatch(path) or ".." in path.split("/"):
            raise UserInputError(f"invalid Hub network file {path!r}: a .pkl or .pt path")
        return cls(ref.repo_id, ref.revision, path)

    def __str__(self) -> str:
        return f"{self.repo_id}@{self.revision}:{self.path}"

    @property
    def folder_name(self) -> str:
        """The converted model's folder in `zoo_dir()` (a hash: one per pinned file)."""
        return "hub-" + hashlib.sha256(str(self).encode()).hexdigest()[:32]


_SHA_RE = re.compile(r"^[0-9a-f]{40}$")
_FILE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,199}\.(pkl|pt|pth)$")
# set by gan.convert.zoo: (file ref, target folder) -> the converted folder
_hub_file_converter: Callable[[HubFileRef, Path], Path] | None = None
_zoo_lock = threading.Lock()


def set_hub_file_converter(convert: Callable[[HubFileRef, Path], Path]) -> None:
    global _hub_file_converter
    _hub_file_converter = convert


def zoo_dir() -> Path:
    """Converted Hub network files: `<data dir>/zoo` (`/data/zoo` on a Space with storage)."""
    return data_dir() / "zoo"


def resolve_hub_file(ref: HubFileRef) -> Path:
    """The converted folder of a configured Hub network file, converted on first use."""
    if ref not in configured_hub_files():
        raise UserInputError("only the Hub network files the owner configured can be used")
    with _zoo_lock:  # one conversion at a time in this process; the write itself is atomic
        if zoo_dir().is_dir():
            _remove_stale_temps(zoo_dir())  # scratch folders of a conversion killed mid-way
        folder = _complete_dir(zoo_dir(), ref.folder_name)
        if folder is not None:
            return folder
        if _hub_file_converter is None:
            raise ModelLoadError(f"{ref} needs the converter, which this app did not load")
        return _hub_file_converter(ref, zoo_dir() / ref.folder_name)


# --- Whose models a request sees --------------------------------------------------------------


@dataclass(frozen=True)
class Scope:
    """The models one visitor's request may use (set by the UI around each handler; the owner
    at the keyboard has no scope: today's behaviour). `own` is the visitor's model folder (new
    fine-tunes, resume and push only there; shared models in `checkpoints/` stay readable);
    `fetch_hub(ref, files)` is the bounded Hub access for a typed `owner/name@rev`, and
    `hub_token(ref)` the token any other Hub download of theirs may use (False: none)."""

    own: Path
    fetch_hub: Callable[[HubRef, list[str]], Path]
    hub_token: Callable[[HubRef], bool | None]


_SCOPE: ContextVar[Scope | None] = ContextVar("gan_studio_store_scope", default=None)


@contextmanager
def scoped(scope: Scope | None) -> Iterator[None]:
    """Resolve names for one visitor inside the block (None: the owner, no restriction)."""
    token = _SCOPE.set(scope)
    try:
        yield
    finally:
        _SCOPE.reset(token)


def current_scope() -> Scope | None:
    return _SCOPE.get()


def own_models_dir() -> Path:
    """Where the caller's own models live: their namespace for a visitor, else checkpoints/."""
    scope = _SCOPE.get()
    return scope.own if scope is not None else checkpoints_dir()


# --- Hub reachability ----------------------------------------------------------------------

_probe_lock = threading.Lock()
_swap_lock = threading.RLock()
_probe_cache: dict[str, tuple[float, bool]] = {}
PROBE_TTL_S = 60.0


def hub_endpoint() -> str:
    return os.environ.get("HF_ENDPOINT", hf_constants.ENDPOINT).rstrip("/")


def hub_host() -> str:
    """The endpoint's host[:port] for messages and logs, without any credentials in the URL."""
    parts = urlparse(hub_endpoint())
    return f"{parts.hostname}:{parts.port}" if parts.port else str(parts.hostname)


def hub_offline_forced() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}


def hub_reachable(timeout_s: float = 2.0) -> bool:
    """True when the Hub endpoint answers any HTTP request within `timeout_s`; cached 60 s."""
    if hub_offline_forced():
        return False
    endpoint = hub_endpoint()
    now = time.monotonic()
    with _probe_lock:
        cached = _probe_cache.get(endpoint)
        if cached and now - cached[0] < PROBE_TTL_S:
            return cached[1]
    try:
        httpx.head(endpoint, timeout=timeout_s, follow_redirects=False)
        ok = True
    except httpx.HTTPError:
        ok = False
    log.info("Hub %s is %s", hub_host(), "reachable" if ok else "unreachable")
    with _probe_lock:
        _probe_cache[endpoint] = (now, ok)
    return ok


def forget_hub_probe() -> None:
    """Forget the cached reachability answer (tests, or after the network comes back)."""
    with _probe_lock:
        _probe_cache.clear()


# --- Files ------------------------------------------------------------------------------------


def hub_file(ref: HubRef, filename: str, public: bool = False) -> Path:
    """Download (or take from the cache) one file of a pinned Hub repo (`public`: one of the
    app's own public networks, fetched with no token at all, whoever asks).

    Raises `ModelNotFoundError` with a clear message when the file does not exist, or when the
    Hub cannot be reached and the file is not cached.
    """
    if not filename.endswith(REMOTE_SUFFIXES) or "/" in filename or ".." in filename:
        raise UserInputError(f"refusing to fetch {filename!r}: only safetensors/json/md files")
    online = hub_reachable()
    scope = _SCOPE.get()
    try:
        path = hf_hub_download(
            ref.repo_id,
            filename,
            revision=ref.revision,
            # a visitor's request never sends the server's token, except to the owner's models
            token=False if public else (scope.hub_token(ref) if scope is not None else None),
            local_files_only=not online,
            etag_timeout=5,
            endpoint=hub_endpoint(),
            cache_dir=os.environ.get("HF_HUB_CACHE") or None,  # read per call, not at import
        )
    except LocalEntryNotFoundError as e:  # a subclass of EntryNotFoundError: test it first
        raise ModelNotFoundError(
            f"{ref} is not cached here and the Hub ({hub_host()}) cannot be reached"
        ) from e
    except EntryNotFoundError as e:
        raise ModelNotFoundError(f"{filename} is not in Hub repo {ref}") from e
    except Exception as e:  # RepositoryNotFoundError, RevisionNotFoundError, HTTP errors
        raise ModelNotFoundError(f"could not fetch {filename} from {ref}: {e}") from e
    return Path(path)


def read_safetensors(path: Path, device: torch.device | str = "cpu") -> dict[str, torch.Tensor]:
    """Load a safetensors file, turning a corrupt or truncated file into a clear error."""
    try:
        return load_file(str(path), device=str(device))
    except (SafetensorError, OSError, ValueError) as e:
        raise ModelLoadError(f"{path.name} is corrupt or not a safetensors file ({e})") from e


def read_config(folder: Path) -> dict:
    try:
        return json.loads((folder / CONFIG_NAME).read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise ModelLoadError(f"{folder.name}/{CONFIG_NAME} is missing or not JSON ({e})") from e


# --- Resolution -------------------------------------------------------------------------------


def _complete_dir(root: Path, name: str) -> Path | None:
    _recover_interrupted_swap(root / validate_name(name))
    folder = root / name
    if (folder / CONFIG_NAME).is_file() and (folder / WEIGHTS_NAME).is_file():
        return folder
    return None


def local_model_dir(name: str) -> Path | None:
    """The caller's own `<name>/` (`checkpoints/<name>/`, or a visitor's namespace inside a
    `scoped` block) when it holds a complete model, else None."""
    return _complete_dir(own_models_dir(), name)


def resolve(name: str, weights: str = WEIGHTS_NAME) -> Path:
    """Folder holding `config.json` and `weights` for a local name or a `owner/name@rev` spec.
    Inside a `scoped` block: the visitor's own model, else a shared one in checkpoints/, and a
    typed Hub id through the scope's bounded Hub access."""
    scope = _SCOPE.get()
    if ":" in name:  # a configured network file: converted once, never fetched by visitors
        return resolve_hub_file(HubFileRef.parse(name))
    if "/" not in name:
        folder = local_model_dir(name)
        if folder is None and scope is not None:
            folder = _complete_dir(checkpoints_dir(), name)
        if folder is None:
            raise ModelNotFoundError(
                f"no model {name!r} here; local models: {', '.join(list_local()) or 'none'}"
            )
        return folder
    ref = HubRef.parse(name)
    if scope is not None:
        return scope.fetch_hub(ref, [CONFIG_NAME, weights])
    config = hub_file(ref, CONFIG_NAME)
    hub_file(ref, weights)
    return config.parent


def list_local(model_type: str | None = None) -> list[str]:
    """Names of the complete local models, sorted; only those of `model_type` when given
    (the `model_type` key of their config.json, e.g. "dcgan-generator")."""
    root = checkpoints_dir()
    if not root.is_dir():
        return []
    for old in root.glob(".*.old-*"):
        _recover_interrupted_swap(root / old.name[1:].rsplit(".old-", 1)[0])
    _remove_stale_temps(root)
    names = []
    for child in sorted(root.iterdir()):
        if child.name.startswith(".") or not _NAME_RE.fullmatch(child.name):
            continue
        folder = _complete_dir(root, child.name)
        if folder is None:
            continue
        if model_type is not None:
            try:
                if read_config(folder).get("model_type") != model_type:
                    continue
            except ModelLoadError:
                continue
        names.append(child.name)
    return names


def configured_hub_models() -> list[HubRef]:
    """Hub models offered in the UI: `$GAN_STUDIO_HUB_MODELS`, comma-separated `owner/name@rev`
    (the `owner/name@sha:path` network files are `configured_hub_files`)."""
    return _configured(HubRef.parse, network_files=False)


def configured_hub_files() -> list[HubFileRef]:
    """The network files in `$GAN_STUDIO_HUB_MODELS` (`owner/name@sha:path.pkl`)."""
    return _configured(HubFileRef.parse, network_files=True)


def _configured(parse: Callable[[str], R], network_files: bool) -> list[R]:
    """The `$GAN_STUDIO_HUB_MODELS` entries of one kind (a `:path` marks a network file),
    parsed; an invalid entry is logged and skipped."""
    refs = []
    specs = os.environ.get("GAN_STUDIO_HUB_MODELS", "").split(",")
    for spec in filter(None, (s.strip() for s in specs)):
        if (":" in spec) != network_files:
            continue
        try:
            refs.append(parse(spec))
        except UserInputError as e:
            log.warning("ignoring GAN_STUDIO_HUB_MODELS entry: %s", e)
    return refs


# --- Atomic save ------------------------------------------------------------------------------


def atomic_write_dir(target: Path, write: Callable[[Path], None]) -> Path:
    """Write a whole folder atomically: `write(tmp)` fills a sibling temp folder, then it is swapped
    in with renames. A crash at any point leaves either the old folder or the new one complete."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    try:
        write(tmp)
        tmp.chmod(0o755)  # mkdtemp makes it private; a model folder is meant to be shared
        for f in tmp.iterdir():
            f.chmod(0o644 if f.is_file() else 0o755)
            _fsync(f)
        _fsync(tmp)
        old = target.parent / f".{target.name}.old-{uuid.uuid4().hex[:8]}"
        with _swap_lock:  # so a concurrent recovery never sees the gap between the renames
            if target.exists():
                os.rename(target, old)
            os.rename(tmp, target)
        _fsync(target.parent)
        shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def _recover_interrupted_swap(target: Path) -> None:
    """If a crash fell between the two renames of `atomic_write_dir`, put the old folder back."""
    with _swap_lock:
        if target.exists():
            return
        olds = sorted(target.parent.glob(f".{target.name}.old-*"), key=lambda p: p.stat().st_mtime)
        if olds:
            os.rename(olds[-1], target)
            log.warning("recovered %s from an interrupted save", target.name)


STALE_TEMP_S = 3600.0


def _remove_stale_temps(root: Path) -> None:
    """Delete temp folders left by writers killed mid-save (an hour old: no save takes that long;
    younger ones may still be being written)."""
    cutoff = time.time() - STALE_TEMP_S
    for tmp in root.glob(".*.tmp-*"):
        try:
            if tmp.is_dir() and tmp.stat().st_mtime < cutoff:
                shutil.rmtree(tmp, ignore_errors=True)
                log.info("removed %s, left by an interrupted save", tmp.name)
        except FileNotFoundError:
            pass


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def save_pretrained(
    target: Path,
    config: dict,
    tensors: dict[str, torch.Tensor],
    card: str,
    extra: dict[str, dict[str, torch.Tensor]] | None = None,
    metadata: dict[str, str] | None = None,
    extra_metadata: dict[str, dict[str, str]] | None = None,
    texts: dict[str, str] | None = None,
    blobs: dict[str, bytes] | None = None,
) -> Path:
    """The one writer of model folders, atomic: config.json, model.safetensors (`tensors`, with
    `metadata`), README.md (`card`), more safetensors files (`extra`: file name -> tensors, each
    with its `extra_metadata`), more text files (`texts`: file name -> text) and binary files
    (`blobs`: file name -> bytes, e.g. a training timelapse GIF)."""

    def write(folder: Path) -> None:
        (folder / CONFIG_NAME).write_text(json.dumps(config, indent=2) + "\n")
        save_file(_contiguous(tensors), str(folder / WEIGHTS_NAME), metadata=metadata)
        for filename, more in (extra or {}).items():
            more_meta = (extra_metadata or {}).get(filename)
            save_file(_contiguous(more), str(folder / filename), metadata=more_meta)
        for filename, text in (texts or {}).items():
            (folder / filename).write_text(text)
        for filename, data in (blobs or {}).items():
            (folder / filename).write_bytes(data)
        (folder / CARD_NAME).write_text(card)

    return atomic_write_dir(target, write)


def from_pretrained(
    folder: Path, weights: str = WEIGHTS_NAME
) -> tuple[dict, dict[str, torch.Tensor]]:
    """The reader paired with `save_pretrained`: (config.json as a dict, the `weights` tensors)."""
    return read_config(folder), read_safetensors(folder / weights)


def read_safetensors_metadata(path: Path) -> dict[str, str]:
    """The string metadata of a safetensors file (e.g. a discriminator's `config`)."""
    try:
        with safe_open(str(path), framework="pt") as f:
            return dict(f.metadata() or {})
    except (SafetensorError, OSError, ValueError) as e:
        raise ModelLoadError(f"{path.name} is corrupt or not a safetensors file ({e})") from e


def _contiguous(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: v.detach().to("cpu").contiguous() for k, v in tensors.items()}


def discriminator_file(name: str, folder: Path) -> Path | None:
    """Model `name`'s discriminator file (its folder, or its Hub repo), None when it has none."""
    local = folder / DISCRIMINATOR_NAME
    if local.is_file():
        return local
    if "/" in name:
        try:
            return hub_file(HubRef.parse(name), DISCRIMINATOR_NAME)
        except ModelNotFoundError:
            return None
    return None
