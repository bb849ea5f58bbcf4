"""The face service the app calls: load generators by name, generate, interpolate, save files."""

from __future__ import annotations

import contextlib
import io
import logging
import secrets
import shutil
import tempfile
import threading
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from core import media, store
from core.errors import UserInputError
from core.images import to_uint8
from core.lanes import PriorityGate
from gan import latents, models
from gan.loading import load_generator

log = logging.getLogger(__name__)

DISPLAY_SIZE = 256
OUTPUT_TTL_S = 3600


@dataclass
class Faces:
    """Generated faces and the latents behind them."""

    images: np.ndarray  # (N, H, W, 3) uint8 at the model's native resolution
    z: torch.Tensor  # (N, nz), after truncation
    seeds: list[int] | None
    truncation_psi: float


def face_names(faces: Faces) -> list[str]:
    """File names of the faces: `seed0042.png`, or `face0000.png` for given latents."""
    if faces.seeds:
        return [f"seed{s:04d}.png" for s in faces.seeds]
    return [f"face{i:04d}.png" for i in range(len(faces.images))]


class FaceStudio:
    """Holds loaded generators (one per name, reloaded when its weights change on disk)."""

    def __init__(
        self,
        device: torch.device,
        output_root: Path | None = None,
        gate: PriorityGate | None = None,
    ) -> None:
        """`gate` (the app's priority gate) runs every forward pass as cheap work."""
        self.device = device
        self.output_root = output_root or Path(tempfile.gettempdir()) / "gan-studio-outputs"
        self.gate = gate
        self._cache: dict[str, tuple[tuple, nn.Module]] = {}
        self._lock = threading.Lock()

    # --- models -----------------------------------------------------------------------------

    def model_choices(self) -> list[str]:
        """Local generators (new fine-tunes appear at once), then configured Hub models."""
        local = sorted(n for kind in models.GENERATOR_TYPES for n in store.list_local(kind))
        return local + [str(ref) for ref in store.configured_hub_models()]

    def generator(self, name: str) -> nn.Module:
        if not name:
            raise UserInputError("choose a model")
        folder = store.resolve(name)
        weights = folder / store.WEIGHTS_NAME
        key = (str(folder), weights.stat().st_mtime_ns, weights.stat().st_size)
        with self._lock:
            cached = self._cache.get(name)
            if cached and cached[0] == key:
                return cached[1]
            generator = load_generator(name, self.device)
            self._cache[name] = (key, generator)
            log.info("loaded %s on %s", name, self.device)
            return generator

    def nz(self, name: str) -> int:
        return self.generator(name).config.nz

    # --- inference --------------------------------------------------------------------------

    @torch.inference_mode()
    def synthesize(self, name: str, z: torch.Tensor, batch_size: int = 64) -> np.ndarray:
        """z (N, nz) -> uint8 images (N, H, W, 3)."""
        generator = self.generator(name)
        with self.gate.cheap() if self.gate else contextlib.nullcontext():
            chunks = [
                generator(chunk.to(self.device)).float().cpu().numpy()
                for chunk in z.split(batch_size)
            ]
        return to_uint8(np.concatenate(chunks))

    def generate(
        self,
        name: str,
        seeds: list[int] | None = None,
        z: torch.Tensor | None = None,
        truncation_psi: float = 1.0,
    ) -> Faces:
        """Faces from seeds or from explicit latents (exactly one of the two)."""
        nz = self.nz(name)
        if z is None:
            if not seeds:
                raise UserInputError("give seeds or a latent vector")
            z = latents.seeds_to_z(seeds, nz)
        else:
            z = latents.validate_z(z, nz)
        z = latents.truncate(z, truncation_psi)
        return Faces(self.synthesize(name, z), z, seeds, truncation_psi)

    def interpolate(
        self,
        name: str,
        seeds: list[int],
        frames: int,
        mode: str = "slerp",
        loop: bool = False,
        truncation_psi: float = 1.0,
    ) -> np.ndarray:
        """Frames (T, H, W, 3) along a lerp/slerp path through the seeds' latents."""
        if len(seeds) < 2:
            raise UserInputError("interpolation needs at least two seeds, e.g. `1, 2`")
        keyframes = latents.truncate(latents.seeds_to_z(seeds, self.nz(name)), truncation_psi)
        path = latents.interpolation_path(keyframes, frames, mode, loop)
        return self.synthesize(name, path)

    def generate_request(
        self,
        name: str,
        seeds: str,
        truncation_psi: float = 1.0,
        latent_vector: str = "",
        latent_file: str | Path | None = None,
    ) -> tuple[Faces, list[Path]]:
        """Faces for seed text (`1-8, 42`), or for a pasted (JSON) or uploaded latent vector,
        and their native-resolution PNGs (`save_gallery`)."""
        faces = self.faces_request(name, seeds, truncation_psi, latent_vector, latent_file)
        return faces, self.save_gallery(faces)

    def zip_request(
        self,
        name: str,
        seeds: str,
        truncation_psi: float = 1.0,
        latent_vector: str = "",
        latent_file: str | Path | None = None,
    ) -> Path:
        """The same faces as `generate_request` (it is deterministic) in one zip (`save_zip`)."""
        faces = self.faces_request(name, seeds, truncation_psi, latent_vector, latent_file)
        return self.save_zip(faces)

    def faces_request(
        self,
        name: str,
        seeds: str,
        truncation_psi: float = 1.0,
        latent_vector: str = "",
        latent_file: str | Path | None = None,
    ) -> Faces:
        """The faces of a request (seed text, pasted JSON or an uploaded latent file)."""
        z, seed_list = None, None
        if latent_file:
            z = latents.load_latent_file(latent_file, self.nz(name))
        elif latent_vector and latent_vector.strip():
            z = latents.parse_latent_text(latent_vector, self.nz(name))
        else:
            seed_list = latents.parse_seeds(seeds)
        return self.generate(name, seed_list, z, truncation_psi)

    def interpolate_request(
        self,
        name: str,
        seeds: str,
        frames: int,
        mode: str = "slerp",
        loop: bool = False,
        truncation_psi: float = 1.0,
        fps: int = 12,
    ) -> tuple[np.ndarray, tuple[Path, Path, Path], int]:
        """Frames between keyframe seed text (`1, 2, 3`), saved as a strip, GIF and MP4;
        (frames, files, keyframe count)."""
        keyframes = latents.parse_seeds(seeds, max_count=16)
        images = self.interpolate(name, keyframes, frames, mode, loop, truncation_psi)
        fps = int(min(max(fps, 1), 60))
        return images, self.save_animation(images, fps), len(keyframes)

    # --- files ------------------------------------------------------------------------------

    def output_dir(self) -> Path:
        """A fresh, unguessable folder for one request's files; old ones are pruned."""
        self._prune_outputs()
        folder = self.output_root / secrets.token_hex(32)
        folder.mkdir(parents=True)
        return folder

    def _prune_outputs(self) -> None:
        """Empty folders after OUTPUT_TTL_S, any after twice that. Inside Gradio's cache folder
        Gradio deletes the files itself (`delete_cache`), and forgets them only then."""
        if not self.output_root.is_dir():
            return
        now = time.time()
        for child in self.output_root.iterdir():
            try:
                age = now - child.stat().st_mtime
                if age > 2 * OUTPUT_TTL_S:
                    shutil.rmtree(child, ignore_errors=True)
                elif age > OUTPUT_TTL_S:
                    child.rmdir()  # only when empty
            except OSError:
                pass

    def save_gallery(self, faces: Faces) -> list[Path]:
        """Each face as a native-resolution PNG (the page scales them up with CSS)."""
        folder = self.output_dir()
        return [
            media.save_png(image, folder / name)
            for name, image in zip(face_names(faces), faces.images, strict=True)
        ]

    def save_zip(self, faces: Faces) -> Path:
        """One zip: each face as a native PNG, the grid, the latents (.npy and .json)."""
        path = self.output_dir() / "faces.zip"
        z = io.BytesIO()
        np.save(z, faces.z.numpy().astype(np.float32))
        with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:  # PNGs are compressed
            for name, image in zip(face_names(faces), faces.images, strict=True):
                archive.writestr(name, media.png_bytes(image))
            archive.writestr("grid.png", media.png_bytes(media.grid(faces.images)))
            archive.writestr("latents.npy", z.getvalue())
            archive.writestr(
                "latents.json",
                latents.latents_json(faces.z, faces.seeds, faces.truncation_psi),
            )
        return path

    def save_faces(self, faces: Faces) -> list[Path]:
        """Four files: a grid PNG, a zip of the faces' PNGs and the latents (.npy, .json); the
        app's earlier output shape (`save_gallery` and `save_zip` replace it; the cheap-path
        benchmark measures it as its baseline)."""
        folder = self.output_dir()
        files = [media.save_png(media.grid(faces.images), folder / "grid.png")]
        names = faces.seeds or list(range(len(faces.images)))
        prefix = "seed" if faces.seeds else "face"
        with zipfile.ZipFile(folder / "faces.zip", "w") as archive:
            for label, image in zip(names, faces.images, strict=True):
                archive.writestr(f"{prefix}{label:04d}.png", media.png_bytes(image))
        files.append(folder / "faces.zip")
        np.save(folder / "latents.npy", faces.z.numpy().astype(np.float32))
        files.append(folder / "latents.npy")
        (folder / "latents.json").write_text(
            latents.latents_json(faces.z, faces.seeds, faces.truncation_psi)
        )
        files.append(folder / "latents.json")
        return files

    def save_animation(self, frames: np.ndarray, fps: int) -> tuple[Path, Path, Path]:
        """Strip PNG (native resolution), GIF and MP4 (upscaled for viewing)."""
        folder = self.output_dir()
        big = media.upscale_frames(frames, DISPLAY_SIZE)
        return (
            media.save_png(media.strip(frames), folder / "strip.png"),
            media.save_gif(big, folder / "interpolation.gif", fps),
            media.save_mp4(big, folder / "interpolation.mp4", fps),
        )
