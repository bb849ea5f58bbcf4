"""ui.common: errors reach the page as messages, inputs and settings are matched by name."""

from __future__ import annotations

import html
import re

import gradio as gr
import pytest
import torch

from core.errors import UserInputError
from style.settings import StyleSettings
from tests.conftest import ROOT
from ui.common import (
    as_markdown_text,
    downloads_box,
    friendly,
    info,
    inputs_for,
    session_key,
    settings_from,
    visible_if_any,
    warning,
)


def test_user_errors_and_out_of_memory_become_messages():
    released = []

    def bad(x: float):
        raise UserInputError(f"x is {x}")

    def oom():
        raise torch.OutOfMemoryError("CUDA out of memory")

    with pytest.raises(gr.Error, match="x is 2"):
        friendly(bad)(2.0)
    with pytest.raises(gr.Error, match="must be a finite number"):
        friendly(bad)(float("nan"))
    with pytest.raises(gr.Error, match="ran out of memory"):
        friendly(oom, lambda: released.append(1))()
    assert released == [1]


def test_generators_are_wrapped_too():
    def stream(n: int):
        yield 1
        raise RuntimeError("boom")

    wrapped = friendly(stream)
    with pytest.raises(gr.Error, match="Something went wrong \\(RuntimeError\\)"):
        list(wrapped(1))


def test_inputs_follow_the_handler_parameters_by_name():
    def handler(b, a, request=None, progress=None):
        return a, b

    assert inputs_for(handler, {"a": "A", "b": "B", "unused": "U"}) == ["B", "A"]
    with pytest.raises(KeyError):
        inputs_for(handler, {"a": "A"})


def test_settings_are_built_by_field_name():
    settings = settings_from(StyleSettings, {"steps": 7, "tv_weight": 0.5, "network": "x"})
    assert settings == StyleSettings(steps=7, tv_weight=0.5)


def test_the_session_key_falls_back_to_api():
    assert session_key(None) == "api"


# --- What a visitor typed is shown as text (issue 19: HTML injection through links) ---------

HOSTILE_NAMES = [
    "<a href=//evil.example>Session expired: sign in again</a>",
    "<img src=x onerror=alert(1)>.png",
]


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_an_error_naming_a_hostile_file_shows_text_not_markup(name):
    def bad():
        raise UserInputError(f"the file {name} is not a readable image")

    with pytest.raises(gr.Error) as caught:
        friendly(bad)()
    message = caught.value.message
    assert "<" not in message
    assert html.unescape(message) == f"the file {name} is not a readable image"  # all of it


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_toasts_show_text_not_markup(name, monkeypatch):
    shown = []
    monkeypatch.setattr(gr, "Warning", shown.append)
    monkeypatch.setattr(gr, "Info", shown.append)
    warning(f"skipped {name}")
    info(f"skipped {name}")
    assert shown and all("<" not in s and html.unescape(s) == f"skipped {name}" for s in shown)


def test_messages_keep_what_is_not_markup_for_api_callers():
    def bad():
        raise UserInputError("lr must be >= 0, not 'x'")

    with pytest.raises(gr.Error, match="lr must be >= 0, not 'x'"):
        friendly(bad)()


def test_markdown_text_shows_links_and_tags_as_themselves():
    name = "[Session expired: sign in again](https://evil.example) <b>x</b>.png"
    rendered = _markdown_html(as_markdown_text(name))
    assert "href" not in rendered and "<b>" not in rendered
    assert html.unescape(rendered) == f"<p>{name}</p>\n"  # every character shown as itself


def _markdown_html(text: str) -> str:
    """The HTML that a CommonMark renderer makes of `text`."""
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark").render(text)


def test_the_tabs_make_toasts_only_through_the_escaping_helpers():
    """`gr.Warning`, `gr.Info` and `gr.Error` render their text as HTML: the tabs call
    `ui.common.warning`, `info` and `error`, which escape it."""
    raw = re.compile(r"\bgr\.(Warning|Info|Error)\(")
    offenders = [
        f"{path.name}:{n}"
        for path in (ROOT / "ui").glob("*.py")
        if path.name != "common.py"
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if raw.search(line)
    ]
    assert offenders == []


def test_a_downloads_box_is_a_result_hidden_until_it_holds_files():
    with gr.Blocks():
        files = downloads_box("Downloads")
    assert files.interactive is False  # no upload button or clear cross, despite its event
    assert files.visible == "hidden"
    assert visible_if_any(["a.png"])["visible"] is True
    assert visible_if_any(None)["visible"] == "hidden"
