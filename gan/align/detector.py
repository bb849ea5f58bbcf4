"""The face detector: MTCNN (Zhang et al. 2016) from `facenet-pytorch`, whose P-, R- and
O-Net weights ship inside the wheel (MIT licence; nothing is downloaded). Its five landmarks
are the two eye centres, the nose tip and the two mouth corners: what the FFHQ crop needs.

The three networks are built empty and their state dicts read here with
`torch.load(weights_only=True)` (tensors only, never pickled code), on the CPU.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import nn

from gan.align.align import Landmarks

log = logging.getLogger(__name__)

MAX_DETECT_SIDE = 1024  # photos are scaled down to this for detection (points scaled back)
MIN_FACE_SIZE = 20  # px at the detection size (MTCNN's default)
# Faces smaller than this share of the photo's shorter side are not looked for: they would
# project poorly (much upscaled), and each smaller scale costs MTCNN another pyramid level.
MIN_FACE_SHARE = 0.1
THRESHOLDS = (0.6, 0.7, 0.7)  # P-, R-, O-Net (MTCNN's defaults)
SCALE_FACTOR = 0.709  # the image pyramid's step (MTCNN's default)


@dataclass(frozen=True)
class Face:
    """A detected face: its box (left, top, right, bottom), score and five landmarks."""

    box: tuple[float, float, float, float]
    score: float
    landmarks: Landmarks

    @property
    def area(self) -> float:
        left, top, right, bottom = self.box
        return max(right - left, 0.0) * max(bottom - top, 0.0)


def _weights_dir() -> Path:
    import facenet_pytorch

    return Path(facenet_pytorch.__file__).resolve().parent / "data"


def load_networks() -> tuple[nn.Module, nn.Module, nn.Module]:
    """MTCNN's P-, R- and O-Net with the wheel's weights, on the CPU, in eval mode."""
    from facenet_pytorch.models.mtcnn import ONet, PNet, RNet

    nets = []
    for cls, name in ((PNet, "pnet"), (RNet, "rnet"), (ONet, "onet")):
        net = cls(pretrained=False)
        path = _weights_dir() / f"{name}.pt"
        net.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
        nets.append(net.eval().requires_grad_(False))
    log.info("MTCNN loaded from %s", _weights_dir().parent.name)
    return nets[0], nets[1], nets[2]


class MTCNNDetector:
    """Faces in an RGB photo, largest first."""

    def __init__(self) -> None:
        self.pnet, self.rnet, self.onet = load_networks()

    def detect(self, image: Image.Image) -> list[Face]:
        """Every face MTCNN finds, in photo pixels, largest box first."""
        from facenet_pytorch.models.utils.detect_face import detect_face

        scale = min(1.0, MAX_DETECT_SIDE / max(image.size))
        small = image if scale == 1.0 else image.resize(_scaled(image.size, scale))
        batch = np.asarray(small.convert("RGB"))[None].copy()
        min_face = max(MIN_FACE_SIZE, round(min(small.size) * MIN_FACE_SHARE))
        with torch.inference_mode():
            boxes, points = detect_face(
                batch, min_face, self.pnet, self.rnet, self.onet,
                list(THRESHOLDS), SCALE_FACTOR, torch.device("cpu"),
            )  # fmt: skip
        faces = [_face(b, p, scale) for b, p in zip(boxes[0], points[0], strict=True)]
        return sorted(faces, key=lambda f: -f.area)


def _scaled(size: tuple[int, int], scale: float) -> tuple[int, int]:
    return max(1, round(size[0] * scale)), max(1, round(size[1] * scale))


def _face(box: np.ndarray, points: np.ndarray, scale: float) -> Face:
    b = np.asarray(box, dtype=np.float64)
    p = np.asarray(points, dtype=np.float64).reshape(5, 2) / scale
    left, top, right, bottom = (float(v) / scale for v in b[:4])
    return Face((left, top, right, bottom), float(b[4]), Landmarks(p))
