"""The loss plots' cached example values reach the page as plot data, not JSON text."""

from __future__ import annotations

import gradio as gr
import pandas as pd
from gradio.components.native_plot import PlotData

from ui.plots import line_plot, plot_from_flag

FRAME = pd.DataFrame({"step": [1, 2, 2], "loss": [0.5, 0.25, 0.125], "term": list("aab")})


def cached(plot: gr.LinePlot) -> str:
    """What Gradio's examples cache keeps for the plot's value (its CSV cell)."""
    return plot.flag(plot.postprocess(FRAME).model_dump())


def test_gradios_own_plot_reads_its_cached_value_back_as_text():
    """The upstream bug (docs/upstream.md, section 3): if this fails, Gradio fixed it."""
    plot = gr.LinePlot(x="step", y="loss", color="term")
    assert isinstance(plot.read_from_flag(cached(plot)), str)


def test_line_plot_reads_its_cached_value_back_as_plot_data():
    plot = line_plot(x="step", y="loss", color="term")
    value = plot.read_from_flag(cached(plot))
    assert isinstance(value, PlotData)
    assert value == plot.postprocess(FRAME)
    assert value.columns == ["step", "loss", "term"]
    assert value.data[1] == [2, 0.25, "a"]


def test_an_empty_or_ready_value_passes_through():
    ready = line_plot(x="step", y="loss").postprocess(FRAME)
    assert plot_from_flag(None) is None
    assert plot_from_flag("null") is None
    assert plot_from_flag(ready) is ready
