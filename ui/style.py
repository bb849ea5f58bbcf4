"""The Style transfer tab: Gatys et al. with live previews, a loss plot and Stop."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator

import gradio as gr
import pandas as pd

from core.errors import UserInputError
from core.events import Progress
from style import networks
from style.examples import EXAMPLE_PAIRS, EXAMPLES_DIR, QUICK_SETTINGS, ExamplePair, example_pair
from style.service import Stylist
from style.settings import MAX_STEPS, MIN_SIZE, StyleSettings
from ui.common import (
    HEAVY_LANE,
    arm_stop,
    friendly,
    inputs_for,
    session_key,
    settings_from,
    settle_stop,
)
from ui.examples import caller_kwargs, lane_examples, served, skips
from ui.i18n import howto, language_of, t, translate
from ui.links import Permalinks
from ui.plots import line_plot
from ui.uploads import uploaded_image

NETWORKS = {  # the API's values (the dropdown shows them in the page's language) -> networks
    "auto (VGG19 when available, else EfficientNet-Lite0)": networks.VGG19,
    "EfficientNet-Lite0 (offline)": networks.EFFICIENTNET,
}
AUTO = next(iter(NETWORKS))
DEFAULTS = StyleSettings()


def style_info(event: Progress, lang: str = "en") -> str:
    """The info box: network, iteration, scale, size, time, losses, and how it ended."""
    m = event.metrics
    text = translate(
        "msg.style.iteration", lang, network=event.message, step=event.step, total=event.total
    )
    if m["num_scales"] > 1:
        scale = f"{m['scale']:g}/{m['num_scales']:g}"
        text += translate("msg.style.scale", lang, scale=scale)
    text += f" ({m['width']:g}×{m['height']:g}), {m['seconds']:.1f} s"
    if event.losses:
        p = event.losses
        text += "  \n" + translate(
            "msg.style.losses",
            lang,
            total=f"{p['total']:.4g}",
            content=f"{p['content']:.3g}",
            style=f"{p['style']:.3g}",
            tv=f"{p['tv']:.3g}",
        )
    if event.done:
        text += "  \n" + translate("msg.style.stopped" if event.stopped else "msg.done", lang)
    return text


def parse_blend(text: str | None) -> list[float] | None:
    """'1, 0.5' -> [1.0, 0.5]; empty -> None (equal weights)."""
    if not text or not str(text).strip():
        return None
    try:
        return [float(v) for v in str(text).replace(";", ",").split(",") if v.strip()]
    except ValueError as e:
        raise UserInputError("blend weights: numbers separated by commas, e.g. '1, 0.5'") from e


def loss_table(history: list[dict], settings: StyleSettings) -> pd.DataFrame:
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


class StyleHandlers:
    """The tab's events, each one call of `Stylist`."""

    def __init__(self, stylist: Stylist) -> None:
        self.stylist = stylist

    def stylize(
        self,
        content: str | None,
        style: str | None,
        steps: float = DEFAULTS.steps,
        size: float = DEFAULTS.size,
        content_weight: float = DEFAULTS.content_weight,
        style_weight: float = DEFAULTS.style_weight,
        tv_weight: float = DEFAULTS.tv_weight,
        optimizer: str = DEFAULTS.optimizer,
        init: str = DEFAULTS.init,
        preserve_colors: str = DEFAULTS.preserve_colors,
        extra_styles: list[str] | None = None,
        style_blend: str = "",
        network: str = AUTO,
        request: gr.Request = None,
        progress=gr.Progress(),  # noqa: B008 (Gradio injects it)
    ):
        """Gatys style transfer: repaint `content` in the style of `style` (plus `extra_styles`,
        blended by `style_blend`); streams previews, the last output is the final image.

        Args:
            content: the image to repaint (a file or URL).
            style: the painting whose style is copied (a file or URL).
            steps: optimiser iterations per scale (1-2000; 100 is a good start).
            size: the output's longer side in pixels (aspect ratio kept).
            content_weight: weight of the content loss (keep the content's shapes).
            style_weight: weight of the style loss (Gram matrices of the style's features).
            tv_weight: weight of the total-variation loss (smoothness).
            optimizer: "lbfgs" or "adam".
            init: start image: "content_color", "content", "noise", "coarse" (96 px) or "fast".
            preserve_colors: "none", "luminance" or "match" (keep the content's colours).
            extra_styles: more style images to blend.
            style_blend: one weight per style image, e.g. "1, 0.5" (empty: equal).
            network: the loss network (the dropdown's labels).

        Returns:
            streams: the image so far (the last one is the result);
            a text with the iteration and the weighted losses;
            the loss plot.
        """
        if network not in NETWORKS:
            raise UserInputError(f"network must be one of {list(NETWORKS)}")
        # The parameters are named after StyleSettings' fields: the settings are built by name.
        settings = settings_from(
            StyleSettings, locals() | {"style_blend": parse_blend(style_blend)}
        )
        events = self.stylist.stylize(
            content,
            [style, *(extra_styles or [])],
            settings,
            NETWORKS[network],
            session_key(request),
        )
        yield from _outputs(events, settings, progress, language_of(request))

    def stop(self, request: gr.Request = None) -> None:
        self.stylist.stop(session_key(request))

    def network_status(self, choice: str | None = None, request: gr.Request = None) -> str:
        prefer = NETWORKS.get(choice or "", networks.VGG19)
        label = self.stylist.expected_label(prefer)
        return translate("msg.style.network", language_of(request), network=label)


