"""VGG19 convolutional trunk (Simonyan & Zisserman 2014) with torchvision's `features.*` names.

Only the convolutional part is built (the classifier is never needed for style transfer), so
`load_state_dict` takes exactly the `features.*` tensors of torchvision's or timm's VGG19.
"""

from __future__ import annotations

import torch
from torch import nn

from core.images import IMAGENET_MEAN, IMAGENET_STD

# Channels per conv, "M" for a pooling layer; the indices in `features` match torchvision.
VGG19_CFG: tuple[int | str, ...] = (
    *(64, 64, "M"),
    *(128, 128, "M"),
    *(256, 256, 256, 256, "M"),
    *(512, 512, 512, 512, "M"),
    *(512, 512, 512, 512, "M"),
)


def _layer_index() -> dict[str, int]:
    """`conv1_1` -> 0, `relu1_1` -> 1, `pool1` -> 4, ... as in torchvision's `features`."""
    names: dict[str, int] = {}
    block, conv, i = 1, 1, 0
    for c in VGG19_CFG:
        if c == "M":
            names[f"pool{block}"] = i
            block, conv, i = block + 1, 1, i + 1
        else:
            names[f"conv{block}_{conv}"] = i
            names[f"relu{block}_{conv}"] = i + 1
            conv, i = conv + 1, i + 2
    return names


LAYER_INDEX = _layer_index()


class VGG19Features(nn.Module):
    """VGG19 `features` on images in [0, 1]; ImageNet normalisation is applied inside.

    `pool="avg"` replaces max pooling by average pooling, as Gatys et al. (2016) recommend for
    image synthesis (smoother gradients); the weights are the same.
    """

    def __init__(self, pool: str = "max"):
        super().__init__()
        layers: list[nn.Module] = []
        cin = 3
        for c in VGG19_CFG:
            if c == "M":
                layers.append(nn.AvgPool2d(2) if pool == "avg" else nn.MaxPool2d(2))
            else:
                layers += [nn.Conv2d(cin, int(c), 3, padding=1), nn.ReLU(inplace=False)]
                cin = int(c)
        self.features = nn.Sequential(*layers)
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    def feature_maps(
        self, x: torch.Tensor, layers: set[str] | frozenset[str]
    ) -> dict[str, torch.Tensor]:
        """Images in [0, 1] -> the named feature maps (`conv4_2`, `relu1_1`, ...)."""
        wanted = {LAYER_INDEX[name]: name for name in layers}
        last = max(wanted)
        x = (x - self.mean.to(x.dtype)) / self.std.to(x.dtype)
        out: dict[str, torch.Tensor] = {}
        for i, layer in enumerate(self.features):
            x = layer(x)
            if i in wanted:
                out[wanted[i]] = x
            if i == last:
                break
        return out
