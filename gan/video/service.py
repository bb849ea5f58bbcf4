"""The video service: looping cubic walks (one, or a grid of rows x columns), style-mix sweeps
and edit sweeps, rendered frame by frame into H.264 (NVIDIA's gen_video.py, as a service)."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from core import media
from core.errors import UserInputError
from core.events import Progress
from core.quotas import Quotas
from core.runs import RunRegistry
from gan import latents
from gan.generate.faces import SG2Settings, check_layers
from gan.generate.keyframes import Keyframe
from gan.generate.service import FaceStudio, Model
from gan.models import families, stylegan2
from gan.video.encode import Mp4Writer, VideoSettings
from gan.video.walks import looping_walk

log = logging.getLogger(__name__)

BATCH = 8  # frames rendered per forward pass
PREVIEW_EVERY = 16  # frames between previews on the page

# One frame of latents: frame index -> the tiles' ws (tiles, num_ws, w_dim) or zs (tiles, z_dim)
FrameLatents = Callable[[int], torch.Tensor]


@dataclass
class Video:
    """A finished video: its file, its frames, the size of a frame, and the walk's latents
    (frames, ...) of its first tile (what a caller plots or exports along the path)."""

    path: Path
    frames: int
    size: tuple[int, int]
    walk: torch.Tensor


class VideoMaker:
    """Renders walks and sweeps with the studio's generators into MP4s in its output folders."""

    def __init__(self, studio: FaceStudio) -> None:
        self.studio = studio
        self.runs = RunRegistry()

    def stop(self, session: str) -> bool:
        return self.runs.stop(session)

    def looping_video(
        self,
        model: Model,
        keyframes: list[Keyframe] | latents.Latent,
        settings: VideoSettings,
        sg2: SG2Settings | None = None,
        quotas: Quotas | None = None,
        session: str = "",
    ) -> Iterator[Progress]:
        """A looping cubic walk through `keyframes` (seeds, latent files or their latents), one
        tile or `settings.rows` x `settings.columns` tiles each walking through its own run of
        consecutive keyframes (gen_video.py's grid). A W family walks in W (z keyframes mapped
        with `sg2`); a DCGAN in Z. The last event's `output` is a `Video`."""
        G = self.studio.resolve(model)
        s = sg2 or SG2Settings()
        keys = (
            keyframes
            if isinstance(keyframes, latents.Latent)
            else self.studio.keyframes(G, keyframes, s)
        )
        if keys.space == "z" and families.family_of(G).has_w:
            keys = latents.Latent("w", self.studio.map(G, keys.value, s))
        elif keys.space == "z":  # a DCGAN: truncation scales z, as in Generate
            keys = latents.Latent("z", latents.truncate(keys.value, s.truncation_psi))
        tiles = _tile_keyframes(keys.value, settings)
        n = settings.transition_frames
        walks = [looping_walk(tile, n) for tile in tiles]  # each (K * n, ...)
        frames = len(walks[0])
        yield from self._render(
            G,
            lambda i: torch.stack([w[i] for w in walks]),
            frames,
            settings,
            s,
            quotas or Quotas(),
            session,
            walks[0],
        )

    def style_mix_sweep(
        self,
        model: Model,
        row: list[Keyframe],
        columns: list[Keyframe],
        layers: list[int] | tuple[str, str],
        settings: VideoSettings,
        sg2: SG2Settings | None = None,
        quotas: Quotas | None = None,
        session: str = "",
    ) -> Iterator[Progress]:
        """The first row's face taking, at `layers` (ws indices, or a (preset, custom text)
        pair as Style mixing takes them), the styles of a looping walk through the columns'
        ws: the column styles sweep over the row (StyleGAN, Fig. 3, as a video)."""
        G, s = self.studio.stylegan2(model, "style mixing"), sg2 or SG2Settings()
        if isinstance(layers, tuple):
            layers = self.studio.mix_layers(G, *layers)
        layers = check_layers(layers, G.num_ws)
        row_ws, _ = self.studio.keyframe_ws(G, row, s)
        col_ws, _ = self.studio.keyframe_ws(G, columns, s)
        walk = looping_walk(col_ws, settings.transition_frames)

        def mixed(i: int) -> torch.Tensor:
            return stylegan2.mix_styles(row_ws[:1], walk[i : i + 1], layers)

        yield from self._render(G, mixed, len(walk), settings, s, quotas or Quotas(), session, walk)

    def edit_sweep(
        self,
        model: Model,
        start: torch.Tensor,
        direction: torch.Tensor,
        settings: VideoSettings,
        quotas: Quotas | None = None,
        session: str = "",
    ) -> Iterator[Progress]:
        """A latent `start` (1, ...) moved by `direction` (its shape: the edit of +1) from -1
        to +1 and back along a cosine, so the loop has no jump: a SeFa edit as a video of two
        transitions."""
        frames = 2 * settings.transition_frames
        phase = torch.arange(frames, dtype=torch.float32) / frames
        alpha = -torch.cos(2 * math.pi * phase).view(-1, *([1] * (start.dim() - 1)))
        path = start.float() + alpha * direction.float()
        yield from self._render(
            self.studio.resolve(model),
            lambda i: path[i : i + 1],
            frames,
            settings,
            SG2Settings(),
            quotas or Quotas(),
            session,
            path,
        )

    # --- rendering ---------------------------------------------------------------------------

    def _render(
        self,
        G: torch.nn.Module,
        latent_at: FrameLatents,
        frames: int,
        settings: VideoSettings,
        s: SG2Settings,
        quotas: Quotas,
        session: str,
        walk: torch.Tensor,
    ) -> Iterator[Progress]:
        """Render `frames` frames (each a grid of the tiles `latent_at(i)` gives), checked
        against the caps first, into the MP4; a Progress with a preview every PREVIEW_EVERY
        frames; the last event's output is the `Video` (shorter when stopped)."""
        tiles = len(latent_at(0))
        size = families.image_size(G)
        columns = settings.columns if tiles == settings.tiles else 1
        settings.check_caps(frames, math.ceil(tiles / columns) * columns * size * size, quotas)
        path, stopped, last = self.studio.output_dir() / "video.mp4", False, None
        with (
            self.runs.running(session or f"video:{id(self)}") as stop,
            Mp4Writer(path, settings) as writer,
        ):
            for i, picture in enumerate(self._frames(G, latent_at, frames, columns, s)):
                writer.send(picture)
                last = picture
                if (i + 1) % PREVIEW_EVERY == 0 and i + 1 < frames:
                    yield Progress(step=i + 1, total=frames, preview=picture)
                if stop.is_set():
                    stopped = True
                    break
            writer.close()
        log.info("video of %d frames at %s", writer.frames, path)
        result = Video(path, writer.frames, (last.shape[1], last.shape[0]), walk)
        yield Progress(step=writer.frames, total=frames, done=True, stopped=stopped, output=result)

    def _frames(
        self, G: torch.nn.Module, latent_at: FrameLatents, frames: int, columns: int, s: SG2Settings
    ) -> Iterator[np.ndarray]:
        """The video's frames as uint8 grids, rendered BATCH frames at a time."""
        for start in range(0, frames, BATCH):
            batch = [latent_at(i) for i in range(start, min(start + BATCH, frames))]
            flat = torch.cat(batch)
            if families.family_of(G).has_w:
                images = self.studio.render(G, flat, s.noise_mode)
            else:
                images = self.studio.synthesize(G, flat)
            per = len(batch[0])
            for i in range(len(batch)):
                yield _tiled(images[i * per : (i + 1) * per], columns)


def _tiled(images: np.ndarray, columns: int) -> np.ndarray:
    """Tiles (N, H, W, 3) side by side without padding, `columns` to a row (gen_video.py)."""
    if len(images) == 1:
        return images[0]
    return media.grid(images, ncols=columns, pad=0)


def _tile_keyframes(keys: torch.Tensor, settings: VideoSettings) -> list[torch.Tensor]:
    """Each tile's keyframes: consecutive runs of `keys`, as gen_video.py splits its seeds."""
    tiles = settings.tiles
    if len(keys) % tiles or len(keys) < tiles:
        raise UserInputError(
            "a {rows} x {columns} grid needs a multiple of {tiles} keyframes; got {count}",
            "msg.error.grid_keyframes",
            rows=settings.rows,
            columns=settings.columns,
            tiles=tiles,
            count=len(keys),
        )
    return list(keys.view(tiles, len(keys) // tiles, *keys.shape[1:]))
