"""Gatys et al. (2016) style transfer as a generator of progress events.

`stylize(content, styles, settings, network, device)` optimises the pixels of an image so that
its features match the content image's (content loss), the Gram matrices of its features match
the (blended) style images' (style loss), and its total variation is small; it yields a
`StyleEvent` after every iteration, with a preview image every `preview_every` iterations, and
stops early (returning the current image) when `should_stop()` turns true.

Beyond the paper (after crowsonkb/style-transfer-pytorch):
- several style images, their Gram matrices blended with weights;
- keeping the content's colours (luminance-only transfer, or colour-matched style images);
- starting from the content image recoloured with the style's palette (the default: Gram
  losses alone move colours slowly from a content start);
- coarse-to-fine: large outputs are first solved at lower resolutions, each result upsampled
  to start the next scale, so the style's large structures appear and 1024 px+ stays cheap;
- on CUDA: bfloat16 autocast with a bfloat16 copy of the weights, channels_last, and the whole
  iteration (forward, backward, L-BFGS/Adam update) replayed as one CUDA graph (see
  `style.optim`).
"""

from __future__ import annotations

import copy
import dataclasses
import logging
import math
import time
import weakref
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from core.device import release_memory
from core.errors import UserInputError
from style import color
from style.losses import StyleObjective, blend_grams, gram_matrix
from style.networks import LossNetwork
from style.optim import LBFGS, Adam

log = logging.getLogger(__name__)

OPTIMIZERS = ("lbfgs", "adam")
INITS = ("content_color", "content", "noise")
COLOR_MODES = ("none", "luminance", "match")
MIN_SIZE = 64
MAX_SIZE_GPU = 2048
MAX_SIZE_CPU = 1024
MAX_STEPS = 2000
MAX_WEIGHT = 1e9
MAX_STYLES = 8
MULTISCALE_ABOVE = 512  # outputs with a longer side than this are solved coarse-to-fine


def max_size(device: torch.device) -> int:
    """Largest output side (px) allowed on `device`."""
    return MAX_SIZE_GPU if device.type == "cuda" else MAX_SIZE_CPU


COARSEST = 256
WARMUP_STEPS = 1  # eager iterations before a CUDA graph capture (cuDNN autotuning, allocations)


@dataclass
class StyleSettings:
    """Everything a run needs besides the images and the network (paper names)."""

    steps: int = 100
    size: int = 256  # longer side of the output, aspect ratio kept
    content_weight: float = 1.0
    style_weight: float = 300.0
    tv_weight: float = 1.0
    optimizer: str = "lbfgs"
    lr: float | None = None  # None: 1.0 for L-BFGS, 0.02 for Adam
    init: str = "content_color"
    preserve_colors: str = "none"
    style_blend: Sequence[float] | None = None  # one weight per style image, default equal
    style_scale: float = 1.0  # style images resized to style_scale * output size
    multiscale: bool = True
    preview_every: int = 10
    seed: int = 0
    normalize_losses: bool = True
    amp: bool | None = None  # None: on for CUDA
    cuda_graph: bool | None = None  # None: on for CUDA
    history_size: int | None = None  # None: as torch's LBFGS (100), fewer for huge images

    def validate(self, device: torch.device, num_styles: int) -> None:
        """Raise `UserInputError` for values no run can use."""
        _check_int("steps", self.steps, 1, MAX_STEPS)
        _check_int("size", self.size, MIN_SIZE, max_size(device))
        for name in ("content_weight", "style_weight", "tv_weight"):
            value = getattr(self, name)
            if not _finite(value) or not 0 <= value <= MAX_WEIGHT:
                raise UserInputError(f"{name} must be a number between 0 and {MAX_WEIGHT:g}")
        if self.content_weight == 0 and self.style_weight == 0:
            raise UserInputError("content_weight and style_weight cannot both be 0")
        if self.optimizer not in OPTIMIZERS:
            raise UserInputError(f"optimizer must be one of {OPTIMIZERS}")
        if self.init not in INITS:
            raise UserInputError(f"init must be one of {INITS}")
        if self.preserve_colors not in COLOR_MODES:
            raise UserInputError(f"preserve_colors must be one of {COLOR_MODES}")
        if self.lr is not None and (not _finite(self.lr) or not 0 < self.lr <= 10):
            raise UserInputError("lr must be in (0, 10]")
        if not _finite(self.style_scale) or not 0.1 <= self.style_scale <= 4:
            raise UserInputError("style_scale must be between 0.1 and 4")
        if not 1 <= num_styles <= MAX_STYLES:
            raise UserInputError(f"upload between 1 and {MAX_STYLES} style images")
        if self.style_blend is not None:
            blend = list(self.style_blend)
            if len(blend) != num_styles:
                raise UserInputError(
                    f"{num_styles} style image(s) but {len(blend)} blend weight(s)"
                )
            if not all(_finite(b) and 0 <= b <= MAX_WEIGHT for b in blend) or sum(blend) <= 0:
                raise UserInputError("blend weights must be >= 0 and not all 0")


