"""The video settings (one validated dataclass) and the H.264 encoder (imageio-ffmpeg)."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.errors import UserInputError
from core.quotas import Quotas

MAX_FPS = 60
MAX_GRID = 8  # rows or columns of a grid video
MAX_FRAMES_PER_TRANSITION = 240
CRF_RANGE = (0, 51)  # x264: 0 lossless, 18 visually lossless, 23 its default, 51 worst
BITRATE_RANGE_KBPS = (100, 50_000)


@dataclass(frozen=True)
class VideoSettings:
    """How a video is made, as NVIDIA's gen_video.py takes it: the frame rate, the length (frames
    per transition, or seconds per transition when `seconds_per_transition` > 0), the H.264
    quality (`crf`, or a `bitrate_kbps` when > 0) and the grid (rows x columns of walks)."""

    fps: float = 24
    frames_per_transition: int = 24
    seconds_per_transition: float = 0.0
    crf: int = 18
    bitrate_kbps: int = 0
    rows: int = 1
    columns: int = 1

    def __post_init__(self) -> None:
        _within("fps", self.fps, 1, MAX_FPS)
        _within("frames per transition", self.frames_per_transition, 1, MAX_FRAMES_PER_TRANSITION)
        _within("seconds per transition", self.seconds_per_transition, 0, 60)
        _within("crf", self.crf, *CRF_RANGE)
        if self.bitrate_kbps:
            _within("bitrate (kbit/s)", self.bitrate_kbps, *BITRATE_RANGE_KBPS)
        _within("rows", self.rows, 1, MAX_GRID)
        _within("columns", self.columns, 1, MAX_GRID)

    @property
    def transition_frames(self) -> int:
        """Frames per transition: from the seconds when they are given, else as given."""
        if self.seconds_per_transition > 0:
            return max(1, round(self.seconds_per_transition * self.fps))
        return int(self.frames_per_transition)

    @property
    def tiles(self) -> int:
        return int(self.rows) * int(self.columns)

    def check_caps(self, frames: int, frame_pixels: int, quotas: Quotas) -> None:
        """Refuse a video over the server's caps on frames and on pixels per frame."""
        quotas.check_frames(frames)
        quotas.check_video_pixels(frame_pixels)

    def output_params(self) -> list[str]:
        """x264's quality options: constant quality (crf) or an average bitrate."""
        if self.bitrate_kbps:
            return ["-b:v", f"{int(self.bitrate_kbps)}k"]
        return ["-crf", str(int(self.crf))]


def _within(name: str, value: float, lo: float, hi: float) -> None:
    if not lo <= float(value) <= hi:
        raise UserInputError(
            "{name} must be between {lo} and {hi}", "msg.error.between", name=name, lo=lo, hi=hi
        )


class Mp4Writer:
    """A browser-playable H.264 MP4 (yuv420p, even sides, faststart) written frame by frame
    beside `path` and moved into place by `close` (so a stopped or failed video leaves no
    half-written file); use it as a context manager."""

    def __init__(self, path: Path, settings: VideoSettings) -> None:
        self.path, self.settings = path, settings
        self.partial = path.with_name(f".{path.stem}.part{path.suffix}")
        self.frames = 0
        self._writer = None

    def send(self, frame: np.ndarray) -> None:
        """One uint8 (H, W, 3) frame (odd sides cropped to even ones)."""
        h, w = frame.shape[0] // 2 * 2, frame.shape[1] // 2 * 2
        if self._writer is None:
            self._writer = _writer(self.partial, (w, h), self.settings)
        self._writer.send(np.ascontiguousarray(frame[:h, :w]))
        self.frames += 1

    def close(self) -> Path:
        """Finish the file and move it into place."""
        if self._writer is None:
            raise UserInputError("the video has no frames")
        self._writer.close()
        self._writer = None
        os.replace(self.partial, self.path)
        return self.path

    def __enter__(self) -> Mp4Writer:
        return self

    def __exit__(self, kind, *_) -> None:
        if kind is not None and self._writer is not None:
            self._writer.close()
            self.partial.unlink(missing_ok=True)


def write_mp4(frames: Iterable[np.ndarray], path: Path, settings: VideoSettings) -> Path:
    """Every frame of `frames` into the MP4 at `path` (`Mp4Writer`)."""
    with Mp4Writer(path, settings) as writer:
        for frame in frames:
            writer.send(frame)
        return writer.close()


def _writer(path: Path, size: tuple[int, int], settings: VideoSettings):
    import imageio_ffmpeg  # here: only the video jobs need ffmpeg

    writer = imageio_ffmpeg.write_frames(
        str(path),
        size,
        fps=float(settings.fps),
        codec="libx264",
        pix_fmt_out="yuv420p",
        macro_block_size=2,
        output_params=["-movflags", "+faststart", *settings.output_params()],
        ffmpeg_log_level="error",
    )
    writer.send(None)  # start the encoder
    return writer
