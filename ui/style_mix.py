"""The Style mixing tab (StyleGAN, Karras et al. 2019, Fig. 3): each row's face takes the
chosen style layers (ws) of each column's face."""

from __future__ import annotations

from collections.abc import Callable

import gradio as gr
from PIL import Image

from core.media import thumbnail as fit
from gan import DEFAULT_MODEL
from gan.generate.faces import STYLE_PRESETS, StyleMix
from gan.generate.keyframes import parse_keyframes
from gan.generate.service import THUMBNAIL_SIZE, FaceStudio
from gan.library.service import LatentLibrary
from gan.video.encode import VideoSettings
from gan.video.service import VideoMaker
from ui.common import (
    CHEAP_LANE,
    LATENT_FILES_HEIGHT,
    current_quotas,
    downloads_box,
    friendly,
    inputs_for,
    session_key,
    stoppable_video_job,
)
from ui.components import build_sg2_controls, latent_picker, sg2_settings
from ui.examples import (
    can_style_mix,
    capability_notice,
    capable_model,
    follow_capability,
    has_ws,
    lane_examples,
)
from ui.i18n import howto, language_of, t, translate
from ui.links import Permalinks

PREVIEW_CELL = 256  # faces on the page (grid and gallery); the PNG download keeps native size


class StyleMixHandlers:
    """The tab's events, each one call of `FaceStudio` (or of `VideoMaker` for the sweep)."""

    def __init__(self, studio: FaceStudio, video: VideoMaker | None = None) -> None:
        self.studio = studio
        self.video_maker = video or VideoMaker(studio)

    def style_mix(
        self,
        row_seeds: str = "1-3",
        column_seeds: str = "4-7",
        preset: str = "coarse",
        layers: str = "0-3",
        truncation_psi: float = 1.0,
        model: str = DEFAULT_MODEL,
        noise_mode: str = "const",
        truncation_cutoff: float = 0,
        class_idx: float = 0,
        row_latent_files: list[str] | None = None,
        column_latent_files: list[str] | None = None,
        request: gr.Request = None,
    ):
        """A StyleGAN2 style-mixing grid: row seeds x column seeds, the rows taking the
        `preset` ws (coarse 0-3, middle 4-7, fine 8+) or, with preset "custom", the `layers`
        range (e.g. `0-3, 8`) from the columns.

        Args:
            row_seeds: seeds of the rows, e.g. "1-3": each row keeps its seed's w elsewhere.
            column_seeds: seeds of the columns, e.g. "4-7": they give their w to the mixed layers.
            preset: which ws come from the column: "coarse", "middle", "fine" or "custom".
            layers: with preset "custom", the ws indices, e.g. "0-3, 8" (ignored otherwise).
            truncation_psi: ψ, 1 = the full variety; below 1 pulls faces towards the average face.
            model: a StyleGAN2 model name from the app's model list.
            noise_mode: "const" (same seed, same pixels), "random" or "none".
            truncation_cutoff: truncate only the first N ws toward w_avg; 0 = all.
            class_idx: the class of a conditional model (0 otherwise).
            row_latent_files: latent files (.npy/.json, z or w, e.g. a projection's w) used as
                the rows instead of the row seeds; a file holding N latents gives N rows.
            column_latent_files: latent files used as the columns instead of the column seeds.

        Returns:
            the grid as one preview image;
            a gallery of the mixed faces;
            the full-resolution grid PNG for download;
            a line of info (model, layers mixed).
        """
        sg2 = sg2_settings(truncation_psi, noise_mode, truncation_cutoff, class_idx)
        mix, png, preview = self.studio.style_mix_request(
            model,
            row_seeds,
            column_seeds,
            preset,
            layers,
            sg2,
            row_latent_files,
            column_latent_files,
        )
        lang = language_of(request)
        return str(preview), _gallery(mix, lang), [str(png)], _info(mix, model, lang)

    def style_mix_video(
        self,
        row_seeds: str = "1",
        column_seeds: str = "4-7",
        preset: str = "coarse",
        layers: str = "0-3",
        truncation_psi: float = 1.0,
        model: str = DEFAULT_MODEL,
        noise_mode: str = "const",
        truncation_cutoff: float = 0,
        class_idx: float = 0,
        row_latent_files: list[str] | None = None,
        column_latent_files: list[str] | None = None,
        request: gr.Request = None,
    ):
        """A looping video of the first row's face taking the chosen ws from a smooth walk
        through the columns' faces (the column styles sweep over the row), 1 s per column.

        Args:
            row_seeds: the row's seed (the first one is used), e.g. "1".
            column_seeds: the columns' seeds the styles walk through, e.g. "4-7" (2-16).
            preset: which ws come from the columns: "coarse", "middle", "fine" or "custom".
            layers: with preset "custom", the ws indices, e.g. "0-3, 8" (ignored otherwise).
            truncation_psi: ψ, 1 = the full variety; below 1 pulls faces towards the average face.
            model: a StyleGAN2 model name from the app's model list.
            noise_mode: "const" (same seed, same pixels), "random" or "none".
            truncation_cutoff: truncate only the first N ws toward w_avg; 0 = all.
            class_idx: the class of a conditional model (0 otherwise).
            row_latent_files: a latent file (z or w) used as the row instead of the seed.
            column_latent_files: latent files used as the columns instead of the seeds.

        Returns:
            the MP4;
            a line of info.
        """
        sg2 = sg2_settings(truncation_psi, noise_mode, truncation_cutoff, class_idx)
        rows = parse_keyframes(row_seeds, row_latent_files)[:1]
        cols = parse_keyframes(column_seeds, column_latent_files, MAX_SWEEP_COLUMNS)
        settings = VideoSettings()
        events = self.video_maker.style_mix_sweep(
            model,
            rows,
            cols,
            (preset, layers),
            settings,
            sg2,
            current_quotas(),
            session_key(request),
        )
        lang = language_of(request)
        for event in events:
            if not event.done:
                line = translate("msg.video.rendering", lang, step=event.step, total=event.total)
                yield gr.skip(), line
            else:
                video = event.output
                info = translate(
                    "msg.video.info",
                    lang,
                    frames=video.frames,
                    seconds=f"{video.frames / settings.fps:.1f}",
                    width=video.size[0],
                    height=video.size[1],
                    model=model,
                )
                yield str(video.path), info

    def stop_video(self, request: gr.Request = None) -> None:
        self.video_maker.stop(session_key(request))


