"""The Edit, Project and Judge tabs (issue 13), built together so that Project can send its
latents to Edit; Project's latents also go into My latents, from where every tab takes them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gradio as gr

from gan.library.service import Origin
from ui.common import current_caller
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
    library = getattr(services, "library", None)
    with gr.Tab(t("tab.edit"), id="edit"):
        edit = build_edit_tab(model, services.editor, release_memory, links, library)
    with gr.Tab(t("tab.project"), id="project"):
        keep = keep_projection(library) if library is not None else None
        send_to = {"Edit": edit.latent_text}
        build_project_tab(
            model,
            services.projector,
            release_memory,
            send_to,
            links,
            morpher=getattr(services, "morpher", None),
            keep=keep,
        )
    with gr.Tab(t("tab.judge"), id="judge"):
        build_judge_tab(model, services.judge, release_memory, links, library)


def keep_projection(library: Any) -> Callable[[str, str], object]:
    """Project's `keep`: a finished projection into the caller's My latents."""

    def keep(model: str, latent_text: str) -> object:
        owner = current_caller().owner_id
        return library.add_text(owner, model, latent_text, Origin("projection"))

    return keep
