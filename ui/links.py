"""The page side of permalinks (ui/permalink.py): "Copy link" buttons, restore and rerun on load.

Each tab registers its linkable components and its run handler (`Permalinks.add`); `wire`
adds the page-load events. The browser puts the page's query string into a box the page hides
(`LINK_QUERY_JS`); only when it holds a link does that box's change run one chain: read
`request.query_params`, put the values into the components, open the tab, then rerun it with
exactly the linked values (they are passed to the handler from a state, not read back from the
components, so that the rerun cannot race other load events). A tab added with `on_load=True`
(Generate) runs its default values on every page load when the URL has no valid link for it,
so the first page is never empty. Invalid links give a warning and leave the defaults.

Why the gate: Gradio 6.31's page keeps a loading status for every component that any event of
the page has ever output to, and after each status change of any later event it looks each
of them up by walking the whole layout tree. The restore chain outputs to some 140 components
all over the page, so running it on every load made each later Generate click cost ~150 ms
of the browser's time; a page opened without a link never adds them.
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
from ui.common import LINK_QUERY, warning
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
        """The page-load events: each `on_load` tab's first run, and the link chain (run only
        when the page's URL carries parameters)."""
        self.has_tabs = tabs is not None
        for linked in self.tabs.values():
            if linked.on_load and linked.run is not None:
                demo.load(_first_run(linked), None, linked.outputs, **_lane(linked))
        query = gr.Textbox("", show_label=False, container=False, elem_classes=[LINK_QUERY])
        demo.load(None, None, query, js=LINK_QUERY_JS, api_visibility="private")
        state = gr.State(None)  # (tab, values) of the link, or None
        targets = [c for t in self.tabs.values() for c in t.components.values()]
        targets = list(dict.fromkeys(targets))  # the shared model dropdown once
        load = query.change(
            self._restore(targets),
            None,
            [state, *targets, *([tabs] if tabs is not None else [])],
            api_visibility="private",  # queued: a bad link's warning travels with the queue
            show_progress="hidden",
        )
        for linked in self.tabs.values():
            if linked.run is not None:
                load.then(_rerun(linked), state, linked.outputs, **_lane(linked))

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


# The page's query string when it holds anything but Gradio's own `__` parameters, else ""
# (which leaves the box unchanged, so that the link chain does not run).
LINK_QUERY_JS = """() => {
  const keys = [...new URLSearchParams(location.search).keys()];
  return keys.some(k => !k.startsWith("__")) ? location.search : "";
}"""


def _lane(linked: LinkedTab) -> dict[str, Any]:
    limit = 1 if linked.concurrency_id else "default"
    lane = {"concurrency_id": linked.concurrency_id, "concurrency_limit": limit}
    return {"api_visibility": "private", **lane}


def _values_for(linked: LinkedTab, link: tuple[str, dict] | None) -> dict[str, Any] | None:
    """The handler's keyword arguments for this tab's link, or None when it is not linked."""
    if link is not None and link[0] == linked.tab:
        return linked.defaults | link[1]
    return None


def _linked_here(linked: LinkedTab, request: gr.Request | None) -> bool:
    """Whether the page's URL holds a valid link to this tab (its rerun then runs it)."""
    try:
        link = permalink.decode(dict(request.query_params)) if request is not None else None
    except UserInputError:
        return False
    return link is not None and link[0] == linked.tab


def _first_run(linked: LinkedTab) -> Callable:
    """An `on_load` tab's run with its defaults, unless the URL links to the tab."""
    run = linked.run
    assert run is not None and not inspect.isgeneratorfunction(run), "on_load runs return"

    def first_run(request: gr.Request = None):
        if _linked_here(linked, request):
            return _unchanged(linked)
        return run(**linked.defaults, **_injected(run, request))

    return first_run


def _rerun(linked: LinkedTab) -> Callable:
    run = linked.run
    assert run is not None
    if inspect.isgeneratorfunction(run):

        def rerun_stream(link, request: gr.Request = None):
            values = _values_for(linked, link)
            if values is None:
                yield _unchanged(linked)
                return
            yield from run(**values, **_injected(run, request))

        return rerun_stream

    def rerun(link, request: gr.Request = None):
        values = _values_for(linked, link)
        if values is None:
            return _unchanged(linked)
        return run(**values, **_injected(run, request))

    return rerun


def _unchanged(linked: LinkedTab) -> Any:
    """The update that leaves every output of the tab's run as it is."""
    n = len(linked.outputs)
    return [gr.skip()] * n if n > 1 else gr.skip()


def _injected(run: Callable, request: gr.Request | None) -> dict[str, Any]:
    return {"request": request} if "request" in inspect.signature(run).parameters else {}
