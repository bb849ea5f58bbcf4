"""The GAN lab tab: a small DCGAN trained from scratch, its two phases, balance and collapse."""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterator

import gradio as gr
import pandas as pd

from gan.lab.collapse import DEFAULT_THRESHOLD
from gan.lab.compare import SETTINGS
from gan.lab.service import MAX_LAB_STEPS, Lab
from gan.lab.train import PRESETS, LabProgress
from gan.lab2d.service import Lab2D
from ui.common import (
    arm_stop,
    current_deadline,
    friendly,
    inputs_for,
    session_key,
    settle_stop,
    show_when_filled,
    warning,
)
from ui.highres_view import build_highres_panel
from ui.i18n import howto, language_of, t, translate
from ui.lab2d_widget import build_lab2d_widget
from ui.links import Permalinks

PRESET = next(iter(PRESETS))
CUSTOM = "custom"  # the preset menu's entry for settings that match no preset (a link's steps=40)
DEFAULT = PRESETS[PRESET]
UPDATE_EVERY = 5  # steps between page updates (every preview step is shown too)
SAVE_MARGIN_S = 10.0  # a run to be saved stops this long before a visitor's job cap


def loss_frame(events: list[LabProgress], run: str = "") -> pd.DataFrame:
    """One row per step and loss; D's loss of a skipped step is kept, as its own series."""
    rows = []
    for e in events:
        r = e.record
        d_series = "D loss (step skipped)" if r.d_skipped else "D loss"
        rows += [(r.step, r.loss_d, run + d_series), (r.step, r.loss_g, run + "G loss")]
    return pd.DataFrame(rows, columns=["step", "loss", "series"])


def prob_frame(events: list[LabProgress]) -> pd.DataFrame:
    rows = []
    for e in events:
        r = e.record
        rows += [(r.step, r.d_real, "D(x), real"), (r.step, r.d_fake, "D(G(z)), fake")]
    return pd.DataFrame(rows, columns=["step", "probability", "series"])


def collapse_frame(events: list[LabProgress], run: str = "") -> pd.DataFrame:
    """The samples' diversity at each preview step, and the threshold below which it counts
    as collapsed (once the samples have been diverse)."""
    rows = [
        (e.step, e.collapse.diversity, run + "diversity") for e in events if e.collapse is not None
    ]
    if rows and not run:
        rows += [(step, DEFAULT_THRESHOLD, "collapse threshold") for step in (1, events[-1].step)]
    return pd.DataFrame(rows, columns=["step", "diversity", "series"])


def phases(event: LabProgress, lang: str = "en", threshold: float = 0.0) -> str:
    """The step's two phases, in words, in `lang`."""
    r = event.record
    step = translate("msg.lab.phase_step", lang, step=r.step, total=event.total)
    d = translate(
        "msg.lab.phase_d",
        lang,
        d_real=f"{r.d_real:.2f}",
        d_fake=f"{r.d_fake:.2f}",
        loss_d=f"{r.loss_d:.3f}",
    )
    if r.d_skipped:
        d += translate("msg.lab.phase_skipped", lang)
    g = translate(
        "msg.lab.phase_g", lang, d_fake_after=f"{r.d_fake_after:.2f}", loss_g=f"{r.loss_g:.3f}"
    )
    return f"{step}  \n{d}  \n{g}  \n{step_line(event, lang, threshold)}"


def step_line(event: LabProgress, lang: str = "en", threshold: float = 0.0) -> str:
    """The step's one-line summary in `lang` (`gan.lab.train.progress` writes it in English):
    the losses, D's outputs, and the collapse meter's and divergence warnings."""
    r = event.record
    values = {"step": r.step, "total": event.total, "loss_d": f"{r.loss_d:.3f}"}
    values |= {"loss_g": f"{r.loss_g:.3f}", "d_real": f"{r.d_real:.2f}"}
    if r.d_skipped:
        line = translate("msg.lab.skipped", lang, threshold=f"{threshold:g}", **values)
    else:
        line = translate("msg.lab.step", lang, d_fake=f"{r.d_fake:.2f}", **values)
    if note := _collapse_line(event, lang):
        line += "  \n" + note
    if r.diverged:
        line += "  \n" + translate("msg.lab.diverged", lang, step=r.step)
    if event.message.endswith(" (stopped)"):  # gan.lab.compare stopped this run early
        line += translate("msg.lab.stopped", lang)
    return line


