"""Push a local model folder to the Hugging Face Hub (or any Hub-compatible `HF_ENDPOINT`).

The token comes from the caller (the UI's password box) or `HF_TOKEN`; it is passed to
`huggingface_hub` only, never logged, and scrubbed from any error message shown to a person.
"""

from __future__ import annotations

import logging
import os

from huggingface_hub import HfApi

from core import store
from core.errors import UserInputError

log = logging.getLogger(__name__)

UPLOAD_PATTERNS = ["*.safetensors", "*.json", "*.md"]


def push_to_hub(name: str, repo_id: str, token: str | None = None, private: bool = True) -> str:
    """Upload `checkpoints/<name>/` to Hub repo `repo_id`; returns the repo's URL at the commit."""
    folder = store.local_model_dir(store.validate_name(name))
    if folder is None:
        raise UserInputError(f"no local model {name!r} to push")
    ref = store.HubRef.parse(repo_id or "")
    if ref.revision != "main" or "@" in (repo_id or ""):
        raise UserInputError("give the Hub repo as owner/name (it is pushed to main)")
    token = (token or "").strip() or os.environ.get("HF_TOKEN", "").strip()
    if not token:
        raise UserInputError("a Hub token is needed: set HF_TOKEN or paste a write token")
    api = HfApi(endpoint=store.hub_endpoint(), token=token)
    try:
        api.create_repo(ref.repo_id, private=private, exist_ok=True)
        commit = api.upload_folder(
            repo_id=ref.repo_id,
            folder_path=folder,
            allow_patterns=UPLOAD_PATTERNS,
            commit_message=f"Upload {name} from GAN Studio",
        )
    except Exception as e:  # HTTP, connection and validation errors alike
        message = str(e).replace(token, "***")
        log.warning("push of %s to %s failed: %s", name, ref.repo_id, message)
        raise UserInputError(f"could not push to {ref.repo_id}: {message}") from None
    log.info("pushed %s to %s", name, ref.repo_id)
    return str(getattr(commit, "commit_url", "") or f"{store.hub_endpoint()}/{ref.repo_id}")
