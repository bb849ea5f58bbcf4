"""The Project tab: a photo into the latent space (NVIDIA's projector, Karras et al. 2020)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Mapping

import gradio as gr
import pandas as pd
from gradio.context import get_blocks_context

from core.errors import UserInputError
from core.events import Progress
from core.media import upscale
from gan import DEFAULT_MODEL
from gan.generate.service import DISPLAY_SIZE
from gan.morph.service import Morpher
from gan.project.examples import PROJECT_EXAMPLES, ProjectExample
from gan.project.projection import MAX_STEPS, CropBox, ProjectSettings
from gan.project.service import Projector
from ui.common import (
    HEAVY_LANE,
    arm_stop,
    downloads_box,
    friendly,
    in_language,
    inputs_for,
    session_key,
    settle_stop,
)
from ui.examples import caller_kwargs, lane_examples, served, skips
from ui.i18n import howto, language_of, t, translate
from ui.links import Permalinks
from ui.plots import line_plot
from ui.project_morph import build_morph_section
from ui.uploads import uploaded_image

log = logging.getLogger(__name__)


def loss_plot(history: list[dict]) -> pd.DataFrame:
    rows = [(h["step"], h["distance"]) for h in history]
    return pd.DataFrame(rows, columns=["step", "distance"])


def project_info(event: Progress, label: str, lang: str = "en") -> str:
    text = translate("msg.project.step", lang, loss=label, step=event.step, total=event.total)
    if event.losses:
        distance = f"{event.losses.get('distance', float('nan')):.4g}"
        text += translate("msg.project.distance", lang, distance=distance)
    if event.done:
        out = event.output
        ended = translate("msg.project.stopped" if event.stopped else "msg.done", lang)
        psnr = translate("msg.project.psnr", lang, psnr=f"{out.psnr_db:.1f}")
        text += f"  \n{ended} {psnr}"
    return text


class ProjectHandlers:
    """The tab's events, each one call of `Projector`."""

    def __init__(
        self, projector: Projector, keep: Callable[[str, str], object] | None = None
    ) -> None:
        self.projector = projector
        self.keep = keep  # (model, latent JSON): the projection into My latents

    def project(
        self,
        photo: str | None,
        model: str = DEFAULT_MODEL,
        crop_x: float = 0.5,
        crop_y: float = 0.5,
        crop_size: float = 1.0,
        steps: float = 1000,
        w_plus: bool = False,
        preview_every: float = 25,
        align: bool = False,
        face: float = 1,
        request: gr.Request = None,
        progress=gr.Progress(),  # noqa: B008 (Gradio injects it)
    ):
        """Find the latent whose image matches the photo's crop; streams previews. With
        `align` the photo's face number `face` (1 = the largest) is cut out as FFHQ's faces
        were (the crop sliders are then unused). The last output holds the target beside the
        projection, the MP4, the files (latent .npy/.json, PNGs, MP4), the latent as JSON
        and the info."""
        crop = CropBox(float(crop_x), float(crop_y), float(crop_size))
        settings = ProjectSettings(
            steps=int(steps), w_plus=bool(w_plus), preview_every=int(preview_every)
        )
        chosen = int(face) - 1 if align else None
        events = self.projector.project(
            model, photo, crop, settings, session_key(request), face=chosen
        )
        for outputs in _outputs(events, self.projector, progress, language_of(request)):
            if self.keep is not None and isinstance(outputs[6], str) and outputs[6]:
                self.keep(model, outputs[6])
            yield outputs

    def stop(self, request: gr.Request = None) -> None:
        self.projector.stop(session_key(request))

    def crop_preview(
        self, photo, crop_x=0.5, crop_y=0.5, crop_size=1.0, align=False, face=1, request=None
    ):
        """The crop the projection will take, drawn on the photo: the box, or with `align`
        each face's FFHQ square (the chosen one in red); the face number shows when the photo
        has several faces, with a line that says so."""
        if not photo:
            return None, gr.update(visible=False), ""
        if not align:
            preview = self.projector.crop_preview(photo, CropBox(crop_x, crop_y, crop_size))
            return preview, gr.update(visible=False), ""
        try:
            preview, count = self.projector.align_preview(photo, max(int(face or 1), 1) - 1)
        except UserInputError as e:  # no face: a line and the box, not an error (a painting
            if e.phrase.key != "msg.error.no_face":  # example may land while alignment is on)
                raise
            preview = self.projector.crop_preview(photo, CropBox(crop_x, crop_y, crop_size))
            return preview, gr.update(visible=False), in_language(e.phrase, language_of(request))
        note = translate("msg.project.faces", language_of(request), count=count)
        return preview, gr.update(visible=count > 1, maximum=count), note if count > 1 else ""

    def align_default(self, model: str | None) -> bool:
        """Alignment is on for face models (their photos want the FFHQ crop)."""
        return self.projector.is_face_model(model or "")

    def loss_note(self, request: gr.Request = None) -> str:
        """Which perceptual loss runs (the method itself is in "How it works")."""
        lang = language_of(request)
        try:
            label = self.projector.loss_label()
        except UserInputError as e:  # no loss network at all: say so, the page still serves
            return translate("msg.project.no_loss", lang, reason=str(e))
        return translate("msg.project.loss", lang, loss=label)


