"""Every tab of the app, in page order, each built by its own `ui/` module."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gradio as gr

from ui.common import friendly
from ui.finetune import build_finetune_tab
from ui.generate import build_generate_tab
from ui.header import Header, build_delete_control
from ui.i18n import t
from ui.interpolate import build_interpolate_tab
from ui.lab import build_lab_tab
from ui.lesson import build_lesson_tab
from ui.library import build_library_tab
from ui.links import Permalinks
from ui.style import build_style_tab
from ui.style_mix import build_style_mix_tab
from ui.tools import build_tool_tabs


def build_tabs(header: Header, s: Any, release: Callable[[], None], links: Permalinks) -> gr.Tabs:
    """The tabs on the services `s` (`ui.services.Services`); a new tab goes here."""
    model = header.model
    with gr.Tabs() as tabs:
        with gr.Tab(t("tab.generate"), id="generate"):
            build_generate_tab(model, s.studio, release, links, s.library)
        with gr.Tab(t("tab.interpolate"), id="interpolate"):
            build_interpolate_tab(model, s.studio, release, links, s.video, s.library)
        with gr.Tab(t("tab.style_mixing"), id="style_mixing"):
            build_style_mix_tab(model, s.studio, release, links, s.video, s.library)
        with gr.Tab(t("tab.style"), id="style"):
            build_style_tab(s.stylist, release, links)
        with gr.Tab(t("tab.finetune"), id="finetune"):
            build_finetune_tab(model, s.tuner, release, friendly(header.choices.update), links)
            build_delete_control(header)
        build_tool_tabs(model, s, release, links)  # Edit, Project, Judge
        with gr.Tab(t("tab.lab"), id="lab"):
            build_lab_tab(s.lab, links, s.lab2d)
        if s.library is not None:
            with gr.Tab(t("tab.library"), id="library"):
                build_library_tab(model, s.library)
        with gr.Tab(t("tab.lesson"), id="lesson"):
            build_lesson_tab(model, s.studio, s.judge, release, tabs, s.lab, s.lab2d)
    return tabs
