"""GAN Studio: generate, interpolate, stylise and fine-tune, in one Gradio app.

This file only builds the UI and wires it to `gan/` and `style/`; the models live there.
Run `python app.py` (see README.md for the one-command set-up).
"""

from __future__ import annotations

import functools
import inspect
import logging
import math
import os
import random
import signal
import threading
import time
from collections.abc import Callable

import gradio as gr
import pandas as pd

from core import publish, store
from core.device import is_out_of_memory, release_memory, resolve_device
from core.errors import UserInputError
from core.images import load_rgb
from core.media import grid, upscale
from core.runs import RunRegistry, trim_memory_forever
from gan import augment, latents, train
from gan import data as finetune_data
from gan.kid import load_feature_net
from gan.studio import DEFAULT_MODEL, DISPLAY_SIZE, FaceStudio
from style import networks as style_networks
from style.transfer import MAX_STEPS, MIN_SIZE, StyleSettings, max_size
from style.transfer import stylize as run_style

log = logging.getLogger("gan_studio")

DEVICE = resolve_device()
STUDIO = FaceStudio(DEVICE)
MAX_UPLOAD = "60mb"
SHUTDOWN_GRACE_S = 60.0  # how long a SIGTERM waits for fine-tunes to save

DESCRIPTION = """# GAN Studio
Faces from a DCGAN, walks through its latent space, Gatys style transfer, and short fine-tuning
runs on your own images. Running on **{device}**."""


# --- plumbing -----------------------------------------------------------------------------------


def _as_gr_error(error: Exception) -> Exception:
    """Turn any failure into a message for the person; the server keeps serving."""
    if isinstance(error, gr.Error):
        return error
    if isinstance(error, UserInputError):
        return gr.Error(str(error))
    if is_out_of_memory(error):
        release_memory(DEVICE)
        log.warning("out of memory: %s", error)
        return gr.Error("The GPU ran out of memory: try a smaller size or fewer images.")
    log.exception("unexpected error", exc_info=error)
    return gr.Error(f"Something went wrong ({type(error).__name__}); the details are in the log.")


def _reject_non_finite(names: list[str], args: tuple, kwargs: dict) -> None:
    """NaN and infinite numbers cannot come from the sliders, but can through the API."""
    named = {**dict(zip(names, args, strict=False)), **kwargs}
    for name, value in named.items():
        if isinstance(value, float) and not math.isfinite(value):
            raise UserInputError(f"{name} must be a finite number, not {value}")


def friendly(fn: Callable) -> Callable:
    """Wrap a handler (plain or generator) so that errors reach the page as `gr.Error`."""
    names = list(inspect.signature(fn).parameters)
    if inspect.isgeneratorfunction(fn):

        @functools.wraps(fn)
        def stream(*args, **kwargs):
            try:
                _reject_non_finite(names, args, kwargs)
                yield from fn(*args, **kwargs)
            except Exception as e:
                raise _as_gr_error(e) from e

        return stream

    @functools.wraps(fn)
    def call(*args, **kwargs):
        try:
            _reject_non_finite(names, args, kwargs)
            return fn(*args, **kwargs)
        except Exception as e:
            raise _as_gr_error(e) from e

    return call


def session_key(request: gr.Request | None) -> str:
    """The browser session (or API client) a request comes from: the key of its stop flag."""
    return getattr(request, "session_hash", None) or "api"


def model_dropdown_update(current: str | None = None) -> dict:
    """Fresh choices for the shared model dropdown (new fine-tunes show up without a restart)."""
    choices = STUDIO.model_choices()
    value = current if current in choices else (DEFAULT_MODEL if DEFAULT_MODEL in choices else None)
    return gr.update(choices=choices, value=value or (choices[0] if choices else None))


def hub_status() -> str:
    if store.hub_reachable():
        return f"Hub: reachable ({store.hub_host()})"
    return "Hub: offline, serving local models"


# --- Generate -----------------------------------------------------------------------------------