def _outputs(
    events: Iterator[Progress], projector: Projector, progress: gr.Progress, lang: str = "en"
):
    label, history, last = "", [], 0.0
    desc = translate("msg.project.progress", lang)
    for event in events:
        if not label:
            label = projector.loss_label()
        if event.losses:
            history.append({"step": event.step, **event.losses})
        if time.monotonic() - last > 0.1 or event.done:
            progress((event.step, event.total), desc=desc, unit="steps")
            last = time.monotonic()
        info, plot = project_info(event, label, lang), loss_plot(history)
        if not event.done:
            preview = upscale(event.preview, DISPLAY_SIZE)
            yield preview, info, plot, gr.skip(), gr.skip(), gr.skip(), gr.skip()
            continue
        out = event.output
        files = [str(p) for p in out.files]
        video = str(out.video) if out.video else None
        preview = upscale(out.result.image, DISPLAY_SIZE)
        yield preview, info, plot, out.comparison, video, files, out.latent_text


def _result_column() -> list:
    """The result column: live preview, a line, the loss plot, target | projection, the
    video, downloads (shown once they exist) and the latent."""
    live = gr.Image(label=t("project.live.label"), format="png", interactive=False)
    info = gr.Markdown()
    plot = line_plot(x="step", y="distance", label=t("project.plot.label"), height=200)
    pair = gr.Image(label=t("project.pair.label"), format="png", interactive=False)
    video = gr.Video(label=t("project.video.label"), format="mp4", loop=True, height=256)
    files = downloads_box(t("project.files.label"))
    latent = gr.Textbox(label=t("project.latent.label"), lines=2, max_lines=4)
    return [live, info, plot, pair, video, files, latent]


def _crop_preview(handlers: ProjectHandlers, c: dict) -> None:
    """The crop drawn on the photo whenever the photo, the box, the alignment or the face
    changes; alignment follows the model (on for face models), on page load too."""
    names = ("photo", "crop_x", "crop_y", "crop_size", "align", "face")
    gr.on(
        [c[n].change for n in names],
        friendly(handlers.crop_preview),
        [c[n] for n in names],
        [c["crop_view"], c["face"], c["faces_note"]],
        api_visibility="private",
        trigger_mode="always_last",
        show_progress="hidden",
    )
    triggers = [c["model"].change, get_blocks_context().root_block.load]
    quiet = {"api_visibility": "private", "show_progress": "hidden"}
    gr.on(triggers, friendly(handlers.align_default), c["model"], c["align"], **quiet)


def build_project_tab(
    model: gr.Dropdown,
    projector: Projector,
    release_memory: Callable[[], None] | None = None,
    send_to: Mapping[str, gr.Textbox] | None = None,
    links: Permalinks | None = None,
    morpher: Morpher | None = None,
    keep: Callable[[str, str], object] | None = None,
) -> None:
    """The Project tab's components and events (API: `/project`, and `/morph` with a
    `morpher`); `send_to` maps a tab's name to its latent textbox, for the "Send to ..."
    buttons; `links` gets the tab's permalink; `keep(model, latent JSON)` puts each finished
    projection into My latents."""
    handlers = ProjectHandlers(projector, keep)
    gr.Markdown(handlers.loss_note)  # evaluated on page load (loads the loss once)
    with gr.Row():
        with gr.Column(scale=1):
            c = _inputs()
            with gr.Row():
                run = gr.Button(t("project.run"), variant="primary")
                stop = gr.Button(t("common.stop"), variant="secondary")
            gr.Markdown(t("project.crop.note"))
        with gr.Column(scale=1):
            outputs = _result_column()
            buttons = [
                (gr.Button(t(f"project.send.{tab.lower()}"), size="sm"), box)
                for tab, box in (send_to or {}).items()
            ]
    c["model"] = model
    plot, latent = outputs[2], outputs[6]
    arm_stop(run, stop)
    job = run.click(
        friendly(handlers.project, release_memory),
        inputs_for(handlers.project, c),
        outputs,
        api_name="project",
        **HEAVY_LANE,
        show_progress_on=plot,
    )
    settle_stop(job, stop)
    stop.click(friendly(handlers.stop), None, None, queue=False, api_visibility="private")
    _crop_preview(handlers, c)
    for button, box in buttons:
        button.click(send_latent, latent, box, api_visibility="private")
    _share(friendly(handlers.project, release_memory), projector, c, outputs, links)
    if morpher is not None:
        build_morph_section(model, c["align"], morpher, release_memory)


