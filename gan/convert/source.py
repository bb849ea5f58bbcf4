"""SOURCE arguments: a local file, or a Hub file `owner/repo@revision:path`, and its format."""

from __future__ import annotations

import logging
import os
import pickle
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

from gan.convert import _compat
from gan.convert.errors import ConversionError
from gan.convert.nvidia_pickle import Converted, convert_network_pickle
from gan.convert.rosinality import convert_checkpoint

log = logging.getLogger(__name__)

_PART = r"[A-Za-z0-9](?:[A-Za-z0-9._-]{0,94}[A-Za-z0-9])?"
_HUB_RE = re.compile(
    rf"^(?P<repo>{_PART}/{_PART})@(?P<rev>[A-Za-z0-9][A-Za-z0-9._/-]{{0,127}}):(?P<path>.+)$"
)
# the pickled magic number that opens a legacy (pre-zip) `torch.save` file
_TORCH_LEGACY_MAGIC = pickle.dumps(0x1950A86A20F9469CFC6C, protocol=2)[:-1]


@dataclass(frozen=True)
class Source:
    """Where a file came from (for the model card) and where it lies here."""

    label: str
    path: Path


def parse_hub_spec(spec: str) -> tuple[str, str, str] | None:
    """`owner/repo@revision:path` -> (repo_id, revision, path), or None when not that form."""
    m = _HUB_RE.fullmatch(spec.strip())
    if m is None:
        return None
    path = m["path"]
    if path.startswith("/") or ".." in path.split("/"):
        raise ConversionError(f"invalid path in the Hub source {spec!r}")
    return m["repo"], m["rev"], path


def fetch_source(spec: str) -> Source:
    """A local file as is; a Hub file downloaded (or from the cache) at its pinned revision."""
    local = Path(spec).expanduser()
    if local.is_file():
        return Source(f"local file {local.name}", local)
    hub = parse_hub_spec(spec)
    if hub is None:
        raise ConversionError(
            f"{spec!r} is neither a file here nor a Hub file written owner/repo@revision:path"
        )
    from huggingface_hub import hf_hub_download  # only when a Hub source is asked for

    repo_id, revision, filename = hub
    try:
        path = hf_hub_download(
            repo_id,
            filename,
            revision=revision,
            endpoint=_compat.hub_endpoint(),
            cache_dir=os.environ.get("HF_HUB_CACHE") or None,
        )
    except Exception as e:  # not found, unreachable, bad revision
        raise ConversionError(
            f"could not download {filename} from {repo_id}@{revision}: {e}"
        ) from e
    url = f"{_compat.hub_endpoint()}/{repo_id}/blob/{revision}/{filename}"
    return Source(url, Path(path))


def detect_format(path: Path) -> str:
    """'rosinality' for `torch.save` files (zip or legacy), 'nvidia' for other pickles."""
    with open(path, "rb") as f:
        head = f.read(len(_TORCH_LEGACY_MAGIC))
    if zipfile.is_zipfile(path) or head == _TORCH_LEGACY_MAGIC:
        return "rosinality"
    if head[:1] == b"\x80" or head[:1] in (b"(", b"}", b"]"):
        return "nvidia"
    raise ConversionError(f"{path.name} is neither a network pickle nor a torch checkpoint")


def convert_source(path: Path) -> tuple[str, Converted]:
    """(format, converted networks) of one local file."""
    kind = detect_format(path)
    if kind == "rosinality":
        return kind, convert_checkpoint(path)
    with open(path, "rb") as f:
        return kind, convert_network_pickle(f)