def _collapse_line(event: LabProgress, lang: str) -> str | None:
    """The collapse meter's warning (as `gan.lab.train` decided it), in `lang`."""
    reading = event.collapse
    if reading is None or not reading.collapsed:
        return None
    if "Mode collapse warning" in event.message:
        return translate(
            "msg.lab.collapse",
            lang,
            diversity=f"{reading.diversity:.2f}",
            duplicates=reading.near_duplicates,
            samples=reading.n_samples,
        )
    return translate("msg.lab.alike", lang, diversity=f"{reading.diversity:.2f}")


def collapse_note(event: LabProgress, lang: str = "en") -> str | None:
    """The mode-collapse warning of a step, for a toast (None when there is none)."""
    if "Mode collapse warning" in event.message:
        return _collapse_line(event, lang)
    return None


class LabHandlers:
    """The tab's events, each one call of `Lab`."""

    def __init__(self, lab: Lab) -> None:
        self.lab = lab

    def train(
        self,
        data: str = "toy",
        uploads: list[str] | None = None,
        preset: str = PRESET,
        steps: float = DEFAULT.steps,
        lr_g: float = DEFAULT.lr_g,
        lr_d: float = DEFAULT.lr_d,
        d_loss_threshold: float = DEFAULT.d_loss_threshold,
        seed: float = DEFAULT.seed,
        save_as: str = "",
        request: gr.Request = None,
    ) -> Iterator[tuple]:
        """Train a small DCGAN (32 px) from random weights on the toy set or the uploads.

        Args:
            data: "toy" (coloured shapes drawn at run time) or "upload".
            uploads: image files or .zip archives (with data="upload").
            preset: a preset name, or "custom"; the other arguments override its settings.
            steps: training steps (each a D step, or its skip, then a G step).
            lr_g: the generator's Adam learning rate.
            lr_d: the discriminator's Adam learning rate.
            d_loss_threshold: balance rule, skip the D step while D's loss is below it (0: off).
            seed: fixes the initial weights, the batches and the sample latents.
            save_as: a name to keep the run (finished or stopped) as your own DCGAN model,
                usable in Generate, Interpolate, Edit and Judge; empty: not kept.

        Returns:
            Streams (samples grid, losses per step, D(x)/D(G(z)) per step, collapse meter,
            text about the step's two phases, the training timelapse GIF once saved).
        """
        config = self.lab.config(
            None if preset == CUSTOM else preset,
            steps=int(steps),
            lr_g=float(lr_g),
            lr_d=float(lr_d),
            d_loss_threshold=float(d_loss_threshold),
            seed=int(seed),
        )
        images, skipped = self.lab.images(data, uploads, config.image_size, current_deadline())
        if skipped:
            warning(skipped)  # each skipped file or member, by name
        save_as = str(save_as or "").strip() or None
        events = self.lab.train(
            config, images, session_key(request), save_as, _out_of_time(save_as)
        )
        lang = language_of(request)
        yield from _train_outputs(events, config.steps, lang, config.d_loss_threshold)

    def compare(
        self,
        setting: str = "lr",
        value_a: float = 2e-4,
        value_b: float = 2e-3,
        steps: float = 300,
        request: gr.Request = None,
    ) -> Iterator[tuple]:
        """Two toy-set runs from the same weights, batches and seeds, differing in one setting.

        Args:
            setting: "lr" (both learning rates), "d_loss_threshold" (the balance rule) or
                "lr_ratio" (lr_g / lr_d, lr_d kept).
            value_a: the setting's value in run A.
            value_b: the setting's value in run B.
            steps: training steps of each run.

        Returns:
            Streams (A's samples grid, B's samples grid, both runs' losses, both collapse
            meters, a text with each run's latest step).
        """
        config = self.lab.config(PRESET, steps=int(steps))
        a_events: list[LabProgress] = []
        b_events: list[LabProgress] = []
        grids = [None, None]
        values = (float(value_a), float(value_b))
        lang, limits = language_of(request), [config.d_loss_threshold] * 2
        if setting == "d_loss_threshold":
            limits = list(values)
        text = functools.partial(_compare_text, lang=lang, thresholds=limits)
        for a, b in self.lab.compare(config, setting, values, None, session_key(request)):
            a_events.append(a)
            b_events.append(b)
            for i, e in enumerate((a, b)):
                grids[i] = e.preview if e.preview is not None else grids[i]
            if a.preview is not None or a.step % UPDATE_EVERY == 0:
                yield _compare_outputs(grids, a_events, b_events, setting, values, text)
        yield _compare_outputs(grids, a_events, b_events, setting, values, text)

    def stop(self, request: gr.Request = None) -> None:
        self.lab.stop(session_key(request))

    def preset(self, name: str):
        """The preset's settings into the sliders ("custom" leaves them as they are)."""
        if name == CUSTOM:
            return tuple(gr.skip() for _ in range(4))
        return _preset_values(name)


