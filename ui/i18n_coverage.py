"""How much of the built page goes through `gr.I18n`: the visible strings of a Blocks.

Counted: every component's label, info and placeholder, a button's text, a Markdown's text,
a tab's and an accordion's title, and the shown names of a radio's, checkbox group's or
dropdown's choices. A Markdown that the server writes on each page load (the device line,
the loss network in use) holds a server message, written by `translate` in the request's
language, and is not counted. Names that read the same in every language (`NAMES`: GIF, StyleGAN2,
lbfgs, ...), numbers and empty or hidden-only strings are left out. `python -m
ui.i18n_coverage` prints the share and the plain strings left.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

# Read the same in every language: names, file types, symbols, the API's own values.
NAMES = {
    "GAN Studio",
    "# GAN Studio",
    "GIF",
    "MP4",
    "PNG",
    "A",
    "B",
    "StyleGAN",
    "StyleGAN2",
    "lbfgs",
    "adam",
    "lerp",
    "slerp",
    "z",
    "w",
    "const",
    "random",
    "none",
    "ada",
    "diffaugment",
    "color",
    "translation",
    "cutout",
    "info",
    "example",
    *("English", "Nederlands", "Tagalog", "Ελληνικά", "Suomi", "Hrvatski"),  # endonyms
}
# A choice that names a thing (a model such as `dcgan-digiface`, a path), not a word.
IDENTIFIER = re.compile(r"[a-z0-9]+(?:[-_/.][a-z0-9]+)+")
MARK = "__i18n__"  # Gradio turns a key in a Button's or a Markdown's value into this string
PROPS = ("label", "info", "placeholder")
VALUE_TEXT = ("Button", "Markdown", "DownloadButton", "UploadButton", "LoginButton")


def _texts(block: object) -> Iterator[object]:
    """The visible strings of one block (I18nData or str)."""
    for prop in PROPS:
        yield getattr(block, prop, None)
    if type(block).__name__ in VALUE_TEXT:
        yield getattr(block, "value", None)
    for choice in getattr(block, "choices", None) or []:
        name = choice[0] if isinstance(choice, tuple | list) else choice
        if not (isinstance(name, str) and IDENTIFIER.fullmatch(name)):
            yield name


def strings(demo: object) -> tuple[list[str], list[str]]:
    """(translated keys, plain strings) over every block of `demo`, hidden ones too (they
    show when the model or the run calls for them)."""
    from gradio.i18n import I18nData

    keys, plain = [], []
    server = _loaded_markdown(demo)
    for block in demo.blocks.values():
        if getattr(block, "load_event_to_attach", None) or block._id in server:
            continue  # a value computed on each page load: a server message (`translate`)
        for text in _texts(block):
            if isinstance(text, I18nData):
                keys.append(text.key)
            elif isinstance(text, str) and text.startswith(MARK):
                keys.append(json.loads(text[len(MARK) :])["key"])
            elif isinstance(text, str) and _counts(text):
                plain.append(text)
    return keys, plain


def _loaded_markdown(demo: object) -> set[int]:
    """The ids of the Markdown blocks that a page-load event writes (server messages)."""
    ids = set()
    for fn in demo.fns.values():
        if any(event == "load" for _, event in fn.targets):
            ids |= {o._id for o in fn.outputs if type(o).__name__ == "Markdown"}
    return ids


def _counts(text: str) -> bool:
    """A plain string that a visitor reads as words (not a name, number or nothing)."""
    text = text.strip()
    return bool(text) and text not in NAMES and bool(re.search("[A-Za-z]{2}", text))


def share(demo: object) -> float:
    """The share of the visible strings that are `gr.I18n` keys (0..1)."""
    keys, plain = strings(demo)
    return len(keys) / max(1, len(keys) + len(plain))


def main() -> None:
    import app

    demo = app.build_demo()
    keys, plain = strings(demo)
    total = len(keys) + len(plain)
    print(f"{len(keys)} of {total} visible strings go through gr.I18n: {share(demo):.1%}")
    for text in sorted(set(plain)):
        print("  plain:", text[:100].replace("\n", " "))


if __name__ == "__main__":
    main()