def _gallery(mix: StyleMix, lang: str = "en") -> list[tuple[Image.Image, str]]:
    """The rows' and columns' own faces, then every mix, row by row (at most 256 px each)."""
    small = mix.resized(PREVIEW_CELL) if mix.rows.shape[1] > PREVIEW_CELL else mix
    items = [
        (fit(im, THUMBNAIL_SIZE), _caption("row", s, lang))
        for im, s in zip(small.rows, mix.row_seeds, strict=True)
    ]
    items += [
        (fit(im, THUMBNAIL_SIZE), _caption("column", s, lang))
        for im, s in zip(small.columns, mix.column_seeds, strict=True)
    ]
    for r, row in enumerate(mix.row_seeds):
        for c, col in enumerate(mix.column_seeds):
            caption = translate("msg.style_mixing.mix", lang, row=row, column=col)
            items.append((fit(small.mixed[r, c], THUMBNAIL_SIZE), caption))
    return items


MAX_SWEEP_COLUMNS = 16  # the columns a sweep video walks through


def _caption(side: str, label: int | str, lang: str) -> str:
    """ "row seed 3", or "row w.npy" for a latent file."""
    if isinstance(label, int):
        return translate(f"msg.style_mixing.{side}", lang, seed=label)
    return translate(f"msg.style_mixing.{side}_file", lang, name=label)


def _info(mix: StyleMix, model: str, lang: str = "en") -> str:
    size = mix.rows.shape[2]
    return translate(
        "msg.style_mixing.info",
        lang,
        rows=len(mix.row_seeds),
        columns=len(mix.column_seeds),
        size=size,
        model=model,
        layers=_span(mix.layers),
    )


def _span(layers: list[int]) -> str:
    """`[0, 1, 2, 5]` -> `0-2, 5`."""
    parts, start = [], layers[0]
    for prev, cur in zip(layers, [*layers[1:], None], strict=True):
        if cur is None or cur != prev + 1:
            parts.append(f"{start}-{prev}" if prev > start else str(start))
            start = cur
    return ", ".join(parts)


