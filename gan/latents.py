"""Latent vectors: seeds, truncation, interpolation paths, and latent files.

Every z is drawn on the CPU from its own seeded `torch.Generator`, so seed 42 gives the same
face on every machine, device and batch size.

This module owns latent files: one `Latent` type (space, values, seeds), one reader
(`read_latent`: an uploaded `.npy`/`.json` or pasted JSON), one writer (`save_latent`, and
`encode` for a zip), one validation per space and one size limit (`MAX_LATENT_FILE_BYTES`).
Generate, Edit, Project and the API all go through them.
"""

from __future__ import annotations

import io
import json
import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from core.errors import UserInputError
from gan.video import walks

MAX_SEEDS = 64
MAX_SEED = 2**32 - 1
MAX_FRAMES = 120  # per segment
MAX_TOTAL_FRAMES = 600
MAX_ABS_Z = 20.0  # |z| beyond this is not a plausible N(0, I) draw
MAX_LATENT_FILE_BYTES = 4 * 1024 * 1024  # every latent upload, z or W+ (README, Security)

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
    """z latents from pasted JSON: a list (one vector), a list of lists, or our export."""
    return _z_only(read_latent(None, text or " ", nz))


def load_latent_file(path: str | Path, nz: int) -> torch.Tensor:
    """z latents from a `.npy` (loaded without pickle) or `.json` file."""
    return _z_only(read_latent(path, "", nz))


def _z_only(latent: Latent | None) -> torch.Tensor:
    if latent is None:
        raise UserInputError("the latent vector is not valid JSON: it is empty")
    return latent.value


