"""The header shared by every tab: the title, the face-model dropdown, the Hub status."""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr
from gradio.context import get_blocks_context

from core import store
from gan import DEFAULT_MODEL
from gan.generate.service import FaceStudio
from ui.common import (
    HEADER_ROW,
    HUB_STATUS,
    PAGE_LOAD,
    current_caller,
    friendly,
    installed_guard,
    on_a_space,
    sign_in_offered,
)
from ui.i18n import language_of, language_selector, t, translate


def device_line(device_label: str, request: gr.Request = None) -> str:
    """The "Running on **CPU**." line in the browser's language (English without a request)."""
    return translate("msg.app.device", language_of(request), device=device_label)


def hub_status(request: gr.Request = None) -> str:
    """Whether the Hub answers, in the browser's language (English without a request)."""
    lang = language_of(request)
    if store.hub_reachable():
        return translate("msg.hub.reachable", lang, host=store.hub_host())
    return translate("msg.hub.offline", lang)


class ModelChoices:
    """The dropdown's choices, fresh each time (new fine-tunes show up without a restart)."""

    def __init__(self, studio: FaceStudio, guard=None) -> None:
        self.studio = studio
        self.guard = guard

    def visible(self) -> list[str]:
        """The shared models, then the caller's own (a visitor sees no one else's)."""
        if self.guard is None:
            return self.studio.model_choices()
        return self.guard.models.visible_to(current_caller())

    def update(self, current: str | None = None) -> dict:
        """Fresh choices for the dropdown. A valid `current` is left alone (no value in the
        update): the answer may arrive after the person picked another model, on a busy
        server, and must not put the old one back; an invalid one falls back to the default."""
        choices = self.visible()
        if current in choices:
            return gr.update(choices=choices)
        fallback = DEFAULT_MODEL if DEFAULT_MODEL in choices else None
        return gr.update(choices=choices, value=fallback or (choices[0] if choices else None))


@dataclass
class Header:
    model: gr.Dropdown  # the face model every GAN tab uses
    status: gr.Markdown
    choices: ModelChoices
    device: gr.Markdown  # "Running on ...", filled in the browser's language on load
    device_label: str

    def wire_page_load(self, demo: gr.Blocks) -> None:
        """On every page load: fresh model choices and the Hub status."""
        update = friendly(self.choices.update)
        demo.load(update, self.model, self.model, **PAGE_LOAD)
        demo.load(hub_status, None, self.status, **PAGE_LOAD)
        demo.load(self.device_line, None, self.device, **PAGE_LOAD)

    def device_line(self, request: gr.Request = None) -> str:
        """The "Running on" line in this request's language."""
        return device_line(self.device_label, request)


def build_header(studio: FaceStudio, device_label: str) -> Header:
    """Title, model dropdown (shared by the tabs), refresh button and Hub status."""
    gr.Markdown("# GAN Studio")
    with gr.Row():
        gr.Markdown(t("app.description"))
        device = gr.Markdown(device_line(device_label), scale=0, min_width=160)
    choices = ModelChoices(studio, installed_guard())
    if sign_in_offered():
        gr.LoginButton(size="sm")  # sign in with Hugging Face: push, longer runs
    with gr.Row(elem_id=HEADER_ROW, equal_height=True):
        model = gr.Dropdown(
            studio.model_choices(),
            value=DEFAULT_MODEL,
            label=t("model.label"),
            info=t("model.info"),
            scale=3,
            min_width=240,
            # New fine-tunes must be usable through the API without a restart; the
            # handlers validate the name against the model store instead.
            allow_custom_value=True,
        )
        refresh = gr.Button(t("model.refresh"), scale=0, size="sm", min_width=100)
        status = gr.Markdown(scale=1, min_width=200, elem_id=HUB_STATUS)
        language_selector(get_blocks_context().root_block)  # app.py's call then reuses it
    update = friendly(choices.update)
    refresh.click(update, model, model, api_visibility="private")
    model.focus(update, model, model, api_visibility="private", show_progress="hidden")
    return Header(model, status, choices, device, device_label)


class MyModels:
    """The "Delete my model" event of a visitor."""

    def __init__(self, guard) -> None:
        self.guard = guard

    def delete_model(self, model: str, request: gr.Request = None) -> str:
        """Delete the caller's own model (shared models and others' cannot be deleted)."""
        self.guard.models.delete(current_caller(), (model or "").strip())
        return translate("msg.header.deleted", language_of(request), model=model)


def build_delete_control(header: Header) -> None:
    """The "Delete my model" button (visitors only): removes the chosen model, if theirs."""
    guard = installed_guard()
    if guard is None or not on_a_space():
        return
    mine = MyModels(guard)
    with gr.Row():
        button = gr.Button(t("header.delete"), variant="stop", size="sm", scale=0)
        note = gr.Markdown()
    button.click(friendly(mine.delete_model), header.model, note, api_visibility="private").then(
        friendly(header.choices.update), header.model, header.model, api_visibility="private"
    )
