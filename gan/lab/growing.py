"""The networks of the high-resolution experiment: one G and one D that grow from 4x4 to 64x64,
used three ways (`gan.lab.highres`): plainly at 64 px, grown progressively, or multi-scale.

The three methods share these layers so that the experiment compares training schemes, not
architectures. Each resolution 8, 16, 32, 64 adds one block (nearest upsampling, a 3x3
convolution, leaky ReLU 0.2, pixel norm in G; D mirrors it with average pooling): ProGAN's
Table 2 at a much smaller width and with one convolution per block instead of two, so that a
64 px step takes about a tenth of a second on one CPU core.

- Progressive growing (Karras et al. 2018, "Progressive Growing of GANs"): `G(z, res, alpha)`
  fades the new block in: `(1 - alpha) * upsample(toRGB_{res/2}(x_{res/2})) + alpha *
  toRGB_res(x_res)`; D mirrors it with `fromRGB` on the average-pooled image. Departures: no
  equalised learning rate and no WGAN-GP (all three runs use the same non-saturating loss and
  Adam, so only the scheme differs); the fade is blended after tanh (ProGAN's output is linear;
  with nearest upsampling tanh commutes with it, so alpha=0 is still exactly the upsampled
  lower-resolution image); minibatch stddev is optional (`minibatch_stddev`).
- MSG-GAN (Karnewar & Wang 2020): G's block at every resolution >= 16 has a 1x1 toRGB; D reads
  the 64 px image with fromRGB and, at 32 and 16, concatenates the matching G output to its
  features (the paper's simplest combine function, phi_simple = [x; o]). All scales train at
  once, no fading. Departures: scales start at 16 px rather than 4 px (the experiment's range),
  and the loss is the same non-saturating loss as the others (the paper uses relativistic hinge).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

MIN_RES = 16  # the experiment's lowest output resolution
MAX_RES = 64
RESOLUTIONS = (8, 16, 32, 64)  # one block each, after the 4x4 input
SCALES = (16, 32, 64)  # resolutions with a toRGB/fromRGB layer


@dataclass(frozen=True)
class GrowingConfig:
    """The shared size of the experiment's G and D: `width` channels at 32 px, twice that
    below, half of it at 64 px."""

    nz: int = 32
    width: int = 16
    minibatch_stddev: bool = False

    def channels(self, res: int) -> int:
        w = self.width
        return {4: 4 * w, 8: 4 * w, 16: 2 * w, 32: w, 64: max(w // 2, 1)}[res]


def _ch(config: GrowingConfig, res: int) -> int:
    return config.channels(res)


class PixelNorm(nn.Module):
    """ProGAN's pixelwise feature normalisation (each pixel's feature vector to unit length)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.rsqrt(x.pow(2).mean(dim=1, keepdim=True) + 1e-8)


def _g_block(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Upsample(scale_factor=2, mode="nearest"),
        nn.Conv2d(c_in, c_out, 3, padding=1),
        nn.LeakyReLU(0.2),
        PixelNorm(),
    )


def _d_block(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, padding=1), nn.LeakyReLU(0.2), nn.AvgPool2d(2))


def upsample(x: torch.Tensor, factor: int) -> torch.Tensor:
    return x if factor == 1 else F.interpolate(x, scale_factor=factor, mode="nearest")


