"""Helpers every tab shares: errors as messages, the session key, inputs by name."""

from __future__ import annotations

import dataclasses
import functools
import inspect
import logging
import math
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import gradio as gr

from core.device import is_out_of_memory
from core.errors import UserInputError

log = logging.getLogger("gan_studio")

T = TypeVar("T")
INJECTED = ("request", "progress")  # handler parameters that Gradio fills, not components

# Gradio concurrency lanes (`concurrency_id=..., concurrency_limit=...`): cheap requests never
# queue behind a stylisation or a fine-tune; heavy loops give way to cheap work between
# iterations (`core.lanes.PriorityGate`).
CHEAP_LANE = {"concurrency_id": "cheap", "concurrency_limit": 2}  # generate, interpolate, ...
HEAVY_LANE = {"concurrency_id": "heavy", "concurrency_limit": 1}  # stylize, projection
TRAIN_LANE = {"concurrency_id": "train", "concurrency_limit": 1}  # fine-tuning
# Small faces are sent at native resolution and scaled up crisply by the browser: give the
# gallery or image `elem_classes=[PIXELATED]`; `CSS` goes to `launch(css=...)`.
PIXELATED = "pixelated"
CSS = f".{PIXELATED} img {{ image-rendering: pixelated; }}"


def as_gr_error(error: Exception, release_memory: Callable[[], None] | None = None) -> Exception:
    """Turn any failure into a message for the person; the server keeps serving."""
    if isinstance(error, gr.Error):
        return error
    if isinstance(error, UserInputError):
        return gr.Error(str(error))
    if is_out_of_memory(error):
        if release_memory is not None:
            release_memory()
        log.warning("out of memory: %s", error)
        return gr.Error("The GPU ran out of memory: try a smaller size or fewer images.")
    log.exception("unexpected error", exc_info=error)
    return gr.Error(f"Something went wrong ({type(error).__name__}); the details are in the log.")


def _reject_non_finite(names: list[str], args: tuple, kwargs: dict) -> None:
    """NaN and infinite numbers cannot come from the sliders, but can through the API."""
    named = {**dict(zip(names, args, strict=False)), **kwargs}
    for name, value in named.items():
        if isinstance(value, float) and not math.isfinite(value):
            raise UserInputError(f"{name} must be a finite number, not {value}")


def friendly(fn: Callable, release_memory: Callable[[], None] | None = None) -> Callable:
    """Wrap a handler (plain or generator) so that errors reach the page as `gr.Error`;
    `release_memory()` gives cached GPU memory back after an out-of-memory error."""
    names = list(inspect.signature(fn).parameters)
    if inspect.isgeneratorfunction(fn):

        @functools.wraps(fn)
        def stream(*args, **kwargs):
            try:
                _reject_non_finite(names, args, kwargs)
                yield from fn(*args, **kwargs)
            except Exception as e:
                raise as_gr_error(e, release_memory) from e

        return stream

    @functools.wraps(fn)
    def call(*args, **kwargs):
        try:
            _reject_non_finite(names, args, kwargs)
            return fn(*args, **kwargs)
        except Exception as e:
            raise as_gr_error(e, release_memory) from e

    return call


def session_key(request: gr.Request | None) -> str:
    """The browser session (or API client) a request comes from: the key of its stop flag."""
    return getattr(request, "session_hash", None) or "api"


def inputs_for(fn: Callable, components: Mapping[str, Any]) -> list[Any]:
    """The input components of handler `fn`, looked up by its parameter names, in its order
    (the API's argument names and order are the handler's)."""
    names = [n for n in inspect.signature(fn).parameters if n not in INJECTED]
    return [components[n] for n in names]


def settings_from(cls: type[T], values: Mapping[str, Any]) -> T:
    """A settings dataclass from the values named like its fields (others are ignored)."""
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    return cls(**{k: v for k, v in values.items() if k in names})
