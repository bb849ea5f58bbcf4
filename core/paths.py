"""Where the app keeps what must survive a restart: visitors' models, run states, the server
secret and the Hugging Face cache.

The data folder is `$GAN_STUDIO_DATA` when set; else `/data` when it exists and is writable
(a Space's persistent storage); else the local checkpoints folder, as on a laptop. The shipped
models always stay in `checkpoints/`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SPACE_DATA = Path("/data")
# The studio's output root (`<parent>/gan-studio/<random request folder>/<files>`): inside
# Gradio's upload folder in the app (`ui.services`), in the system temp folder otherwise.
OUTPUT_ROOT_NAME = "gan-studio"


def checkpoints_dir(env: Mapping[str, str] = os.environ) -> Path:
    """Shipped and owner models: `$GAN_STUDIO_CHECKPOINTS`, else `checkpoints/` in the repo
    (the same rule as `core.store.checkpoints_dir`, without importing torch)."""
    return Path(env.get("GAN_STUDIO_CHECKPOINTS") or ROOT / "checkpoints")


def _writable_dir(path: Path) -> bool:
    return path.is_dir() and os.access(path, os.W_OK | os.X_OK)


def data_dir(env: Mapping[str, str] = os.environ, space_data: Path = SPACE_DATA) -> Path:
    """The persistent data folder (see the module docstring)."""
    if env.get("GAN_STUDIO_DATA"):
        return Path(env["GAN_STUDIO_DATA"])
    if _writable_dir(space_data):
        return space_data
    return checkpoints_dir(env)


def visitor_models_dir(data: Path) -> Path:
    """`<data>/models`: one sub-folder per owner id, then one per model name."""
    return data / "models"


def library_dir(data: Path) -> Path:
    """`<data>/library`: the latent library ("My latents"), one sub-folder per owner id."""
    return data / "library"


def runs_dir(data: Path) -> Path:
    """`<data>/runs`: resumable run states, one sub-folder per owner id."""
    return data / "runs"


def secret_file(data: Path) -> Path:
    """The HMAC key that signs visitors' ids (private to the server process)."""
    return data / ".gan-studio-secret"


def hf_home(data: Path) -> Path:
    return data / "hf-home"


def use_persistent_hf_home(env: dict[str, str], data: Path, space_data: Path = SPACE_DATA) -> None:
    """Point `HF_HOME` into the data folder when that folder is persistent storage (a setting or
    `/data`), unless HF_HOME is already set. Call once at start-up, before huggingface_hub is
    imported by anything that reads its constants at import."""
    persistent = bool(env.get("GAN_STUDIO_DATA")) or data == space_data
    if persistent and not env.get("HF_HOME"):
        env["HF_HOME"] = str(hf_home(data))
