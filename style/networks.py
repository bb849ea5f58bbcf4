"""Loss networks for style transfer, from the model store, with an offline default.

- VGG19 (`timm/vgg19.tv_in1k` on the Hub, pinned): the network of Gatys et al. Only the
  `features.*` tensors are read from its `model.safetensors` (the 400 MB classifier is skipped).
- EfficientNet-Lite0 (ImageNet, `checkpoints/efficientnet-lite0/`, committed): used when the
  Hub cannot be reached and VGG19 is not cached. Much smaller and faster on a CPU.

Each network comes with its own content/style layers and per-layer style weights, tuned so that
both give a good stylisation (`NetworkSpec`). A `LossNetworks` object (one per device, made at
start-up by the service that owns it) keeps the loaded networks.
"""

from __future__ import annotations

import copy
import logging
import os
import threading
from dataclasses import dataclass, field, replace

import torch
from huggingface_hub import try_to_load_from_cache
from safetensors import SafetensorError, safe_open
from torch import nn

from core import store
from core.efficientnet import EfficientNetLite0, load_efficientnet_lite0
from core.errors import UserInputError
from style.vgg import LAYER_INDEX, VGG19Features

log = logging.getLogger(__name__)

# Pinned revision of timm/vgg19.tv_in1k (the "Add model" commit); override with
# $GAN_STUDIO_VGG19 (`owner/name@revision`). See the README: check this sha when online.
VGG19_REPO = "timm/vgg19.tv_in1k@128d4708565b3a414bcbb9bbad440b2fe37b9f18"
VGG19 = "vgg19"
EFFICIENTNET = "efficientnet-lite0"


@dataclass(frozen=True)
class NetworkSpec:
    """Layers and weights of one loss network.

    `style_layers` maps a layer to its weight w_l in the style loss sum_l w_l E_l.
    """

    key: str
    label: str
    content_layers: tuple[str, ...]
    style_layers: dict[str, float] = field(hash=False)


# Gatys et al. (2016): content at conv4_2, style at conv1_1..conv5_1 (equal weights). We take the
# ReLU outputs (as their code does) and, since each layer's Gram loss is normalised by the
# target's size (style.losses), the weights only balance the layers against each other.
VGG19_SPEC = NetworkSpec(
    key=VGG19,
    label="VGG19 (timm/vgg19.tv_in1k, ImageNet)",
    content_layers=("relu4_2",),
    style_layers={"relu1_1": 1.0, "relu2_1": 1.0, "relu3_1": 1.0, "relu4_1": 1.0, "relu5_1": 1.0},
)

# EfficientNet-Lite0: the first block's output (1/2 resolution) and the expanded activations
# after later stages' first depthwise conv (1/4..1/16) carry texture much as VGG's relu*_1
# layers do; content on a mid-level block. (The stem output would be the natural finest layer,
# but its gradient costs six times as much on the CPU, for no visible gain.)
EFFICIENTNET_SPEC = NetworkSpec(
    key=EFFICIENTNET,
    label="EfficientNet-Lite0 (ImageNet, offline default)",
    content_layers=("block7",),
    style_layers={
        "block0": 1.0,
        "block1.dw": 1.0,
        "block3.dw": 1.0,
        "block5.dw": 1.0,
        "block11.dw": 1.0,
    },
)


@dataclass
class LossNetwork:
    """A frozen feature network plus its layer choice; `source` says where the weights came from."""

    module: nn.Module
    spec: NetworkSpec
    source: str

    @property
    def label(self) -> str:
        return self.spec.label

    _bf16: LossNetwork | None = field(default=None, repr=False, compare=False)

    def feature_maps(self, x: torch.Tensor, layers: frozenset[str]) -> dict[str, torch.Tensor]:
        return self.module.feature_maps(x, layers)

    def with_bf16_weights(self) -> LossNetwork:
        """This network with a bfloat16 copy of its convolution weights (made once, kept here),
        so that autocast does not cast every weight again at every iteration; buffers stay
        float32."""
        if self._bf16 is None:
            module = copy.deepcopy(self.module)
            for m in module.modules():
                if isinstance(m, nn.Conv2d):
                    m.to(torch.bfloat16)
            self._bf16 = replace(self, module=module, _bf16=None)
        return self._bf16


def _freeze(module: nn.Module, device: torch.device) -> nn.Module:
    module.eval().requires_grad_(False)
    return module.to(device)


def vgg19_ref() -> store.HubRef:
    return store.HubRef.parse(os.environ.get("GAN_STUDIO_VGG19", VGG19_REPO))


