"""LPIPS on VGG16 (Zhang et al., CVPR 2018), and an offline feature loss on EfficientNet-Lite0.

LPIPS(x, y) = sum_l mean_hw( w_l · (f̂_l(x) - f̂_l(y))² ), where f_l are VGG16's relu1_2, relu2_2,
relu3_3, relu4_3 and relu5_3 maps, f̂ is f unit-normalised over channels, and w_l ≥ 0 are the
learned 1x1 "linear" layers of the `lpips` package (v0.1, BSD-2; converted into
`checkpoints/lpips-vgg16-lin/` by `scripts/convert_lpips.py`).

- VGG16: `timm/vgg16.tv_in1k` on the Hub (torchvision's ImageNet weights), pinned; only the
  `features.*` tensors up to conv5_3 are read from its `model.safetensors`.
- Offline (Hub unreachable, VGG16 not cached): the same recipe on the bundled EfficientNet-Lite0
  with equal weights per channel (no learned layers), so values are not LPIPS values.
  `PerceptualLoss.is_lpips` tells which one is in use.

Both take RGB images in [0, 1], NCHW. `features(x)` returns the unit-normalised maps, so a fixed
target's features can be computed once (`distance(features(x), target_features)`).
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass

import torch
from safetensors import SafetensorError, safe_open
from torch import nn

from core import store
from core.errors import UserInputError
from style.networks import load_efficientnet_lite0

log = logging.getLogger(__name__)

# Pinned revision of timm/vgg16.tv_in1k; override with $GAN_STUDIO_VGG16 (`owner/name@revision`).
VGG16_REPO = "timm/vgg16.tv_in1k@b8d8aa2dd860af9233c8c67385a8097fd6c35d3f"
LIN_NAME = "lpips-vgg16-lin"
LPIPS_VGG16 = "lpips-vgg16"
EFFICIENTNET = "efficientnet-lite0"

VGG16_CFG: tuple[int | str, ...] = (
    *(64, 64, "M"),
    *(128, 128, "M"),
    *(256, 256, 256, "M"),
    *(512, 512, 512, "M"),
    *(512, 512, 512, "M"),
)
# Indices in torchvision's `features` of relu1_2, relu2_2, relu3_3, relu4_3, relu5_3.
LPIPS_TAPS = (3, 8, 15, 22, 29)
LPIPS_CHANNELS = (64, 128, 256, 512, 512)
# lpips' ScalingLayer for inputs in [-1, 1]; equals ImageNet mean/std on [0, 1] inputs.
SHIFT = (-0.030, -0.088, -0.188)
SCALE = (0.458, 0.448, 0.450)
EPS = 1e-10  # lpips.normalize_tensor
# Offline fallback: EfficientNet-Lite0 block outputs at 1/2 .. 1/16 resolution.
EFFICIENTNET_LAYERS = ("block0", "block2", "block4", "block7", "block10")


def unit_normalize(f: torch.Tensor) -> torch.Tensor:
    """Scale each spatial position's channel vector to unit length (lpips.normalize_tensor)."""
    return f / (f.pow(2).sum(dim=1, keepdim=True).sqrt() + EPS)


class VGG16Features(nn.Module):
    """VGG16 `features` (torchvision names) up to relu5_3, returning the five LPIPS taps."""

    def __init__(self) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        cin = 3
        for c in VGG16_CFG:
            if c == "M":
                layers.append(nn.MaxPool2d(2))
            else:
                layers += [nn.Conv2d(cin, int(c), 3, padding=1), nn.ReLU()]
                cin = int(c)
        self.features = nn.Sequential(*layers[: LPIPS_TAPS[-1] + 1])

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        out = []
        for i, layer in enumerate(self.features):
            x = layer(x)
            if i in LPIPS_TAPS:
                out.append(x)
        return out


