"""Keep what the lab makes: a lab run saved as a model folder, with its training timelapse.

The folder is what `gan.finetune` writes for a DCGAN (config.json + model.safetensors from the
model class's config, the discriminator beside it with its config in the file's metadata), so
Generate, Interpolate, Edit and Judge load it like any DCGAN. A lab run's G is used in training
mode (batch norm on each batch's statistics, `LabRun.samples`), and its running statistics lag
far behind; before saving they are recomputed over `BN_BATCHES` batches of fresh latents with
the final weights, so G in evaluation mode makes what the lab showed.

The timelapse (`TIMELAPSE_NAME`) is a GIF of the fixed-seed sample grids, one frame every
`preview_every` steps, as TensorFlow's DCGAN tutorial makes one from its epoch images.
"""

from __future__ import annotations

import copy
import io
import json
import logging
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import nn

from core import store
from core.errors import UserInputError
from gan.lab.train import LabRun, sample_grid

log = logging.getLogger(__name__)

TIMELAPSE_NAME = "timelapse.gif"
BN_BATCHES = 8
BN_BATCH_SIZE = 64
FRAME_MS = 150
GIF_SCALE = 2  # frames are kept at the grid's own size and enlarged when written


def check_name(name: str) -> str:
    """A valid name for a new model of the caller's (never overwrites one)."""
    name = store.validate_name(str(name).strip())
    if store.local_model_dir(name) is not None:
        raise UserInputError(f"a model named {name!r} already exists: choose another name")
    return name


@torch.no_grad()
def recalibrated(G: nn.Module, nz: int, seed: int = 0) -> nn.Module:
    """A copy of `G` whose batch-norm running statistics are the average over fresh batches."""
    G = copy.deepcopy(G).train()
    norms = [m for m in G.modules() if isinstance(m, nn.BatchNorm2d)]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # a cumulative average
    g = torch.Generator().manual_seed(seed)
    device = next(G.parameters()).device
    for _ in range(BN_BATCHES):
        G(torch.randn(BN_BATCH_SIZE, nz, generator=g).to(device))
    for m in norms:
        m.momentum = 0.1
    return G.eval()


def timelapse_gif(frames: list[np.ndarray]) -> bytes:
    """The frames (uint8 (H, W, 3) grids) as a looping GIF."""
    if not frames:
        raise UserInputError("the run kept no timelapse frames")
    pil = [Image.fromarray(f.repeat(GIF_SCALE, 0).repeat(GIF_SCALE, 1)) for f in frames]
    buffer = io.BytesIO()
    pil[0].save(
        buffer, format="GIF", save_all=True, append_images=pil[1:], duration=FRAME_MS, loop=0
    )
    return buffer.getvalue()


def final_frames(run: LabRun) -> list[np.ndarray]:
    """The run's timelapse, ending on the samples of the saved G (a run stopped between two
    previews adds them as the last frame)."""
    final = sample_grid(run.samples(), scale=1)
    if run.frames and np.array_equal(run.frames[-1], final):
        return run.frames
    return [*run.frames, final]


def model_card(run: LabRun, name: str) -> str:
    c = run.config
    return "\n".join(
        [
            f"# {name}",
            "",
            f"A DCGAN ({c.image_size} px, nz={c.nz}) trained from scratch in GAN Studio's GAN lab",
            f"for {len(run.history)} steps (seed {c.seed}, lr_g {c.lr_g:g}, lr_d {c.lr_d:g}).",
            f"`{TIMELAPSE_NAME}`: its fixed-seed samples during training.",
            "",
        ]
    )


def save_lab_model(run: LabRun, target: Path) -> Path:
    """Write the run's G (recalibrated), D and timelapse to `target`, atomically."""
    if not run.history:
        raise UserInputError("the run made no step: nothing to save")
    G = recalibrated(run.G, run.config.nz, run.config.seed)
    D = run.D
    config = {**G.config.to_dict(), "base_model": None, "lab_steps": len(run.history)}
    folder = store.save_pretrained(
        target,
        config,
        G.state_dict(),
        model_card(run, target.name),
        extra={store.DISCRIMINATOR_NAME: D.state_dict()},
        extra_metadata={store.DISCRIMINATOR_NAME: {"config": json.dumps(D.config.to_dict())}},
        blobs={TIMELAPSE_NAME: timelapse_gif(final_frames(run))},
    )
    log.info("saved a lab run as a model (%d steps)", len(run.history))
    return folder
