"""Helpers for the examples and permalink reruns of the heavy tabs (Style transfer, Project).

Gradio 6.31's lazy example cache (`cache_examples=True, cache_mode="lazy"`) runs a generator
handler to its end on the first click (`gradio.caching.resolve_generator`: no previews reach
the page meanwhile) and caches only the last value; it recognises a generator by
`inspect.isgeneratorfunction`, so an example's `fn` must itself be a generator function (a
lambda returning a generator would be cached as a generator object). The run is its own event
(`load_example_output`), outside the tabs' concurrency lanes; the handler's own checks (heavy
slot, wall-time cap, files) still apply, for the visitor whose click filled the cache.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gradio as gr

from ui.common import CALLER


def caller_kwargs(run: Callable, request: gr.Request | None) -> dict[str, Any]:
    """`gs_request=request` when `run` (made by `ui.common.friendly` under the app's guard)
    identifies its caller, so that the checks see who asked; nothing otherwise."""
    return {CALLER[0]: request} if CALLER[0] in inspect.signature(run).parameters else {}


def served(component: gr.components.Component, path: str | Path) -> str:
    """A copy of a file of the app's own (an example image) in Gradio's cache: the folder
    that the handlers accept files from and that the page is served from."""
    moved = component.move_resource_to_block_cache(str(path))
    assert moved is not None  # a path in, a path out
    return moved


def skips(n: int) -> tuple:
    """`n` outputs left as they are."""
    return tuple(gr.skip() for _ in range(n))