class LPIPS(nn.Module):
    """LPIPS v0.1 with a VGG16 backbone; `lin{k}.weight` has shape (1, C_k, 1, 1), non-negative."""

    def __init__(self, backbone: VGG16Features | None = None) -> None:
        super().__init__()
        self.backbone = backbone or VGG16Features()
        for k, c in enumerate(LPIPS_CHANNELS):
            self.register_module(f"lin{k}", nn.Conv2d(c, 1, 1, bias=False))
        self.register_buffer("shift", torch.tensor(SHIFT).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("scale", torch.tensor(SCALE).view(1, 3, 1, 1), persistent=False)

    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Images in [0, 1] -> unit-normalised feature maps of the five taps."""
        x = (2 * x - 1 - self.shift.to(x.dtype)) / self.scale.to(x.dtype)
        return [unit_normalize(f) for f in self.backbone(x)]

    def distance(self, fx: list[torch.Tensor], fy: list[torch.Tensor]) -> torch.Tensor:
        """Per-image LPIPS (N,) from two `features` results."""
        total = 0
        for k, (a, b) in enumerate(zip(fx, fy, strict=True)):
            total = total + getattr(self, f"lin{k}")((a - b).pow(2)).mean(dim=(1, 2, 3))
        return total

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.distance(self.features(x), self.features(y))


class EfficientNetFeatureLoss(nn.Module):
    """The LPIPS recipe on EfficientNet-Lite0 maps, each channel weighted 1/C (no learned layer)."""

    def __init__(self, trunk: nn.Module, layers: tuple[str, ...] = EFFICIENTNET_LAYERS) -> None:
        super().__init__()
        self.trunk = trunk
        self.layers = layers

    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        maps = self.trunk.feature_maps(x, frozenset(self.layers))
        return [unit_normalize(maps[name]) for name in self.layers]

    def distance(self, fx: list[torch.Tensor], fy: list[torch.Tensor]) -> torch.Tensor:
        return sum((a - b).pow(2).mean(dim=(1, 2, 3)) for a, b in zip(fx, fy, strict=True))

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.distance(self.features(x), self.features(y))


@dataclass
class PerceptualLoss:
    """A frozen perceptual distance and what it is (for the page's note)."""

    module: LPIPS | EfficientNetFeatureLoss
    kind: str  # LPIPS_VGG16 or EFFICIENTNET
    source: str

    @property
    def is_lpips(self) -> bool:
        return self.kind == LPIPS_VGG16

    @property
    def label(self) -> str:
        if self.is_lpips:
            return "LPIPS (VGG16)"
        return "EfficientNet-Lite0 feature loss (offline fallback; not LPIPS values)"

    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        return self.module.features(x)

    def distance(self, fx: list[torch.Tensor], fy: list[torch.Tensor]) -> torch.Tensor:
        return self.module.distance(fx, fy)

    def __call__(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.module(x, y)


# --- Loading --------------------------------------------------------------------------------


def vgg16_ref() -> store.HubRef:
    return store.HubRef.parse(os.environ.get("GAN_STUDIO_VGG16", VGG16_REPO))


def read_vgg16_features(path: os.PathLike | str, label: str = "VGG16") -> dict[str, torch.Tensor]:
    """The `features.*` tensors up to conv5_3 from a timm/torchvision VGG16 safetensors file."""
    wanted = set(VGG16Features().state_dict())
    try:
        with safe_open(str(path), framework="pt", device="cpu") as f:
            missing = wanted - set(f.keys())
            if missing:
                raise store.ModelLoadError(f"{label} lacks VGG16 tensors {sorted(missing)[:3]}")
            return {k: f.get_tensor(k).float() for k in wanted}
    except (SafetensorError, OSError) as e:
        raise store.ModelLoadError(f"{label} model.safetensors is unreadable ({e})") from e


def load_lin_weights() -> dict[str, torch.Tensor]:
    """The converted lpips v0.1 linear layers from `checkpoints/lpips-vgg16-lin/`."""
    folder = store.resolve(LIN_NAME)
    tensors = store.read_safetensors(folder / store.WEIGHTS_NAME)
    if any((t < 0).any() for t in tensors.values()):
        raise store.ModelLoadError(f"{LIN_NAME}: LPIPS linear weights must be non-negative")
    return tensors


def build_lpips(vgg_tensors: dict[str, torch.Tensor], lin: dict[str, torch.Tensor]) -> LPIPS:
    model = LPIPS()
    state = {f"backbone.{k}": v for k, v in vgg_tensors.items()} | lin
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as e:
        raise store.ModelLoadError(f"LPIPS weights do not match ({e})") from e
    return model


def _freeze(module: nn.Module, device: torch.device) -> nn.Module:
    return module.eval().requires_grad_(False).to(device)


def load_lpips_vgg16(device: torch.device | str = "cpu") -> LPIPS:
    """LPIPS-VGG16 from the pinned Hub repo (or its cache); ModelNotFoundError offline."""
    ref = vgg16_ref()
    path = store.hub_file(ref, store.WEIGHTS_NAME, public=True)
    model = build_lpips(read_vgg16_features(path, str(ref)), load_lin_weights())
    return _freeze(model, torch.device(device))  # type: ignore[return-value]


def load_perceptual_loss(
    device: torch.device | str = "cpu", prefer: str = LPIPS_VGG16
) -> PerceptualLoss:
    """LPIPS-VGG16 when VGG16 can be had, else the EfficientNet-Lite0 feature loss (loaded
    afresh; `PerceptualLosses` keeps the loaded ones)."""
    device = torch.device(device)
    _check_choice(prefer)
    loss = _lpips_or_none(device) if prefer == LPIPS_VGG16 else None
    return loss or _efficientnet_loss(device)


def _check_choice(prefer: str) -> None:
    if prefer not in (LPIPS_VGG16, EFFICIENTNET):
        raise UserInputError(
            f"unknown perceptual loss {prefer!r}: use {LPIPS_VGG16} or {EFFICIENTNET}"
        )


def _lpips_or_none(device: torch.device) -> PerceptualLoss | None:
    """LPIPS-VGG16, or None (logged) when VGG16 is unavailable or unusable."""
    try:
        return PerceptualLoss(load_lpips_vgg16(device), LPIPS_VGG16, f"hub:{vgg16_ref()}")
    except store.ModelNotFoundError as e:
        log.info("VGG16 unavailable (%s); using the EfficientNet-Lite0 feature loss", e)
    except store.ModelLoadError as e:
        log.warning("LPIPS weights unusable (%s); using EfficientNet-Lite0", e)
    return None


def _efficientnet_loss(device: torch.device) -> PerceptualLoss:
    module = _freeze(EfficientNetFeatureLoss(load_efficientnet_lite0(device)), device)
    return PerceptualLoss(module, EFFICIENTNET, "local:efficientnet-lite0")  # type: ignore[arg-type]


class PerceptualLosses:
    """The perceptual losses loaded on one device, each kept once loaded (the composition root
    makes one at start-up; `clear` forgets them). An LPIPS that could not be had is tried
    again at the next `load`, the fallback meanwhile kept."""

    def __init__(self, device: torch.device | str = "cpu") -> None:
        self.device = torch.device(device)
        self._loaded: dict[str, PerceptualLoss] = {}
        self._lock = threading.Lock()

    def load(self, prefer: str = LPIPS_VGG16) -> PerceptualLoss:
        """`load_perceptual_loss` on this device, each kind loaded once."""
        _check_choice(prefer)
        with self._lock:
            if prefer in self._loaded:
                return self._loaded[prefer]
            loss = _lpips_or_none(self.device) if prefer == LPIPS_VGG16 else None
            loss = loss or self._loaded.get(EFFICIENTNET) or _efficientnet_loss(self.device)
            self._loaded[loss.kind] = loss
            return loss

    def clear(self) -> None:
        with self._lock:
            self._loaded.clear()
