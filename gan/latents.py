"""Latent vectors: seeds, user-supplied vectors, truncation and interpolation paths.

Every z is drawn on the CPU from its own seeded `torch.Generator`, so seed 42 gives the same
face on every machine, device and batch size.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from core.errors import UserInputError

MAX_SEEDS = 64
MAX_SEED = 2**32 - 1
MAX_FRAMES = 120  # per segment
MAX_TOTAL_FRAMES = 600
MAX_ABS_Z = 20.0  # |z| beyond this is not a plausible N(0, I) draw
MAX_LATENT_FILE_BYTES = 4 * 1024 * 1024

_RANGE_RE = re.compile(r"^(\d+)\s*-\s*(\d+)$")


LATENT_COUNT = "give between 1 and {max} latent vectors"
LATENT_JSON = "the latent vector is not valid JSON: {reason} at {pos}"
LATENT_LIST = "latent vectors must be a list of numbers or a list of lists"


def parse_seeds(text: str | int | float | None, max_count: int = MAX_SEEDS) -> list[int]:
    """Parse `"1-8, 42"` into `[1, ..., 8, 42]`, keeping order; ranges are inclusive."""
    if isinstance(text, (int, float)):
        text = str(int(text))
    if text is None or not str(text).strip():
        raise UserInputError("enter at least one seed, e.g. `1-8, 42`", "msg.error.no_seed")
    seeds: list[int] = []
    normalised = re.sub(r"\s*-\s*", "-", str(text).strip())  # "1 - 8" -> "1-8"
    for part in re.split(r"[,\s;]+", normalised):
        part = part.strip()
        if not part:
            continue
        if m := _RANGE_RE.match(part):
            lo, hi = int(m.group(1)), int(m.group(2))
            if hi < lo:
                raise UserInputError(
                    "seed range {part} runs backwards", "msg.error.seed_backwards", part=repr(part)
                )
            if hi - lo + 1 + len(seeds) > max_count:
                raise UserInputError(
                    "too many seeds: at most {count} at once",
                    "msg.error.too_many_seeds",
                    count=max_count,
                )
            seeds.extend(range(lo, hi + 1))
        elif part.isascii() and part.isdigit():  # "²".isdigit() but int("²") fails
            seeds.append(int(part))
        else:
            raise UserInputError(
                "cannot read seed {part}: use whole numbers and ranges, e.g. `1-8, 42`",
                "msg.error.bad_seed",
                part=repr(part),
            )
    if not seeds:
        raise UserInputError("enter at least one seed, e.g. `1-8, 42`", "msg.error.no_seed")
    if len(seeds) > max_count:
        raise UserInputError(
            "too many seeds: at most {count} at once", "msg.error.too_many_seeds", count=max_count
        )
    if max(seeds) > MAX_SEED:
        raise UserInputError(
            "seeds must be between 0 and {max_seed}", "msg.error.seed_range", max_seed=MAX_SEED
        )
    return seeds


def seeds_to_z(seeds: list[int], nz: int) -> torch.Tensor:
    """One z ~ N(0, I) per seed, shape (len(seeds), nz), float32 on the CPU."""
    return torch.stack([torch.randn(nz, generator=torch.Generator().manual_seed(s)) for s in seeds])


def truncate(z: torch.Tensor, truncation_psi: float) -> torch.Tensor:
    """Truncation trick: pull z towards the mean latent by `truncation_psi`.

    StyleGAN applies psi in w space around the average w; a DCGAN's prior N(0, I) has mean 0,
    so here it is a plain scaling of z. psi < 1 trades variety for typical, cleaner faces.
    """
    return z * check_truncation(truncation_psi)


def validate_z(z: np.ndarray | torch.Tensor, nz: int) -> torch.Tensor:
    """Check a user-supplied latent array: shape (nz,) or (N, nz), finite, plausible range."""
    z = torch.as_tensor(np.asarray(z, dtype=np.float64)).float()
    if z.dim() == 1:
        z = z[None]
    if z.dim() == 4 and z.shape[2:] == (1, 1):
        z = z[:, :, 0, 0]
    if z.dim() != 2 or z.shape[1] != nz:
        raise UserInputError(
            "latent vectors must have shape ({nz},) or (N, {nz}); got {shape}",
            "msg.error.latent_shape",
            nz=nz,
            shape=tuple(z.shape),
        )
    if z.shape[0] == 0 or z.shape[0] > MAX_SEEDS:
        raise UserInputError(LATENT_COUNT, "msg.error.latent_count", max=MAX_SEEDS)
    if not torch.isfinite(z).all():
        raise UserInputError(
            "latent vectors contain NaN or infinite values", "msg.error.latent_nan"
        )
    if z.abs().max() > MAX_ABS_Z:
        raise UserInputError(
            "latent values must lie within ±{limit}",
            "msg.error.latent_range",
            limit=f"{MAX_ABS_Z:g}",
        )
    return z


def parse_latent_text(text: str, nz: int) -> torch.Tensor:
    """A JSON list (one vector) or list of lists (several)."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise UserInputError(LATENT_JSON, "msg.error.latent_json", reason=e.msg, pos=e.pos) from e
    except RecursionError as e:  # "[[[[..." thousands deep
        raise UserInputError(
            "the latent vector is nested too deeply", "msg.error.latent_nested"
        ) from e
    return _validate_list(data, nz)