@friendly
def generate(
    seeds: str,
    truncation_psi: float = 1.0,
    model: str = DEFAULT_MODEL,
    latent_vector: str = "",
    latent_file: str | None = None,
):
    """Faces for the seeds (e.g. `1-8, 42`), or for a pasted/uploaded latent vector."""
    z, seed_list = None, None
    if latent_file:
        z = latents.load_latent_file(latent_file, STUDIO.nz(model))
    elif latent_vector and latent_vector.strip():
        z = latents.parse_latent_text(latent_vector, STUDIO.nz(model))
    else:
        seed_list = latents.parse_seeds(seeds)
    faces = STUDIO.generate(model, seed_list, z, float(truncation_psi))
    labels = [f"seed {s}" for s in seed_list] if seed_list else None
    gallery = [
        (upscale(image, DISPLAY_SIZE), labels[i] if labels else f"z[{i}]")
        for i, image in enumerate(faces.images)
    ]
    files = [str(p) for p in STUDIO.save_faces(faces)]
    h, w = faces.images.shape[1:3]
    info = f"{len(faces.images)} faces at {w}x{h} from **{model}**, truncation ψ={truncation_psi:g}"
    return gallery, files, info


def random_seeds(count: float) -> str:
    """`count` consecutive seeds from a random start."""
    start = random.randint(0, latents.MAX_SEED - int(count))
    return f"{start}-{start + int(count) - 1}" if count > 1 else str(start)


def build_generate_tab(model: gr.Dropdown) -> None:
    with gr.Row():
        with gr.Column(scale=1):
            seeds = gr.Textbox(
                value="1-8", label="Seeds", info="whole numbers and ranges, e.g. `1-8, 42`"
            )
            with gr.Row():
                count = gr.Slider(1, latents.MAX_SEEDS, value=8, step=1, label="Random faces")
                dice = gr.Button("Random seeds", scale=0, size="sm")
            psi = gr.Slider(
                0.0,
                2.0,
                value=1.0,
                step=0.05,
                label="Truncation ψ",
                info="below 1: more typical faces, less variety",
            )
            with gr.Accordion("Latent vector instead of seeds", open=False):
                latent_text = gr.Textbox(
                    value="",
                    label="Latent vector (JSON)",
                    lines=3,
                    placeholder="[0.1, -1.2, ...] (nz numbers) or a list of such lists",
                )
                latent_file = gr.File(
                    label="or upload latents (.npy / .json)",
                    file_types=[".npy", ".json"],
                    type="filepath",
                )
            run = gr.Button("Generate", variant="primary")
        with gr.Column(scale=2):
            gallery = gr.Gallery(
                label="Faces", columns=4, format="png", height="auto", object_fit="contain"
            )
            info = gr.Markdown(label="info")
            files = gr.File(
                label="Downloads: native-resolution PNGs and latents", file_count="multiple"
            )
    dice.click(random_seeds, count, seeds, api_visibility="private")
    gr.on(
        [run.click, seeds.submit],
        generate,
        [seeds, psi, model, latent_text, latent_file],
        [gallery, files, info],
        api_name="generate",
        concurrency_id="gpu",
        concurrency_limit=1,
    )


# --- Interpolate --------------------------------------------------------------------------------


@friendly
def interpolate(
    seeds: str = "1, 2",
    frames: float = 16,
    mode: str = "slerp",
    model: str = DEFAULT_MODEL,
    loop: bool = False,
    truncation_psi: float = 1.0,
    fps: float = 12,
):
    """Frames between two or more keyframe seeds: a strip, a GIF and an MP4."""
    keyframes = latents.parse_seeds(seeds, max_count=16)
    frame_images = STUDIO.interpolate(
        model, keyframes, int(frames), mode, bool(loop), float(truncation_psi)
    )
    fps = int(min(max(fps, 1), 60))
    strip, gif, mp4 = STUDIO.save_animation(frame_images, fps)
    info = f"{len(frame_images)} frames, {mode}, {len(keyframes)} keyframes from **{model}**"
    return str(strip), str(gif), str(mp4), [str(strip), str(gif), str(mp4)], info


