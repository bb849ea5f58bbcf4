"""The 2D GAN lab as a widget any tab can place (`build_lab2d_widget`): a tiny MLP GAN on 2D
points with D's heat map and G's gradient arrows, G's manifold, Step D / Step G / Play /
Pause / Reset, and the collapse meter. The GAN lab tab shows it in full; a compact one
(ring preset, the buttons and the views) fits a lesson page.

Play is a timer: each tick trains one short slice on the server (`gan.lab2d.service`) and
returns a frame; Pause, a finished Play or a closed page stops the ticks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

import gradio as gr

from gan.lab2d.distributions import MAX_DRAWN, NAMES
from gan.lab2d.losses import LOSSES
from gan.lab2d.render import from_pixel, points_view
from gan.lab2d.service import Frame, Lab2D
from gan.lab2d.settings import MAX_STEPS, OPTIMIZERS, PRESETS, Lab2DSettings
from ui.common import LAB2D_LANE, friendly, inputs_for, session_key
from ui.i18n import language_of, t, translate

PRESET = "ring"
TICK_S = 0.1  # the Play timer's interval: a tick (training for `gan.lab2d.service.SLICE_S`,
# then a frame) runs longer, and the timer skips ticks while one is pending, so the next
# starts soon after the last one's frame is shown
FORM = ("data", "loss", "optimizer", "lr_d", "lr_g", "d_steps", "steps", "seed")


@dataclass
class Lab2DWidget:
    """The widget's components: the form by field name, the buttons, the views."""

    inputs: dict[str, gr.components.Component]
    buttons: dict[str, gr.Button]
    d_view: gr.Image
    g_view: gr.Image
    status: gr.Markdown
    timer: gr.Timer


def settings_of(preset: str, **form: Any) -> Lab2DSettings:
    """The preset's settings with the form's values (a preset's other fields, e.g. Adam's
    beta1, kept), checked."""
    base = PRESETS.get(preset, PRESETS[PRESET])
    values = {k: v for k, v in form.items() if k in FORM and v is not None}
    for name in ("d_steps", "steps", "seed"):
        if name in values:
            values[name] = int(values[name])
    return replace(base, **values).checked()


def _loss(value: float) -> str:
    """A loss to 3 decimals, or a dash before the network's first step (no loss yet)."""
    return "–" if math.isnan(value) else f"{value:.3f}"


def status_text(frame: Frame, lang: str = "en") -> str:
    """The counters, the losses and the collapse meter, in `lang`."""
    c, m = frame.counters, frame.coverage
    steps = translate(
        "msg.lab2d.steps",
        lang,
        d_steps=c.d_steps,
        g_steps=c.g_steps,
        loss_d=_loss(c.loss_d),
        loss_g=_loss(c.loss_g),
    )
    meter = translate(
        "msg.lab2d.coverage",
        lang,
        covered=m.covered,
        modes=m.modes,
        quality=f"{100 * m.quality:.0f}",
    )
    if m.collapsed:
        meter += "  \n" + translate("msg.lab2d.collapsed", lang)
    return f"{steps}  \n{meter}"


def add_point(points: list | None, evt: gr.SelectData) -> tuple:
    """A click on the pad adds the point under it (page state only, at most `MAX_DRAWN`)."""
    x, y = (float(v) for v in evt.index[:2])
    points = [*(points or []), [round(c, 4) for c in from_pixel(x, y)]][-MAX_DRAWN:]
    return points, points_view(points)


def clear_points() -> tuple:
    """No points of the visitor's own."""
    return None, points_view(None)