def _out_of_time(save_as: str | None) -> Callable[[], bool] | None:
    """A run to be saved stops itself before the job's wall-time cap, leaving time to save."""
    deadline = current_deadline()
    if deadline is None or save_as is None:
        return None
    margin = min(SAVE_MARGIN_S, deadline.seconds / 4)
    return lambda: deadline.remaining() < margin


def _train_outputs(
    events: Iterator[LabProgress], steps: int, lang: str, threshold: float = 0.0
) -> Iterator[tuple]:
    """The page's outputs every few steps, at every preview and at the end (with the
    timelapse when the run was saved); the first collapse warning also as a toast."""
    seen: list[LabProgress] = []
    preview, warned, timelapse = None, False, None
    for event in events:
        if event.done:  # the run was saved: its timelapse
            timelapse = str(event.output)
            continue
        seen.append(event)
        preview = event.preview if event.preview is not None else preview
        note = collapse_note(event, lang)
        if note and not warned:
            warning(note)
            warned = True
        last = event.step == steps or (event.record and event.record.diverged)
        if event.preview is not None or event.step % UPDATE_EVERY == 0 or last:
            yield _plots(preview, seen, phases(event, lang, threshold))
    if seen:  # stopped or finished: the whole history
        done = translate("msg.lab.done", lang)
        if timelapse is not None:
            done += "  \n" + translate("msg.lab.saved", lang, steps=seen[-1].step)
        text = phases(seen[-1], lang, threshold) + "  \n" + done
        yield _plots(preview, seen, text, timelapse)


def _plots(preview, events: list[LabProgress], text: str, timelapse: str | None = None) -> tuple:
    """(samples grid, losses, D(x)/D(G(z)), collapse meter, the phases in words, the
    timelapse GIF or None)."""
    frames = (loss_frame(events), prob_frame(events), collapse_frame(events))
    return preview, *frames, text, timelapse


def matching_preset(steps: float, lr_g: float, lr_d: float, d_loss_threshold: float) -> str:
    """The preset whose settings these are, or `CUSTOM` (so that the menu never names a
    preset the sliders do not hold)."""
    values = (steps, lr_g, lr_d, d_loss_threshold)
    for name in PRESETS:
        pairs = zip(values, _preset_values(name), strict=True)
        if all(v is not None and math.isclose(float(v), p) for v, p in pairs):
            return name
    return CUSTOM


def _preset_values(name: str) -> tuple:
    c = PRESETS.get(name, DEFAULT)
    return c.steps, c.lr_g, c.lr_d, c.d_loss_threshold


