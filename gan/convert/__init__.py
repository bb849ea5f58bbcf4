"""Converters from NVIDIA network pickles and rosinality checkpoints to StyleGAN2 model folders.

`python -m gan.convert SOURCE --name NAME [--license TEXT] [--push OWNER/REPO]`; see `cli.py`.
Names are imported on first use, so `--help` does not wait for torch.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "ConversionError": "gan.convert.errors",
    "Converted": "gan.convert.nvidia_pickle",
    "SafeUnpickler": "gan.convert.safe_pickle",
    "convert_network_pickle": "gan.convert.nvidia_pickle",
    "convert_checkpoint": "gan.convert.rosinality",
    "convert_source": "gan.convert.source",
    "fetch_source": "gan.convert.source",
    "model_card": "gan.convert.writer",
    "push_folder": "gan.convert.writer",
    "write_model": "gan.convert.writer",
    "layout": "gan.convert.layout",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'gan.convert' has no attribute {name!r}")
    module = importlib.import_module(_EXPORTS[name])
    return module if name == "layout" else getattr(module, name)