def _outputs(
    events: Iterator[Progress], settings: StyleSettings, progress: gr.Progress, lang: str = "en"
):
    """Progress -> (image, info, loss plot) updates, with a throttled progress bar."""
    last_progress = 0.0
    desc = translate("msg.style.progress", lang)
    for event in events:
        now = time.monotonic()
        if now - last_progress > 0.1 or event.done:
            progress((event.step, event.total), desc=desc, unit="iterations")
            last_progress = now
        if event.done:
            yield event.output, style_info(event, lang), loss_table(event.history, settings)
        elif event.preview is not None:
            yield event.preview, style_info(event, lang), gr.skip()


def build_style_tab(
    stylist: Stylist,
    release_memory: Callable[[], None] | None = None,
    links: Permalinks | None = None,
) -> None:
    """The Style transfer tab's components and events (API: `/stylize`)."""
    handlers = StyleHandlers(stylist)
    network_md = gr.Markdown(handlers.network_status)  # evaluated on every page load
    with gr.Row():
        with gr.Column(scale=1):
            components = _settings_inputs(stylist.max_size)
            with gr.Row():
                run = gr.Button(t("style.run"), variant="primary")
                stop = gr.Button(t("common.stop"), variant="secondary")
        with gr.Column(scale=1):
            result = gr.Image(label=t("style.result.label"), format="png", interactive=False)
            info = gr.Markdown()
            losses = line_plot(
                x="iteration", y="log10 loss", color="term", label=t("style.losses.label")
            )
    arm_stop(run, stop)
    job = run.click(
        friendly(handlers.stylize, release_memory),
        inputs_for(handlers.stylize, components),
        [result, info, losses],
        api_name="stylize",
        **HEAVY_LANE,
        show_progress_on=losses,  # the bar sits on the plot; the live preview stays clear
    )
    settle_stop(job, stop)
    stop.click(friendly(handlers.stop), None, None, queue=False, api_visibility="private")
    _share(handlers, components, [result, info, losses], release_memory, links)
    network = components["network"]
    network.change(handlers.network_status, network, network_md, api_visibility="private")


EXAMPLES = EXAMPLES_DIR


def _share(
    handlers: StyleHandlers,
    c: dict,
    outputs: list,
    release_memory: Callable[[], None] | None,
    links: Permalinks | None,
) -> None:
    """Content/style example pairs that run with quick settings (cached for everyone on
    first use), the "How it works" panel and the link: settings, plus the example's name
    when one ran, so that such a link restores and reruns it (images never travel)."""
    run = friendly(handlers.stylize, release_memory)
    c["example"] = gr.Textbox(value="", visible=False, label="example")
    _examples(run, c, outputs)
    # Own images replace the example: a link copied afterwards names none (browser-only).
    images = [c["content"], c["style"]]
    forget = [image.upload for image in images] + [image.clear for image in images]
    gr.on(forget, None, None, c["example"], js="() => ''", api_visibility="private")
    howto("style")
    if links is not None:
        rerun = _link_rerun(run, c)
        links.add(
            "style", c, rerun, [*images, *outputs], concurrency_id=HEAVY_LANE["concurrency_id"]
        )


# What an example sets in the form (all of it, so the form shows what the cached run used).
EXAMPLE_FIELDS = (
    "steps",
    "size",
    "content_weight",
    "style_weight",
    "tv_weight",
    "optimizer",
    "init",
    "preserve_colors",
)


