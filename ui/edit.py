"""The Edit tab: SeFa sliders (Shen & Zhou 2021) on a seed's, an uploaded or a projected latent."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import gradio as gr
from gradio.context import get_blocks_context

from gan import DEFAULT_MODEL, latents
from gan.edit.sefa import PRESETS
from gan.edit.service import MAX_SLIDERS, SIGMAS, Editor
from gan.library.service import LatentLibrary, Origin
from gan.video.encode import VideoSettings
from ui.common import (
    CHEAP_LANE,
    LARGE_RESULT,
    PIXELATED,
    current_caller,
    current_quotas,
    downloads_box,
    friendly,
    inputs_for,
    session_key,
    stoppable_video_job,
)
from ui.components import latent_picker
from ui.examples import can_style_mix, capable_model, is_generator, lane_examples
from ui.i18n import howto, language_of, t, translate
from ui.links import Permalinks


class EditHandlers:
    """The tab's events, each one call of `Editor`."""

    def __init__(self, editor: Editor, library: LatentLibrary | None = None) -> None:
        self.editor = editor
        self.library = library

    def edit(
        self,
        model: str = DEFAULT_MODEL,
        seed: float = 0,
        truncation_psi: float = 1.0,
        latent_text: str = "",
        latent_file: str | None = None,
        layers: str = "all",
        direction_0: float = 0.0,
        direction_1: float = 0.0,
        direction_2: float = 0.0,
        direction_3: float = 0.0,
        direction_4: float = 0.0,
        request: gr.Request = None,
    ):
        """Move the start latent (seed, pasted or uploaded z/w) along the top SeFa directions
        (σ units).

        Args:
            model: a face model name from the app's model list (DCGAN or StyleGAN2).
            seed: the start face's seed (used when no latent is pasted or uploaded).
            truncation_psi: ψ of the seed's face, 1 = the full variety.
            latent_text: optional JSON latent instead of the seed: z, or w / W+ for StyleGAN2.
            latent_file: optional .npy/.json latent instead of the seed (e.g. a projection's,
                or an entry of My latents); the edited latent goes into My latents.
            layers: StyleGAN2 only: "all", "coarse", "middle", "fine", a range "2-5" or "0,1,4".
            direction_0: move along SeFa direction #0 (the strongest), in σ, e.g. -3 to 3.
            direction_1: move along direction #1, in σ.
            direction_2: move along direction #2, in σ.
            direction_3: move along direction #3, in σ.
            direction_4: move along direction #4, in σ.

        Returns:
            the edited image;
            a strip per direction from −3σ to +3σ (rows: directions #0-#4);
            the files (image, strip, edited latent as .npy and .json);
            the edited latent as JSON (reads back in Generate);
            a note on the moves made.
        """
        alphas = [direction_0, direction_1, direction_2, direction_3, direction_4]
        edited = self.editor.edit_request(
            model, seed, truncation_psi, latent_text, latent_file, alphas, layers
        )
        if self.library is not None:
            latent = latents.Latent(edited.space, edited.latent)
            owner = current_caller().owner_id
            self.library.add(owner, model, latent, Origin("edit"), edited.image)
        labels = edited.labels or []
        lang = language_of(request)
        moves = ", ".join(
            translate("msg.edit.move", lang, alpha=f"{a:+g}", direction=label)
            for a, label in zip(alphas, labels, strict=False)
            if a
        )
        info = translate(
            "msg.edit.info",
            lang,
            model=model,
            space=edited.space,
            layers=layers,
            moves=moves or translate("msg.edit.no_move", lang),
            columns=", ".join(f"{s:+g}σ" for s in SIGMAS),
        )
        return edited.image, edited.strip, [str(p) for p in edited.files], _json(edited), info

    def preview(
        self,
        model: str = DEFAULT_MODEL,
        seed: float = 0,
        truncation_psi: float = 1.0,
        latent_text: str = "",
        latent_file: str | None = None,
        layers: str = "all",
        direction_0: float = 0.0,
        direction_1: float = 0.0,
        direction_2: float = 0.0,
        direction_3: float = 0.0,
        direction_4: float = 0.0,
    ):
        """The edited image only: the live preview while a slider moves."""
        alphas = [direction_0, direction_1, direction_2, direction_3, direction_4]
        return self.editor.preview_request(  # native: CSS scales it
            model, seed, truncation_psi, latent_text, latent_file, alphas, layers
        )

    def edit_video(
        self,
        model: str = DEFAULT_MODEL,
        seed: float = 0,
        truncation_psi: float = 1.0,
        latent_text: str = "",
        latent_file: str | None = None,
        layers: str = "all",
        sweep_direction: float = 0,
        sweep_strength: float = 3.0,
        request: gr.Request = None,
    ):
        """A looping video of one SeFa direction: the start latent from -strength σ to
        +strength σ and back (2 s at 24 frames per second).

        Args:
            model: a face model name from the app's model list (DCGAN or StyleGAN2).
            seed: the start face's seed (used when no latent is pasted or uploaded).
            truncation_psi: ψ of the seed's face, 1 = the full variety.
            latent_text: optional JSON latent instead of the seed: z, or w / W+ for StyleGAN2.
            latent_file: optional .npy/.json latent instead of the seed (e.g. a projection's).
            layers: StyleGAN2 only: "all", "coarse", "middle", "fine", a range "2-5" or "0,1,4".
            sweep_direction: which SeFa direction to sweep, 0 (the strongest) to 4.
            sweep_strength: how far the sweep goes each way, in σ (up to 10).

        Returns:
            the MP4;
            a line of info.
        """
        events = self.editor.sweep_request(
            model,
            seed,
            truncation_psi,
            latent_text,
            latent_file,
            layers,
            int(sweep_direction),
            float(sweep_strength),
            VideoSettings(),
            current_quotas(),
            session_key(request),
        )
        lang = language_of(request)
        for event in events:
            if not event.done:
                yield (
                    gr.skip(),
                    translate("msg.video.rendering", lang, step=event.step, total=event.total),
                )
            else:
                yield (
                    str(event.output.path),
                    translate(
                        "msg.edit.sweep_info",
                        lang,
                        direction=int(sweep_direction),
                        strength=f"{float(sweep_strength):g}",
                        frames=event.output.frames,
                    ),
                )

    def stop_video(self, request: gr.Request = None) -> None:
        self.editor.video.stop(session_key(request))

    def slider_updates(self, model: str, layers: str = "all"):
        """Each direction's share of the spectrum under its slider (the values stay: an example
        or a link sets model, layers and sliders at once; a person's choice resets them,
        below)."""
        return [gr.update(info=share) for share in shares(self.editor.slider_labels(model, layers))]