def _compare_text(a_events, b_events, lang: str, thresholds: list[float]) -> str:
    """Each run's latest step, in `lang`."""
    if not a_events:
        return ""
    runs = zip((a_events, b_events), thresholds, strict=True)
    a, b = (step_line(events[-1], lang, limit) for events, limit in runs)
    return f"A: {a}  \nB: {b}"


def _compare_outputs(grids, a_events, b_events, setting, values, text: Callable) -> tuple:
    a, b = f"A ({setting}={values[0]:g}): ", f"B ({setting}={values[1]:g}): "
    losses = pd.concat([loss_frame(a_events, a), loss_frame(b_events, b)])
    collapse = pd.concat([collapse_frame(a_events, a), collapse_frame(b_events, b)])
    return grids[0], grids[1], losses, collapse, text(a_events, b_events)


def build_lab_tab(lab: Lab, links: Permalinks | None = None, lab2d: Lab2D | None = None) -> None:
    """The GAN lab tab (API: `/lab_train`, `/lab_compare`), the 2D lab first."""
    handlers = LabHandlers(lab)
    if lab2d is not None:
        _lab2d_panel(lab2d)
    gr.Markdown(t("lab.intro"))
    howto("lab")
    with gr.Row():
        with gr.Column(scale=1):
            c = _train_inputs()
            with gr.Row():
                run = gr.Button(t("lab.run"), variant="primary")
                stop = gr.Button(t("common.stop"), variant="secondary")
        with gr.Column(scale=2):
            outputs = _train_plots()
    train = friendly(handlers.train)
    arm_stop(run, stop)
    job = run.click(
        train,
        inputs_for(handlers.train, c),
        outputs,
        api_name="lab_train",
        concurrency_id="train",
        concurrency_limit=1,
    )
    settle_stop(job, stop)
    stop.click(friendly(handlers.stop), None, None, queue=False, api_visibility="private")
    c["preset"].input(
        handlers.preset,
        c["preset"],
        [c["steps"], c["lr_g"], c["lr_d"], c["d_loss_threshold"]],
        api_visibility="private",
    )
    settings = [c["steps"], c["lr_g"], c["lr_d"], c["d_loss_threshold"]]
    gr.on(  # a link's or a person's own settings: the menu says "custom"
        [box.change for box in settings],
        matching_preset,
        settings,
        c["preset"],
        api_visibility="private",
        queue=False,
        show_progress="hidden",
    )
    gr.Examples(
        [[name, *_preset_values(name)] for name in PRESETS],
        [c["preset"], c["steps"], c["lr_g"], c["lr_d"], c["d_loss_threshold"]],
        label=t("common.examples"),
        elem_id="lab-examples",
        example_labels=list(PRESETS),
    )
    if links is not None:
        links.add("lab", c, train, outputs, concurrency_id="train")
    _compare_panel(handlers)
    _highres_panel(lab)
    howto("lab.collapse", title="lab.collapse.accordion")
    howto("lab.highres", title="lab.highres.accordion")


def _highres_panel(lab: Lab) -> None:
    """High resolution as an experiment (`ui.highres_view`; API: `/lab_highres`)."""
    with gr.Accordion(t("lab.hr.accordion"), open=False):
        build_highres_panel(lab, api_name="lab_highres")


def _lab2d_panel(lab2d: Lab2D) -> None:
    """The 2D lab (`ui.lab2d_widget`), in full, in its own accordion."""
    with gr.Accordion(t("lab2d.accordion"), open=True):
        gr.Markdown(t("lab2d.intro"))
        build_lab2d_widget(lab2d)
        howto("lab2d", title="lab2d.howto")


def _train_plots() -> list[gr.components.Component]:
    """[samples grid, losses, D(x)/D(G(z)), collapse meter, the phases in words, the
    timelapse of a saved run]."""
    samples = gr.Image(label=t("lab.samples.label"), format="png", interactive=False)
    timelapse = gr.Image(  # an input of its own change event: handed over undecoded
        label=t("lab.timelapse.label"),
        type="filepath",
        image_mode=None,
        interactive=False,
        visible="hidden",
    )
    show_when_filled(timelapse)
    info = gr.Markdown()
    with gr.Row():
        losses = gr.ScatterPlot(x="step", y="loss", color="series", label=t("lab.losses.label"))
        probs = gr.LinePlot(
            x="step", y="probability", color="series", label=t("lab.dprob.label"), y_lim=[0, 1]
        )
    collapse = gr.LinePlot(x="step", y="diversity", color="series", label=t("lab.collapse.label"))
    return [samples, losses, probs, collapse, info, timelapse]