def build_interpolate_tab(model: gr.Dropdown) -> None:
    with gr.Row():
        with gr.Column(scale=1):
            seeds = gr.Textbox(
                value="1, 2, 3", label="Keyframe seeds", info="two or more, visited in order"
            )
            frames = gr.Slider(
                2,
                latents.MAX_FRAMES,
                value=16,
                step=1,
                label="Frames per segment (endpoints included)",
            )
            mode = gr.Radio(["slerp", "lerp"], value="slerp", label="Interpolation")
            loop = gr.Checkbox(value=False, label="Loop back to the first seed")
            psi = gr.Slider(0.0, 2.0, value=1.0, step=0.05, label="Truncation ψ")
            fps = gr.Slider(1, 60, value=12, step=1, label="Frames per second")
            run = gr.Button("Interpolate", variant="primary")
        with gr.Column(scale=2):
            strip = gr.Image(label="Frames", type="filepath", format="png")
            with gr.Row():
                gif = gr.Image(label="GIF", type="filepath", format="gif", height=320)
                mp4 = gr.Video(label="MP4", format="mp4", autoplay=True, loop=True, height=320)
            info = gr.Markdown(label="info")
            files = gr.File(label="Downloads", file_count="multiple")
    gr.on(
        [run.click, seeds.submit],
        interpolate,
        [seeds, frames, mode, model, loop, psi, fps],
        [strip, gif, mp4, files, info],
        api_name="interpolate",
        concurrency_id="gpu",
        concurrency_limit=1,
    )


# --- Style transfer -----------------------------------------------------------------------------

STYLE_NETWORKS = {
    "auto (VGG19 when available, else EfficientNet-Lite0)": style_networks.VGG19,
    "EfficientNet-Lite0 (offline)": style_networks.EFFICIENTNET,
}
STYLE_MAX_SIZE = max_size(DEVICE)
STYLE_RUNS = RunRegistry()


def _style_info(event, label: str) -> str:
    w, h = event.size
    text = f"**Loss network:** {label}  \nIteration {event.iteration}/{event.total}"
    if event.num_scales > 1:
        text += f", scale {event.scale}/{event.num_scales}"
    text += f" ({w}×{h}), {event.seconds:.1f} s"
    if event.losses:
        parts = event.losses
        text += (
            f"  \nLoss {parts['total']:.4g} (content {parts['content']:.3g}, "
            f"style {parts['style']:.3g}, TV {parts['tv']:.3g})"
        )
    if event.done:
        text += "  \n**Stopped**: the current image is shown." if event.stopped else "  \n**Done**."
    return text


def _style_blend(text: str | None, count: int) -> list[float] | None:
    if not text or not str(text).strip():
        return None
    try:
        blend = [float(v) for v in str(text).replace(";", ",").split(",") if v.strip()]
    except ValueError as e:
        raise UserInputError("blend weights: numbers separated by commas, e.g. '1, 0.5'") from e
    if len(blend) != count:
        raise UserInputError(f"{count} style image(s) but {len(blend)} blend weight(s)")
    return blend


def _loss_table(history: list[dict], settings: StyleSettings) -> pd.DataFrame:
    """Weighted loss terms per iteration, as log10 (they span several decades)."""
    weights = {
        "content": settings.content_weight,
        "style": settings.style_weight,
        "tv": settings.tv_weight,
        "total": 1.0,
    }
    rows = [
        (i + 1, term, math.log10(max(h[term] * w, 1e-12)))
        for i, h in enumerate(history)
        for term, w in weights.items()
        if w > 0
    ]
    return pd.DataFrame(rows, columns=["iteration", "term", "log10 loss"])


