"""A run's resumable state without pickle: nested dicts/lists of tensors and plain values are
split into flat tensors (`run_state.safetensors`) and a JSON tree (`run_state.json`) that
names them; both are written beside the model through `core.store.save_pretrained`.

Also the process-wide RNG states (torch CPU and CUDA, numpy, Python) that exact resume needs,
and under torchrun every process's own streams (`gather_ranks` on save, `for_rank` on resume):
rank 0 saves its whole state plus, under `ranks`, what differs on each other process.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist

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


# --- Several processes (torchrun) --------------------------------------------------------------

# What each process holds for itself: its RNGs, its sampler position, ADA's augmentation RNG and
# the sign counts since ADA's last update. The rest (Adam, counters) is the same on every rank.
_SHARED_TRAINER_KEYS = ("opt_g", "opt_d", "counters", "config")


def _own_part(state: dict) -> dict:
    """The part of a process's resume state that differs between processes."""
    if "trainer" in state:  # StyleGAN2
        trainer = state["trainer"]
        return {"trainer": {k: v for k, v in trainer.items() if k not in _SHARED_TRAINER_KEYS}}
    return {k: state[k] for k in ("rng", "sampler")}


def gather_ranks(state: dict) -> dict:
    """Under torchrun (every process calls this): rank 0's `state` with `ranks`, the own part
    of every other process's, in rank order; unchanged in a single process."""
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return state
    rank = dist.get_rank()
    parts: list | None = [None] * dist.get_world_size() if rank == 0 else None
    dist.gather_object(_own_part(state), parts, dst=0)
    return state | {"ranks": parts[1:]} if rank == 0 else state


def for_rank(saved: dict, rank: int) -> tuple[dict, bool]:
    """(the state process `rank` resumes from, whether it is its own): rank 0's with this
    process's own part laid over it; rank 0's alone when the run had no process `rank`."""
    parts = saved.get("ranks") or []
    if rank == 0:
        return saved, True
    if rank > len(parts):
        return saved, False
    own = parts[rank - 1]
    if "trainer" in own:
        return saved | {"trainer": saved["trainer"] | own["trainer"]}, True
    return saved | own, True


def reseed(seed: int, rank: int, step: int) -> None:
    """Fresh process-wide RNGs for a process with no saved streams, distinct per rank."""
    mixed = (seed * 1_000_003 + rank * 10_007 + step) % 2**31
    torch.manual_seed(mixed)
    np.random.seed(mixed)
    random.seed(mixed)


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
