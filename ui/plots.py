"""Gradio's line plot, fixed for cached examples (docs/upstream.md, section 3).

Gradio 6.31 writes a native plot's value into the examples cache as JSON text and reads it
back as that same text: `NativePlot` has no `data_model`, so `Component.read_from_flag`
returns the string. A cached example then sends the page a string where its plot expects
`{columns, data, ...}`; the page throws (`e.columns.indexOf`) and leaves every output of the
event "processing" until a reload. `line_plot` makes a `gr.LinePlot` that reads the cached
text back into Gradio's own plot value, which the page draws. (It sets the method on the
instance: a subclass would make Gradio write a `.pyi` stub beside this file at import.)
"""

from __future__ import annotations

import json
from typing import Any

import gradio as gr
from gradio.components.native_plot import PlotData


def plot_from_flag(payload: Any) -> PlotData | None:
    """The plot value for what the examples cache holds (JSON text, or nothing)."""
    if payload is None or isinstance(payload, PlotData):
        return payload
    value = json.loads(payload) if isinstance(payload, str) else payload
    return None if value is None else PlotData(**value)


def line_plot(**kwargs: Any) -> gr.LinePlot:
    """`gr.LinePlot(**kwargs)` whose cached example values reach the page as plot data."""
    plot = gr.LinePlot(**kwargs)
    plot.read_from_flag = plot_from_flag  # type: ignore[method-assign]
    return plot


# Vega picks about one x tick per 40 px and splits a short axis into halves (steps 0.5, 1,
# 1.5, ...); over at least this many steps every tick is a whole step up to ~1200 px wide.
MIN_STEP_SPAN = 30


def whole_steps(frame: Any, total: int) -> dict:
    """A plot update whose x axis (training steps) spans `[0, total]`, and at least
    `MIN_STEP_SPAN` steps, so that its ticks fall on whole steps."""
    return gr.update(value=frame, x_lim=[0, max(int(total), MIN_STEP_SPAN)])