@friendly
def stylize(
    content: str | None,
    style: str | None,
    steps: float = 100,
    size: float = 256,
    content_weight: float = 1.0,
    style_weight: float = 300.0,
    tv_weight: float = 1.0,
    optimizer: str = "lbfgs",
    init: str = "content_color",
    preserve_colors: str = "none",
    extra_styles: list[str] | None = None,
    style_blend: str = "",
    network: str = "auto (VGG19 when available, else EfficientNet-Lite0)",
    request: gr.Request = None,
    progress=gr.Progress(),  # noqa: B008 (Gradio injects it)
):
    """Gatys style transfer: repaint `content` in the style of `style` (plus `extra_styles`,
    blended by `style_blend`); streams previews, the last output is the final image."""
    if network not in STYLE_NETWORKS:
        raise UserInputError(f"network must be one of {list(STYLE_NETWORKS)}")
    content_img = load_rgb(content, what="content image")
    style_paths = [style, *(extra_styles or [])]
    style_imgs = [load_rgb(p, what=f"style image {i + 1}") for i, p in enumerate(style_paths)]
    settings = StyleSettings(
        steps=steps,
        size=size,
        content_weight=content_weight,
        style_weight=style_weight,
        tv_weight=tv_weight,
        optimizer=optimizer,
        init=init,
        preserve_colors=preserve_colors,
        style_blend=_style_blend(style_blend, len(style_imgs)),
    )
    settings.validate(DEVICE, len(style_imgs))
    settings.steps, settings.size = int(steps), int(size)
    net = style_networks.load_loss_network(DEVICE, prefer=STYLE_NETWORKS[network])
    with STYLE_RUNS.running(session_key(request)) as stop:
        events = run_style(content_img, style_imgs, settings, net, DEVICE, stop.is_set)
        yield from _style_outputs(events, net.label, settings, progress)


def _style_outputs(events, label: str, settings: StyleSettings, progress: gr.Progress):
    """Style-loop events -> (image, info, loss plot) updates, with a throttled progress bar."""
    last_progress = 0.0
    for event in events:
        now = time.monotonic()
        if now - last_progress > 0.1 or event.done:
            progress((event.iteration, event.total), desc="Repainting", unit="iterations")
            last_progress = now
        if event.done:
            yield event.image, _style_info(event, label), _loss_table(event.history, settings)
        elif event.image is not None:
            yield event.image, _style_info(event, label), gr.skip()


def stop_style(request: gr.Request = None) -> None:
    STYLE_RUNS.stop(session_key(request))


def _style_network_status(choice: str | None = None) -> str:
    prefer = STYLE_NETWORKS.get(choice or "", style_networks.VGG19)
    return f"Loss network for the next run: **{style_networks.expected_label(prefer)}**"


def build_style_tab() -> None:
    network_md = gr.Markdown(_style_network_status)  # evaluated on every page load
    with gr.Row():
        with gr.Column(scale=1):
            with gr.Row():
                content = gr.Image(label="Content image", type="filepath", height=220)
                style = gr.Image(label="Style image", type="filepath", height=220)
            with gr.Row():
                steps = gr.Slider(1, MAX_STEPS, value=100, step=1, label="Iterations")
                size = gr.Slider(
                    MIN_SIZE,
                    STYLE_MAX_SIZE,
                    value=256,
                    step=32,
                    label="Output size (longer side, px)",
                )
            with gr.Accordion("Weights", open=True):
                content_weight = gr.Number(value=1.0, label="content_weight", minimum=0)
                style_weight = gr.Number(value=300.0, label="style_weight", minimum=0)
                tv_weight = gr.Number(value=1.0, label="tv_weight (variation)", minimum=0)
            with gr.Accordion("More", open=False):
                optimizer = gr.Radio(["lbfgs", "adam"], value="lbfgs", label="Optimiser")
                init = gr.Radio(
                    [
                        ("content with the style's colours", "content_color"),
                        ("content", "content"),
                        ("noise", "noise"),
                    ],
                    value="content_color",
                    label="Start from",
                )
                preserve = gr.Radio(
                    [
                        ("no: take the style's colours", "none"),
                        ("luminance-only transfer", "luminance"),
                        ("colour-matched style", "match"),
                    ],
                    value="none",
                    label="Keep the content's colours",
                )
                extra = gr.File(
                    label="More style images",
                    file_count="multiple",
                    file_types=["image"],
                    type="filepath",
                )
                blend = gr.Textbox(
                    value="",
                    label="Style blend weights",
                    placeholder="e.g. 1, 0.5 (one per style image; empty: equal)",
                )
                network = gr.Dropdown(
                    list(STYLE_NETWORKS), value=next(iter(STYLE_NETWORKS)), label="Loss network"
                )
            with gr.Row():
                run = gr.Button("Stylise", variant="primary")
                stop = gr.Button("Stop", variant="stop")
        with gr.Column(scale=1):
            result = gr.Image(label="Result (live preview)", format="png", interactive=False)
            info = gr.Markdown()
            losses = gr.LinePlot(
                x="iteration", y="log10 loss", color="term", label="Weighted losses", height=240
            )
    run.click(
        stylize,
        [
            content,
            style,
            steps,
            size,
            content_weight,
            style_weight,
            tv_weight,
            optimizer,
            init,
            preserve,
            extra,
            blend,
            network,
        ],
        [result, info, losses],
        api_name="stylize",
        concurrency_id="gpu",
        concurrency_limit=1,
        show_progress_on=losses,  # the bar sits on the plot; the live preview stays clear
    )
    stop.click(stop_style, None, None, queue=False, api_visibility="private")
    network.change(_style_network_status, network, network_md, api_visibility="private")