def _finite(value: object) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)


def _check_int(name: str, value: object, lo: int, hi: int) -> None:
    if not _finite(value) or int(value) != value or not lo <= value <= hi:  # type: ignore[arg-type]
        raise UserInputError(f"{name} must be a whole number between {lo} and {hi}")


@dataclass
class StyleEvent:
    """Progress of a run. `losses` (unweighted content/style/tv and the weighted total) and
    `image` are filled every `preview_every` iterations and at the end; `history` (the losses
    at every iteration so far) only at the end."""

    iteration: int
    total: int
    scale: int
    num_scales: int
    size: tuple[int, int]  # (width, height) of the current scale
    network: str
    losses: dict[str, float] | None = None
    image: Image.Image | None = None
    done: bool = False
    stopped: bool = False
    seconds: float = 0.0
    history: list[dict[str, float]] = field(default_factory=list)


# --- Images <-> tensors ------------------------------------------------------------------------


def to_tensor(image: Image.Image, device: torch.device) -> torch.Tensor:
    a = np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0
    return torch.from_numpy(a).permute(2, 0, 1).unsqueeze(0).to(device)


def to_image(x: torch.Tensor) -> Image.Image:
    a = (x.detach()[0].float().clamp(0, 1) * 255).round().byte().permute(1, 2, 0).cpu().numpy()
    return Image.fromarray(a)


def output_size(width: int, height: int, size: int) -> tuple[int, int]:
    """(width, height) with the longer side `size` and the aspect ratio kept."""
    scale = size / max(width, height)
    return max(1, round(width * scale)), max(1, round(height * scale))


def resize(x: torch.Tensor, wh: tuple[int, int]) -> torch.Tensor:
    if x.shape[-1] == wh[0] and x.shape[-2] == wh[1]:
        return x
    down = wh[0] < x.shape[-1]
    return F.interpolate(x, size=(wh[1], wh[0]), mode="bicubic", antialias=down).clamp(0, 1)


