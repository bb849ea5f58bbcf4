"""The composition root: the services every tab calls, made once at start-up."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gradio.utils import get_upload_folder

from core.device import release_memory, resolve_device, set_torch_threads
from core.lanes import PriorityGate
from gan.finetune.service import FineTuner
from gan.studio import FaceStudio
from style.service import Stylist


@dataclass
class Services:
    """The device (a `torch.device`) and the services that own everything loaded on it."""

    device: Any
    studio: FaceStudio
    stylist: Stylist
    tuner: FineTuner
    gate: PriorityGate | None = None

    def release_memory(self) -> None:
        """Give cached GPU memory back (after an out-of-memory error)."""
        release_memory(self.device)

    def stop_all(self) -> int:
        """Ask every run in progress to stop (fine-tunes then save); how many were asked."""
        return self.tuner.runs.stop_all() + self.stylist.runs.stop_all()


def build_services(device: str | None = None, output_root: Path | None = None) -> Services:
    """Services on `device` (default: `$GAN_STUDIO_DEVICE`, else CUDA when present, else CPU).
    KID's feature network is the style service's EfficientNet-Lite0: one copy serves both.
    Faces are written inside Gradio's cache folder (default `output_root`), so Gradio serves
    them as they are (no copy, no hash) and deletes them with its cache. One priority gate
    gives cheap requests the cores first (`core.lanes`)."""
    device = resolve_device(device)
    gate = PriorityGate(max_wait_s=0.5, set_threads=set_torch_threads)
    stylist = Stylist(device, pause=gate.pause)
    tuner = FineTuner(device, feature_net=stylist.networks.efficientnet, pause=gate.pause)
    output_root = output_root or Path(get_upload_folder()) / "gan-studio"
    studio = FaceStudio(device, output_root, gate=gate)
    return Services(device, studio, stylist, tuner, gate)
