"""The model zoo by Hub id: the owner's `GAN_STUDIO_HUB_MODELS` may name an NVIDIA pickle or a
rosinality checkpoint as `owner/name@<commit sha>:path.pkl`.

On first use the file is downloaded with the Hub client at that commit (with the server's read
token: the owner configured it), converted in the sandbox (`gan.convert.sandbox`: no token, no
Hub, capped), checked by loading it as the app does, and kept in `store.zoo_dir()` (`/data/zoo`
on a Space with persistent storage); later uses and later starts read that folder. Visitors
can only pick the configured entries (`store.resolve_hub_file` refuses any other file), and a
typed Hub id stays safetensors-only.

`install()` registers the converter with the store; `gan.loading` calls it.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from gan.convert import _compat
from gan.convert.errors import ConversionError
from gan.convert.sandbox import convert_sandboxed

log = logging.getLogger(__name__)
store = _compat.store


def download(ref: store.HubFileRef) -> Path:
    """The pinned file, from the Hub client's cache or the Hub."""
    from huggingface_hub import hf_hub_download

    try:
        return Path(
            hf_hub_download(
                ref.repo_id,
                ref.path,
                revision=ref.revision,
                endpoint=store.hub_endpoint(),
                cache_dir=os.environ.get("HF_HUB_CACHE") or None,
                local_files_only=not store.hub_reachable(),
                etag_timeout=5,
            )
        )
    except Exception as e:  # missing file or revision, unreachable Hub and not cached
        log.warning("could not download %s: %s", ref, e)
        raise store.ModelNotFoundError(f"could not download {ref} from the Hub") from None


def convert_hub_file(ref: store.HubFileRef, target: Path) -> Path:
    """Download, convert in the sandbox, check, and move into `target` (the store's hook)."""
    source = download(ref)
    label = f"{store.hub_endpoint()}/{ref.repo_id}/blob/{ref.revision}/{ref.path}"
    log.info("converting %s in the sandbox (first use)", ref)
    try:
        return convert_sandboxed(source, target, label)
    except ConversionError as e:
        raise store.ModelLoadError(f"{ref} could not be converted: {e}") from None


def install() -> None:
    """Let the store convert configured Hub network files on first use."""
    store.set_hub_file_converter(convert_hub_file)
