"""Training data for fine-tuning: safe archive extraction and preprocessing.

Uploads arrive as many image files, one or more `.zip` archives, or a folder (the CLI).
Archives are never extracted by member name: each accepted member is streamed, with byte caps
checked on the bytes actually read (a zip bomb's headers lie), into a flat temporary folder
under a generated name, so no path in an archive can reach outside it. Members that are not
images (nested archives, symlinks, encrypted or oddly compressed entries, corrupt files) are
skipped and listed. Images are centre-cropped and resized to the model's resolution and kept
as one uint8 tensor (N, 3, S, S).
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import stat
import tempfile
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import numpy as np
import torch
from PIL import Image

from core.errors import UserInputError
from core.images import MAX_FILE_BYTES, load_rgb, named_file
from core.quotas import Deadline
from core.safe_files import MAX_ZIP_ENTRIES, open_zip

log = logging.getLogger(__name__)

MIN_IMAGES = 8
MAX_IMAGES = 5000
MAX_ARCHIVE_MEMBERS = MAX_ZIP_ENTRIES
MAX_TOTAL_BYTES = 1024 * 2**20  # uncompressed bytes taken from all archives of one upload
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff"}
ARCHIVE_SUFFIXES = {".zip", ".tar", ".gz", ".tgz", ".bz2", ".xz", ".7z", ".rar", ".zst"}
_CHUNK = 1 << 20


@dataclass
class Limits:
    """Caps on one upload (the defaults are the app's)."""

    max_images: int = MAX_IMAGES
    max_members: int = MAX_ARCHIVE_MEMBERS
    max_total_bytes: int = MAX_TOTAL_BYTES
    max_file_bytes: int = MAX_FILE_BYTES


@dataclass
class Dataset:
    """Prepared training images and what was left out on the way."""

    images: torch.Tensor  # (N, 3, S, S) uint8
    skipped: list[str] = field(default_factory=list)  # "name: reason"

    def __len__(self) -> int:
        return len(self.images)

    @property
    def image_size(self) -> int:
        return int(self.images.shape[-1])

    def warning(self, shown: int = 8) -> str | None:
        """A one-paragraph summary of the skipped files, or None."""
        if not self.skipped:
            return None
        head = "; ".join(self.skipped[:shown])
        more = f"; and {len(self.skipped) - shown} more" if len(self.skipped) > shown else ""
        return f"skipped {len(self.skipped)} file(s): {head}{more}"


# --- Archives ---------------------------------------------------------------------------------


def extract_zip(
    archive: Path, dest: Path, limits: Limits | None = None, budget: list[int] | None = None
) -> tuple[list[tuple[str, Path]], list[str]]:
    """Extract the image members of `archive` into the flat folder `dest`.

    Returns the written files as (member name, path) pairs and the "name: reason" list of
    skipped members. `budget` is a
    one-element list of uncompressed bytes still allowed, shared between the archives of one
    upload. Raises `UserInputError` for a file that is not a readable zip or is over the caps
    (the entry count from the zip's end record, before any entry is parsed).
    """
    limits = limits or Limits()
    budget = budget if budget is not None else [limits.max_total_bytes]
    label = archive.name
    written: list[tuple[str, Path]] = []
    skipped: list[str] = []
    with open_zip(archive, limits.max_members) as zf:  # the entry count checked first
        for index, info in enumerate(zf.infolist()):
            reason = _member_problem(info)
            if reason == "junk":
                continue
            if reason:
                skipped.append(f"{info.filename}: {reason}")
                continue
            if len(written) >= limits.max_images:
                raise UserInputError(
                    f"{label} holds more than {limits.max_images:,} images: upload fewer"
                )
            target = dest / f"{index:06d}{_suffix(info.filename)}"
            reason = _copy_member(zf, info, target, limits, budget, label)
            if reason:
                skipped.append(f"{info.filename}: {reason}")
            else:
                written.append((info.filename, target))
    return written, skipped


def _member_problem(info: zipfile.ZipInfo) -> str | None:
    """Why a member is not extracted ("junk" = skip silently), or None to extract it."""
    name = info.filename
    if info.is_dir():
        return "junk"
    path = PurePosixPath(name.replace("\\", "/"))
    if name.startswith(("/", "\\")) or ".." in path.parts or ":" in path.parts[0]:
        return "unsafe path, not extracted"
    base = path.name
    if "__MACOSX" in path.parts or base.startswith("."):
        return "junk"
    file_type = stat.S_IFMT(info.external_attr >> 16)  # 0 when the archiver recorded none
    if file_type and file_type != stat.S_IFREG:
        return "a link or special file, not extracted"
    if info.flag_bits & 0x1:
        return "encrypted, not extracted"
    suffix = PurePosixPath(base).suffix.lower()
    if suffix in ARCHIVE_SUFFIXES:
        return "nested archive, not extracted (upload its images or one flat .zip)"
    if suffix not in IMAGE_SUFFIXES:
        return "not an image file"
    return None


def _suffix(name: str) -> str:
    suffix = PurePosixPath(name.replace("\\", "/")).suffix.lower()
    return suffix if suffix in IMAGE_SUFFIXES else ".img"


def _copy_member(
    zf: zipfile.ZipFile,
    info: zipfile.ZipInfo,
    target: Path,
    limits: Limits,
    budget: list[int],
    label: str,
) -> str | None:
    """Stream one member to `target`, counting real bytes; a reason string if it is skipped."""
    max_file_bytes = limits.max_file_bytes
    if info.file_size > max_file_bytes:
        return f"{info.file_size / 2**20:.0f} MB, over the {max_file_bytes / 2**20:.0f} MB limit"
    size = 0
    try:
        with zf.open(info) as src, open(target, "wb") as out:
            while chunk := src.read(_CHUNK):
                size += len(chunk)
                if size > max_file_bytes:
                    break
                if size > budget[0]:
                    raise UserInputError(
                        f"{label} expands to more than {limits.max_total_bytes / 2**20:.0f} MB: "
                        "refused (zip bomb or too much data)"
                    )
                out.write(chunk)
    except UserInputError:
        target.unlink(missing_ok=True)
        raise
    except (zipfile.BadZipFile, NotImplementedError, OSError, EOFError, RuntimeError) as e:
        target.unlink(missing_ok=True)
        return f"unreadable ({type(e).__name__}: {e})"
    if size > max_file_bytes:
        target.unlink(missing_ok=True)
        return f"over the {max_file_bytes / 2**20:.0f} MB limit"
    budget[0] -= size
    return None


# --- Collecting uploads -----------------------------------------------------------------------


def collect_files(
    sources: Iterable[str | Path], workdir: Path, limits: Limits | None = None
) -> tuple[list[tuple[str, Path]], list[str]]:
    """Expand uploads (files, zips, folders) to (display name, path) pairs of candidate images."""
    limits = limits or Limits()
    budget = [limits.max_total_bytes]
    files: list[tuple[str, Path]] = []
    skipped: list[str] = []
    for source in sources:
        path = Path(source)
        if path.is_dir():
            children = sorted(p for p in path.rglob("*") if p.is_file() and not p.is_symlink())
            for child in children:
                files.append((str(child.relative_to(path)), child))
        elif zipfile.is_zipfile(path) or path.suffix.lower() == ".zip":
            dest = Path(tempfile.mkdtemp(prefix="zip-", dir=workdir))
            written, skip = extract_zip(path, dest, limits, budget)
            files += [(f"{path.name}/{name}", p) for name, p in written]
            skipped += [f"{path.name}/{s}" for s in skip]
        elif path.suffix.lower() in ARCHIVE_SUFFIXES:
            skipped.append(f"{path.name}: only .zip archives are supported")
        else:
            files.append((path.name, path))
        if len(files) > limits.max_images:
            raise UserInputError(f"more than {limits.max_images:,} images: upload fewer")
    return files, skipped


# --- Preprocessing ----------------------------------------------------------------------------


def center_crop_resize(image: Image.Image, size: int) -> Image.Image:
    """The largest centred square, resized to `size` x `size` (Lanczos, antialiased)."""
    side = min(image.size)
    left, top = (image.width - side) // 2, (image.height - side) // 2
    return image.crop((left, top, left + side, top + side)).resize(
        (size, size), Image.Resampling.LANCZOS, reducing_gap=3.0
    )


MAX_CROPS = 16


def crops_of(image: Image.Image, size: int, crops: int, seed: int) -> list[np.ndarray]:
    """The centre crop, then `crops - 1` seeded random square crops (50-90 % of the short
    side), each resized to `size`: a handful of large images (paintings) give a usable set."""
    out = [np.asarray(center_crop_resize(image, size))]
    rng = np.random.default_rng([seed, len(out)])
    for _ in range(crops - 1):
        side = int(min(image.size) * rng.uniform(0.5, 0.9))
        x = int(rng.integers(0, image.width - side + 1))
        y = int(rng.integers(0, image.height - side + 1))
        tile = image.crop((x, y, x + side, y + side))
        out.append(np.asarray(tile.resize((size, size), Image.Resampling.LANCZOS)))
    return out


def prepare(
    sources: Sequence[str | Path] | None,
    image_size: int,
    *,
    min_images: int = MIN_IMAGES,
    limits: Limits | None = None,
    crops: int = 1,
    deadline: Deadline | None = None,
) -> Dataset:
    """Uploads -> `Dataset` of centre-cropped, resized uint8 images (and `crops - 1` random
    crops of each, see `crops_of`); clear errors when unusable. A `deadline` (the job's
    wall-time cap) is checked before each file is decoded."""
    if crops != int(crops) or not 1 <= crops <= MAX_CROPS:
        raise UserInputError(f"crops per image must be between 1 and {MAX_CROPS}; got {crops}")
    if not sources:
        raise UserInputError(
            f"upload training images: at least {min_images} image files, or one .zip of them"
        )
    workdir = Path(tempfile.mkdtemp(prefix="gan-finetune-data-"))
    try:
        files, skipped = collect_files(sources, workdir, limits)
        arrays = []
        seen: dict[str, str] = {}  # hash of the prepared pixels -> the first file's name
        for index, (name, path) in enumerate(files):
            if deadline is not None:
                deadline.check("preparing the images")
            try:
                image = load_rgb(path, what=named_file(name), min_side=16)
            except UserInputError as e:
                skipped.append(f"{name}: {_reason(e, name)}")
                continue
            array, *more = crops_of(image, image_size, int(crops), seed=index)
            digest = hashlib.sha256(array.tobytes()).hexdigest()
            if digest in seen:  # the same training image twice only weighs it double
                skipped.append(f"{name}: duplicate of {seen[digest]}, removed")
                continue
            seen[digest] = name
            arrays += [array, *more]
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    if skipped:
        log.warning("skipped %d upload file(s)", len(skipped))
    if len(arrays) < min_images:
        found = f"only {len(arrays)} usable image(s)" if arrays else "no usable images"
        raise UserInputError(
            f"fine-tuning needs at least {min_images} images; {found} in the upload"
            + (f" (skipped: {'; '.join(skipped[:5])})" if skipped else "")
        )
    images = torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).contiguous()
    return Dataset(images, skipped)


def _reason(error: UserInputError, name: str) -> str:
    return str(error).replace(f"the file {name} ", "").replace(f"file {name} ", "")


def preview_grid(images: torch.Tensor, max_images: int = 64, columns: int = 8) -> np.ndarray:
    """uint8 (N, 3, S, S) -> one (H, W, 3) grid of the first `max_images` images."""
    from core import media  # media needs imageio-ffmpeg; keep the headless CLI free of it

    images = images[:max_images]
    return media.grid(images.permute(0, 2, 3, 1).numpy(), ncols=min(columns, len(images)))