def _train_inputs() -> dict[str, gr.components.Component]:
    c: dict[str, gr.components.Component] = {}
    c["data"] = gr.Radio(
        [(t("lab.data.toy"), "toy"), (t("lab.data.upload"), "upload")],
        value="toy",
        label=t("lab.data.label"),
    )
    c["uploads"] = gr.File(label=t("lab.upload.label"), file_count="multiple", type="filepath")
    choices = [(t(f"lab.preset.{name.split()[0]}"), name) for name in PRESETS]  # shown, API
    choices.append((t("lab.preset.custom"), CUSTOM))
    c["preset"] = gr.Dropdown(choices, value=PRESET, label=t("lab.preset.label"))
    c["steps"] = gr.Slider(
        10, MAX_LAB_STEPS, value=DEFAULT.steps, step=10, label=t("lab.steps.label")
    )
    c["lr_g"] = gr.Number(value=DEFAULT.lr_g, label=t("lab.lr_g.label"), minimum=0)
    c["lr_d"] = gr.Number(value=DEFAULT.lr_d, label=t("lab.lr_d.label"), minimum=0)
    c["d_loss_threshold"] = gr.Slider(
        0, 1.5, value=DEFAULT.d_loss_threshold, step=0.05, label=t("lab.threshold.label")
    )
    c["seed"] = gr.Number(value=DEFAULT.seed, label=t("lab.seed.label"), precision=0, minimum=0)
    c["save_as"] = gr.Textbox("", label=t("lab.save_as.label"), info=t("lab.save_as.info"))
    return c


def _compare_panel(handlers: LabHandlers) -> None:
    with gr.Accordion(t("lab.compare.accordion"), open=False):
        gr.Markdown(t("howto.lab.sensitivity.body"))
        with gr.Row():
            setting = gr.Dropdown(
                [(t(f"lab.setting.{name}"), name) for name in SETTINGS],
                value="lr",
                label=t("lab.compare.setting.label"),
            )
            value_a = gr.Number(value=2e-4, label=t("lab.compare.value_a.label"))
            value_b = gr.Number(value=2e-3, label=t("lab.compare.value_b.label"))
            steps = gr.Slider(10, MAX_LAB_STEPS, value=300, step=10, label=t("lab.steps.label"))
        run = gr.Button(t("lab.compare.run"), variant="primary")
        with gr.Row():
            grid_a = gr.Image(label="A", format="png", interactive=False)
            grid_b = gr.Image(label="B", format="png", interactive=False)
        losses = gr.ScatterPlot(x="step", y="loss", color="series", label=t("lab.losses.label"))
        collapse = gr.LinePlot(
            x="step", y="diversity", color="series", label=t("lab.collapse.label")
        )
        info = gr.Markdown()
    components = {"setting": setting, "value_a": value_a, "value_b": value_b, "steps": steps}
    run.click(
        friendly(handlers.compare),
        inputs_for(handlers.compare, components),
        [grid_a, grid_b, losses, collapse, info],
        api_name="lab_compare",
        concurrency_id="train",
        concurrency_limit=1,
    )
    rows = [
        ["lr", 2e-4, 2e-3, 300],
        ["d_loss_threshold", 0.0, 0.5, 300],
        ["lr_ratio", 1.0, 4.0, 300],
    ]
    gr.Examples(
        rows,
        [setting, value_a, value_b, steps],
        label=t("common.examples"),
        elem_id="lab-compare-examples",
        example_labels=[f"{s}: {a:g} vs {b:g}" for s, a, b, _ in rows],
    )