def load_vgg19(device: torch.device | str = "cpu", pool: str = "avg") -> VGG19Features:
    """VGG19 features from the pinned Hub repo (or its cache); raises ModelNotFoundError offline.

    Only tensors named `features.<i>.weight|bias` up to conv5_1 are read from the safetensors
    file; nothing is unpickled.
    """
    device = torch.device(device)
    ref = vgg19_ref()
    path = store.hub_file(ref, store.WEIGHTS_NAME, public=True)
    model = VGG19Features(pool=pool)
    wanted = {k for k in model.state_dict() if k.startswith("features.")}
    last = LAYER_INDEX["conv5_1"]
    wanted = {k for k in wanted if int(k.split(".")[1]) <= last}
    try:
        with safe_open(str(path), framework="pt", device="cpu") as f:
            names = set(f.keys())
            missing = wanted - names
            if missing:
                raise store.ModelLoadError(
                    f"{ref} model.safetensors lacks VGG19 tensors {sorted(missing)[:3]}"
                )
            tensors = {k: f.get_tensor(k).float() for k in wanted}
    except (SafetensorError, OSError) as e:
        raise store.ModelLoadError(f"{ref} model.safetensors is unreadable ({e})") from e
    try:
        model.load_state_dict(tensors, strict=False)
    except RuntimeError as e:  # wrong shapes
        raise store.ModelLoadError(f"{ref}: weights do not match VGG19 ({e})") from e
    # Layers past conv5_1 are never run; drop them to save memory.
    model.features = model.features[: LAYER_INDEX["relu5_1"] + 1]
    return _freeze(model, device)  # type: ignore[return-value]


class LossNetworks:
    """The loss networks of one device, loaded on first use and kept (thread-safe)."""

    def __init__(self, device: torch.device | str = "cpu") -> None:
        self.device = torch.device(device)
        self._loaded: dict[str, LossNetwork] = {}
        self._lock = threading.Lock()

    def efficientnet(self) -> EfficientNetLite0:
        """EfficientNet-Lite0 (also KID's feature network: one copy serves both)."""
        return self._efficientnet_network().module  # type: ignore[return-value]

    def _efficientnet_network(self) -> LossNetwork:
        with self._lock:
            if EFFICIENTNET not in self._loaded:
                module = load_efficientnet_lite0(self.device)
                source = f"local:{store.checkpoints_dir() / EFFICIENTNET}"
                self._loaded[EFFICIENTNET] = LossNetwork(module, EFFICIENTNET_SPEC, source)
            return self._loaded[EFFICIENTNET]

    def load(self, prefer: str = VGG19) -> LossNetwork:
        """VGG19 when it can be had (Hub reachable, or cached), else EfficientNet-Lite0.

        `prefer="efficientnet-lite0"` skips the Hub. Offline the fallback is immediate: the Hub
        probe is short and cached, and downloads then read only the local cache.
        """
        if prefer not in (VGG19, EFFICIENTNET):
            raise UserInputError(f"unknown loss network {prefer!r}: use {VGG19} or {EFFICIENTNET}")
        if prefer == VGG19:
            net = self._vgg19_network()
            if net is not None:
                return net
        return self._efficientnet_network()

    def _vgg19_network(self) -> LossNetwork | None:
        with self._lock:
            if VGG19 in self._loaded:
                return self._loaded[VGG19]
        try:
            module = load_vgg19(self.device)
        except store.ModelNotFoundError as e:
            log.info("VGG19 unavailable (%s); using EfficientNet-Lite0", e)
        except store.ModelLoadError as e:
            log.warning("VGG19 weights unusable (%s); using EfficientNet-Lite0", e)
        else:
            with self._lock:
                return self._loaded.setdefault(
                    VGG19, LossNetwork(module, VGG19_SPEC, f"hub:{vgg19_ref()}")
                )
        return None

    def vgg19_available(self) -> bool:
        """True when VGG19 would load now: already loaded, cached, or the Hub is reachable."""
        with self._lock:
            if VGG19 in self._loaded:
                return True
        if store.hub_reachable():
            return True
        ref = vgg19_ref()
        cached = try_to_load_from_cache(
            ref.repo_id,
            store.WEIGHTS_NAME,
            cache_dir=os.environ.get("HF_HUB_CACHE") or None,
            revision=ref.revision,
        )
        return isinstance(cached, str)

    def expected_label(self, prefer: str = VGG19) -> str:
        """Which network a run would use, without loading it (for the UI)."""
        if prefer == VGG19 and self.vgg19_available():
            return VGG19_SPEC.label
        return EFFICIENTNET_SPEC.label


def load_loss_network(device: torch.device | str, prefer: str = VGG19) -> LossNetwork:
    """One network, loaded afresh (benchmarks, scripts); services keep a `LossNetworks`."""
    return LossNetworks(device).load(prefer)