# --- Fine-tune ----------------------------------------------------------------------------------

FT_GPU = DEVICE.type == "cuda"
FT_DEFAULTS = {  # a few minutes on either device
    "steps": 2000 if FT_GPU else 100,
    "batch_size": 64 if FT_GPU else 16,
    "sample_every": 200 if FT_GPU else 20,
    "kid_samples": 1000 if FT_GPU else 64,
}
FT_POLICIES = list(augment.POLICIES)
FINETUNE_RUNS = RunRegistry()


def _finetune_image_size(model: str, name: str, resume: bool) -> int:
    return STUDIO.generator(name if resume else model).config.image_size


def _loss_frame(history: list[dict]) -> pd.DataFrame:
    rows = [(h["step"], "D", h["loss_d"]) for h in history]
    rows += [(h["step"], "G", h["loss_g"]) for h in history]
    return pd.DataFrame(rows, columns=["step", "network", "loss"])


def _samples_image(samples):
    return upscale(grid(samples, ncols=4), 512)


def _finetune_status(lines: list[str], event=None, kid: dict | None = None) -> str:
    text = list(lines)
    if event is not None and event.losses is not None:
        loss = event.losses
        skipped = " (D step skipped: balance rule)" if loss.d_skipped else ""
        text.append(
            f"Step **{event.step}/{event.total}**: D loss {loss.loss_d:.3f}{skipped}, "
            f"G loss {loss.loss_g:.3f}, {event.images_per_s:.0f} images/s"
        )
    if kid:
        text.append(train.kid_summary(kid) + " (EfficientNet-Lite0 features, lower is better)")
    return "  \n".join(text)


@friendly
def finetune(
    images: list[str] | None,
    model: str = DEFAULT_MODEL,
    name: str = "my-finetune",
    steps: float = FT_DEFAULTS["steps"],
    batch_size: float = FT_DEFAULTS["batch_size"],
    lr_g: float = 2e-4,
    lr_d: float = 2e-4,
    beta1_g: float = 0.5,
    beta2_g: float = 0.999,
    beta1_d: float = 0.5,
    beta2_d: float = 0.999,
    d_loss_threshold: float = 0.2,
    diffaugment: list[str] | str | None = None,
    hflip: bool = True,
    freeze_d: float = 1,
    ema_decay: float = 0.995,
    d_warmup: float = 20,
    sample_every: float = FT_DEFAULTS["sample_every"],
    max_seconds: float = train.MAX_SECONDS,
    resume: bool = False,
    kid: bool = True,
    request: gr.Request = None,
    progress=gr.Progress(),  # noqa: B008 (Gradio injects it)
):
    """Fine-tune `model` on the uploaded images (files or one .zip) and save it as `name`;
    streams status, preview, samples and losses; the last `result` holds the KIDs."""
    name = (name or "").strip()
    store.validate_name(name)
    dataset = finetune_data.prepare(images, _finetune_image_size(model, name, resume))
    if warning := dataset.warning():
        gr.Warning(warning)
    if isinstance(diffaugment, (list, tuple)):
        diffaugment = ",".join(diffaugment) or "none"
    config = train.FinetuneConfig(
        steps=steps,
        batch_size=batch_size,
        lr_g=lr_g,
        lr_d=lr_d,
        beta1_g=beta1_g,
        beta2_g=beta2_g,
        beta1_d=beta1_d,
        beta2_d=beta2_d,
        d_loss_threshold=d_loss_threshold,
        diffaugment=augment.DEFAULT_POLICY if diffaugment is None else diffaugment,
        hflip=bool(hflip),
        freeze_d=freeze_d,
        ema_decay=ema_decay,
        d_warmup=d_warmup,
        sample_every=sample_every,
        max_seconds=max_seconds,
        kid_samples=FT_DEFAULTS["kid_samples"] if kid else 0,
    )
    job = train.FinetuneJob(dataset.images, name, model, config, bool(resume), dataset.skipped)
    net = load_feature_net(DEVICE) if kid else None
    lines = [f"**{len(dataset)} images** prepared at {dataset.image_size}px"]
    preview = finetune_data.preview_grid(dataset.images)
    yield _finetune_status(lines), preview, gr.skip(), gr.skip(), gr.skip()
    with FINETUNE_RUNS.running(session_key(request)) as stop:
        events = train.run_finetune(job, DEVICE, stop, feature_net=net)
        yield from _finetune_outputs(events, lines, preview, job, progress)


