"""The Project tab's Morph section: two photos projected (both latents kept in My latents), a
looping cubic morph video A -> B -> A and D's realness along it, in one click (API: `/morph`).
Built by `ui.project`."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import gradio as gr
import numpy as np
import pandas as pd

from core.events import Progress
from core.media import upscale
from gan import DEFAULT_MODEL
from gan.generate.service import DISPLAY_SIZE
from gan.morph.morph import MAX_FRAMES, MAX_MORPH_STEPS, MIN_FRAMES, MorphSettings
from gan.morph.service import Morphed, Morpher
from ui.common import (
    HEAVY_LANE,
    arm_stop,
    current_caller,
    downloads_box,
    friendly,
    inputs_for,
    session_key,
    settle_stop,
)
from ui.i18n import language_of, t, translate
from ui.plots import line_plot
from ui.uploads import uploaded_image

QUICK_STEPS = 100  # per photo: about a minute for both on a CPU with the bundled model
QUICK_FRAMES = 33


def realness_plot(realness: list[float] | None) -> pd.DataFrame | None:
    """D's logit per frame of the walk (None without a D)."""
    if realness is None:
        return None
    return pd.DataFrame({"frame": range(len(realness)), "realness": realness})


class MorphHandlers:
    """The section's events, each one call of `Morpher`."""

    def __init__(self, morpher: Morpher) -> None:
        self.morpher = morpher

    def morph(
        self,
        photo_a: str | None,
        photo_b: str | None,
        model: str = DEFAULT_MODEL,
        morph_steps: float = QUICK_STEPS,
        frames: float = QUICK_FRAMES,
        align: bool = True,
        request: gr.Request = None,
        progress=gr.Progress(),  # noqa: B008 (Gradio injects it)
    ):
        """Project photo A and photo B (FFHQ-aligned first with `align`; both latents go into My
        latents), then walk A -> B -> A on a cubic loop (an even `frames` makes one less).
        Streams the live projection; the last output holds the looping MP4, D's realness per
        frame (a plot; empty when the model has no D), both latents (.npy, .json) and the MP4
        as files, target | projection for each photo, and a line."""
        settings = MorphSettings(steps=int(morph_steps), frames=int(frames), align=bool(align))
        owner = current_caller().owner_id
        events = self.morpher.morph(model, photo_a, photo_b, settings, session_key(request), owner)
        yield from _outputs(events, progress, language_of(request))

    def stop(self, request: gr.Request = None) -> None:
        self.morpher.stop(session_key(request))


def _outputs(events: Iterator[Progress], progress: gr.Progress, lang: str):
    """(live, info, video, plot, files, pairs) per event; the results on the last one."""
    last = 0.0
    for event in events:
        if time.monotonic() - last > 0.1 or event.done:
            progress((event.step, event.total), desc=translate("msg.morph.progress", lang))
            last = time.monotonic()
        if not event.done:
            info = _step_info(event, lang)
            yield upscale(event.preview, DISPLAY_SIZE), info, *[gr.skip()] * 4
            continue
        out: Morphed = event.output
        video = str(out.video) if out.video else None
        pairs = np.concatenate(out.pairs, axis=0) if out.pairs else None  # A above B
        files = [str(p) for p in out.files]
        yield gr.skip(), _done_info(out, lang), video, realness_plot(out.realness), files, pairs


def _step_info(event: Progress, lang: str) -> str:
    return translate(
        "msg.morph.step", lang, photo=event.message.upper(), step=event.step, total=event.total
    )


def _done_info(out: Morphed, lang: str) -> str:
    if out.stopped:
        return translate("msg.morph.stopped", lang)
    text = translate("msg.morph.done", lang, frames=len(out.frames))
    if out.realness is None:
        text += "  \n" + translate("msg.morph.no_d", lang)
    return text


def build_morph_section(
    model: gr.Dropdown,
    align: gr.Checkbox,
    morpher: Morpher,
    release_memory: Callable[[], None] | None = None,
) -> None:
    """The Morph accordion: inputs on the left, results on the right (API: `/morph`)."""
    handlers = MorphHandlers(morpher)
    with gr.Accordion(t("morph.title"), open=True), gr.Row():
        with gr.Column(scale=1):
            c = _inputs()
            with gr.Row():
                run = gr.Button(t("morph.run"), variant="primary")
                stop = gr.Button(t("common.stop"), variant="secondary")
        with gr.Column(scale=1):
            outputs = _results()
    c["model"], c["align"] = model, align
    arm_stop(run, stop)
    job = run.click(
        friendly(handlers.morph, release_memory),
        inputs_for(handlers.morph, c),
        outputs,
        api_name="morph",
        **HEAVY_LANE,
        show_progress_on=outputs[1],
    )
    settle_stop(job, stop)
    stop.click(friendly(handlers.stop), None, None, queue=False, api_visibility="private")


def _inputs() -> dict[str, gr.components.Component]:
    c: dict[str, gr.components.Component] = {}
    gr.Markdown(t("morph.intro"))
    with gr.Row():
        c["photo_a"] = uploaded_image(label=t("morph.photo_a.label"), height=200)
        c["photo_b"] = uploaded_image(label=t("morph.photo_b.label"), height=200)
    c["morph_steps"] = gr.Slider(
        1, MAX_MORPH_STEPS, value=QUICK_STEPS, step=1, label=t("morph.steps.label")
    )
    c["frames"] = gr.Slider(
        MIN_FRAMES, MAX_FRAMES, value=QUICK_FRAMES, step=2, label=t("morph.frames.label")
    )
    return c


def _results() -> list:
    """Live projection, a line, the video, D's realness, downloads, target | projection."""
    live = gr.Image(label=t("morph.live.label"), format="png", interactive=False, height=200)
    info = gr.Markdown()
    video = gr.Video(
        label=t("morph.video.label"), format="mp4", loop=True, autoplay=True, height=256
    )
    plot = line_plot(x="frame", y="realness", label=t("morph.plot.label"), height=200)
    files = downloads_box(t("morph.files.label"))
    pairs = gr.Image(label=t("morph.pairs.label"), format="png", interactive=False)
    return [live, info, video, plot, files, pairs]
