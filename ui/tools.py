"""The Edit, Project and Judge tabs (issue 13), built together so that Project can send its
latents to Edit."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gradio as gr

from ui.edit import build_edit_tab
from ui.i18n import t
from ui.judge import build_judge_tab
from ui.links import Permalinks
from ui.project import build_project_tab


def build_tool_tabs(
    model: gr.Dropdown,
    services: Any,
    release_memory: Callable[[], None] | None = None,
    links: Permalinks | None = None,
) -> None:
    """The three tabs, inside the app's `gr.Tabs()`, each with its permalink."""
    with gr.Tab(t("tab.edit"), id="edit"):
        edit = build_edit_tab(model, services.editor, release_memory, links)
    with gr.Tab(t("tab.project"), id="project"):
        build_project_tab(
            model,
            services.projector,
            release_memory,
            {"Edit": edit.latent_text},
            links,
            getattr(services, "morpher", None),
        )
    with gr.Tab(t("tab.judge"), id="judge"):
        build_judge_tab(model, services.judge, release_memory, links)