def _finetune_outputs(events, lines: list[str], preview, job: train.FinetuneJob, progress):
    """Training events -> (status, preview, samples, loss plot, result) updates."""
    name = job.name
    state_kid: dict = {}
    for event in events:
        if event.kind == "status":
            lines.append(event.message)
            yield _finetune_status(lines, kid=state_kid), gr.skip(), gr.skip(), gr.skip(), gr.skip()
        elif event.kind == "kid":
            state_kid = event.kid
            yield _finetune_status(lines, kid=state_kid), gr.skip(), gr.skip(), gr.skip(), gr.skip()
        elif event.kind == "step":
            progress((event.step, event.total), desc="Training", unit="steps")
            status = _finetune_status(lines, event, state_kid)
            yield status, gr.skip(), gr.skip(), _loss_frame(event.history), gr.skip()
        elif event.kind == "samples":
            yield gr.skip(), gr.skip(), _samples_image(event.samples), gr.skip(), gr.skip()
        elif event.kind == "done":
            lines.append(f"Saved **{name}**: pick it in the model list above to generate.")
            result = {
                "model": name,
                "steps": event.step,
                "ended": event.message,
                "images": len(job.images),
                "skipped_files": len(job.skipped),
                "kid_before": event.kid.get("before"),
                "kid_after": event.kid.get("after"),
            }
            yield (  # every output again, so API clients get all of them from the last one
                _finetune_status(lines, kid=event.kid),
                preview,
                _samples_image(event.samples),
                _loss_frame(event.history),
                result,
            )


def stop_finetune(request: gr.Request = None) -> None:
    FINETUNE_RUNS.stop(session_key(request))


@friendly
def preview_upload(images: list[str] | None, model: str = DEFAULT_MODEL):
    """Prepare the upload as training would, to show the grid and any problems at once."""
    if not images:
        return None, ""
    dataset = finetune_data.prepare(images, _finetune_image_size(model, "", False))
    note = f"**{len(dataset)} images** ready at {dataset.image_size}px"
    if warning := dataset.warning():
        note += f"  \n⚠️ {warning}"
    return finetune_data.preview_grid(dataset.images), note


@friendly
def push_finetune(name: str, repo_id: str, token: str = "", private: bool = True) -> str:
    """Upload `checkpoints/<name>/` to the Hub; the token comes from the box or `HF_TOKEN`."""
    url = publish.push_to_hub((name or "").strip(), (repo_id or "").strip(), token, private)
    return f"Pushed **{name}** to [{repo_id}]({url})"


