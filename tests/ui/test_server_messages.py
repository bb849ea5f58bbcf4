"""Server messages in the visitor's language: a `UserInputError` with a key (`core.errors`) is
shown in the request's Accept-Language by `ui.common.as_gr_error`; API clients that send no
language read the English text, which matches the English locale file."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from gradio_client import Client, handle_file
from PIL import Image

from core.errors import Phrase, UserInputError
from tests.conftest import ROOT
from ui.common import as_gr_error, in_language
from ui.i18n import load_translations

EN = load_translations()["en"]


@pytest.fixture(scope="module")
def dutch_client(app_url):
    return Client(app_url, verbose=False, headers={"Accept-Language": "nl-NL,nl;q=0.9,en;q=0.5"})


def error_of(client, **call) -> str:
    with pytest.raises(Exception) as raised:
        client.predict(**call)
    return str(raised.value)


def test_a_dutch_browser_reads_why_its_file_is_no_image_in_dutch(dutch_client, tmp_path):
    text_png = tmp_path / "vakantie.png"
    text_png.write_text("dit is een tekstbestand\n")
    message = error_of(
        dutch_client,
        api_name="/stylize",
        content=handle_file(str(text_png)),
        style=handle_file(str(text_png)),
    )
    assert "vakantie.png is geen leesbare afbeelding" in message
    assert "not an image" not in message


def test_a_dutch_browser_reads_a_too_small_image_and_its_name_in_dutch(dutch_client, tmp_path):
    tiny = tmp_path / "tiny.png"
    Image.new("RGB", (1, 1)).save(tiny)
    message = error_of(
        dutch_client,
        api_name="/stylize",
        content=handle_file(str(tiny)),
        style=handle_file(str(tiny)),
    )
    assert "de inhoudsafbeelding is 1x1: elke zijde moet minstens" in message


def test_seeds_and_english_clients(dutch_client, client):
    assert "voer minstens één seed in" in error_of(dutch_client, api_name="/generate", seeds=" ")
    assert "enter at least one seed" in error_of(client, api_name="/generate", seeds=" ")


def test_a_phrase_is_translated_with_its_values_and_falls_back_to_english():
    what = Phrase("style image {number}", "msg.what.style_image", number=2)
    error = UserInputError("the {what} is an empty file", "msg.error.empty_file", what=what)
    assert str(error) == "the style image 2 is an empty file"
    assert in_language(error.phrase, "fi") == "tyylikuva 2: tiedosto on tyhjä"
    assert in_language(Phrase("plain {x}", "msg.error.no_such_key", x=1), "nl") == "plain 1"
    assert str(as_gr_error(error, lang="hr").message) == "slika stila 2: datoteka je prazna"


def keyed_texts(path: Path) -> list[tuple[str, str]]:
    """(key, English text) of every `UserInputError(...)` / `Phrase(...)` with a literal key."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.Call) or getattr(node.func, "id", None) not in (
            "UserInputError",
            "Phrase",
        ):
            continue
        args = [a for a in node.args[:2] if isinstance(a, ast.Constant)]
        key = next((k.value for k in node.keywords if k.arg == "key"), None)
        if len(args) == 2:
            out.append((args[1].value, args[0].value))
        elif key is not None and args:
            out.append((key.value, args[0].value))
    return out


def test_every_keyed_message_has_the_same_english_text_in_the_locale_file():
    found = [
        (str(path.relative_to(ROOT)), key, text)
        for folder in ("core", "gan", "style", "ui")
        for path in sorted((ROOT / folder).rglob("*.py"))
        for key, text in keyed_texts(path)
    ]
    assert len(found) >= 40
    wrong = [f"{p}: {k}" for p, k, text in found if EN.get(k) != text]
    assert wrong == []
