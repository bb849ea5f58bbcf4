"""Projection: find the latent whose image matches a photo (Karras et al. 2020, appendix D).

StyleGAN2 follows NVIDIA's stylegan2-ada-pytorch `projector.py`: optimise w (or, as an option,
every entry of W+) from w_avg with Adam, a learning-rate ramp-up and cosine ramp-down, Gaussian
noise on w that decays to zero, the per-layer noise maps optimised too with a multi-scale
autocorrelation penalty and re-normalised after each step, and a perceptual (LPIPS) distance to
the target downsampled to 256 px. The DCGAN has no w or noise maps: z is optimised from 0 with
the same schedule and loss (plus an optional pixel MSE).

The perceptual loss is passed in (an object with `features(x)` and `distance(fx, fy)` on images
in [0, 1], e.g. `style.lpips.PerceptualLoss`); this module does not import `style`.
"""

from __future__ import annotations

import copy
import math
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from core import images as image_io
from core.errors import UserInputError
from core.events import Progress
from gan.latents import MAX_ABS_Z
from gan.models import families

MAX_STEPS = 5000
MAX_LOSS_SIZE = 256  # NVIDIA: "VGG was built for 224x224 images"


class StopFlag(Protocol):
    def is_set(self) -> bool: ...


class PerceptualDistance(Protocol):
    def features(self, x: torch.Tensor) -> list[torch.Tensor]: ...

    def distance(self, fx: list[torch.Tensor], fy: list[torch.Tensor]) -> torch.Tensor: ...


@dataclass
class ProjectSettings:
    """One projection job. Defaults are NVIDIA projector.py's."""

    steps: int = 1000
    w_plus: bool = False  # StyleGAN2: optimise each W+ entry separately
    initial_learning_rate: float = 0.1
    lr_rampdown_length: float = 0.25
    lr_rampup_length: float = 0.05
    initial_noise_factor: float = 0.05
    noise_ramp_length: float = 0.75
    regularize_noise_weight: float = 1e5
    optimize_noise: bool = True  # StyleGAN2: optimise the noise maps (NVIDIA does)
    w_avg_samples: int = 10000
    pixel_weight: float = 0.0  # optional pixel MSE (on [0, 1] images) added to the loss
    preview_every: int = 50
    seed: int = 0  # initial noise maps

    def __post_init__(self) -> None:
        _check_int("steps", self.steps, 1, MAX_STEPS)
        _check_int("w_avg_samples", self.w_avg_samples, 2, 100_000)
        _check_int("preview_every", self.preview_every, 1, MAX_STEPS)
        _check_int("seed", self.seed, 0, 2**32 - 1)
        for name in ("initial_learning_rate", "regularize_noise_weight", "pixel_weight"):
            _check_float(name, getattr(self, name), 0.0, 1e9)
        for name in ("lr_rampdown_length", "lr_rampup_length", "noise_ramp_length"):
            _check_float(name, getattr(self, name), 1e-6, 1.0)
        _check_float("initial_noise_factor", self.initial_noise_factor, 0.0, 10.0)


