"""StyleGAN2 discriminator (Karras et al. 2020) in plain PyTorch.

Module names, and so state-dict keys, equal NVIDIA stylegan2-ada-pytorch's Discriminator:
`b{res}.fromrgb`, `b{res}.conv0`, `b{res}.conv1`, `b{res}.skip`, `b4.conv`, `b4.fc`, `b4.out`,
and `mapping.*` for conditional models (projection discriminator, Miyato & Koyama 2018).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import ClassVar

import torch
from torch import nn

from gan.models.stylegan2 import MappingNetwork
from gan.models.stylegan2_config import (
    DISCRIMINATOR_TYPE,
    SG2ConfigBase,
    channels_per_resolution,
)
from gan.models.stylegan2_ops import (
    Conv2dLayer,
    FullyConnectedLayer,
    downsample2d,
    setup_filter,
)


@dataclasses.dataclass
class StyleGAN2DiscriminatorConfig(SG2ConfigBase):
    """Discriminator hyper-parameters (names as in stylegan2-ada-pytorch)."""

    MODEL_TYPE: ClassVar[str] = DISCRIMINATOR_TYPE
    c_dim: int = 0
    img_resolution: int = 1024
    img_channels: int = 3
    architecture: str = "resnet"
    channel_base: int = 32768
    channel_max: int = 512
    channels: dict[int, int] | None = None  # per-resolution override, as in StyleGAN2Config
    conv_clamp: float | None = None
    cmap_dim: int | None = None  # None = channels at 4 px
    mbstd_group_size: int | None = 4  # None = whole minibatch
    mbstd_num_channels: int = 1  # 0 = no minibatch-stddev layer
    mapping_layers: int = 8
    mapping_lr_multiplier: float = 0.01
    resample_filter: tuple[float, ...] = (1, 3, 3, 1)


class DiscriminatorBlock(nn.Module):
    """One resolution: [fromrgb], conv0, down-conv1, and the residual / image-skip path."""

    def __init__(
        self,
        in_channels: int,
        tmp_channels: int,
        out_channels: int,
        img_channels: int,
        architecture: str = "resnet",
        resample_filter: Sequence[float] = (1, 3, 3, 1),
        conv_clamp: float | None = None,
    ) -> None:
        super().__init__()
        self.in_channels, self.architecture = in_channels, architecture
        self.register_buffer("resample_filter", setup_filter(resample_filter))
        conv = dict(activation="lrelu", conv_clamp=conv_clamp)
        if in_channels == 0 or architecture == "skip":
            self.fromrgb = Conv2dLayer(img_channels, tmp_channels, 1, **conv)
        self.conv0 = Conv2dLayer(tmp_channels, tmp_channels, 3, **conv)
        self.conv1 = Conv2dLayer(
            tmp_channels, out_channels, 3, down=2, resample_filter=resample_filter, **conv
        )
        if architecture == "resnet":
            self.skip = Conv2dLayer(
                tmp_channels, out_channels, 1, bias=False, down=2, resample_filter=resample_filter
            )

    def forward(
        self, x: torch.Tensor | None, img: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        if self.in_channels == 0 or self.architecture == "skip":
            y = self.fromrgb(img.to(torch.float32))
            x = x + y if x is not None else y
            img = downsample2d(img, self.resample_filter) if self.architecture == "skip" else None
        if self.architecture == "resnet":
            # Both branches scaled by sqrt(1/2) to keep the variance.
            y = self.skip(x, gain=math.sqrt(0.5))
            x = self.conv1(self.conv0(x), gain=math.sqrt(0.5))
            return y + x, img
        return self.conv1(self.conv0(x)), img


def minibatch_stddev(x: torch.Tensor, group_size: int | None, num_channels: int) -> torch.Tensor:
    """Append the mean standard deviation over groups of samples as `num_channels` features.

    Sample i belongs to group i % (N // G), as in the reference reshape.
    """
    n, c, h, w = x.shape
    g = n if group_size is None else min(group_size, n)
    if n % g != 0:
        raise ValueError(f"batch size {n} must be divisible by the mbstd group size {g}")
    f = num_channels
    y = x.reshape(g, -1, f, c // f, h, w)
    y = y - y.mean(dim=0)
    y = (y.square().mean(dim=0) + 1e-8).sqrt()  # [n, F, c, H, W] stddev over the group
    y = y.mean(dim=[2, 3, 4]).reshape(-1, f, 1, 1).repeat(g, 1, h, w)
    return torch.cat([x, y], dim=1)


class MinibatchStdLayer(nn.Module):
    """nn.Module wrapper of minibatch_stddev (no parameters)."""

    def __init__(self, group_size: int | None, num_channels: int = 1) -> None:
        super().__init__()
        self.group_size, self.num_channels = group_size, num_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return minibatch_stddev(x, self.group_size, self.num_channels)


class DiscriminatorEpilogue(nn.Module):
    """4x4 head: [fromrgb], mbstd, conv, fc, out, and the class projection."""

    def __init__(
        self,
        in_channels: int,
        cmap_dim: int,
        img_channels: int,
        architecture: str = "resnet",
        mbstd_group_size: int | None = 4,
        mbstd_num_channels: int = 1,
        conv_clamp: float | None = None,
    ) -> None:
        super().__init__()
        self.cmap_dim, self.architecture = cmap_dim, architecture
        if architecture == "skip":
            # The reference does not clamp this fromrgb.
            self.fromrgb = Conv2dLayer(img_channels, in_channels, 1, activation="lrelu")
        self.mbstd = (
            MinibatchStdLayer(mbstd_group_size, mbstd_num_channels) if mbstd_num_channels else None
        )
        conv_in = in_channels + mbstd_num_channels
        self.conv = Conv2dLayer(conv_in, in_channels, 3, activation="lrelu", conv_clamp=conv_clamp)
        self.fc = FullyConnectedLayer(in_channels * 16, in_channels, activation="lrelu")
        self.out = FullyConnectedLayer(in_channels, 1 if cmap_dim == 0 else cmap_dim)

    def forward(
        self, x: torch.Tensor, img: torch.Tensor | None, cmap: torch.Tensor | None
    ) -> torch.Tensor:
        x = x.to(torch.float32)
        if self.architecture == "skip":
            x = x + self.fromrgb(img.to(torch.float32))
        if self.mbstd is not None:
            x = self.mbstd(x)
        x = self.out(self.fc(self.conv(x).flatten(1)))
        if self.cmap_dim > 0:
            x = (x * cmap).sum(dim=1, keepdim=True) * (1 / math.sqrt(self.cmap_dim))
        return x


class StyleGAN2Discriminator(nn.Module):
    """D(img, c) -> raw logits (N, 1); img in [-1, 1], shape (N, C, R, R)."""

    def __init__(self, config: StyleGAN2DiscriminatorConfig) -> None:
        super().__init__()
        self.config = config
        self.c_dim, self.img_resolution = config.c_dim, config.img_resolution
        self.img_channels = config.img_channels
        log2 = int(math.log2(config.img_resolution))
        self.block_resolutions = [2**i for i in range(log2, 2, -1)]
        ch = channels_per_resolution(
            [*self.block_resolutions, 4], config.channel_base, config.channel_max, config.channels
        )
        cmap_dim = 0 if config.c_dim == 0 else (config.cmap_dim or ch[4])
        common = dict(
            img_channels=config.img_channels,
            architecture=config.architecture,
            conv_clamp=config.conv_clamp,
        )
        for res in self.block_resolutions:
            in_channels = ch[res] if res < config.img_resolution else 0
            block = DiscriminatorBlock(
                in_channels, ch[res], ch[res // 2], resample_filter=config.resample_filter, **common
            )
            setattr(self, f"b{res}", block)
        if config.c_dim > 0:
            self.mapping = MappingNetwork(
                0,
                config.c_dim,
                cmap_dim,
                num_ws=None,
                num_layers=config.mapping_layers,
                lr_multiplier=config.mapping_lr_multiplier,
                w_avg_beta=None,
            )
        self.b4 = DiscriminatorEpilogue(
            ch[4],
            cmap_dim,
            mbstd_group_size=config.mbstd_group_size,
            mbstd_num_channels=config.mbstd_num_channels,
            **common,
        )

    def forward(self, img: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        expected = (self.img_channels, self.img_resolution, self.img_resolution)
        if img.ndim != 4 or tuple(img.shape[1:]) != expected:
            raise ValueError(f"img must have shape (N, {', '.join(map(str, expected))})")
        x = None
        for res in self.block_resolutions:
            x, img = getattr(self, f"b{res}")(x, img)
        cmap = self.mapping(None, c) if self.c_dim > 0 else None
        return self.b4(x, img, cmap)

    def blocks(self) -> list[nn.Module]:
        """The blocks from input to output (b{res} ... b4), e.g. for Freeze-D."""
        return [getattr(self, f"b{res}") for res in self.block_resolutions] + [self.b4]
