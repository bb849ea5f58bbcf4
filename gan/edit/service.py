"""The Edit service: SeFa sliders on any generator the studio serves, and latent I/O shared by
Edit, Project and Judge.

A DCGAN latent is z (1, nz), moved directly; a StyleGAN2 latent is W+ (1, num_ws, w_dim), moved on
the chosen layers only. Sliders are in units of σ: for z, the directions are unit vectors of
N(0, I), so σ = 1; for w, σ is the standard deviation of w along each direction, measured on
mapped samples (w is far from isotropic, so a unit step would mean different things per direction).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from core import media
from core.errors import UserInputError
from core.events import Progress
from core.images import to_uint8
from core.quotas import Quotas
from gan import latents
from gan.edit.sefa import DirectionCache, Directions, fingerprint, move, strip
from gan.generate.service import FaceStudio
from gan.models import families
from gan.video.encode import VideoSettings
from gan.video.service import VideoMaker

MAX_SLIDERS = 5
SIGMAS = (-3.0, -2.0, -1.0, 0.0, 1.0, 2.0, 3.0)
SIGMA_SAMPLES = 2000


@dataclass
class Edited:
    """One edit: the image, the moved latent, and its files."""

    image: np.ndarray  # (H, W, 3) uint8
    latent: torch.Tensor  # z (1, nz) or W+ (1, num_ws, w_dim)
    space: str  # "z" or "w"
    strip: np.ndarray | None = None  # rows: directions, columns: SIGMAS
    files: list[Path] | None = None
    labels: list[str] | None = None  # one per slider: the direction and its share


def _has_w(generator: nn.Module) -> bool:
    """Whether the generator's family edits W+ (else z)."""
    return families.family_of(generator).has_w


# --- Latents -----------------------------------------------------------------------------------


@torch.no_grad()
def z_to_latent(generator: nn.Module, z: torch.Tensor, truncation_psi: float) -> torch.Tensor:
    """The model's editable latent for z: z itself (truncated) or W+ from the mapping."""
    if not _has_w(generator):
        return latents.truncate(z, truncation_psi)
    device = next(generator.parameters()).device
    ws = generator.mapping(z.to(device), None, truncation_psi=truncation_psi)
    return ws.cpu()


@torch.no_grad()
def render(generator: nn.Module, latent: torch.Tensor) -> np.ndarray:
    """uint8 images (N, H, W, 3) of z or W+ latents."""
    device = next(generator.parameters()).device
    latent = latent.to(device)
    if _has_w(generator):
        images = generator.synthesis(latent, noise_mode="const")
    else:
        images = generator(latent)
    return to_uint8(images.float().cpu().numpy())


def latent_dims(generator: nn.Module) -> tuple[int, int, int]:
    """(z_dim, num_ws, w_dim); num_ws = w_dim = 0 for a DCGAN."""
    return (families.family_of(generator).z_dim(generator), *families.w_shape(generator))


def start_latent(
    generator: nn.Module,
    seed: int = 0,
    latent_text: str = "",
    latent_file: str | Path | None = None,
    truncation_psi: float = 1.0,
) -> torch.Tensor:
    """The latent to edit: an uploaded file, else pasted JSON, else the seed's face.

    z inputs (Generate's format) are mapped for StyleGAN2; W+ inputs are taken as they are.
    """
    nz, num_ws, w_dim = latent_dims(generator)
    given = latents.read_latent(latent_file, latent_text, nz, num_ws, w_dim)
    if given is not None:
        first = given.value[:1]
        return first if given.space == "w" else z_to_latent(generator, first, truncation_psi)
    seed = int(seed)
    if not 0 <= seed <= latents.MAX_SEED:
        raise UserInputError(f"the seed must be a whole number from 0 to {latents.MAX_SEED}")
    return z_to_latent(generator, latents.seeds_to_z([seed], nz), truncation_psi)


# --- The service ------------------------------------------------------------------------------


@dataclass(frozen=True)
class EditModel:
    """A request's model, resolved once: its name (the caches' key) and its generator."""

    name: str
    G: nn.Module