def _check_int(name: str, value: Any, lo: int, hi: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise UserInputError(f"{name} must be a whole number from {lo} to {hi}, got {value!r}")


def _check_float(name: str, value: Any, lo: float, hi: float) -> None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or not lo <= value <= hi:
        raise UserInputError(f"{name} must be a number from {lo:g} to {hi:g}, got {value!r}")


# --- Preparing the photo --------------------------------------------------------------------


@dataclass(frozen=True)
class CropBox:
    """A square crop: centre (x, y) as fractions of width/height, side as a fraction of the
    shorter side. The default is the centred square crop."""

    x: float = 0.5
    y: float = 0.5
    size: float = 1.0

    def __post_init__(self) -> None:
        _check_float("crop x", self.x, 0.0, 1.0)
        _check_float("crop y", self.y, 0.0, 1.0)
        _check_float("crop size", self.size, 0.05, 1.0)

    def pixels(self, width: int, height: int) -> tuple[int, int, int, int]:
        """(left, top, right, bottom), moved inside the image if the box sticks out. Floored,
        so that the centred box is NVIDIA's projector's, ((w - s) // 2, (h - s) // 2)."""
        side = max(1, round(self.size * min(width, height)))
        left = min(max(math.floor(self.x * width - side / 2), 0), width - side)
        top = min(max(math.floor(self.y * height - side / 2), 0), height - side)
        return left, top, left + side, top + side


def prepare_target(source: Any, resolution: int, crop: CropBox | None = None) -> torch.Tensor:
    """A photo (path, PIL image or HWC array) -> (1, 3, R, R) float in [0, 1]: crop, resize."""
    image = image_io.load_rgb(source, what=image_io.PHOTO)
    box = (crop or CropBox()).pixels(image.width, image.height)
    image = image.crop(box).resize((resolution, resolution), Image.Resampling.LANCZOS)
    a = np.asarray(image, dtype=np.float32) / 255.0
    return torch.from_numpy(a).permute(2, 0, 1)[None].contiguous()


# --- Schedules and regulariser (NVIDIA projector.py) -------------------------------------------


def learning_rate(step: int, s: ProjectSettings) -> float:
    """Linear ramp-up over the first 5%, cosine ramp-down over the last 25% (by default)."""
    t = step / s.steps
    ramp = min(1.0, (1.0 - t) / s.lr_rampdown_length)
    ramp = 0.5 - 0.5 * math.cos(ramp * math.pi)
    return s.initial_learning_rate * ramp * min(1.0, t / s.lr_rampup_length)


def latent_noise_scale(step: int, s: ProjectSettings, latent_std: float) -> float:
    """Std of the Gaussian noise added to the latent: quadratic decay to 0 at 75% of the run."""
    t = step / s.steps
    return latent_std * s.initial_noise_factor * max(0.0, 1.0 - t / s.noise_ramp_length) ** 2


def noise_regularizer(noise_maps: list[torch.Tensor]) -> torch.Tensor:
    """Sum over scales of squared autocorrelations at a one-pixel shift (down to 8x8)."""
    reg = torch.zeros(())
    for v in noise_maps:
        noise = v[None, None]
        reg = reg.to(v.device)
        while True:
            reg = reg + (noise * torch.roll(noise, shifts=1, dims=3)).mean() ** 2
            reg = reg + (noise * torch.roll(noise, shifts=1, dims=2)).mean() ** 2
            if noise.shape[2] <= 8:
                break
            noise = F.avg_pool2d(noise, kernel_size=2)
    return reg


@torch.no_grad()
def normalize_noise(noise_maps: list[torch.Tensor]) -> None:
    for buf in noise_maps:
        buf -= buf.mean()
        buf *= buf.square().mean().rsqrt()


# --- Latent parametrisations ------------------------------------------------------------------


@torch.no_grad()
def w_stats(generator: nn.Module, samples: int, seed: int = 123) -> tuple[torch.Tensor, float]:
    """w_avg (1, 1, w_dim) and the scalar std of w over `samples` mapped z (NVIDIA's recipe,
    with its draws: numpy's RandomState(123))."""
    device = next(generator.parameters()).device
    draws = np.random.RandomState(seed).randn(samples, generator.z_dim)
    z = torch.from_numpy(draws).to(device, torch.float32)
    w = torch.cat([generator.mapping(chunk, None)[:, :1] for chunk in z.split(1000)])
    w_avg = w.mean(dim=0, keepdim=True)
    return w_avg, float(((w - w_avg).square().sum() / samples).sqrt())


class _Latent:
    """What is optimised and how it becomes an image (in [-1, 1])."""

    space = "z"

    def __init__(self, generator: nn.Module, settings: ProjectSettings) -> None:
        self.generator = generator
        device = next(generator.parameters()).device
        nz = generator.config.nz
        self.param = torch.zeros(1, nz, device=device, requires_grad=True)
        self.std = math.sqrt(nz)  # total std of z ~ N(0, I), as w_std is for w
        self.noise_maps: list[torch.Tensor] = []

    def render(self, noise_scale: float) -> torch.Tensor:
        latent = self.param + torch.randn_like(self.param) * noise_scale
        return self.generator(latent)

    @torch.no_grad()
    def after_step(self) -> None:
        # Keep z inside the range that Generate accepts, so the export always imports.
        self.param.clamp_(-MAX_ABS_Z, MAX_ABS_Z)

    def value(self) -> torch.Tensor:
        return self.param.detach().cpu().clone()

    @torch.no_grad()
    def final_image(self) -> torch.Tensor:
        return self.generator(self.param)


class _WLatent(_Latent):
    """w (1, 1, w_dim) repeated over W+, or all of W+ (1, num_ws, w_dim); plus noise maps."""

    space = "w"

    def __init__(self, generator: nn.Module, settings: ProjectSettings, original: nn.Module):
        self.generator, self.original = generator, original
        w_avg, self.std = w_stats(generator, settings.w_avg_samples)
        if settings.w_plus:
            w_avg = w_avg.repeat(1, generator.num_ws, 1)
        self.param = w_avg.clone().requires_grad_(True)
        self.noise_maps = self._init_noise(settings) if settings.optimize_noise else []

    def _init_noise(self, settings: ProjectSettings) -> list[torch.Tensor]:
        g = torch.Generator().manual_seed(settings.seed)
        maps = [b for n, b in self.generator.synthesis.named_buffers() if "noise_const" in n]
        for buf in maps:
            buf.copy_(torch.randn(buf.shape, generator=g).to(buf.device))
            buf.requires_grad_(True)
        return maps

    def ws(self, w: torch.Tensor) -> torch.Tensor:
        return w if w.shape[1] > 1 else w.repeat(1, self.generator.num_ws, 1)

    def render(self, noise_scale: float) -> torch.Tensor:
        w = self.param + torch.randn_like(self.param) * noise_scale
        return self.generator.synthesis(self.ws(w), noise_mode="const")

    def after_step(self) -> None:
        normalize_noise(self.noise_maps)

    def value(self) -> torch.Tensor:
        """W+ (1, num_ws, w_dim), the format that synthesis takes."""
        return self.ws(self.param.detach()).cpu().clone()

    @torch.no_grad()
    def final_image(self) -> torch.Tensor:
        # As NVIDIA's run_projection: the model's own constant noise, so that the exported w
        # alone reproduces the image (the optimised noise maps are kept in the result).
        return self.original.synthesis(self.ws(self.param.detach()), noise_mode="const")


# --- The job ----------------------------------------------------------------------------------


@dataclass
class ProjectionResult:
    """The latest latent, its image, the target, and preview frames for a video."""

    space: str  # "z" (DCGAN, shape (1, nz)) or "w" (StyleGAN2 W+, shape (1, num_ws, w_dim))
    latent: torch.Tensor
    image: np.ndarray  # (R, R, 3) uint8
    target: np.ndarray  # (R, R, 3) uint8
    step: int
    total: int
    stopped: bool = False
    losses: dict[str, float] = field(default_factory=dict)
    frames: list[np.ndarray] = field(default_factory=list)
    noise: dict[str, torch.Tensor] = field(default_factory=dict)


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """(1, 3, H, W) in [-1, 1] -> (H, W, 3) uint8."""
    return image_io.to_uint8(images.detach().float().cpu().numpy())[0]


def _loss_size(images: torch.Tensor) -> torch.Tensor:
    if images.shape[2] > MAX_LOSS_SIZE:
        return F.interpolate(images, size=(MAX_LOSS_SIZE, MAX_LOSS_SIZE), mode="area")
    return images


class Projection:
    """A projection job: iterate `run()` for progress; `result` always holds the latest state.

    `target` is (1, 3, R, R) in [0, 1] at the generator's resolution (see `prepare_target`).
    """

    def __init__(
        self,
        generator: nn.Module,
        target: torch.Tensor,
        loss: PerceptualDistance,
        settings: ProjectSettings | None = None,
    ) -> None:
        self.settings = settings or ProjectSettings()
        self.loss = loss
        self.resolution = _resolution(generator)
        if target.shape != (1, 3, self.resolution, self.resolution):
            raise UserInputError(
                f"the target must be (1, 3, {self.resolution}, {self.resolution}) for this model"
            )
        self.device = next(generator.parameters()).device
        self.target = target.to(self.device, torch.float32)
        # A private copy: the noise maps are optimised in place (NVIDIA deep-copies G too).
        model = copy.deepcopy(generator).eval().requires_grad_(False)
        if families.family_of(generator).has_w:
            self.latent: _Latent = _WLatent(model, self.settings, generator)
        else:
            self.latent = _Latent(model, self.settings)
        self.result: ProjectionResult | None = None

    def run(self, stop: StopFlag | threading.Event | None = None) -> Iterator[Progress]:
        """Optimise; yields a Progress every `preview_every` steps and at the end."""
        s = self.settings
        with torch.no_grad():
            target_features = self.loss.features(_loss_size(self.target))
        params = [self.latent.param, *self.latent.noise_maps]
        optimizer = torch.optim.Adam(params, betas=(0.9, 0.999), lr=s.initial_learning_rate)
        losses: dict[str, float] = {}
        frames: list[np.ndarray] = []
        step = 0
        for step in range(s.steps):
            if stop is not None and stop.is_set():
                break
            losses = self._step(optimizer, step, target_features)
            if (step + 1) % s.preview_every == 0 or step + 1 == s.steps:
                preview = to_uint8(self.latent.final_image())
                frames.append(preview)
                self._keep(step + 1, losses, frames, preview)
                yield Progress(step + 1, s.steps, losses, preview, f"step {step + 1}/{s.steps}")
        else:
            step = s.steps
        stopped = step < s.steps
        if stopped or self.result is None or self.result.step != step:
            preview = to_uint8(self.latent.final_image())
            self._keep(step, losses, frames, preview)
        assert self.result is not None
        self.result.stopped = stopped
        message = f"stopped at step {step}/{s.steps}" if stopped else "done"
        yield Progress(
            step,
            s.steps,
            losses,
            self.result.image,
            message,
            done=True,
            stopped=stopped,
            output=self.result,
        )

    def _step(self, optimizer: torch.optim.Optimizer, step: int, target_features) -> dict:
        s = self.settings
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(step, s)
        image = self.latent.render(latent_noise_scale(step, s, self.latent.std))
        image01 = (image + 1) / 2
        dist = self.loss.distance(self.loss.features(_loss_size(image01)), target_features).sum()
        loss = dist
        losses = {"distance": float(dist.detach())}
        if self.latent.noise_maps and s.regularize_noise_weight > 0:
            reg = noise_regularizer(self.latent.noise_maps)
            loss = loss + reg * s.regularize_noise_weight
            losses["noise_reg"] = float(reg.detach())
        if s.pixel_weight > 0:
            mse = F.mse_loss(image01, self.target)
            loss = loss + s.pixel_weight * mse
            losses["pixel_mse"] = float(mse.detach())
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        self.latent.after_step()
        losses["loss"] = float(loss.detach())
        return losses

    def _keep(self, step: int, losses: dict, frames: list, preview: np.ndarray) -> None:
        noise = {
            f"noise{i}": b.detach().cpu().clone() for i, b in enumerate(self.latent.noise_maps)
        }
        self.result = ProjectionResult(
            space=self.latent.space,
            latent=self.latent.value(),
            image=preview,
            target=to_uint8(self.target * 2 - 1),
            step=step,
            total=self.settings.steps,
            losses=dict(losses),
            frames=list(frames),
            noise=noise,
        )


def _resolution(generator: nn.Module) -> int:
    return families.image_size(generator)


def project(
    generator: nn.Module,
    target: torch.Tensor,
    loss: PerceptualDistance,
    settings: ProjectSettings | None = None,
    stop: StopFlag | threading.Event | None = None,
) -> ProjectionResult:
    """Run a whole projection and return its result (no progress reports)."""
    job = Projection(generator, target, loss, settings)
    for _ in job.run(stop):
        pass
    assert job.result is not None
    return job.result


# --- Quality and export -----------------------------------------------------------------------


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """Peak signal-to-noise ratio in dB of two uint8 images."""
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else float(10 * np.log10(255.0**2 / mse))
