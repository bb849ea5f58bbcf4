"""Resolve the torch device once, at start-up, and pass it everywhere else."""

from __future__ import annotations

import logging
import os

import torch

log = logging.getLogger(__name__)


def resolve_device(preference: str | None = None) -> torch.device:
    """The device: `preference`, else `$GAN_STUDIO_DEVICE`, else CUDA when present, else CPU."""
    name = preference or os.environ.get("GAN_STUDIO_DEVICE") or ""
    if not name:
        name = "cuda" if torch.cuda.is_available() else "cpu"
    device = torch.device(name)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise RuntimeError(f"device {name!r} asked for, but CUDA is not available")
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    log.info("using device %s", device)
    return device


def release_memory(device: torch.device) -> None:
    """Give cached GPU memory back after an error (out-of-memory included)."""
    if device.type == "cuda":
        torch.cuda.empty_cache()


def is_out_of_memory(error: BaseException) -> bool:
    """True for CUDA (and MPS/CPU allocator) out-of-memory errors."""
    if isinstance(error, torch.OutOfMemoryError):
        return True
    return isinstance(error, RuntimeError) and "out of memory" in str(error).lower()


def set_torch_threads(count: int) -> None:
    """Torch's intra-op threads for the calling OS thread (OpenMP teams are per thread); the
    priority gate (`core.lanes`) calls it before cheap work and before every heavy iteration."""
    if torch.get_num_threads() != count:
        torch.set_num_threads(max(1, int(count)))