class Editor:
    """SeFa edits on the studio's generators; directions and σ cached per model weights."""

    def __init__(
        self,
        studio: FaceStudio,
        cache: DirectionCache | None = None,
        video: VideoMaker | None = None,
    ) -> None:
        """`video`: the app's video service (sweep videos), else one of its own."""
        self.studio = studio
        self.cache = cache or DirectionCache()
        self.video = video or VideoMaker(studio)
        self._sigmas: dict[tuple, torch.Tensor] = {}
        self._lock = threading.Lock()

    def model(self, name: str) -> EditModel:
        return EditModel(name, self.studio.generator(name))

    def edit_request(
        self,
        name: str,
        seed: int,
        truncation_psi: float,
        latent_text: str,
        latent_file: str | Path | None,
        alphas: Sequence[float],
        layers: str = "all",
    ) -> Edited:
        """One Edit click: the start latent (`start_latent`) moved, its strips, files, labels."""
        m = self.model(name)
        latent = start_latent(m.G, seed, latent_text, latent_file, float(truncation_psi))
        return self.edit(m, latent, alphas, layers)

    def preview_request(
        self,
        name: str,
        seed: int,
        truncation_psi: float,
        latent_text: str,
        latent_file: str | Path | None,
        alphas: Sequence[float],
        layers: str = "all",
    ) -> np.ndarray:
        """One slider move: the edited image only."""
        m = self.model(name)
        latent = start_latent(m.G, seed, latent_text, latent_file, float(truncation_psi))
        return self.preview(m, latent, alphas, layers)

    def sweep_request(
        self,
        name: str,
        seed: int,
        truncation_psi: float,
        latent_text: str,
        latent_file: str | Path | None,
        layers: str,
        direction: int,
        strength: float,
        settings: VideoSettings,
        quotas: Quotas | None = None,
        session: str = "",
    ) -> Iterator[Progress]:
        """A sweep video: the start latent moved along SeFa direction `direction` from
        -`strength` σ to +`strength` σ and back (`VideoMaker.edit_sweep`)."""
        m = self.model(name)
        latent = start_latent(m.G, seed, latent_text, latent_file, float(truncation_psi))
        directions = self.directions(m, layers)
        k = int(direction)
        if not 0 <= k < min(len(directions.vectors), MAX_SLIDERS):
            raise UserInputError(f"direction must be between 0 and {MAX_SLIDERS - 1}")
        alphas = torch.zeros(k + 1)
        alphas[k] = _check_alphas([strength], 1)[0] * self.sigmas(m, layers)[k]
        delta = move(latent, directions, alphas) - latent
        yield from self.video.edit_sweep(m.G, latent, delta, settings, quotas, session)

    def directions(self, m: EditModel, layers: str = "all") -> Directions:
        return self.cache.get(m.name, m.G, layers)

    def slider_labels(self, name: str, layers: str = "all", k: int = MAX_SLIDERS) -> list[str]:
        """One label per slider: the direction and its share of the spectrum."""
        return self._labels(self.directions(self.model(name), layers), k)

    @staticmethod
    def _labels(directions: Directions, k: int = MAX_SLIDERS) -> list[str]:
        return [f"direction {text}" for text in directions.labels(k)]

    def sigmas(self, m: EditModel, layers: str = "all") -> torch.Tensor:
        """σ of the latent along each direction (1 for z)."""
        directions = self.directions(m, layers)
        if directions.space == "z":
            return torch.ones(len(directions.vectors))
        key = (m.name, fingerprint(m.G), layers)
        with self._lock:
            if key not in self._sigmas:
                self._sigmas[key] = _w_sigmas(m.G, directions)
            return self._sigmas[key]

    def _moved(self, m: EditModel, latent: torch.Tensor, alphas: Sequence[float], layers: str):
        directions = self.directions(m, layers)
        alphas = _check_alphas(alphas, len(directions.vectors))
        scaled = alphas * self.sigmas(m, layers)[: len(alphas)]
        return move(latent, directions, scaled), directions

    def preview(self, m: EditModel, latent: torch.Tensor, alphas: Sequence[float], layers: str):
        """The edited image only (the live preview while a slider moves)."""
        moved, _ = self._moved(m, latent, alphas, layers)
        return render(m.G, moved)[0]

    def edit(
        self, m: EditModel, latent: torch.Tensor, alphas: Sequence[float], layers: str = "all"
    ) -> Edited:
        """The edited image, a strip per slider (−3σ..+3σ around the edit) and the files."""
        moved, directions = self._moved(m, latent, alphas, layers)
        sig = self.sigmas(m, layers)
        rows = [
            render(m.G, strip(moved, directions, k, [s * float(sig[k]) for s in SIGMAS]))
            for k in range(len(alphas))
        ]
        image = render(m.G, moved)[0]
        grid = media.grid(np.concatenate(rows), ncols=len(SIGMAS))
        folder = self.studio.output_dir()
        files = latents.save_latent(latents.Latent(directions.space, moved), folder, "edited")
        files.insert(0, media.save_png(image, folder / "edited.png"))
        files.insert(1, media.save_png(grid, folder / "strips.png"))
        return Edited(image, moved, directions.space, grid, files, self._labels(directions))


def _check_alphas(alphas: Sequence[float], available: int) -> torch.Tensor:
    values = torch.as_tensor([float(a) for a in alphas], dtype=torch.float32)
    if len(values) > min(available, MAX_SLIDERS):
        raise UserInputError(f"at most {min(available, MAX_SLIDERS)} sliders for this model")
    if not torch.isfinite(values).all() or bool((values.abs() > 10).any()):
        raise UserInputError("slider values must be finite numbers within ±10 σ")
    return values


@torch.no_grad()
def _w_sigmas(generator: nn.Module, directions: Directions) -> torch.Tensor:
    device = next(generator.parameters()).device
    z = torch.randn(SIGMA_SAMPLES, generator.z_dim, generator=torch.Generator().manual_seed(123))
    w = generator.mapping(z.to(device), None)[:, 0].float().cpu()
    return ((w - w.mean(0)) @ directions.vectors.T).std(0).clamp_min(1e-8)


def faces_for_seeds(studio: FaceStudio, name: str, seeds: list[int]) -> np.ndarray:
    """The model's faces for seeds (ψ = 1), uint8 (N, H, W, 3): what Judge scores."""
    generator = studio.generator(name)
    z = latents.seeds_to_z(list(seeds), latent_dims(generator)[0])
    return render(generator, z_to_latent(generator, z, 1.0))


def faces_for_latents(studio: FaceStudio, name: str, files: Sequence[str | Path]) -> np.ndarray:
    """The model's faces for latent files (every vector of each; z at ψ = 1, w as it is),
    uint8 (N, H, W, 3): what Judge scores of My latents."""
    generator = studio.generator(name)
    found = [latents.read_latent(f, "", *latent_dims(generator)) for f in files]
    wanted = [
        g.value if g.space == "w" else z_to_latent(generator, g.value, 1.0)
        for g in found
        if g is not None
    ]
    if not wanted:
        raise UserInputError("give seeds or a latent vector")
    return np.concatenate([render(generator, latent) for latent in wanted])