def build_finetune_tab(model: gr.Dropdown) -> None:
    gr.Markdown(
        "Fine-tune the model chosen above on your own images (a few dozen to a few thousand, "
        "or one .zip), then pick the result in the model list. One training run at a time: "
        "others wait in the queue. Runs are capped at "
        f"{train.MAX_STEPS:,} steps and {train.MAX_SECONDS / 60:g} minutes; tick *Resume* to "
        "continue a saved run."
    )
    with gr.Row():
        with gr.Column(scale=1):
            images = gr.File(
                label="Training images (many images or one .zip)",
                file_count="multiple",
                file_types=["image", ".zip"],
                type="filepath",
                height=140,
            )
            upload_note = gr.Markdown()
            name = gr.Textbox(value="my-finetune", label="Save as (checkpoints/<name>/)")
            with gr.Row():
                steps = gr.Slider(
                    1, train.MAX_STEPS, value=FT_DEFAULTS["steps"], step=1, label="Steps"
                )
                batch = gr.Slider(
                    2, 256, value=FT_DEFAULTS["batch_size"], step=1, label="Batch size"
                )
            with gr.Accordion("Hyper-parameters", open=False):
                with gr.Row():
                    lr_g = gr.Number(value=2e-4, label="lr_g (generator)", minimum=0)
                    lr_d = gr.Number(value=2e-4, label="lr_d (discriminator)", minimum=0)
                with gr.Row():
                    beta1_g = gr.Number(value=0.5, label="G Adam β1", minimum=0, maximum=0.999)
                    beta2_g = gr.Number(value=0.999, label="G Adam β2", minimum=0, maximum=0.9999)
                    beta1_d = gr.Number(value=0.5, label="D Adam β1", minimum=0, maximum=0.999)
                    beta2_d = gr.Number(value=0.999, label="D Adam β2", minimum=0, maximum=0.9999)
                threshold = gr.Number(
                    value=0.2,
                    label="Balance rule: skip the D step while its loss is below",
                    minimum=0,
                )
                policy = gr.CheckboxGroup(
                    FT_POLICIES, value=FT_POLICIES, label="DiffAugment (against overfitting)"
                )
                with gr.Row():
                    hflip = gr.Checkbox(value=True, label="Random horizontal flips")
                    kid = gr.Checkbox(value=True, label="KID before and after")
                with gr.Row():
                    freeze_d = gr.Slider(
                        0, 4, value=1, step=1, label="Freeze-D blocks (pre-trained D only)"
                    )
                    ema = gr.Number(value=0.995, label="EMA decay of G", minimum=0, maximum=0.9999)
                    d_warmup = gr.Number(
                        value=20, label="D warm-up steps (fresh D only)", minimum=0, precision=0
                    )
                with gr.Row():
                    sample_every = gr.Number(
                        value=FT_DEFAULTS["sample_every"], label="Samples every K steps", minimum=1
                    )
                    max_seconds = gr.Number(
                        value=train.MAX_SECONDS,
                        label="Wall-time cap (s)",
                        minimum=1,
                        maximum=train.MAX_SECONDS,
                    )
            resume = gr.Checkbox(value=False, label="Resume the saved run of this name")
            with gr.Row():
                run = gr.Button("Start fine-tuning", variant="primary")
                stop = gr.Button("Stop and save", variant="stop")
            with gr.Accordion("Push to the Hub", open=False):
                repo = gr.Textbox(label="Hub repo", placeholder="owner/name")
                token = gr.Textbox(
                    label="Hub token (empty: HF_TOKEN from the environment)", type="password"
                )
                private = gr.Checkbox(value=True, label="Private repo")
                push = gr.Button("Push")
                pushed = gr.Markdown()
        with gr.Column(scale=1):
            status = gr.Markdown()
            samples = gr.Image(label="EMA generator samples (fixed seeds)", format="png")
            losses = gr.LinePlot(
                x="step",
                y="loss",
                color="network",
                color_map={"D": "#2563eb", "G": "#ea580c"},
                label="Losses (D: discriminator, G: generator)",
                height=220,
            )
            preview = gr.Image(label="Prepared training set", format="png")
            result = gr.JSON(label="Result")
    images.upload(preview_upload, [images, model], [preview, upload_note], api_visibility="private")
    run.click(
        finetune,
        [
            images,
            model,
            name,
            steps,
            batch,
            lr_g,
            lr_d,
            beta1_g,
            beta2_g,
            beta1_d,
            beta2_d,
            threshold,
            policy,
            hflip,
            freeze_d,
            ema,
            d_warmup,
            sample_every,
            max_seconds,
            resume,
            kid,
        ],
        [status, preview, samples, losses, result],
        show_progress_on=result,  # the bar sits on the (still empty) result: the rest stays live
        api_name="finetune",
        concurrency_id="train",
        concurrency_limit=1,
    ).then(model_dropdown_update, model, model, api_visibility="private")
    stop.click(stop_finetune, None, None, queue=False, api_visibility="private")
    push.click(push_finetune, [name, repo, token, private], pushed, api_visibility="private")