def _json(edited) -> str:
    return latents.latent_json(latents.Latent(edited.space, edited.latent))


@dataclass
class EditTab:
    latent_text: gr.Textbox  # other tabs send latents here (Project's "Send to Edit")


def _layers_input() -> gr.Radio:
    """Which layers the directions move (StyleGAN2 only; shown for such a model)."""
    return gr.Radio(
        [(t(f"edit.layers.{name}"), name) for name in PRESETS],  # shown, API value
        value="all",
        label=t("edit.layers.label"),
        info=t("edit.layers.info"),
    )


def _result_column() -> tuple[gr.Image, gr.Image, gr.Markdown, gr.File, gr.Textbox]:
    """The result column: the edited face (large), the strips, a line, downloads, latent."""
    image = gr.Image(
        label=t("edit.image.label"),
        format="png",
        interactive=False,
        height=384,  # the result is the page's main image, not a thumbnail
        elem_classes=[PIXELATED, LARGE_RESULT],
    )
    strips = gr.Image(label=t("edit.strips.label"), format="png")
    info = gr.Markdown()
    files = downloads_box(t("edit.files.label"))
    out_latent = gr.Textbox(label=t("edit.latent_out.label"), lines=2, max_lines=4)
    return image, strips, info, files, out_latent


def build_edit_tab(
    model: gr.Dropdown,
    editor: Editor,
    release_memory: Callable[[], None] | None = None,
    links: Permalinks | None = None,
    library: LatentLibrary | None = None,
) -> EditTab:
    """The Edit tab's components and events (API: `/edit`)."""
    handlers = EditHandlers(editor, library)
    gr.Markdown(t("edit.note"))
    with gr.Row():
        with gr.Column(scale=1):
            c = _start_inputs(library)
            c["layers"] = _layers_input()
            sliders = _sliders(handlers, DEFAULT_MODEL)
            c |= {f"direction_{i}": s for i, s in enumerate(sliders)}
            with gr.Row():
                run = gr.Button(t("edit.run"), variant="primary")
                reset = gr.Button(t("edit.reset"))
            sweep = _sweep_layout(c)
        with gr.Column(scale=1):
            image, strips, info, files, out_latent = _result_column()
    c["model"] = model
    inputs = inputs_for(handlers.edit, c)
    gr.on(
        [run.click, c["latent_text"].submit],
        friendly(handlers.edit, release_memory),
        inputs,
        [image, strips, files, out_latent, info],
        api_name="edit",
        **CHEAP_LANE,
    )
    gr.on(
        [s.change for s in sliders],
        friendly(handlers.preview, release_memory),
        inputs,
        image,
        api_visibility="private",
        trigger_mode="always_last",
        **CHEAP_LANE,
        show_progress="hidden",
    )
    _sweep_video(handlers, c, sweep, release_memory)
    _follow(handlers, model, c["layers"], sliders, reset)
    _layers_for_stylegan2(model, c["layers"])
    _share(handlers, c, [image, strips, files, out_latent, info], release_memory, links)
    return EditTab(c["latent_text"])


