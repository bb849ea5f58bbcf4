"""What the studio makes and the small rules around it: faces with their latents (and the
files that reproduce them), StyleGAN2 request settings, style-mixing figures and presets."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from core import media
from core.errors import UserInputError
from gan import latents
from gan.models import stylegan2
from gan.models.families import NO_CAMERA, Camera

NOISE_MODES = stylegan2.NOISE_MODES
MAX_TRANSLATE = 1.0  # a camera's shift, in units of the picture (NVIDIA's --translate)
# Style-mixing presets, as ws indices (StyleGAN, Karras et al. 2019, sec. 3.1: coarse = 4²-8²,
# middle = 16²-32², fine = 64² and up; two ws per resolution). NVIDIA's style_mixing.py
# takes the same indices as `--styles`, its default `0-6`.
STYLE_PRESETS: dict[str, tuple[int, int | None]] = {
    "coarse": (0, 4),
    "middle": (4, 8),
    "fine": (8, None),
}


@dataclass
class Faces:
    """Generated faces and the latents behind them."""

    images: np.ndarray  # (N, H, W, 3) uint8 at the model's native resolution
    z: torch.Tensor | None  # (N, nz); DCGAN: after truncation; StyleGAN2: before (None from w)
    seeds: list[int] | None
    truncation_psi: float
    w: torch.Tensor | None = None  # StyleGAN2: (N, num_ws, w_dim), after truncation
    settings: dict = field(default_factory=dict)  # StyleGAN2: cutoff, class, noise mode


@dataclass
class SG2Settings:
    """How a StyleGAN2 maps z to w and renders w (ignored by DCGANs)."""

    truncation_psi: float = 1.0
    truncation_cutoff: int | None = None  # truncate the first `cutoff` ws only; None = all
    noise_mode: str = "const"
    class_idx: int = 0
    # StyleGAN3's camera (translate_x, translate_y, rotate in degrees), as NVIDIA's
    # gen_images.py --translate --rotate; `camera_end`: Interpolate's last frame (None = same)
    camera: Camera = NO_CAMERA
    camera_end: Camera | None = None

    def export(self) -> dict:
        values = {
            "truncation_cutoff": self.truncation_cutoff,
            "class_idx": self.class_idx,
            "noise_mode": self.noise_mode,
        }
        return values | ({"camera": list(self.camera)} if self.camera != NO_CAMERA else {})

    def cameras(self, n: int) -> list[Camera]:
        """One camera per frame of `n`: from `camera` to `camera_end` in equal steps."""
        start, end = check_camera(self.camera), check_camera(self.camera_end or self.camera)
        steps = [i / (n - 1) if n > 1 else 0.0 for i in range(n)]
        return [tuple(a + (b - a) * t for a, b in zip(start, end, strict=True)) for t in steps]


def check_camera(camera: Camera) -> Camera:
    """A finite camera: translations within +-MAX_TRANSLATE, rotation within +-360 degrees."""
    tx, ty, deg = (float(v) for v in camera)
    if not all(abs(v) <= MAX_TRANSLATE for v in (tx, ty)):
        raise UserInputError(
            f"translate_x and translate_y must be between -{MAX_TRANSLATE} and {MAX_TRANSLATE}"
        )
    if not abs(deg) <= 360:
        raise UserInputError("rotate must be between -360 and 360 degrees")
    return tx, ty, deg


@dataclass(frozen=True)
class FacesRequest:
    """What a Generate request asks for: seed text (`1-8, 42`), or a pasted (JSON) or uploaded
    latent vector (StyleGAN2: z or w) that replaces the seeds."""

    seeds: str = ""
    truncation_psi: float = 1.0
    latent_vector: str = ""
    latent_file: str | Path | None = None
    sg2: SG2Settings | None = None
    latent_files: tuple[str | Path, ...] = ()  # My latents' files (or uploads), before seeds


@dataclass
class StyleMix:
    """A style-mixing figure: rows take the `layers` ws of each column."""

    rows: np.ndarray  # (R, H, W, 3)
    columns: np.ndarray  # (C, H, W, 3)
    mixed: np.ndarray  # (R, C, H, W, 3)
    row_seeds: list[int | str]  # a seed, or a latent file's name
    column_seeds: list[int | str]
    layers: list[int]

    def grid(self) -> np.ndarray:
        """The paper's layout: columns along the top, rows down the left, a blank corner."""
        blank = np.full_like(self.rows[:1], 255)
        cells = [blank, self.columns]
        for r in range(len(self.rows)):
            cells += [self.rows[r : r + 1], self.mixed[r]]
        return media.grid(np.concatenate(cells), ncols=len(self.columns) + 1)

    def resized(self, size: int) -> StyleMix:
        """The same figure with `size`-pixel faces (nearest up, area-averaged down)."""

        def resize(images: np.ndarray) -> np.ndarray:
            flat = images.reshape(-1, *images.shape[-3:])
            resample = Image.Resampling.NEAREST if flat.shape[1] < size else Image.Resampling.BOX
            out = [np.asarray(Image.fromarray(i).resize((size, size), resample)) for i in flat]
            return np.stack(out).reshape(*images.shape[:-3], size, size, 3)

        return replace(
            self, rows=resize(self.rows), columns=resize(self.columns), mixed=resize(self.mixed)
        )


