"""The composition root: the services every tab calls, made once at start-up."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.device import release_memory, resolve_device
from gan.finetune.service import FineTuner
from gan.lab.service import Lab
from gan.studio import FaceStudio
from style.service import Stylist


@dataclass
class Services:
    """The device (a `torch.device`) and the services that own everything loaded on it."""

    device: Any
    studio: FaceStudio
    stylist: Stylist
    tuner: FineTuner
    lab: Lab | None = None  # the GAN lab's from-scratch runs

    def release_memory(self) -> None:
        """Give cached GPU memory back (after an out-of-memory error)."""
        release_memory(self.device)

    def stop_all(self) -> int:
        """Ask every run in progress to stop (fine-tunes then save); how many were asked."""
        lab = self.lab.runs.stop_all() if self.lab is not None else 0
        return self.tuner.runs.stop_all() + self.stylist.runs.stop_all() + lab


def build_services(device: str | None = None, output_root: Path | None = None) -> Services:
    """Services on `device` (default: `$GAN_STUDIO_DEVICE`, else CUDA when present, else CPU).
    KID's feature network is the style service's EfficientNet-Lite0: one copy serves both."""
    device = resolve_device(device)
    stylist = Stylist(device)
    tuner = FineTuner(device, feature_net=stylist.networks.efficientnet)
    return Services(device, FaceStudio(device, output_root), stylist, tuner, Lab(device))