def _sweep_layout(c: dict) -> tuple[gr.Button, gr.Button, gr.Video, gr.Markdown]:
    """The sweep video's accordion (its direction and strength go into `c`): (run, stop,
    video, info)."""
    with gr.Accordion(t("edit.sweep.accordion"), open=False):
        with gr.Row():
            c["sweep_direction"] = gr.Dropdown(
                [(t(f"edit.direction.{i}"), i) for i in range(MAX_SLIDERS)],
                value=0,
                label=t("edit.sweep.direction.label"),
            )
            c["sweep_strength"] = gr.Slider(
                0.5, 10.0, value=3.0, step=0.5, label=t("edit.sweep.strength.label")
            )
        with gr.Row():
            run = gr.Button(t("edit.sweep.run"), variant="primary")
            stop = gr.Button(t("common.stop"), variant="secondary")
        video = gr.Video(label=t("edit.sweep.label"), autoplay=True, loop=True, height=320)
        info = gr.Markdown()
    return run, stop, video, info


def _sweep_video(handlers: EditHandlers, c: dict, sweep: tuple, release_memory) -> None:
    """The sweep video: one direction from -a to +a and back, as a looping MP4 (API:
    `/edit_video`), from the same start latent and layers as the edit."""
    run, stop, video, info = sweep
    inputs = inputs_for(handlers.edit_video, c)
    outputs = [video, info]
    fn, stop_fn = handlers.edit_video, handlers.stop_video
    stoppable_video_job(run, stop, fn, inputs, outputs, "edit_video", stop_fn, release_memory)


def _follow(handlers, model, layers, sliders, reset) -> None:
    """Slider labels follow the model and layers; only a person's new model or layers (an
    `input`, not a `change`: examples and links set model, layers and sliders together), or
    the Reset button, puts the sliders back to 0."""
    gr.on(
        [model.change, layers.change],
        friendly(handlers.slider_updates),
        [model, layers],
        sliders,
        api_visibility="private",
    )
    gr.on(
        [reset.click, model.input, layers.input],
        reset_sliders,
        None,
        sliders,
        api_visibility="private",
    )


def layers_visible(model: str | None) -> dict:
    """The layer choice is a StyleGAN2 control: a DCGAN has one layer to edit."""
    return gr.update(visible=bool(model) and can_style_mix(model))


