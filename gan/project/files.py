"""Projection latents as files: the `.npy`/`.json` pair a projection writes, and the W+ (and
z) files that Edit and Generate read back. Split from `gan.project`, which re-exports them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from core.errors import UserInputError
from gan.latents import latents_json, validate_z

if TYPE_CHECKING:
    from gan.project.projection import ProjectionResult

MAX_LATENT_FILE_BYTES = 16 * 1024 * 1024


def save_latent(result: ProjectionResult, folder: Path, stem: str = "projected") -> list[Path]:
    """Write `<stem>.npy` and `<stem>.json`: z as Generate imports it, or W+ under key "w"."""
    folder.mkdir(parents=True, exist_ok=True)
    npy, js = folder / f"{stem}.npy", folder / f"{stem}.json"
    array = result.latent.numpy().astype(np.float32)
    np.save(npy, array, allow_pickle=False)
    if result.space == "z":
        js.write_text(latents_json(result.latent, None, 1.0))
    else:
        js.write_text(json.dumps({"space": "w", "w": array.tolist()}))
    return [npy, js]


def load_ws_file(path: str | Path, num_ws: int, w_dim: int) -> torch.Tensor:
    """A W+ latent from `.npy` (no pickle) or `.json` ({"w": ...}): shape (N, num_ws, w_dim).

    A single w of shape (w_dim,) or (N, w_dim) is broadcast over the num_ws entries.
    """
    path = Path(path)
    if path.stat().st_size > MAX_LATENT_FILE_BYTES:
        raise UserInputError("the latent file is too large (limit 16 MB)")
    if path.suffix.lower() == ".npy":
        try:
            array = np.load(path, allow_pickle=False)
        except (ValueError, OSError, EOFError, MemoryError) as e:
            raise UserInputError(f"cannot read {path.name} as a NumPy array ({e})") from e
    elif path.suffix.lower() == ".json":
        array = _json_w(path)
    else:
        raise UserInputError("upload latents as a .npy or .json file")
    return validate_ws(array, num_ws, w_dim)


def _json_w(path: Path) -> np.ndarray:
    try:
        data = json.loads(path.read_text(errors="replace"))
        data = data["w"] if isinstance(data, dict) else data
        return np.asarray(data, dtype=np.float64)
    except (json.JSONDecodeError, KeyError, TypeError, ValueError, RecursionError) as e:
        raise UserInputError(f"{path.name} is not a w latent ({type(e).__name__})") from e


def validate_ws(array: Any, num_ws: int, w_dim: int) -> torch.Tensor:
    if not isinstance(array, np.ndarray) or not np.issubdtype(array.dtype, np.number):
        raise UserInputError("the w latent must hold real numbers")
    w = torch.as_tensor(array.astype(np.float32))
    if w.dim() == 1:
        w = w[None]
    if w.dim() == 2:
        w = w[:, None].repeat(1, num_ws, 1)
    if w.dim() != 3 or tuple(w.shape[1:]) != (num_ws, w_dim) or not 0 < w.shape[0] <= 64:
        raise UserInputError(f"w must have shape ({w_dim},) or (N, {num_ws}, {w_dim})")
    if not torch.isfinite(w).all():
        raise UserInputError("the w latent contains NaN or infinite values")
    return w


def load_z_file(path: str | Path, nz: int) -> torch.Tensor:
    """A z latent in Generate's format (re-exported for symmetry with `load_ws_file`)."""
    from gan.latents import load_latent_file

    return validate_z(load_latent_file(path, nz), nz)