def _examples(run: Callable, c: dict, outputs: list) -> None:
    pairs = [p for p in EXAMPLE_PAIRS if all(path.is_file() for path in p.paths())]
    if not pairs:
        return
    settings = {f: getattr(DEFAULTS, f) for f in EXAMPLE_FIELDS} | QUICK_SETTINGS
    rows = [[*map(str, p.paths()), p.name, *(settings[f] for f in EXAMPLE_FIELDS)] for p in pairs]

    def stylize_example(
        content,
        style,
        example,
        steps,
        size,
        content_weight,
        style_weight,
        tv_weight,
        optimizer,
        init,
        preserve_colors,
        request: gr.Request = None,
    ):
        """A built-in pair with its quick settings (lazily cached: the last image only);
        `example` (the pair's name) only fills the hidden box that links copy."""
        values = (steps, size, content_weight, style_weight, tv_weight, optimizer, init)
        yield from run(content, style, *values, preserve_colors, **caller_kwargs(run, request))

    lane_examples(  # outside the heavy lane: see ui/examples.py
        rows,
        [c[n] for n in ("content", "style", "example", *EXAMPLE_FIELDS)],
        outputs,
        stylize_example,
        [_label(p) for p in pairs],
        "style-examples",
        lane=None,
    )


def _label(pair: ExamplePair) -> str:
    """The example's caption (`example.style.<name>`, in English here; the page's scripts
    show it in the visitor's language: `ui.i18n.relabel_keys`)."""
    return translate(f"example.style.{pair.name}")


def _link_rerun(run: Callable, c: dict) -> Callable:
    """The link's rerun: with `example=<name>` the pair's images go into the inputs and the
    run streams with the linked settings; without one the settings are only restored."""

    def rerun_example(example: str = "", request: gr.Request = None, **settings):
        if not example:
            yield skips(5)
            return
        content, style = (
            served(c[n], p)
            for n, p in zip(("content", "style"), example_pair(example).paths(), strict=True)
        )
        yield content, style, *skips(3)
        for out in run(content, style, **settings, request=request, **caller_kwargs(run, request)):
            yield gr.skip(), gr.skip(), *out

    return rerun_example


def _settings_inputs(max_size: int) -> dict[str, gr.components.Component]:
    """The images and settings, by the handler's parameter names."""
    c: dict[str, gr.components.Component] = {}
    with gr.Row():
        c["content"] = uploaded_image(label=t("style.content.label"), height=220)
        c["style"] = uploaded_image(label=t("style.style.label"), height=220)
    with gr.Row():
        c["steps"] = gr.Slider(
            1, MAX_STEPS, value=DEFAULTS.steps, step=1, label=t("style.steps.label")
        )
        c["size"] = gr.Slider(
            MIN_SIZE,
            max_size,
            value=DEFAULTS.size,
            step=32,
            label=t("style.size.label"),
        )
    with gr.Accordion(t("style.weights.accordion"), open=True):
        c["content_weight"] = gr.Number(
            value=DEFAULTS.content_weight,
            label=t("style.content_weight.label"),
            info=t("style.content_weight.info"),
            minimum=0,
        )
        c["style_weight"] = gr.Number(
            value=DEFAULTS.style_weight,
            label=t("style.style_weight.label"),
            info=t("style.style_weight.info"),
            minimum=0,
        )
        c["tv_weight"] = gr.Number(
            value=DEFAULTS.tv_weight,
            label=t("style.tv_weight.label"),
            info=t("style.tv_weight.info"),
            minimum=0,
        )
    with gr.Accordion(t("style.more.accordion"), open=False):
        c |= _more_inputs()
    return c


def _more_inputs() -> dict[str, gr.components.Component]:
    c: dict[str, gr.components.Component] = {}
    c["optimizer"] = gr.Radio(
        ["lbfgs", "adam"], value=DEFAULTS.optimizer, label=t("style.optimizer.label")
    )
    c["init"] = gr.Radio(
        [
            (t("style.init.content_color"), "content_color"),
            (t("style.init.content"), "content"),
            (t("style.init.noise"), "noise"),
            (t("style.init.coarse"), "coarse"),
            (t("style.init.fast"), "fast"),
        ],
        value=DEFAULTS.init,
        label=t("style.init.label"),
    )
    c["preserve_colors"] = gr.Radio(
        [
            (t("style.preserve.none"), "none"),
            (t("style.preserve.luminance"), "luminance"),
            (t("style.preserve.match"), "match"),
        ],
        value=DEFAULTS.preserve_colors,
        label=t("style.preserve.label"),
    )
    c["extra_styles"] = gr.File(
        label=t("style.extra.label"), file_count="multiple", file_types=["image"], type="filepath"
    )
    c["style_blend"] = gr.Textbox(
        value="",
        label=t("style.blend.label"),
        placeholder=t("style.blend.placeholder"),
    )
    c["network"] = gr.Dropdown(
        [(t(f"style.network.{key}"), name) for name, key in NETWORKS.items()],
        value=AUTO,
        label=t("style.network.label"),
    )
    return c