def scale_sizes(size: int, multiscale: bool) -> list[int]:
    """Longer sides of the scales, coarse to fine: e.g. 1024 -> [256, 512, 1024]."""
    sizes = [size]
    if multiscale and size > MULTISCALE_ABOVE:
        while sizes[0] // 2 >= COARSEST:
            sizes.insert(0, sizes[0] // 2)
    return sizes


def history_size_for(numel: int, budget_bytes: int = 3 << 29) -> int:
    """L-BFGS history: 20 pairs (torch keeps 100; on the benchmark 20 reached the same losses
    in less time), fewer when the pairs (2 m numel floats) would pass ~1.5 GiB."""
    return int(max(5, min(20, budget_bytes // (8 * numel))))


_bf16_copies: weakref.WeakKeyDictionary[nn.Module, nn.Module] = weakref.WeakKeyDictionary()


def _amp_network(network: LossNetwork) -> LossNetwork:
    """The network with a bfloat16 copy of its convolution weights (cached per module), so that
    autocast does not cast every weight again at every iteration; buffers stay float32."""
    module = _bf16_copies.get(network.module)
    if module is None:
        module = copy.deepcopy(network.module)
        for m in module.modules():
            if isinstance(m, nn.Conv2d):
                m.to(torch.bfloat16)
        _bf16_copies[network.module] = module
    return dataclasses.replace(network, module=module)


# --- One scale ---------------------------------------------------------------------------------


class _Stepper:
    """Runs iterations of one scale: loss, gradient and optimiser update, eagerly or as one
    replayed CUDA graph. The loss parts of every iteration go to `hist` on the device."""

    def __init__(
        self,
        network: LossNetwork,
        objective: StyleObjective,
        x0: torch.Tensor,
        settings: StyleSettings,
        steps: int,
        amp: bool,
        graph: bool,
    ):
        self.network, self.objective = network, objective
        self.device = x0.device
        self.x0 = x0.detach().clone()
        self.img = x0.detach().clone().contiguous()
        self.amp = amp
        self.channels_last = self.device.type == "cuda"
        flat = self.img.view(-1)
        if settings.optimizer == "lbfgs":
            m = settings.history_size or history_size_for(flat.numel())
            self.opt: LBFGS | Adam = LBFGS(flat, settings.lr or 1.0, m)
        else:
            self.opt = Adam(flat, settings.lr or 0.02)
        # The image is clamped to [0, 1] after every update, as the PyTorch tutorial's closure
        # does (L-BFGS then keeps the unclamped step as its s): on the benchmark this reached
        # 9x lower style and similar content loss than clamping only the final image.
        self.clamp = True
        self.parts = torch.zeros(4, device=self.device)
        self.hist = torch.zeros(steps, 4, device=self.device)
        self.graph: torch.cuda.CUDAGraph | None = None
        if graph:
            try:
                self._capture()
            except RuntimeError as e:  # an op that cannot be captured: run eagerly instead
                log.warning("CUDA graph capture failed (%s); running eagerly", e)
                self.graph = None
                self.img.copy_(self.x0)
                self.opt.reset()

    def _loss_and_grad(self) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.img.detach().requires_grad_(True)
        xin = x.contiguous(memory_format=torch.channels_last) if self.channels_last else x
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.amp):
            feats = self.network.feature_maps(xin, self.objective.layers)
        parts = self.objective.parts(feats, x)
        total = self.objective.total(parts)
        (g,) = torch.autograd.grad(total, x)
        return g, torch.stack([parts["content"], parts["style"], parts["tv"], total])

    def _step(self) -> None:
        g, parts = self._loss_and_grad()
        self.parts.copy_(parts.detach())
        self.opt.step(g.reshape(-1).float())
        if self.clamp:
            self.img.clamp_(0, 1)

    def _capture(self) -> None:
        stream = torch.cuda.Stream()
        stream.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(stream):
            for _ in range(WARMUP_STEPS):  # cuDNN autotuning and allocations off the graph
                self._step()
        torch.cuda.current_stream().wait_stream(stream)
        self.graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self.graph):
            self._step()
        self.img.copy_(self.x0)
        self.opt.reset()

    def step(self, k: int) -> None:
        if self.graph is not None:
            self.graph.replay()
        else:
            self._step()
        self.hist[k].copy_(self.parts)


def _targets(
    network: LossNetwork,
    objective_layers: tuple[frozenset[str], frozenset[str]],
    content: torch.Tensor,
    styles: list[torch.Tensor],
    blend: list[float],
    amp: bool,
) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    content_layers, style_layers = objective_layers
    cl = content.device.type == "cuda"

    def feats(x: torch.Tensor, layers: frozenset[str]) -> dict[str, torch.Tensor]:
        x = x.contiguous(memory_format=torch.channels_last) if cl else x
        with torch.no_grad(), torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=amp):
            return network.feature_maps(x, layers)

    content_targets = {k: v.float() for k, v in feats(content, content_layers).items()}
    grams = []
    for s in styles:
        f = feats(s, style_layers)
        grams.append({k: gram_matrix(f[k]) for k in style_layers})
    return content_targets, blend_grams(grams, blend)


# --- The run -----------------------------------------------------------------------------------


def stylize(
    content: Image.Image,
    styles: Sequence[Image.Image],
    settings: StyleSettings,
    network: LossNetwork,
    device: torch.device,
    should_stop: Callable[[], bool] | None = None,
) -> Iterator[StyleEvent]:
    """Yield a `StyleEvent` per iteration; the last one has `done=True` and the final image."""
    device = torch.device(device)
    settings.validate(device, len(styles))
    try:
        yield from _stylize(content, list(styles), settings, network, device, should_stop)
    except torch.OutOfMemoryError as e:
        release_memory(device)
        raise UserInputError(
            f"out of {device.type.upper()} memory at size {settings.size}: try a smaller size"
        ) from e
    except BaseException:
        release_memory(device)
        raise


def _stylize(
    content_img: Image.Image,
    style_imgs: list[Image.Image],
    settings: StyleSettings,
    network: LossNetwork,
    device: torch.device,
    should_stop: Callable[[], bool] | None,
) -> Iterator[StyleEvent]:
    started = time.perf_counter()
    cuda = device.type == "cuda"
    amp = cuda if settings.amp is None else settings.amp and cuda
    graph = cuda if settings.cuda_graph is None else settings.cuda_graph and cuda
    if cuda:  # channels_last convolutions (the input is converted in the loop)
        network.module.to(memory_format=torch.channels_last)
    if amp:
        network = _amp_network(network)
    blend = list(settings.style_blend or [1.0] * len(style_imgs))
    spec = network.spec
    layers = (frozenset(spec.content_layers), frozenset(spec.style_layers))
    mode = settings.preserve_colors
    content_full = to_tensor(content_img, device)
    styles_full = [to_tensor(s, device) for s in style_imgs]
    main_style = styles_full[int(np.argmax(blend))]
    w, h = content_img.size
    sizes = scale_sizes(settings.size, settings.multiscale)
    total = settings.steps * len(sizes)
    gen = torch.Generator(device="cpu").manual_seed(settings.seed)
    x: torch.Tensor | None = None
    history: list[dict[str, float]] = []
    done_its = 0
    stopped = False
    names = ("content", "style", "tv", "total")

    for si, side in enumerate(sizes):
        wh = output_size(w, h, side)
        content = resize(content_full, wh)
        styles = [
            resize(s, output_size(s.shape[-1], s.shape[-2], round(side * settings.style_scale)))
            for s in styles_full
        ]
        if mode == "luminance":
            content = color.luminance(content)
            styles = [color.match_luminance(color.luminance(s), content) for s in styles]
        elif mode == "match":
            styles = [color.match_color(s, content) for s in styles]
        if x is None:
            x = _initial_image(settings.init, mode, content, main_style, gen)
        else:
            x = resize(x, wh)
        content_targets, style_targets = _targets(network, layers, content, styles, blend, amp)
        objective = StyleObjective(
            content_targets,
            style_targets,
            spec.style_layers,
            settings.content_weight,
            settings.style_weight,
            settings.tv_weight,
            settings.normalize_losses,
        )
        stepper = _Stepper(network, objective, x, settings, settings.steps, amp, graph)
        synced = 0
        for k in range(settings.steps):
            stepper.step(k)
            done_its += 1
            last = k == settings.steps - 1
            stopped = bool(should_stop and should_stop())
            event = StyleEvent(done_its, total, si + 1, len(sizes), wh, network.label)
            if last or stopped or (k + 1) % settings.preview_every == 0:
                rows = stepper.hist[synced : k + 1].tolist()
                history += [dict(zip(names, r, strict=True)) for r in rows]
                synced = k + 1
                event.losses = history[-1]
                event.image = to_image(_displayed(stepper.img, content_full, wh, mode))
            event.seconds = time.perf_counter() - started
            if stopped or (last and si == len(sizes) - 1):
                break
            yield event
        x = stepper.img.detach().clone()
        del stepper
        if stopped:
            break

    assert x is not None
    final = _displayed(x, content_full, output_size(w, h, sizes[-1]), mode)
    yield StyleEvent(
        iteration=done_its,
        total=total,
        scale=len(sizes) if not stopped else si + 1,
        num_scales=len(sizes),
        size=(final.shape[-1], final.shape[-2]),
        network=network.label,
        losses=history[-1] if history else None,
        image=to_image(final),
        done=True,
        stopped=stopped,
        seconds=time.perf_counter() - started,
        history=history,
    )
    log.info(
        "style transfer: %d iterations, %dx%d, %s, %.2f s",
        done_its,
        final.shape[-1],
        final.shape[-2],
        network.label,
        time.perf_counter() - started,
    )


def _initial_image(
    init: str, mode: str, content: torch.Tensor, style: torch.Tensor, gen: torch.Generator
) -> torch.Tensor:
    if init == "noise":
        noise = torch.rand(content.shape, generator=gen).to(content.device)
        # Departure: noise around mid-grey rather than full-range white noise converges faster.
        return (0.5 + (noise - 0.5) * 0.5).contiguous()
    if init == "content_color" and mode == "none":
        return color.match_color(content, style)
    return content.clone()


def _displayed(
    x: torch.Tensor, content_full: torch.Tensor, wh: tuple[int, int], mode: str
) -> torch.Tensor:
    """The working image as shown: clamped, and with the content's chroma in luminance mode."""
    x = x.detach().float().clamp(0, 1)
    if mode == "luminance":
        return color.combine_luminance(x, resize(content_full, (x.shape[-1], x.shape[-2])))
    return x


def run_to_end(events: Iterator[StyleEvent]) -> StyleEvent:
    """Exhaust a `stylize` run and return its final event."""
    return deque(events, maxlen=1)[0]