class Lab2DHandlers:
    """The widget's events, each one call of `Lab2D` (page-only: no API names)."""

    def __init__(self, lab2d: Lab2D, scope: str = "") -> None:
        self.lab2d = lab2d
        self.scope = scope  # one run per widget on a page: a lesson step's is not the lab's

    def _session(self, request: gr.Request | None) -> str:
        return f"{self.scope}{session_key(request)}"

    def _out(self, frame: Frame, request: gr.Request | None) -> tuple:
        text = status_text(frame, language_of(request))
        return frame.d_view, frame.g_view, text, gr.Timer(active=frame.playing)

    def step_d(
        self,
        preset,
        data,
        loss,
        optimizer,
        lr_d,
        lr_g,
        d_steps,
        steps,
        seed,
        points=None,
        request: gr.Request = None,
    ) -> tuple:
        """One D step alone: D's heat map and the arrows change, G's points do not."""
        s = settings_of(preset, **_form(locals()))
        return self._out(self.lab2d.step_d(self._session(request), s, points), request)

    def step_g(
        self,
        preset,
        data,
        loss,
        optimizer,
        lr_d,
        lr_g,
        d_steps,
        steps,
        seed,
        points=None,
        request: gr.Request = None,
    ) -> tuple:
        """One G step alone: G's points move, D's heat map does not."""
        s = settings_of(preset, **_form(locals()))
        return self._out(self.lab2d.step_g(self._session(request), s, points), request)

    def play_2d(
        self,
        preset,
        data,
        loss,
        optimizer,
        lr_d,
        lr_g,
        d_steps,
        steps,
        seed,
        points=None,
        request: gr.Request = None,
    ) -> tuple:
        """Play: train `steps` more steps over the timer's next ticks."""
        s = settings_of(preset, **_form(locals()))
        return self._out(self.lab2d.play(self._session(request), s, points), request)

    def tick_2d(
        self,
        preset,
        data,
        loss,
        optimizer,
        lr_d,
        lr_g,
        d_steps,
        steps,
        seed,
        points=None,
        request: gr.Request = None,
    ) -> tuple:
        """One tick of Play: a short slice of training, then the frame."""
        s = settings_of(preset, **_form(locals()))
        return self._out(self.lab2d.tick(self._session(request), s, points), request)

    def reset_2d(
        self,
        preset,
        data,
        loss,
        optimizer,
        lr_d,
        lr_g,
        d_steps,
        steps,
        seed,
        points=None,
        request: gr.Request = None,
    ) -> tuple:
        """A fresh run from the settings (step 0)."""
        s = settings_of(preset, **_form(locals()))
        frame = self.lab2d.show(self._session(request), s, points, fresh=True)
        return self._out(frame, request)

    def pause_2d(self, request: gr.Request = None) -> Any:
        """Pause: the run keeps its state and trains no further."""
        self.lab2d.pause_run(self._session(request))
        return gr.Timer(active=False)


def _form(values: dict) -> dict:
    return {k: values[k] for k in FORM}


def preset_2d(name: str) -> tuple:
    """The preset's values into the form (in `FORM` order)."""
    s = PRESETS.get(name, PRESETS[PRESET])
    return tuple(getattr(s, k) for k in FORM)


def _form_inputs(compact: bool, preset: str) -> dict[str, gr.components.Component]:
    """The settings form, filled from `preset` (in a closed accordion when `compact`)."""
    s = PRESETS[preset]
    c: dict[str, gr.components.Component] = {}
    with gr.Accordion(t("lab2d.settings"), open=not compact):
        c["preset"] = gr.Dropdown(
            [(t(f"lab2d.preset.{name}"), name) for name in PRESETS],
            value=preset,
            label=t("lab2d.preset.label"),
        )
        c["data"] = gr.Radio(
            [(t(f"lab2d.data.{n}"), n) for n in NAMES], value=s.data, label=t("lab2d.data")
        )
        with gr.Row():
            c["loss"] = gr.Dropdown(
                [(t(f"lab2d.loss.{n}"), n) for n in LOSSES], value=s.loss, label=t("lab2d.loss")
            )
            c["optimizer"] = gr.Radio(
                [(n.upper() if n == "sgd" else n.title(), n) for n in OPTIMIZERS],
                value=s.optimizer,
                label=t("lab2d.optimizer"),
            )
        with gr.Row():
            c["lr_d"] = gr.Number(s.lr_d, label=t("lab.lr_d.label"), minimum=0)
            c["lr_g"] = gr.Number(s.lr_g, label=t("lab.lr_g.label"), minimum=0)
        with gr.Row():
            c["d_steps"] = gr.Slider(1, 10, s.d_steps, step=1, label=t("lab2d.d_steps"))
            c["steps"] = gr.Slider(10, MAX_STEPS, s.steps, step=10, label=t("lab2d.steps"))
            c["seed"] = gr.Number(s.seed, label=t("lab2d.seed"), precision=0, minimum=0)
    return c