def load_latent_file(path: str | Path, nz: int) -> torch.Tensor:
    """`.npy` (loaded without pickle) or `.json` file of latent vectors."""
    path = Path(path)
    if _check_latent_file(path) == ".npy":
        return validate_z(_read_npy(path), nz)
    return parse_latent_text(path.read_text(errors="replace"), nz)


def _check_latent_file(path: Path) -> str:
    """The file's suffix (`.npy` or `.json`), after the size check."""
    if path.stat().st_size > MAX_LATENT_FILE_BYTES:
        raise UserInputError(
            "the latent file is too large (limit 4 MB)", "msg.error.latent_too_big"
        )
    suffix = path.suffix.lower()
    if suffix not in (".npy", ".json"):
        raise UserInputError("upload latents as a .npy or .json file", "msg.error.latent_suffix")
    return suffix


def _read_npy(path: Path) -> np.ndarray:
    """A real-valued array from `.npy`, never unpickling."""
    try:
        array = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError, MemoryError) as e:  # MemoryError: a lying header
        raise UserInputError(
            "cannot read {name} as a NumPy array ({detail})",
            "msg.error.latent_not_numpy",
            name=path.name,
            detail=e,
        ) from e
    if not isinstance(array, np.ndarray):  # a zip (.npz, torch.save) renamed .npy
        array.close()
        raise UserInputError(
            "cannot read {name} as a NumPy array (it is an archive)",
            "msg.error.latent_archive",
            name=path.name,
        )
    if not np.issubdtype(array.dtype, np.number) or np.iscomplexobj(array):
        raise UserInputError(
            "{name} must hold real numbers, not {dtype}",
            "msg.error.latent_dtype",
            name=path.name,
            dtype=array.dtype,
        )
    return array