def latent_files(faces: Faces) -> dict[str, bytes | str]:
    """The latents behind `faces` as files (`gan.latents.encode`): z (`latents.npy/.json`, with
    ψ and the family's settings) and, for a W family, w after truncation (`w.npy/.json`)."""
    files: dict[str, bytes | str] = {}
    if faces.z is not None:
        settings = {"truncation_psi": faces.truncation_psi, **faces.settings}
        z = latents.Latent("z", faces.z, faces.seeds, settings)
        files["latents.npy"], files["latents.json"] = latents.encode(z)
    if faces.w is not None:
        w = latents.Latent("w", faces.w, None, {"noise_mode": faces.settings["noise_mode"]})
        files["w.npy"], files["w.json"] = latents.encode(w)
    return files


def face_names(faces: Faces) -> list[str]:
    """File names of the faces: `seed0042.png`, or `face0000.png` for given latents."""
    if faces.seeds:
        return [f"seed{s:04d}.png" for s in faces.seeds]
    return [f"face{i:04d}.png" for i in range(len(faces.images))]


def check_cutoff(cutoff: int | None, num_ws: int) -> int | None:
    """None or 0: truncate every ws; else the first `cutoff` of them (NVIDIA's meaning)."""
    if cutoff is None or int(cutoff) == 0:
        return None
    if not 0 < int(cutoff) <= num_ws:
        raise UserInputError(f"truncation_cutoff must be between 0 (all) and {num_ws}")
    return int(cutoff)


def one_hot(class_idx: int | None, c_dim: int, n: int, device: torch.device) -> torch.Tensor | None:
    """The class label of a conditional model; None for unconditional ones (class ignored)."""
    if c_dim == 0:
        return None
    idx = int(class_idx or 0)
    if not 0 <= idx < c_dim:
        raise UserInputError(f"class_idx must be between 0 and {c_dim - 1}")
    c = torch.zeros(n, c_dim, device=device)
    c[:, idx] = 1
    return c


def mix_layers(
    preset: str, layers: str, num_ws: int, presets: dict[str, tuple[int, int | None]] | None = None
) -> list[int]:
    """The ws indices a preset (or, for `custom`, the text `layers`) names, within num_ws;
    `presets`: the family's own (StyleGAN3's), else StyleGAN's `STYLE_PRESETS`."""
    presets = presets or STYLE_PRESETS
    if preset == "custom":
        chosen = latents.parse_seeds(layers, max_count=512)
    elif preset in presets:
        lo, hi = presets[preset]
        chosen = list(range(lo, num_ws if hi is None else min(hi, num_ws)))
    else:
        raise UserInputError(f"preset must be one of {', '.join([*STYLE_PRESETS, 'custom'])}")
    return check_layers(chosen, num_ws)


def check_layers(layers: list[int], num_ws: int) -> list[int]:
    if not layers:
        raise UserInputError(f"no style layers chosen: this model has ws 0-{num_ws - 1}")
    if max(layers) >= num_ws:
        raise UserInputError(f"style layers must lie in 0-{num_ws - 1} for this model")
    return sorted(set(layers))