def _drawing(compact: bool) -> tuple[gr.Image, gr.State, gr.Button]:
    """The pad where clicks add the visitor's own points, the points, and Clear."""
    points = gr.State(None)
    with gr.Accordion(t("lab2d.draw"), open=False, visible=not compact):
        pad = gr.Image(
            points_view(None),
            label=t("lab2d.draw.label"),
            interactive=False,
            format="png",
            elem_classes="lab2d-pad",
        )
        clear = gr.Button(t("lab2d.clear"), size="sm")
    return pad, points, clear


def _buttons() -> dict[str, gr.Button]:
    with gr.Row():
        return {
            "play": gr.Button(t("lab2d.play"), variant="primary", elem_classes="lab2d-play"),
            "pause": gr.Button(t("lab2d.pause"), variant="secondary"),
            "step_d": gr.Button(t("lab2d.step_d"), elem_classes="lab2d-step-d"),
            "step_g": gr.Button(t("lab2d.step_g"), elem_classes="lab2d-step-g"),
            "reset": gr.Button(t("lab2d.reset"), variant="secondary"),
        }


def _views(first: Frame) -> tuple[gr.Image, gr.Image, gr.Markdown]:
    with gr.Row(equal_height=True):
        d = gr.Image(
            first.d_view,
            label=t("lab2d.d_view"),
            format="png",
            interactive=False,
            elem_classes="lab2d-d-view",
        )
        g = gr.Image(
            first.g_view,
            label=t("lab2d.g_view"),
            format="png",
            interactive=False,
            elem_classes="lab2d-g-view",
        )
    status = gr.Markdown(status_text(first), elem_classes="lab2d-status")
    return d, g, status


def build_lab2d_widget(
    lab2d: Lab2D, compact: bool = False, preset: str = PRESET, scope: str = ""
) -> Lab2DWidget:
    """The 2D lab on `lab2d`, wired: full (settings, a pad for your own points, legend) or
    `compact` (the buttons, the views and the meter; settings folded away), starting from
    `preset`. Each widget on one page needs its own `scope` (a visitor's run per widget)."""
    first = lab2d.preview(PRESETS[preset])
    d, g, status = _views(first)
    buttons = _buttons()
    gr.Markdown(t("lab2d.legend"))
    c = _form_inputs(compact, preset)
    pad, c["points"], clear = _drawing(compact)
    timer = gr.Timer(TICK_S, active=False)
    widget = Lab2DWidget(c, buttons, d, g, status, timer)
    _wire(widget, Lab2DHandlers(lab2d, scope))
    quiet = {"api_visibility": "private", "queue": False, "show_progress": "hidden"}
    pad.select(add_point, c["points"], [c["points"], pad], **quiet)
    clear.click(clear_points, None, [c["points"], pad], **quiet)
    return widget


def _wire(w: Lab2DWidget, h: Lab2DHandlers) -> None:
    outputs = [w.d_view, w.g_view, w.status, w.timer]
    quiet = {"api_visibility": "private", "show_progress": "hidden", **LAB2D_LANE}
    for name, fn in (("step_d", h.step_d), ("step_g", h.step_g), ("play", h.play_2d)):
        w.buttons[name].click(friendly(fn), inputs_for(fn, w.inputs), outputs, **quiet)
    w.buttons["reset"].click(
        friendly(h.reset_2d), inputs_for(h.reset_2d, w.inputs), outputs, **quiet
    )
    w.timer.tick(friendly(h.tick_2d), inputs_for(h.tick_2d, w.inputs), outputs, **quiet)
    w.buttons["pause"].click(
        friendly(h.pause_2d), None, w.timer, queue=False, api_visibility="private"
    )
    form = [w.inputs[k] for k in FORM]
    w.inputs["preset"].input(
        preset_2d,
        w.inputs["preset"],
        form,
        api_visibility="private",
        queue=False,
        show_progress="hidden",
    )
