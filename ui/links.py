"""The page side of permalinks (ui/permalink.py): "Copy link" buttons, restore and rerun on load.

Each tab registers its linkable components and its run handler (`Permalinks.add`); `wire`
adds one page-load chain: read `request.query_params`, put the values into the components,
open the tab, then rerun it with exactly the linked values (they are passed to the handler
from a state, not read back from the components, so that the rerun cannot race other load
events). A tab added with `on_load=True` (Generate) runs on every page load, with its default
values when the URL has no link for it, so the first page is never empty. Invalid links give a
warning and leave the defaults.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import gradio as gr

from core.errors import UserInputError
from ui import permalink
from ui.common import warning
from ui.i18n import t

log = logging.getLogger("gan_studio")


@dataclass
class LinkedTab:
    tab: str
    components: dict[str, Any]  # field name -> component
    run: Callable | None  # the (friendly-wrapped) handler, called by keyword
    outputs: list[Any]
    on_load: bool = False
    defaults: dict[str, Any] = field(default_factory=dict)
    concurrency_id: str | None = None


class Permalinks:
    """The registry the tabs add themselves to; `wire(demo, tabs)` once at the end."""

    def __init__(self) -> None:
        self.tabs: dict[str, LinkedTab] = {}

    def add(
        self,
        tab: str,
        components: dict[str, Any],
        run: Callable | None = None,
        outputs: list[Any] | None = None,
        on_load: bool = False,
        concurrency_id: str | None = None,
    ) -> gr.Textbox:
        """Register a tab and add its "Copy link" button (call inside the tab's layout)."""
        names = [f.name for f in permalink.fields(tab) if f.name in components]
        linked = {n: components[n] for n in names}
        defaults = {n: getattr(c, "value", None) for n, c in linked.items()}
        self.tabs[tab] = LinkedTab(
            tab, linked, run, outputs or [], on_load, defaults, concurrency_id
        )
        with gr.Row():
            button = gr.Button(t("common.copy_link"), size="sm", scale=0, min_width=140)
            link = gr.Textbox(
                show_label=False, container=False, placeholder=t("common.link"), scale=4
            )
        button.click(
            None,
            [linked[n] for n in names],
            link,
            js=permalink.copy_link_js(tab, names),
            api_visibility="private",
        )
        return link

    def wire(self, demo: gr.Blocks, tabs: gr.Tabs | None = None) -> None:
        self.has_tabs = tabs is not None
        state = gr.State(None)  # (tab, values) of the link, or None
        targets = [c for t in self.tabs.values() for c in t.components.values()]
        targets = list(dict.fromkeys(targets))  # the shared model dropdown once
        load = demo.load(
            self._restore(targets),
            None,
            [state, *targets, *([tabs] if tabs is not None else [])],
            api_visibility="private",  # queued: a bad link's warning travels with the queue
            show_progress="hidden",
        )
        for linked in self.tabs.values():
            if linked.run is not None:
                load.then(
                    _rerun(linked),
                    state,
                    linked.outputs,
                    api_visibility="private",
                    concurrency_id=linked.concurrency_id,
                    concurrency_limit=1 if linked.concurrency_id else "default",
                )

    def _restore(self, targets: list[Any]) -> Callable:
        def restore(request: gr.Request):
            skip = [gr.skip() for _ in targets]
            try:
                link = permalink.decode(dict(request.query_params))
            except UserInputError as e:
                warning(f"This link cannot be opened: {e}")
                link = None
            if link is None:
                return [None, *skip, *([gr.skip()] if self.has_tabs else [])]
            tab, values = link
            components = self.tabs[tab].components if tab in self.tabs else {}
            by_component = {id(components[n]): v for n, v in values.items() if n in components}
            updates = [
                gr.update(value=by_component[id(t)]) if id(t) in by_component else gr.skip()
                for t in targets
            ]
            return [link, *updates, *([gr.Tabs(selected=tab)] if self.has_tabs else [])]

        return restore


def _values_for(linked: LinkedTab, link: tuple[str, dict] | None) -> dict[str, Any] | None:
    """The handler's keyword arguments for this tab, or None when it should not run."""
    if link is not None and link[0] == linked.tab:
        return linked.defaults | link[1]
    return dict(linked.defaults) if linked.on_load else None


def _rerun(linked: LinkedTab) -> Callable:
    run = linked.run
    assert run is not None
    n = len(linked.outputs)
    if inspect.isgeneratorfunction(run):

        def rerun_stream(link, request: gr.Request = None):
            values = _values_for(linked, link)
            if values is None:
                yield [gr.skip()] * n if n > 1 else gr.skip()
                return
            yield from run(**values, **_injected(run, request))

        return rerun_stream

    def rerun(link, request: gr.Request = None):
        values = _values_for(linked, link)
        if values is None:
            return [gr.skip()] * n if n > 1 else gr.skip()
        return run(**values, **_injected(run, request))

    return rerun


def _injected(run: Callable, request: gr.Request | None) -> dict[str, Any]:
    return {"request": request} if "request" in inspect.signature(run).parameters else {}
