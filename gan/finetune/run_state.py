"""A run's resumable state without pickle: nested dicts/lists of tensors and plain values are
split into flat tensors (`run_state.safetensors`) and a JSON tree (`run_state.json`) that
names them; both are written beside the model through `core.store.save_pretrained`.

Also the process-wide RNG states (torch CPU and CUDA, numpy, Python) that exact resume needs.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from core import store

TENSORS_NAME = "run_state.safetensors"
JSON_NAME = "run_state.json"
_TENSOR, _INTKEYS, _TUPLE = "__tensor__", "__intkeys__", "__tuple__"


def split(tree: Any, tensors: dict[str, torch.Tensor] | None = None, prefix: str = "") -> Any:
    """Replace every tensor in `tree` by {"__tensor__": key}; the tensors go into `tensors`."""
    tensors = {} if tensors is None else tensors
    if torch.is_tensor(tree):
        key = prefix or "root"
        tensors[key] = tree.detach().cpu().contiguous()
        return {_TENSOR: key}
    if isinstance(tree, dict):
        out = {str(k): split(v, tensors, f"{prefix}/{k}") for k, v in tree.items()}
        if tree and all(isinstance(k, int) for k in tree):  # optimiser states: {0: ..., 1: ...}
            return {_INTKEYS: out}
        return out
    if isinstance(tree, tuple):
        return {_TUPLE: [split(v, tensors, f"{prefix}/{i}") for i, v in enumerate(tree)]}
    if isinstance(tree, list):
        return [split(v, tensors, f"{prefix}/{i}") for i, v in enumerate(tree)]
    if isinstance(tree, np.generic):
        return tree.item()
    return tree


def join(tree: Any, tensors: dict[str, torch.Tensor]) -> Any:
    """The inverse of `split`."""
    if isinstance(tree, dict):
        if set(tree) == {_TENSOR}:
            return tensors[tree[_TENSOR]]
        if set(tree) == {_INTKEYS}:
            return {int(k): join(v, tensors) for k, v in tree[_INTKEYS].items()}
        if set(tree) == {_TUPLE}:
            return tuple(join(v, tensors) for v in tree[_TUPLE])
        return {k: join(v, tensors) for k, v in tree.items()}
    if isinstance(tree, list):
        return [join(v, tensors) for v in tree]
    return tree


def files(state: dict) -> tuple[dict[str, torch.Tensor], str]:
    """(tensors for `run_state.safetensors`, text of `run_state.json`) of `state`."""
    tensors: dict[str, torch.Tensor] = {}
    tree = split(state, tensors)
    return tensors, json.dumps(tree) + "\n"


def load(folder: Path) -> dict | None:
    """The state saved in `folder` by `files`, or None when the folder has none."""
    if not (folder / JSON_NAME).is_file() or not (folder / TENSORS_NAME).is_file():
        return None
    tensors = store.read_safetensors(folder / TENSORS_NAME)
    return join(json.loads((folder / JSON_NAME).read_text()), tensors)


# --- Process-wide RNGs -------------------------------------------------------------------------


def rng_state() -> dict:
    """torch CPU (and CUDA), numpy and Python RNG states: tensors and plain values."""
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    state = {
        "torch": torch.get_rng_state(),
        "numpy": [kind, torch.from_numpy(keys.astype(np.int64)), int(pos), has_gauss, gauss],
        "python": random.getstate(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    kind, keys, pos, has_gauss, gauss = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, gauss))
    random.setstate(_tuples(state["python"]))
    if "cuda" in state and torch.cuda.is_available():
        cuda = state["cuda"]
        torch.cuda.set_rng_state_all(list(cuda) if isinstance(cuda, tuple | list) else [cuda])


def _tuples(value: Any) -> Any:
    """Python's random state is nested tuples; JSON turns them into lists."""
    if isinstance(value, list | tuple):
        return tuple(_tuples(v) for v in value)
    return value