# --- App ----------------------------------------------------------------------------------------


def build_demo() -> gr.Blocks:
    with gr.Blocks(title="GAN Studio", delete_cache=(3600, 3600)) as demo:
        gr.Markdown(DESCRIPTION.format(device=DEVICE.type.upper()))
        with gr.Row():
            model = gr.Dropdown(
                STUDIO.model_choices(),
                value=DEFAULT_MODEL,
                label="Face model",
                info="local checkpoints/ and configured Hub models",
                scale=3,
                # New fine-tunes must be usable through the API without a restart; the
                # handlers validate the name against the model store instead.
                allow_custom_value=True,
            )
            refresh = gr.Button("↻ Refresh", scale=0, size="sm", min_width=100)
            status = gr.Markdown(scale=2)
        with gr.Tabs():
            with gr.Tab("Generate", id="generate"):
                build_generate_tab(model)
            with gr.Tab("Interpolate", id="interpolate"):
                build_interpolate_tab(model)
            with gr.Tab("Style transfer", id="style"):
                build_style_tab()
            with gr.Tab("Fine-tune", id="finetune"):
                build_finetune_tab(model)
        refresh.click(model_dropdown_update, model, model, api_visibility="private")
        model.focus(
            model_dropdown_update, model, model, api_visibility="private", show_progress="hidden"
        )
        demo.load(model_dropdown_update, model, model, api_visibility="private")
        demo.load(hub_status, None, status, api_visibility="private")
    return demo


def launch_options() -> dict:
    """Security settings of every launch (`main` and the tests' app): an upload size limit, no
    public share link unless `GRADIO_SHARE=1` asks for one, no extra folders served (Gradio
    serves only its own upload/cache folder), no run history (it would keep inputs such as a
    pasted Hub token, and can write to a Hub bucket), and errors shown as messages."""
    share = os.environ.get("GRADIO_SHARE", "").strip().lower() in {"1", "true", "yes"}
    return {
        "max_file_size": MAX_UPLOAD,
        "share": share,
        "show_error": True,
        "allowed_paths": [],
        "run_history": False,
    }


def stop_runs_and_exit(signum: int, _frame: object) -> None:
    """SIGTERM (a container or Space shutting down): stop every run, give fine-tunes time to
    save what they learned (saves are atomic and fsynced), then exit at once, as SIGTERM's
    default action would: a graceful interpreter shutdown could wait on a request stuck on an
    unreachable network."""
    stopped = FINETUNE_RUNS.stop_all() + STYLE_RUNS.stop_all()
    log.warning("signal %d: stopping %d run(s) before exiting", signum, stopped)
    if not FINETUNE_RUNS.wait_idle(SHUTDOWN_GRACE_S):
        log.error("a fine-tune did not finish saving within %.0f s", SHUTDOWN_GRACE_S)
    logging.shutdown()
    os._exit(128 + signum)


def main() -> None:
    logging.basicConfig(
        level=os.environ.get("LOG_LEVEL", "INFO"),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # Probe the Hub in the background so an unreachable Hub never delays start-up.
    threading.Thread(target=store.hub_reachable, daemon=True).start()
    threading.Thread(target=trim_memory_forever, daemon=True).start()
    signal.signal(signal.SIGTERM, stop_runs_and_exit)
    demo = build_demo()
    demo.queue(default_concurrency_limit=4, max_size=64)
    demo.launch(
        server_name=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"),
        server_port=int(os.environ.get("GRADIO_SERVER_PORT", "7860")),
        **launch_options(),
    )


if __name__ == "__main__":
    main()
