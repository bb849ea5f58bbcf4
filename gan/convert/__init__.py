"""Converters from NVIDIA network pickles and rosinality checkpoints to StyleGAN2 model folders.

`python -m gan.convert SOURCE --name NAME [--license TEXT] [--push OWNER/REPO]`; see `cli.py`.
"""

from gan.convert.errors import ConversionError
from gan.convert.nvidia_pickle import Converted, RestrictedUnpickler, convert_network_pickle
from gan.convert.rosinality import convert_checkpoint
from gan.convert.source import convert_source, fetch_source
from gan.convert.writer import model_card, push_folder, write_model

__all__ = [
    "ConversionError",
    "Converted",
    "RestrictedUnpickler",
    "convert_checkpoint",
    "convert_network_pickle",
    "convert_source",
    "fetch_source",
    "model_card",
    "push_folder",
    "write_model",
]