def _layers_for_stylegan2(model: gr.Dropdown, layers: gr.Radio) -> None:
    """Show the layer choice only for a StyleGAN2 (on page load and on model change)."""
    triggers = [model.change, get_blocks_context().root_block.load]
    quiet = {"api_visibility": "private", "show_progress": "hidden"}
    gr.on(triggers, friendly(layers_visible), model, layers, **quiet)


# Seed, ψ, layers and the first three directions (σ); directions 3 and 4 stay at 0. The
# model: the default one when present (ui.examples).
EXAMPLES = [
    (3, 1.0, "all", 2.0, 0.0, 0.0),
    (7, 0.8, "all", 0.0, -2.0, 1.5),
    (42, 1.0, "all", -3.0, 0.0, 2.5),
]
# Captions by key (in English here; the page's scripts show the visitor's language).
EXAMPLE_LABELS = [translate(f"example.edit.{i}") for i in range(3)]
EXAMPLE_INPUTS = [
    "seed",
    "truncation_psi",
    "layers",
    "direction_0",
    "direction_1",
    "direction_2",
]


def _share(handlers, c, outputs, release_memory, links: Permalinks | None) -> None:
    """Examples (cached on first use, in the cheap lane), the "How it works" panel and the
    permalink (which restores the seed, sliders and layers, then reruns the edit)."""
    run = friendly(handlers.edit, release_memory)

    def example(seed, psi, layers, d0, d1, d2):
        name = capable_model(is_generator, "a face model")
        return (*run(name, seed, psi, "", None, layers, d0, d1, d2, 0.0, 0.0), name)

    lane_examples(
        [list(row) for row in EXAMPLES],
        [c[n] for n in EXAMPLE_INPUTS],
        [*outputs, c["model"]],  # the header's model follows the example's
        example,
        EXAMPLE_LABELS,
        "edit-examples",
    )
    howto("edit")
    if links is not None:
        links.add("edit", c, run, outputs, concurrency_id="cheap")


def _start_inputs(library: LatentLibrary | None = None) -> dict[str, gr.components.Component]:
    c: dict[str, gr.components.Component] = {}
    with gr.Row():
        c["seed"] = gr.Number(
            value=0, precision=0, minimum=0, maximum=latents.MAX_SEED, label=t("edit.seed.label")
        )
        c["truncation_psi"] = gr.Slider(
            0.0, 2.0, value=1.0, step=0.05, label=t("generate.psi.label")
        )
    with gr.Accordion(t("edit.latent.accordion"), open=False):
        c["latent_text"] = gr.Textbox(
            value="", label=t("edit.latent.label"), lines=2, placeholder='[0.1, ...] | {"w": ...}'
        )
        c["latent_file"] = gr.File(
            label=t("edit.latent_file.label"), file_types=[".npy", ".json"], type="filepath"
        )
        latent_picker(library, c["latent_file"], multiple=False)
    return c


def shares(labels: list[str]) -> list[str]:
    """`Editor.slider_labels` ("direction #0 (12.2%)") -> the shares ("12.2%"), one per
    slider ("0%" where the model has fewer directions): numbers, in every language."""
    found = [re.search(r"\(([^()]*)\)\s*$", text) for text in labels]
    out = [m.group(1) if m else "" for m in found]
    return out + ["0%"] * (MAX_SLIDERS - len(out))


def _sliders(handlers: EditHandlers, model: str) -> list[gr.Slider]:
    """One slider per direction, named in the page's language (`edit.direction.<i>`), its
    share of the spectrum as its info."""
    try:  # the bundled model's shares at start-up; the page refreshes them on model change
        infos = shares(handlers.editor.slider_labels(model))
    except Exception:  # a missing default model must not stop the app
        infos = [""] * MAX_SLIDERS
    return [
        gr.Slider(-3.0, 3.0, value=0.0, step=0.1, label=t(f"edit.direction.{i}"), info=info)
        for i, info in enumerate(infos)
    ]


def reset_sliders() -> list[float]:
    """Every direction back to 0 (the start latent's own face)."""
    return [0.0] * MAX_SLIDERS
