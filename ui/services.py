"""The composition root: the services every tab calls, made once at start-up."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gradio.utils import get_upload_folder

from core import store
from core.device import release_memory, resolve_device, set_torch_threads
from core.lanes import PriorityGate
from core.library import ItemStore
from core.paths import OUTPUT_ROOT_NAME, library_dir
from core.space_guard import SpaceGuard
from gan.align.service import Aligner
from gan.edit.service import Editor, faces_for_latents, faces_for_seeds
from gan.finetune.service import FineTuner
from gan.generate.service import FaceStudio
from gan.judge.service import Judge
from gan.lab.service import Lab
from gan.lab2d.service import Lab2D
from gan.library.service import LatentLibrary
from gan.morph.service import Morpher
from gan.project.service import Projector
from gan.video.service import VideoMaker
from style.lpips import PerceptualLosses
from style.service import Stylist


@dataclass
class Services:
    """The device (a `torch.device`) and the services that own everything loaded on it."""

    device: Any
    studio: FaceStudio
    stylist: Stylist
    tuner: FineTuner
    guard: SpaceGuard  # who is asking, quotas, visitors' models, bounded Hub access
    gate: PriorityGate | None = None  # cheap requests first; heavy loops pause for them
    editor: Editor | None = None
    projector: Projector | None = None
    judge: Judge | None = None
    lab: Lab | None = None  # the GAN lab's from-scratch runs
    morpher: Morpher | None = None  # Project's morph of two photos
    lab2d: Lab2D | None = None  # the 2D lab's runs, by session (CPU, time slices)
    losses: PerceptualLosses | None = None  # Project's perceptual losses, loaded once
    video: VideoMaker | None = None  # looping walks, grids and sweeps as MP4s
    library: LatentLibrary | None = None  # each visitor's latents ("My latents")

    def release_memory(self) -> None:
        """Give cached GPU memory back (after an out-of-memory error)."""
        release_memory(self.device)

    def stop_all(self) -> int:
        """Ask every run in progress to stop (fine-tunes then save); how many were asked."""
        runs = [self.tuner.runs, self.stylist.runs]
        jobs = (self.projector, self.lab, self.morpher, self.video)
        runs += [job.runs for job in jobs if job is not None]
        return sum(r.stop_all() for r in runs)


def build_services(
    device: str | None = None,
    output_root: Path | None = None,
    server_name: str | None = None,
    share: bool = False,
) -> Services:
    """Services on `device` (default: `$GAN_STUDIO_DEVICE`, else CUDA when present, else CPU).
    KID's feature network is the style service's EfficientNet-Lite0: one copy serves both.
    The guard is built from how the app is served (`server_name`, `share`, `$SPACE_ID`).
    Faces are written inside Gradio's cache folder (default `output_root`), so Gradio serves
    them as they are (no copy, no hash) and deletes them with its cache. One priority gate
    gives cheap requests the cores first (`core.lanes`)."""
    device = resolve_device(device)
    gate = PriorityGate(max_wait_s=0.5, set_threads=set_torch_threads)
    stylist = Stylist(device, pause=gate.pause)
    tuner = FineTuner(device, feature_net=stylist.networks.efficientnet, pause=gate.pause)
    output_root = output_root or Path(get_upload_folder()) / OUTPUT_ROOT_NAME
    studio = FaceStudio(device, output_root, gate=gate)
    guard = build_guard(studio, server_name, share)
    services = Services(device, studio, stylist, tuner, guard, gate)
    services.video = VideoMaker(studio)
    services.editor = Editor(studio, video=services.video)
    services.losses = PerceptualLosses(device)
    services.projector = Projector(studio, services.losses.load, aligner=Aligner())
    services.judge = Judge(
        device,
        lambda name, seeds: faces_for_seeds(studio, name, seeds),
        lambda name, files: faces_for_latents(studio, name, files),
    )
    services.lab = Lab(device, pause=gate.pause, output_dir=studio.output_dir)
    items = ItemStore(library_dir(guard.data), guard.quotas)
    services.library = LatentLibrary(items, studio.generator, studio.output_dir)
    services.morpher = Morpher(services.projector, services.judge, services.library)
    services.lab2d = Lab2D(pause=gate.pause, max_runs=guard.quotas.lab2d_max_runs)
    return services


def build_guard(studio: FaceStudio, server_name: str | None, share: bool) -> SpaceGuard:
    """The guard on this app's shared models: the shipped/owner ones and the configured Hub
    models (which alone may use the server's read token)."""
    return SpaceGuard.from_env(
        server_name,
        share,
        shared=studio.model_choices,
        shared_folder=store.resolve,
        configured=lambda: [(r.repo_id, r.revision) for r in store.configured_hub_models()],
        reachable=store.hub_reachable,
    )