class GrowingGenerator(nn.Module):
    """z (N, nz) -> images in [-1, 1]: at `res` with the fade `alpha` (`forward`), or at every
    scale at once (`multi_scale`, MSG-GAN)."""

    def __init__(self, config: GrowingConfig) -> None:
        super().__init__()
        self.config = config
        c4 = _ch(config, 4)
        self.input = nn.Sequential(
            nn.ConvTranspose2d(config.nz, c4, 4), nn.LeakyReLU(0.2), PixelNorm()
        )
        self.blocks = nn.ModuleDict(
            {str(r): _g_block(_ch(config, r // 2), _ch(config, r)) for r in RESOLUTIONS}
        )
        self.to_rgb = nn.ModuleDict({str(r): nn.Conv2d(_ch(config, r), 3, 1) for r in SCALES})

    def _features(self, z: torch.Tensor, res: int) -> dict[int, torch.Tensor]:
        """The block outputs at every resolution up to `res`."""
        x = self.input(z[:, :, None, None])
        out = {4: x}
        for r in RESOLUTIONS:
            if r > res:
                break
            x = out[r] = self.blocks[str(r)](x)
        return out

    def rgb(self, x: torch.Tensor, res: int) -> torch.Tensor:
        return torch.tanh(self.to_rgb[str(res)](x))

    def forward(self, z: torch.Tensor, res: int = MAX_RES, alpha: float = 1.0) -> torch.Tensor:
        """The image at `res`; while `alpha` < 1 the `res` block is fading in over the
        upsampled image of the resolution below."""
        feats = self._features(z, res)
        new = self.rgb(feats[res], res)
        if alpha >= 1 or res <= MIN_RES:
            return new
        old = upsample(self.rgb(feats[res // 2], res // 2), 2)
        return (1 - alpha) * old + alpha * new

    def multi_scale(self, z: torch.Tensor) -> list[torch.Tensor]:
        """MSG-GAN: the images at 16, 32 and 64 px from one pass."""
        feats = self._features(z, MAX_RES)
        return [self.rgb(feats[r], r) for r in SCALES]


def minibatch_stddev(x: torch.Tensor) -> torch.Tensor:
    """ProGAN's minibatch standard deviation: one more feature map, the mean over features and
    pixels of each feature's standard deviation over the batch."""
    std = x.std(dim=0, unbiased=False).mean()
    return torch.cat([x, std.expand(x.shape[0], 1, *x.shape[2:])], dim=1)


class GrowingDiscriminator(nn.Module):
    """Images -> logits (N,): at `res` with the fade `alpha` (`forward`), or reading G's
    images at every scale (`multi_scale`, MSG-GAN)."""

    def __init__(self, config: GrowingConfig, msg: bool = False) -> None:
        super().__init__()
        self.config, self.msg = config, msg
        extra = 3 if msg else 0  # MSG-GAN concatenates the scale's RGB image to the features
        blocks = {}
        for r in RESOLUTIONS:
            c_in = _ch(config, r) + (extra if msg and r in SCALES and r < MAX_RES else 0)
            blocks[str(r)] = _d_block(c_in, _ch(config, r // 2))
        self.blocks = nn.ModuleDict(blocks)
        self.from_rgb = nn.ModuleDict({str(r): nn.Conv2d(3, _ch(config, r), 1) for r in SCALES})
        c4 = _ch(config, 4) + int(config.minibatch_stddev)
        self.output = nn.Sequential(
            nn.Conv2d(c4, c4, 3, padding=1), nn.LeakyReLU(0.2), nn.Flatten(), nn.Linear(c4 * 16, 1)
        )

    def _from(self, image: torch.Tensor, res: int) -> torch.Tensor:
        return F.leaky_relu(self.from_rgb[str(res)](image), 0.2)

    def _down(self, x: torch.Tensor, res: int) -> torch.Tensor:
        """Blocks from `res` down to 4x4, then the output layers."""
        for r in reversed(RESOLUTIONS):
            if r <= res:
                x = self.blocks[str(r)](x)
        return self._head(x)

    def _head(self, x: torch.Tensor) -> torch.Tensor:
        if self.config.minibatch_stddev:
            x = minibatch_stddev(x)
        return self.output(x).flatten()

    def forward(self, image: torch.Tensor, alpha: float = 1.0) -> torch.Tensor:
        res = image.shape[-1]
        x = self._from(image, res)
        if alpha < 1 and res > MIN_RES:
            x = self.blocks[str(res)](x)  # the new block, faded in over the pooled image
            old = self._from(F.avg_pool2d(image, 2), res // 2)
            return self._down((1 - alpha) * old + alpha * x, res // 2)
        return self._down(x, res)

    def multi_scale(self, images: list[torch.Tensor]) -> torch.Tensor:
        """MSG-GAN: `images` at 16, 32 and 64 px, the 64 px one read first."""
        by_res = {im.shape[-1]: im for im in images}
        x = self._from(by_res[MAX_RES], MAX_RES)
        for r in reversed(RESOLUTIONS):
            if r in by_res and r < MAX_RES:
                x = torch.cat([x, by_res[r]], dim=1)
            x = self.blocks[str(r)](x)
        return self._head(x)