def _validate_list(data: object, nz: int) -> torch.Tensor:
    if isinstance(data, dict) and "z" in data:  # our own export format
        data = data["z"]
    try:
        array = np.asarray(data, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise UserInputError(LATENT_LIST, "msg.error.latent_list") from e
    return validate_z(array, nz)


def latents_json(
    z: torch.Tensor, seeds: list[int] | None, truncation_psi: float, **settings: object
) -> str:
    """Export format: readable by `parse_latent_text`, records what produced the faces
    (`settings`: StyleGAN2's cutoff, class and noise mode)."""
    payload = {"truncation_psi": truncation_psi, **settings, "z": z.tolist()}
    if seeds is not None:
        payload["seeds"] = seeds
    return json.dumps(payload)


# --- StyleGAN2: z or w ---------------------------------------------------------------------------

MAX_ABS_W = 1e4  # w is unbounded, but anything this large is not a mapped latent


@dataclass
class Latent:
    """A user-supplied latent: `space` "z" (N, z_dim) or "w" (N, num_ws, w_dim)."""

    space: str
    value: torch.Tensor


def validate_w(w: np.ndarray | torch.Tensor, num_ws: int, w_dim: int) -> torch.Tensor:
    """Check a w latent: (w_dim,), (N, w_dim) (broadcast to every layer) or (N, num_ws, w_dim)."""
    w = torch.as_tensor(np.asarray(w, dtype=np.float32))
    if w.dim() == 1:
        w = w[None]
    if w.dim() == 2:
        w = w[:, None].repeat(1, num_ws, 1)
    if w.dim() != 3 or tuple(w.shape[1:]) != (num_ws, w_dim):
        raise UserInputError(
            "w latents must have shape ({w_dim},) or (N, {num_ws}, {w_dim}); got {shape}",
            "msg.error.w_shape",
            w_dim=w_dim,
            num_ws=num_ws,
            shape=tuple(w.shape),
        )
    if not 0 < w.shape[0] <= MAX_SEEDS:
        raise UserInputError(LATENT_COUNT, "msg.error.latent_count", max=MAX_SEEDS)
    if not torch.isfinite(w).all():
        raise UserInputError("the w latent contains NaN or infinite values", "msg.error.w_nan")
    if w.abs().max() > MAX_ABS_W:
        raise UserInputError(
            "w values must lie within ±{limit}", "msg.error.w_range", limit=f"{MAX_ABS_W:g}"
        )
    return w


def read_latent(
    file: str | Path | None, text: str, z_dim: int, num_ws: int, w_dim: int
) -> Latent | None:
    """A z or w latent from an uploaded file or pasted JSON (None when neither is given).

    A 3-d array, or a JSON object with key "w" (our export and the Project tab's), is a w;
    anything else is a z.
    """
    if file:
        path = Path(file)
        if _check_latent_file(path) == ".npy":
            return _z_or_w(_read_npy(path), z_dim, num_ws, w_dim)
        text = path.read_text(errors="replace")
    if not text or not text.strip():
        return None
    data = _json_value(text)
    if isinstance(data, dict) and "w" in data:
        return Latent("w", validate_w(_as_array(data["w"]), num_ws, w_dim))
    if isinstance(data, dict) and "z" in data:
        data = data["z"]
    return _z_or_w(_as_array(data), z_dim, num_ws, w_dim)


def _z_or_w(array: np.ndarray, z_dim: int, num_ws: int, w_dim: int) -> Latent:
    if array.ndim == 3:
        return Latent("w", validate_w(array, num_ws, w_dim))
    return Latent("z", validate_z(array, z_dim))


def _json_value(text: str) -> object:
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise UserInputError(LATENT_JSON, "msg.error.latent_json", reason=e.msg, pos=e.pos) from e
    except RecursionError as e:
        raise UserInputError(
            "the latent vector is nested too deeply", "msg.error.latent_nested"
        ) from e


def _as_array(data: object) -> np.ndarray:
    try:
        return np.asarray(data, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise UserInputError(LATENT_LIST, "msg.error.latent_list") from e


def w_json(w: torch.Tensor, **settings: object) -> str:
    """Export format of w (N, num_ws, w_dim), read back by `read_latent` (and the Project tab)."""
    return json.dumps({"space": "w", **settings, "w": w.tolist()})


def check_truncation(truncation_psi: float) -> float:
    """ψ as a float in [0, 2]."""
    if not np.isfinite(truncation_psi) or not 0.0 <= truncation_psi <= 2.0:
        raise UserInputError("truncation_psi must be between 0 and 2")
    return float(truncation_psi)


# --- Interpolation ------------------------------------------------------------------------------


def lerp(z0: torch.Tensor, z1: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    return z0 + (z1 - z0) * t[:, None]


def slerp(z0: torch.Tensor, z1: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Spherical interpolation (Shoemake 1985; White 2016 for GAN latents): keeps |z| typical
    of the Gaussian shell, where lerp passes through low-norm, washed-out faces."""
    u0, u1 = z0 / z0.norm(), z1 / z1.norm()
    omega = torch.arccos((u0 * u1).sum().clamp(-1.0, 1.0))
    if omega.abs() < 1e-6:  # (anti)parallel: fall back to lerp
        return lerp(z0, z1, t)
    so = torch.sin(omega)
    w0 = torch.sin((1.0 - t) * omega) / so
    w1 = torch.sin(t * omega) / so
    # interpolate direction on the sphere and the norm linearly
    norm = z0.norm() + (z1.norm() - z0.norm()) * t
    direction = w0[:, None] * u0 + w1[:, None] * u1
    return direction / direction.norm(dim=1, keepdim=True) * norm[:, None]


def interpolation_path(
    keyframes: torch.Tensor, frames: int, mode: str = "slerp", loop: bool = False
) -> torch.Tensor:
    """Latents through `keyframes` (K, nz): `frames` per segment, endpoints included once.

    Two keyframes and 8 frames give 8 latents. With `loop`, a last segment returns to the first
    keyframe and the repeated first frame is dropped, so the animation cycles seamlessly.
    """
    if mode not in ("lerp", "slerp"):
        raise UserInputError(f"mode must be 'lerp' or 'slerp', not {mode!r}")
    if keyframes.shape[0] < 2:
        raise UserInputError("interpolation needs at least two seeds", "msg.error.two_seeds")
    frames = int(frames)
    if not 2 <= frames <= MAX_FRAMES:
        raise UserInputError(
            "frames per segment must be between 2 and {max}",
            "msg.error.frames_range",
            max=MAX_FRAMES,
        )
    points = list(keyframes)
    if loop:
        points.append(keyframes[0])
    segments = len(points) - 1
    total = segments * (frames - 1) + (0 if loop else 1)
    if total > MAX_TOTAL_FRAMES:
        raise UserInputError(
            "that makes {total} frames: at most {max}",
            "msg.error.total_frames",
            total=total,
            max=MAX_TOTAL_FRAMES,
        )
    step = lerp if mode == "lerp" else slerp
    t = torch.linspace(0.0, 1.0, frames)
    path = [step(points[i], points[i + 1], t[:-1]) for i in range(segments)]
    if not loop:
        path.append(points[-1][None])
    return torch.cat(path)