def _share(
    run: Callable, projector: Projector, c: dict, outputs: list, links: Permalinks | None
) -> None:
    """Examples with quick settings (a face the app generates itself, and a painting), lazily
    cached for everyone, and the link: settings, plus the example's name when one ran, so
    that such a link restores and reruns it (a photo never travels in a link)."""
    c["example"] = gr.Textbox(value="", visible=False, label="example")
    _examples(run, projector, c, outputs)
    forget = [c["photo"].upload, c["photo"].clear]  # an own photo replaces the example (JS)
    gr.on(forget, None, None, c["example"], js="() => ''", api_visibility="private")
    howto("project")  # the method, the perceptual loss and why there is no face alignment
    if links is not None:
        rerun = _link_rerun(run, projector, c)
        links.add(
            "project", c, rerun, [c["photo"], *outputs], concurrency_id=HEAVY_LANE["concurrency_id"]
        )


# What an example sets in the form (the crop and W+ too: the form shows what the cached run used).
EXAMPLE_INPUTS = ("photo", "example", "crop_x", "crop_y", "crop_size", "steps", "w_plus")
EXAMPLE_INPUTS += ("preview_every", "align")  # alignment off: the cached runs took the photo whole
WHOLE_PHOTO = (0.5, 0.5, 1.0)  # crop x, y, size


def _examples(run: Callable, projector: Projector, c: dict, outputs: list) -> None:
    rows, labels = _example_rows(projector)
    if not rows:
        return
    lane_examples(  # outside the heavy lane: see ui/examples.py
        rows,
        [c[n] for n in EXAMPLE_INPUTS],
        outputs,
        _example_fn(run),
        labels,
        "project-examples",
        lane=None,
    )


def _example_rows(projector: Projector) -> tuple[list[list], list[str]]:
    rows, labels = [], []
    for example in PROJECT_EXAMPLES:
        try:
            photo = projector.example_photo(example.name)  # a face is rendered once, here
        except Exception as e:  # e.g. no bundled model: the tab still works without examples
            log.warning("project example %s unavailable: %s", example.name, e)
            continue
        settings = (*WHOLE_PHOTO, example.steps, False, example.preview_every, False)
        rows.append([str(photo), example.name, *settings])
        labels.append(_label(example))
    return rows, labels


def _example_fn(run: Callable) -> Callable:
    def project_example(
        photo,
        example,
        crop_x,
        crop_y,
        crop_size,
        steps,
        w_plus,
        preview_every,
        align=False,
        request: gr.Request = None,
    ):
        """A built-in example on the bundled model, with its quick settings (lazily cached);
        `example` (its name) only fills the hidden box that links copy."""
        values = (DEFAULT_MODEL, crop_x, crop_y, crop_size, steps, w_plus, preview_every)
        yield from run(photo, *values, align=bool(align), **caller_kwargs(run, request))

    return project_example


def _label(example: ProjectExample) -> str:
    """The example's caption (`example.project.<name>`, in English here; the page's scripts
    show it in the visitor's language: `ui.i18n.relabel_keys`)."""
    return translate(f"example.project.{example.name}")


def _link_rerun(run: Callable, projector: Projector, c: dict) -> Callable:
    """The link's rerun: with `example=<name>` the example's photo goes into the input and
    the projection streams with the linked settings; without one they are only restored."""

    def rerun_example(example: str = "", request: gr.Request = None, **settings):
        if not example:
            yield skips(8)
            return
        photo = served(c["photo"], projector.example_photo(example))
        yield photo, *skips(7)
        for out in run(photo, **settings, request=request, **caller_kwargs(run, request)):
            yield gr.skip(), *out

    return rerun_example


def _inputs() -> dict[str, gr.components.Component]:
    c: dict[str, gr.components.Component] = {}
    with gr.Row():
        c["photo"] = uploaded_image(label=t("project.photo.label"), height=240)
        c["crop_view"] = gr.Image(label=t("project.crop_view.label"), interactive=False, height=240)
    c["crop_x"] = gr.Slider(0.0, 1.0, value=0.5, step=0.01, label=t("project.crop_x.label"))
    c["crop_y"] = gr.Slider(0.0, 1.0, value=0.5, step=0.01, label=t("project.crop_y.label"))
    c["crop_size"] = gr.Slider(
        0.05,
        1.0,
        value=1.0,
        step=0.01,
        label=t("project.crop_size.label"),
        info=t("project.crop_size.info"),
    )
    c["steps"] = gr.Slider(1, MAX_STEPS, value=1000, step=1, label=t("project.steps.label"))
    c["preview_every"] = gr.Slider(1, 200, value=25, step=1, label=t("project.preview.label"))
    c["w_plus"] = gr.Checkbox(value=False, label=t("project.w_plus.label"))
    c["align"] = gr.Checkbox(
        value=False, label=t("project.align.label"), info=t("project.align.info")
    )
    c["faces_note"] = gr.Markdown()
    c["face"] = gr.Number(
        value=1, minimum=1, precision=0, visible=False, label=t("project.face.label")
    )
    return c


def send_latent(text: str) -> str:
    """The projected latent, copied into another tab's latent box."""
    return text
