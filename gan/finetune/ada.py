"""ADA: adaptive discriminator augmentation (Karras et al. 2020, "Training Generative
Adversarial Networks with Limited Data"), the 'bgc' pipeline, in plain torch.

Every transform is applied to each image independently with probability `p` (times its
multiplier, 1 in 'bgc'); all of them are differentiable in the images, so G trains through
them, and R1 can be taken through them. As in the paper:

- blit + geometric group (x-flip, 90-degree rotations, integer translation, isotropic scaling,
  pre-rotation, anisotropic scaling, post-rotation, fractional translation) compose into one
  inverse 3x3 matrix per image, executed as NVIDIA's `training/augment.py` does: reflect
  padding, 2x upsampling with the sym6 wavelet filter, one bilinear `grid_sample`, and 2x
  downsampling with the same filter;
- colour group (brightness, contrast, luma flip, hue rotation, saturation) compose into one
  4x4 colour matrix per image.

The random numbers come from the global torch RNG on the images' device, as NVIDIA's do, so a
training run draws the same numbers as NVIDIA's loop (exact resume saves that RNG). A `seed`
gives the pipeline its own CPU generator instead, for previews that must not shift the run's
draws. As NVIDIA's, the pipeline resamples and draws at p = 0 too, and p is not capped at 1
(each transform's probability is multiplier * p, so p > 1 only means "always").
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.distributed as dist
import torch.nn.functional as F

from gan.models.stylegan2_ops import setup_filter, upfirdn2d

# Probability multipliers per transform; 'bgc' = blit + geometric + colour (ADA's default).
PIPELINES: dict[str, dict[str, float]] = {
    "blit": dict(xflip=1, rotate90=1, xint=1),
    "geom": dict(scale=1, rotate=1, aniso=1, xfrac=1),
    "color": dict(brightness=1, contrast=1, lumaflip=1, hue=1, saturation=1),
    "bgc": dict(
        xflip=1, rotate90=1, xint=1, scale=1, rotate=1, aniso=1, xfrac=1,
        brightness=1, contrast=1, lumaflip=1, hue=1, saturation=1,
    ),
}  # fmt: skip


@dataclass
class AugmentStrengths:
    """Ranges of the transforms (NVIDIA's defaults)."""

    xint_max: float = 0.125  # integer translation, relative to the image size
    scale_std: float = 0.2  # log2 std of isotropic scaling
    rotate_max: float = 1.0  # 1 = full circle
    aniso_std: float = 0.2  # log2 std of anisotropic scaling
    xfrac_std: float = 0.125  # std of fractional translation, relative to the image size
    brightness_std: float = 0.2
    contrast_std: float = 0.5  # log2
    hue_max: float = 1.0  # 1 = full circle
    saturation_std: float = 1.0  # log2


# --- Homogeneous matrices, one per image (batch, n, n) ----------------------------------------


def _matrix(rows: list[list[torch.Tensor | float]], batch: int) -> torch.Tensor:
    cells = [torch.as_tensor(v, dtype=torch.float32).expand(batch) for row in rows for v in row]
    return torch.stack(cells, dim=1).reshape(batch, len(rows), len(rows[0]))


def translate2d(tx: torch.Tensor, ty: torch.Tensor) -> torch.Tensor:
    return _matrix([[1, 0, tx], [0, 1, ty], [0, 0, 1]], len(tx))


def scale2d(sx: torch.Tensor, sy: torch.Tensor) -> torch.Tensor:
    return _matrix([[sx, 0, 0], [0, sy, 0], [0, 0, 1]], len(sx))


def rotate2d(theta: torch.Tensor) -> torch.Tensor:
    c, s = torch.cos(theta), torch.sin(theta)
    return _matrix([[c, -s, 0], [s, c, 0], [0, 0, 1]], len(theta))


def translate3d(t: torch.Tensor) -> torch.Tensor:
    return _matrix([[1, 0, 0, t], [0, 1, 0, t], [0, 0, 1, t], [0, 0, 0, 1]], len(t))


def scale3d(s: torch.Tensor) -> torch.Tensor:
    return _matrix([[s, 0, 0, 0], [0, s, 0, 0], [0, 0, s, 0], [0, 0, 0, 1]], len(s))


def rotate3d(v: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
    """Rotation by `theta` about the unit axis v (Rodrigues), homogeneous 4x4."""
    vx, vy, vz = (float(a) for a in v[:3])
    s, c = torch.sin(theta), torch.cos(theta)
    cc = 1 - c
    return _matrix(
        [
            [vx * vx * cc + c, vx * vy * cc - vz * s, vx * vz * cc + vy * s, 0],
            [vy * vx * cc + vz * s, vy * vy * cc + c, vy * vz * cc - vx * s, 0],
            [vz * vx * cc - vy * s, vz * vy * cc + vx * s, vz * vz * cc + c, 0],
            [0, 0, 0, 1],
        ],
        len(theta),
    )


# The orthogonal low-pass filter of the geometric resampling: the sym6 wavelet (Daubechies).
SYM6 = (
    0.015404109327027373, 0.0034907120842174702, -0.11799011114819057, -0.048311742585633,
    0.4910559419267466, 0.787641141030194, 0.3379294217276218, -0.07263752278646252,
    -0.021060292512300564, 0.04472490177066578, 0.0017677118642428036, -0.007800708325034148,
)  # fmt: skip

LUMA_AXIS = torch.tensor([1.0, 1.0, 1.0, 0.0]) / math.sqrt(3)


def _full(n: int, value: float) -> torch.Tensor:
    return torch.full([n], float(value))


def _margins(g_inv: torch.Tensor, h: int, w: int, hz_pad: int) -> list[int]:
    """NVIDIA's reflect padding (x0, y0, x1, y1): what the transformed corners reach, plus
    the filter's margin, within [0, size - 1]."""
    cx, cy = (w - 1) / 2, (h - 1) / 2
    corners = torch.tensor([[-cx, -cy, 1], [cx, -cy, 1], [cx, cy, 1], [-cx, cy, 1]])
    cp = g_inv @ corners.t()  # (n, xyz, corner)
    reach = cp[:, :2, :].permute(1, 0, 2).flatten(1)  # (xy, n * corner)
    margin = torch.cat([-reach, reach]).max(dim=1).values  # x0, y0, x1, y1
    margin = margin + torch.tensor([hz_pad * 2 - cx, hz_pad * 2 - cy] * 2)
    margin = margin.clamp(min=0).min(torch.tensor([w - 1, h - 1] * 2, dtype=torch.float32))
    return [int(v) for v in margin.ceil()]


class AdaAugment:
    """The ADA pipeline: `aug(images)` for images (N, C, H, W) in [-1, 1], C in {1, 3}.

    `p` is the overall probability; an `AdaptiveP` controller adjusts it during training.
    """

    def __init__(
        self,
        pipeline: str = "bgc",
        p: float = 0.0,
        seed: int | None = None,
        strengths: AugmentStrengths | None = None,
    ) -> None:
        """`seed` None: draw from the global torch RNG (NVIDIA's); an int: an own generator."""
        if pipeline not in PIPELINES:
            raise ValueError(f"unknown ADA pipeline {pipeline!r}; one of {sorted(PIPELINES)}")
        self.pipeline = pipeline
        self.multipliers = PIPELINES[pipeline]
        self.strengths = strengths or AugmentStrengths()
        self.p = float(p)
        self.generator = None if seed is None else torch.Generator().manual_seed(seed)
        self._device = torch.device("cpu")  # where the draws are made (the images' device)

    # -- random draws (global RNG on the images' device, or the own CPU generator) -----------

    def _rand(self, *shape: int) -> torch.Tensor:
        if self.generator is not None:
            return torch.rand(shape, generator=self.generator)
        return torch.rand(shape, device=self._device).cpu()

    def _randn(self, *shape: int) -> torch.Tensor:
        if self.generator is not None:
            return torch.randn(shape, generator=self.generator)
        return torch.randn(shape, device=self._device).cpu()

    def _apply(self, name: str, value: torch.Tensor, identity: float, prob: float | None = None):
        """`value` where a per-image coin with probability multiplier*p says so, else identity."""
        prob = self.multipliers.get(name, 0) * self.p if prob is None else prob
        coin = self._rand(*value.shape) < prob
        return torch.where(coin, value, torch.full_like(value, identity))

    def _on(self, name: str) -> bool:
        return self.multipliers.get(name, 0) > 0

    # -- the geometric (blit + geom) matrix: G_inv @ pixel_out -> pixel_in ------------------

    def _blit(self, g_inv: torch.Tensor, n: int, h: int, w: int) -> torch.Tensor:
        s = self.strengths
        if self._on("xflip"):
            i = self._apply("xflip", torch.floor(self._rand(n) * 2), 0)
            g_inv = g_inv @ scale2d(1 - 2 * i, torch.ones(n))
        if self._on("rotate90"):
            i = self._apply("rotate90", torch.floor(self._rand(n) * 4), 0)
            g_inv = g_inv @ rotate2d(-(-math.pi / 2 * i))
        if self._on("xint"):
            t = (self._rand(n, 2) * 2 - 1) * s.xint_max
            coin = self._rand(n, 1) < self.multipliers["xint"] * self.p
            t = torch.where(coin, t, torch.zeros_like(t))
            g_inv = g_inv @ translate2d(-torch.round(t[:, 0] * w), -torch.round(t[:, 1] * h))
        return g_inv

    def _geom(self, g_inv: torch.Tensor, n: int, h: int, w: int) -> torch.Tensor:
        s = self.strengths
        if self._on("scale"):
            k = self._apply("scale", torch.exp2(self._randn(n) * s.scale_std), 1)
            g_inv = g_inv @ scale2d(1 / k, 1 / k)
        # Pre- and post-rotation each with p_rot, so that P(pre or post) = p.
        p_rot = 1 - math.sqrt(min(max(1 - self.multipliers.get("rotate", 0) * self.p, 0), 1))
        if self._on("rotate"):
            theta = self._apply("rotate", self._rotation(n), 0, prob=p_rot)
            g_inv = g_inv @ rotate2d(theta)  # inverse of rotate2d(-theta), as NVIDIA
        if self._on("aniso"):
            k = self._apply("aniso", torch.exp2(self._randn(n) * s.aniso_std), 1)
            g_inv = g_inv @ scale2d(1 / k, k)
        if self._on("rotate"):
            theta = self._apply("rotate", self._rotation(n), 0, prob=p_rot)
            g_inv = g_inv @ rotate2d(theta)
        if self._on("xfrac"):
            t = self._randn(n, 2) * s.xfrac_std
            coin = self._rand(n, 1) < self.multipliers["xfrac"] * self.p
            t = torch.where(coin, t, torch.zeros_like(t))
            g_inv = g_inv @ translate2d(-t[:, 0] * w, -t[:, 1] * h)
        return g_inv

    def _rotation(self, n: int) -> torch.Tensor:
        return (self._rand(n) * 2 - 1) * math.pi * self.strengths.rotate_max

    @staticmethod
    def _warp(images: torch.Tensor, g_inv: torch.Tensor) -> torch.Tensor:
        """Resample images by the pixel-space inverse transforms (about the image centre), as
        NVIDIA: reflect-pad what the transform brings in, upsample 2x (sym6), sample, and
        downsample 2x (sym6, flipped) back to the input's size."""
        n, _, h, w = images.shape
        f = setup_filter(SYM6).to(images.device)
        hz_pad = len(SYM6) // 4
        mx0, my0, mx1, my1 = _margins(g_inv, h, w, hz_pad)
        images = F.pad(images, [mx0, mx1, my0, my1], mode="reflect")
        g = translate2d(_full(n, (mx0 - mx1) / 2), _full(n, (my0 - my1) / 2)) @ g_inv
        images = upfirdn2d(images, f, up=2, padding=[6, 5, 6, 5], gain=4)  # upsample2d's
        g = scale2d(_full(n, 2), _full(n, 2)) @ g @ scale2d(_full(n, 0.5), _full(n, 0.5))
        g = (
            translate2d(_full(n, -0.5), _full(n, -0.5))
            @ g
            @ translate2d(_full(n, 0.5), _full(n, 0.5))
        )
        shape = [n, images.shape[1], (h + hz_pad * 2) * 2, (w + hz_pad * 2) * 2]
        to_in = scale2d(_full(n, 2 / images.shape[3]), _full(n, 2 / images.shape[2]))
        g = to_in @ g @ scale2d(_full(n, shape[3] / 2), _full(n, shape[2] / 2))
        grid = F.affine_grid(
            g[:, :2, :].to(images.device, images.dtype), shape, align_corners=False
        )
        images = F.grid_sample(
            images, grid, mode="bilinear", padding_mode="zeros", align_corners=False
        )
        crop = 5 - hz_pad * 2  # downsample2d's padding for 12 taps, less the 2x margin
        return upfirdn2d(images, f, down=2, padding=[crop] * 4, flip_filter=True)

    # -- the colour matrix: C @ colour_in -> colour_out -------------------------------------

    def _color(self, n: int, channels: int) -> torch.Tensor:
        s, v = self.strengths, LUMA_AXIS
        eye = torch.eye(4).expand(n, 4, 4)
        cm = eye
        if self._on("brightness"):
            b = self._apply("brightness", self._randn(n) * s.brightness_std, 0)
            cm = translate3d(b) @ cm
        if self._on("contrast"):
            k = self._apply("contrast", torch.exp2(self._randn(n) * s.contrast_std), 1)
            cm = scale3d(k) @ cm
        vv = torch.outer(v, v)
        if self._on("lumaflip"):
            i = self._apply("lumaflip", torch.floor(self._rand(n) * 2), 0)
            cm = (eye - 2 * vv * i[:, None, None]) @ cm  # Householder reflection
        if self._on("hue") and channels > 1:
            theta = (self._rand(n) * 2 - 1) * math.pi * s.hue_max
            cm = rotate3d(v, self._apply("hue", theta, 0)) @ cm
        if self._on("saturation") and channels > 1:
            k = self._apply("saturation", torch.exp2(self._randn(n) * s.saturation_std), 1)
            cm = (vv + (eye - vv) * k[:, None, None]) @ cm
        return cm

    @staticmethod
    def _recolor(images: torch.Tensor, cm: torch.Tensor) -> torch.Tensor:
        n, c, h, w = images.shape
        cm = cm.to(images.device, images.dtype)
        x = images.reshape(n, c, h * w)
        if c == 3:
            x = cm[:, :3, :3] @ x + cm[:, :3, 3:]
        elif c == 1:
            cm = cm[:, :3, :].mean(dim=1, keepdim=True)
            x = x * cm[:, :, :3].sum(dim=2, keepdim=True) + cm[:, :, 3:]
        else:
            raise ValueError("ADA needs RGB (3 channels) or greyscale (1 channel) images")
        return x.reshape(n, c, h, w)

    # -- public ----------------------------------------------------------------------------

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        if images.ndim != 4:
            raise ValueError("images must have shape (N, C, H, W)")
        n, c, h, w = images.shape
        self._device = images.device
        # As NVIDIA, each group runs whenever the pipeline has it, whatever p and the draws.
        if any(
            self._on(k) for k in ("xflip", "rotate90", "xint", "scale", "rotate", "aniso", "xfrac")
        ):
            g_inv = self._geom(self._blit(torch.eye(3).expand(n, 3, 3), n, h, w), n, h, w)
            images = self._warp(images, g_inv)
        if any(self._on(k) for k in ("brightness", "contrast", "lumaflip", "hue", "saturation")):
            images = self._recolor(images, self._color(n, c))
        return images

    def state_dict(self) -> dict:
        rng = None if self.generator is None else self.generator.get_state()
        return {"p": self.p, "pipeline": self.pipeline, "rng": rng}

    def load_state_dict(self, state: dict) -> None:
        if state["pipeline"] != self.pipeline:
            raise ValueError(f"state is for pipeline {state['pipeline']!r}, not {self.pipeline!r}")
        self.p = float(state["p"])
        if self.generator is not None and state["rng"] is not None:
            self.generator.set_state(state["rng"])


class AdaptiveP:
    """ADA's controller: every `interval` steps, r_t = E[sign(D(real))] over the real logits
    seen since the last update, and p += sign(r_t - target) * batch * interval / (ada_kimg *
    1000), clamped at 0 only, as NVIDIA. r_t near 1 means D separates the reals it has seen:
    overfitting."""

    def __init__(
        self,
        augment: AdaAugment,
        batch_size: int,
        target: float = 0.6,
        interval: int = 4,
        ada_kimg: float = 500,
    ) -> None:
        self.augment, self.batch_size = augment, batch_size
        self.target, self.interval, self.ada_kimg = target, interval, ada_kimg
        self.sign_sum, self.count, self.steps = 0.0, 0, 0
        self.last_rt: float | None = None

    @property
    def p(self) -> float:
        return self.augment.p

    def observe(self, real_logits: torch.Tensor) -> None:
        """Accumulate the signs of D's logits on (augmented) real images."""
        signs = real_logits.detach().float().sign()
        self.sign_sum += float(signs.sum())
        self.count += signs.numel()

    def step(self) -> bool:
        """Count one training step; adjust p every `interval` steps. Returns whether it did."""
        self.steps += 1
        if self.steps % self.interval != 0:
            return False
        self._sum_across_processes()
        if self.count == 0:
            return False
        self.last_rt = self.sign_sum / self.count
        adjust = (
            math.copysign(1.0, self.last_rt - self.target) if self.last_rt != self.target else 0
        )
        delta = adjust * self.batch_size * self.interval / (self.ada_kimg * 1000)
        self.augment.p = max(self.augment.p + delta, 0.0)
        self.sign_sum, self.count = 0.0, 0
        return True

    def _sum_across_processes(self) -> None:
        """Under torchrun, r_t is taken over every process's real logits (as NVIDIA)."""
        if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
            return
        totals = torch.tensor([self.sign_sum, float(self.count)], dtype=torch.float64)
        dist.all_reduce(totals)
        self.sign_sum, self.count = float(totals[0]), int(totals[1])

    def state_dict(self) -> dict:
        keys = ("sign_sum", "count", "steps", "last_rt")
        return {k: getattr(self, k) for k in keys} | {"augment": self.augment.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        for key in ("sign_sum", "count", "steps", "last_rt"):
            setattr(self, key, state[key])
        self.augment.load_state_dict(state["augment"])
