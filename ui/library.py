"""The My latents tab: the visitor's latent library (thumbnails, name, space, model, origin);
download, rename, delete, and add latent files. Every tab takes its entries through the
picker of `ui.components.latent_picker`."""

from __future__ import annotations

import gradio as gr
from gradio.context import get_blocks_context

from gan import DEFAULT_MODEL
from gan.library.service import Entry, LatentLibrary
from ui.common import (
    CHEAP_LANE,
    PIXELATED,
    as_markdown_text,
    current_caller,
    downloads_box,
    friendly,
    inputs_for,
)
from ui.i18n import howto, language_of, t, translate


def caption(entry: Entry, lang: str = "en") -> str:
    """A thumbnail's caption: name, then space, model and origin (in the page's language)."""
    origin = translate(f"msg.library.origin.{entry.origin}", lang, seed=entry.seed)
    return f"{entry.name} · {entry.space} · {entry.model} · {origin}"


class LibraryHandlers:
    """The tab's events, each one call of `LatentLibrary` on the caller's own entries."""

    def __init__(self, library: LatentLibrary) -> None:
        self.library = library

    def library_list(self, request: gr.Request = None):
        """The caller's latents, newest first.

        Returns:
            a gallery of their thumbnails, captioned with their names;
            the entries as JSON (entry_id, name, space, model, family, shape, origin, seed,
            created, caption): pass an entry_id to /library_files, /library_rename or
            /library_delete.
        """
        owner, lang = current_caller().owner_id, language_of(request)
        shown = self.library.thumbnails(owner)
        gallery = [(str(path), entry.name) for path, entry in shown]
        listed = [entry.as_dict() | {"caption": caption(entry, lang)} for _, entry in shown]
        return gallery, listed

    def library_add(
        self,
        latent_files: list[str] | None = None,
        model: str = DEFAULT_MODEL,
        request: gr.Request = None,
    ):
        """Add .npy/.json latent files (z, or w for a StyleGAN) of `model` to My latents.

        Args:
            latent_files: the files; each file's first latent becomes an entry.
            model: the model the latents belong to (their shapes are checked against it).

        Returns:
            the gallery and entries, as /library_list.
        """
        self.library.add_files(current_caller().owner_id, model, latent_files or [])
        return self.library_list(request)

    def library_files(self, entry_id: str = ""):
        """One entry's files to download: the latent as .npy and .json, and its thumbnail.

        Args:
            entry_id: an entry_id from /library_list (only your own entries).
        """
        files = self.library.download(current_caller().owner_id, entry_id)
        return [str(p) for p in files]

    def library_rename(self, entry_id: str = "", name: str = "", request: gr.Request = None):
        """Give one of your entries a new name.

        Args:
            entry_id: an entry_id from /library_list.
            name: the new name (one line, at most 80 characters).

        Returns:
            the gallery and entries, as /library_list.
        """
        self.library.rename(current_caller().owner_id, entry_id, name)
        return self.library_list(request)

    def library_delete(self, entry_id: str = "", request: gr.Request = None):
        """Delete one of your entries.

        Args:
            entry_id: an entry_id from /library_list.

        Returns:
            the gallery and entries, as /library_list.
        """
        self.library.delete(current_caller().owner_id, entry_id)
        return self.library_list(request)


def chosen_entry(entries: list[dict] | None, event: gr.SelectData) -> tuple[str, str, str]:
    """The entry of the thumbnail clicked, from the page's own list: (its id, its name for
    the name box, its caption as text)."""
    if not entries or not 0 <= event.index < len(entries):
        return "", "", ""
    entry = entries[event.index]
    text = as_markdown_text(entry.get("caption", ""))
    return str(entry.get("entry_id", "")), str(entry.get("name", "")), text


def build_library_tab(model: gr.Dropdown, library: LatentLibrary) -> None:
    """The My latents tab's components and events (API: `/library_list`, `/library_add`,
    `/library_files`, `/library_rename`, `/library_delete`)."""
    handlers = LibraryHandlers(library)
    gr.Markdown(t("library.note"))
    gallery = gr.Gallery(
        label=t("library.gallery.label"),
        columns=8,
        rows=1,
        height="auto",
        object_fit="contain",
        elem_id="my-latents",
        elem_classes=[PIXELATED],
    )
    entries = gr.JSON(visible=False)
    details = gr.Markdown()
    c = _controls(model)
    downloads = downloads_box(t("library.downloads.label"))
    outputs = [gallery, entries]
    _wire(handlers, c, outputs, downloads)
    chosen = [c["entry_id"], c["name"], details]
    gallery.select(chosen_entry, entries, chosen, api_visibility="private", queue=False)
    howto("library")


def _controls(model: gr.Dropdown) -> dict:
    """The selected entry's name box and buttons, and the upload box."""
    c: dict = {"model": model, "entry_id": gr.Textbox(visible=False)}
    with gr.Row():
        c["name"] = gr.Textbox(label=t("library.name.label"), scale=3)
        c["rename"] = gr.Button(t("library.rename"), size="sm", scale=1)
        c["download"] = gr.Button(t("library.download"), size="sm", scale=1)
        c["delete"] = gr.Button(t("library.delete"), size="sm", variant="stop", scale=1)
    with gr.Accordion(t("library.upload.accordion"), open=False):
        c["latent_files"] = gr.File(
            label=t("library.upload.label"),
            file_count="multiple",
            file_types=[".npy", ".json"],
            type="filepath",
        )
        c["add"] = gr.Button(t("library.add"), size="sm")
    return c


def _wire(handlers: LibraryHandlers, c: dict, outputs: list, downloads: gr.File) -> None:
    """The tab's events; the list refreshes on page load and after every change."""
    listed = friendly(handlers.library_list)
    load = get_blocks_context().root_block.load
    load(listed, None, outputs, api_name="library_list", **CHEAP_LANE)
    events = [
        (c["add"], handlers.library_add, outputs),
        (c["rename"], handlers.library_rename, outputs),
        (c["delete"], handlers.library_delete, outputs),
        (c["download"], handlers.library_files, downloads),
    ]
    for button, fn, out in events:
        button.click(friendly(fn), inputs_for(fn, c), out, api_name=fn.__name__, **CHEAP_LANE)
