"""Keyframes of a walk or the rows/columns of a style mix: seeds and latent files, in order.

The keyframe text lists seeds and, as `#1`, `#2`, ..., the uploaded latent files by their
place in the upload (`7, #1, 11, #2` walks seed 7, the first file, seed 11, the second file).
With files uploaded and no `#n` in the text, the files are the keyframes in upload order and
the seeds are not used (the API's `latent_files`: "used instead of the seeds when given").
A file holding N latents gives N keyframes.
"""

from __future__ import annotations

import re
from pathlib import Path

from core.errors import UserInputError
from gan import latents

_FILE_RE = re.compile(r"^#(\d+)$")
Keyframe = int | Path  # a seed, or a latent file


def parse_keyframes(
    text: str, files: list[str | Path] | None, max_count: int = latents.MAX_SEEDS
) -> list[Keyframe]:
    """The keyframes of `text` (seeds and `#n` file references) and the uploaded `files`."""
    files = [Path(f) for f in files or []]
    parts = [p.strip() for p in re.split(r"[,;]+", str(text or "")) if p.strip()]
    if files and not any(_FILE_RE.match(p) for p in parts):
        return list(files)[:max_count]
    keys: list[Keyframe] = []
    for part in parts:
        if m := _FILE_RE.match(part):
            keys.append(_file(files, int(m.group(1))))
        else:
            keys += latents.parse_seeds(part, max_count=max_count)
    if not keys:
        return [*latents.parse_seeds(text, max_count=max_count)]
    if len(keys) > max_count:
        raise UserInputError(
            "too many seeds: at most {count} at once", "msg.error.too_many_seeds", count=max_count
        )
    return keys


def _file(files: list[Path], number: int) -> Path:
    if not 1 <= number <= len(files):
        raise UserInputError(
            "#{number} names no uploaded latent file ({count} uploaded)",
            "msg.error.no_such_file",
            number=number,
            count=len(files),
        )
    return files[number - 1]


def keyframe_count(text: str, files: list[str | Path] | None, max_count: int = 16) -> int:
    """How many keyframes the text and files name (a file counted once)."""
    return len(parse_keyframes(text, files, max_count))