def build_style_mix_tab(
    model: gr.Dropdown,
    studio: FaceStudio,
    release_memory: Callable[[], None] | None = None,
    links: Permalinks | None = None,
    video: VideoMaker | None = None,
    library: LatentLibrary | None = None,
) -> None:
    """The Style mixing tab's components and events (API: `/style_mix`,
    `/style_mix_video`)."""
    handlers = StyleMixHandlers(studio, video)
    notice = capability_notice("gate.style_mixing")
    with gr.Row():
        with gr.Column(scale=1):
            rows = gr.Textbox(
                value="1-3", label=t("style_mixing.rows.label"), info=t("style_mixing.rows.info")
            )
            cols = gr.Textbox(
                value="4-7", label=t("style_mixing.cols.label"), info=t("style_mixing.cols.info")
            )
            with gr.Accordion(t("style_mixing.files.accordion"), open=False):
                row_files = _latent_files("style_mixing.row", library)
                col_files = _latent_files("style_mixing.column", library)
            preset = gr.Radio(
                [(t(f"style_mixing.preset.{p}"), p) for p in [*STYLE_PRESETS, "custom"]],
                value="coarse",
                label=t("style_mixing.preset.label"),
                info=t("style_mixing.preset.info"),
            )
            layers = gr.Textbox(
                value="0-3",
                label=t("style_mixing.layers.label"),
                info=t("style_mixing.layers.info"),
            )
            psi = gr.Slider(0.0, 2.0, value=1.0, step=0.05, label=t("generate.psi.label"))
            sg2 = build_sg2_controls(visible=True)
            run = gr.Button(t("style_mixing.run"), variant="primary")
            sweep = _sweep_layout()
        with gr.Column(scale=2):
            grid = gr.Image(label=t("tab.style_mixing"), type="filepath", format="png")
            gallery = gr.Gallery(label=t("style_mixing.gallery.label"), columns=6, height="auto")
            info = gr.Markdown(label="info")
            files = downloads_box(t("style_mixing.files.label"))
    components = {"row_seeds": rows, "column_seeds": cols, "preset": preset, "layers": layers}
    components |= {"truncation_psi": psi, "model": model} | sg2.components()
    components |= {"row_latent_files": row_files, "column_latent_files": col_files}
    sg2.follow(model, studio)
    _sweep_events(handlers, components, sweep, release_memory)
    gr.on(
        [run.click, rows.submit, cols.submit],
        friendly(handlers.style_mix, release_memory),
        inputs_for(handlers.style_mix, components),
        [grid, gallery, files, info],
        api_name="style_mix",
        **CHEAP_LANE,
    )
    examples = _share(handlers, components, [grid, gallery, files, info], release_memory, links)
    follow_capability(model, can_style_mix, notice, run, examples)


def _sweep_layout() -> tuple[gr.Button, gr.Button, gr.Video, gr.Markdown]:
    """The sweep video's accordion: (run, stop, video, info)."""
    with gr.Accordion(t("style_mixing.sweep.accordion"), open=False):
        gr.Markdown(t("style_mixing.sweep.intro"))
        with gr.Row():
            run = gr.Button(t("interpolate.video.run"), variant="primary")
            stop = gr.Button(t("common.stop"), variant="secondary")
        video = gr.Video(label=t("style_mixing.sweep.label"), autoplay=True, loop=True, height=320)
        info = gr.Markdown()
    return run, stop, video, info


def _sweep_events(handlers: StyleMixHandlers, components: dict, sweep: tuple, release) -> None:
    """The sweep video's events (API: `/style_mix_video`), on the tab's own inputs."""
    run, stop, video, info = sweep
    inputs = inputs_for(handlers.style_mix_video, components)
    fn, stop_fn = handlers.style_mix_video, handlers.stop_video
    stoppable_video_job(run, stop, fn, inputs, [video, info], "style_mix_video", stop_fn, release)


def _latent_files(side: str, library: LatentLibrary | None) -> gr.File:
    """Latent files (z or w, .npy or .json) that replace a side's seeds when given, under a
    picker of My latents that fills them; `side` is the key prefix of their labels."""
    label = t(f"{side}_files.label")
    files = gr.File(
        label=label,
        file_count="multiple",
        file_types=[".npy", ".json"],
        height=LATENT_FILES_HEIGHT,
        render=False,
    )
    latent_picker(library, files, label=t(f"{side}_picker.label"))
    return files.render()


# Row seeds, column seeds, preset, custom ws, ψ; the model: a StyleGAN2 (ui.examples).
EXAMPLES = [
    ("1-3", "4-7", "coarse", "0-3", 1.0),
    ("1-3", "4-7", "middle", "0-3", 0.7),
    ("8, 9", "10-13", "fine", "0-3", 0.7),
]
# Captions by key (in English here; the page's scripts show the visitor's language).
EXAMPLE_LABELS = [translate(f"example.style_mixing.{p}") for p in ("coarse", "middle", "fine")]


def _share(handlers, components, outputs, release_memory, links: Permalinks | None) -> gr.Examples:
    """Examples (cached on first use, in the cheap lane), the "How it works" panel and the
    permalink (which restores the tab and reruns the mix); the examples."""
    run = friendly(handlers.style_mix, release_memory)

    def example(rows, cols, preset, layers, psi):
        """On a StyleGAN2 that has the preset's ws (fine ones start at ws 8: 64 px or more)."""
        first = STYLE_PRESETS[preset][0] if preset in STYLE_PRESETS else 0
        what = f"a StyleGAN2 model with ws {first} and up"
        name = capable_model(lambda n: has_ws(n, first + 1), what)
        return (*run(rows, cols, preset, layers, psi, name), name)

    names = ["row_seeds", "column_seeds", "preset", "layers", "truncation_psi"]
    examples = lane_examples(
        [list(row) for row in EXAMPLES],
        [components[n] for n in names],
        [*outputs, components["model"]],  # the header's model follows the example's
        example,
        EXAMPLE_LABELS,
        "style-mixing-examples",
    )
    howto("style_mixing")
    if links is not None:
        links.add("style_mixing", components, run, outputs, concurrency_id="cheap")
    return examples