def _check_latent_file(path: Path) -> str:
    """The file's suffix (`.npy` or `.json`), after the size check."""
    if path.stat().st_size > MAX_LATENT_FILE_BYTES:
        raise UserInputError(  # MAX_LATENT_FILE_BYTES
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


# --- Latent files ---------------------------------------------------------------------------------

MAX_ABS_W = 1e4  # w is unbounded, but anything this large is not a mapped latent


@dataclass
class Latent:
    """A latent: `space` "z" (N, z_dim) or "w" (N, num_ws, w_dim), the seeds it came from (if
    any) and the settings that reproduce its faces (ψ; a family's cutoff, class, noise mode)."""

    space: str
    value: torch.Tensor
    seeds: list[int] | None = None
    settings: dict = field(default_factory=dict)


def latent_json(latent: Latent) -> str:
    """The export format, read back by `read_latent`: z as `{"truncation_psi", ..., "z"}`,
    W+ as `{"space": "w", ..., "w"}`."""
    if latent.space == "w":
        return json.dumps({"space": "w", **latent.settings, "w": latent.value.tolist()})
    settings = dict(latent.settings)
    payload = {"truncation_psi": settings.pop("truncation_psi", 1.0), **settings}
    payload["z"] = latent.value.tolist()
    if latent.seeds is not None:
        payload["seeds"] = latent.seeds
    return json.dumps(payload)


def encode(latent: Latent) -> tuple[bytes, str]:
    """The `.npy` (float32, no pickle) and `.json` contents of a latent file pair."""
    buffer = io.BytesIO()
    np.save(buffer, latent.value.detach().cpu().numpy().astype(np.float32), allow_pickle=False)
    return buffer.getvalue(), latent_json(latent)


def save_latent(latent: Latent, folder: Path, stem: str) -> list[Path]:
    """Write `<stem>.npy` and `<stem>.json` atomically; both read back unchanged."""
    folder.mkdir(parents=True, exist_ok=True)
    npy, text = encode(latent)
    paths = [folder / f"{stem}.npy", folder / f"{stem}.json"]
    for path, data in zip(paths, (npy, text.encode()), strict=True):
        _atomic_write(path, data)
    return paths


def _atomic_write(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def latents_json(
    z: torch.Tensor, seeds: list[int] | None, truncation_psi: float, **settings: object
) -> str:
    """z's export format (`latent_json` of a z `Latent`), with what produced the faces."""
    return latent_json(Latent("z", z, seeds, {"truncation_psi": truncation_psi, **settings}))


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
    file: str | Path | None, text: str, z_dim: int, num_ws: int = 0, w_dim: int = 0
) -> Latent | None:
    """The one reader: a z or w latent from an uploaded file (first) or pasted JSON; None when
    neither is given. A 3-d array, or a JSON object with key "w" (the export of Generate, Edit
    and Project), is a w; anything else is a z. `num_ws = 0`: the model has no W space.
    """
    if file:
        path = Path(file)
        if _check_latent_file(path) == ".npy":
            return _z_or_w(_read_npy(path), z_dim, num_ws, w_dim)
        text = path.read_text(errors="replace") or " "  # an empty file is no valid JSON
    if not text or not text.strip():
        return None
    data = _json_value(text)
    if isinstance(data, dict) and isinstance(data.get("model"), dict):
        check_model(data["model"], "w" if "w" in data else "z", z_dim, num_ws, w_dim)
    if isinstance(data, dict) and "w" in data:
        return _w(_as_array(data["w"]), z_dim, num_ws, w_dim)
    if isinstance(data, dict) and "z" in data:
        data = data["z"]
    return _z_or_w(_as_array(data), z_dim, num_ws, w_dim)


def model_shape(z_dim: int, num_ws: int = 0, w_dim: int = 0) -> str:
    """A model's latent shapes as numbers: "z 512, W+ 14×512" (or "z 100" without W)."""
    return f"z {z_dim}, W+ {num_ws}×{w_dim}" if num_ws else f"z {z_dim}"


def check_model(model: dict, space: str, z_dim: int, num_ws: int = 0, w_dim: int = 0) -> None:
    """A latent file that names its model (My latents' files do: name, family, shapes) must
    fit this one: the same z size for a z, the same W+ shape for a w."""
    try:
        theirs = [int(model.get(k) or 0) for k in ("z_dim", "num_ws", "w_dim")]
    except (TypeError, ValueError):
        return  # not our metadata: the shape checks below still apply
    fits = theirs[0] == z_dim if space == "z" else (theirs[1], theirs[2]) == (num_ws, w_dim)
    if fits and not (space == "w" and num_ws == 0):
        return
    family, name = str(model.get("family", ""))[:40], str(model.get("name", ""))[:80]
    raise UserInputError(
        "this latent belongs to {model}, a {family} ({shape}); this model takes {takes}",
        "msg.error.latent_model",
        model=repr(name),
        family=family,
        shape=model_shape(*theirs),
        takes=model_shape(z_dim, num_ws, w_dim),
    )


def _z_or_w(array: np.ndarray, z_dim: int, num_ws: int, w_dim: int) -> Latent:
    if array.ndim == 3:
        return _w(array, z_dim, num_ws, w_dim)
    return Latent("z", validate_z(array, z_dim))


def _w(array: np.ndarray, z_dim: int, num_ws: int, w_dim: int) -> Latent:
    if num_ws == 0:
        raise UserInputError(
            f"this is a w latent (StyleGAN2); this model takes z latents of shape ({z_dim},)"
            f" or (N, {z_dim})"
        )
    return Latent("w", validate_w(array, num_ws, w_dim))


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
    """W+'s export format (`latent_json` of a w `Latent`)."""
    return latent_json(Latent("w", w, None, settings))


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
    `mode` "cubic": a Catmull-Rom spline through the keyframes (`gan.video.walks`).
    """
    if mode not in ("lerp", "slerp", "cubic"):
        raise UserInputError(f"mode must be 'lerp', 'slerp' or 'cubic', not {mode!r}")
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
    if mode == "cubic":
        if loop:
            return walks.looping_walk(keyframes, frames - 1)
        return walks.open_walk(keyframes, frames)
    step = lerp if mode == "lerp" else slerp
    t = torch.linspace(0.0, 1.0, frames)
    path = [step(points[i], points[i + 1], t[:-1]) for i in range(segments)]
    if not loop:
        path.append(points[-1][None])
    return torch.cat(path)
