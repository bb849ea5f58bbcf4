"""Helpers every tab shares: errors as messages, who is asking, the session key, inputs by name.

`friendly(fn)` also makes every event identify its caller on the server: it adds the
parameters Gradio fills and hides from the API (`gr.Request`, `gr.OAuthProfile | None`,
`gr.OAuthToken | None`), asks the app's `SpaceGuard` who is asking, runs the handler's checks
from `ui.policy` (files, quotas, ownership, tokens) and runs the handler with the model store
scoped to that caller (`core.store.scoped`). The composition root installs the guard with
`guarding(guard)` while the tabs are built; with none installed (a tab built alone in a test)
the caller is the owner at the keyboard, as before.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import logging
import math
import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, TypeVar

import gradio as gr

from core.device import is_out_of_memory
from core.errors import Phrase, UserInputError
from core.identity import OWNER, Identity
from core.quotas import Quotas
from ui.i18n import has_message, language_of, translate

log = logging.getLogger("gan_studio")

T = TypeVar("T")
INJECTED = ("request", "progress")  # handler parameters that Gradio fills, not components
# The parameters `friendly` adds (filled by Gradio, hidden from the API).
CALLER = ("gs_request", "gs_profile", "gs_oauth")

_GUARD: ContextVar[Any] = ContextVar("gan_studio_guard", default=None)
_WHO: ContextVar[Identity | None] = ContextVar("gan_studio_caller", default=None)
_DEADLINE: ContextVar[Any] = ContextVar("gan_studio_deadline", default=None)
_QUOTAS: ContextVar[Any] = ContextVar("gan_studio_quotas", default=None)


@contextmanager
def guarding(guard: Any) -> Iterator[None]:
    """Events made by `friendly` inside the block check their caller with `guard`."""
    token = _GUARD.set(guard)
    try:
        yield
    finally:
        _GUARD.reset(token)


def installed_guard() -> Any:
    """The `SpaceGuard` of the app being built (None outside `guarding`)."""
    return _GUARD.get()


def current_caller() -> Identity:
    """Who is asking, inside a handler made by `friendly` (the owner outside one)."""
    return _WHO.get() or OWNER


def current_deadline() -> Any:
    """The wall-time cap (`core.quotas.Deadline`) of the job being run, inside a handler made
    by `friendly`, for its data preparation to check; None when the job has none."""
    return _DEADLINE.get()


def current_quotas() -> Quotas:
    """The limits of the caller, inside a handler made by `friendly`: the guard's for a
    visitor, the owner's (`Quotas.for_owner`) at the keyboard or without a guard."""
    return _QUOTAS.get() or Quotas.for_owner()


def sign_in_offered() -> bool:
    """While building: whether visitors can sign in with Hugging Face: only on a real Space
    (Gradio's own test, `SYSTEM=spaces`). Elsewhere Gradio would mock the sign-in with the
    machine's own login, which must never reach a visitor."""
    guard = _GUARD.get()
    return guard is not None and guard.deployment.on_space and os.environ.get("SYSTEM") == "spaces"


def on_a_space() -> bool:
    """While building: whether the app being built is served to visitors (hides the
    token box, shows the sign-in button)."""
    guard = _GUARD.get()
    return guard is not None and not guard.deployment.owner_at_keyboard


# Gradio concurrency lanes (`concurrency_id=..., concurrency_limit=...`): cheap requests never
# queue behind a stylisation or a fine-tune; heavy loops give way to cheap work between
# iterations (`core.lanes.PriorityGate`).
CHEAP_LANE = {"concurrency_id": "cheap", "concurrency_limit": 2}  # generate, interpolate, ...
HEAVY_LANE = {"concurrency_id": "heavy", "concurrency_limit": 1}  # stylize, projection
TRAIN_LANE = {"concurrency_id": "train", "concurrency_limit": 1}  # fine-tuning
LAB2D_LANE = {"concurrency_id": "lab2d", "concurrency_limit": 2}  # 2D lab: slices of <= 0.3 s
# Judge decodes uploads (under its own pixel budget): never in the cheap lane's two slots.
JUDGE_LANE = {"concurrency_id": "judge", "concurrency_limit": 1}
# Cheap page-load events (choices, status lines, model checks) outside the queue: the browser
# sends them as parallel HTTP calls instead of one queue round trip each. Not for an event that
# shows a warning (`gr.Warning` travels with the queue's messages).
PAGE_LOAD = {"queue": False, "api_visibility": "private", "show_progress": "hidden"}
# Small faces are sent at native resolution and scaled up crisply by the browser: give the
# gallery or image `elem_classes=[PIXELATED]`; `CSS` goes to `launch(css=...)`.
PIXELATED = "pixelated"
HEADER_ROW = "gs-header"  # the header's one row: model, refresh, Hub status, language
HUB_STATUS = "gs-hub-status"
LARGE_RESULT = "gs-large-result"  # an image that fills its box, however small its pixels
LINK_QUERY = "gs-link-query"  # ui.links: the page's query string (mounted, never shown)
# A latent-file box: its label may wrap to two lines at 390 px, clear of the upload icon.
LATENT_FILES_HEIGHT = 170
# When an event fails, Gradio 6.31's page shows the message as a toast and also sets every
# output's status tracker to "error" (`Blocks`: the catch after `log_cb` calls
# `update_loading_status({status: "error"})`), which draws a translucent cover with a red
# "Error" badge (`<span class="error">` in `[data-testid=status-tracker]`, statustracker.js)
# over the last result. No event option turns off only that: `show_progress="hidden"` would
# hide the progress of the runs too. The app's failures are all messages for a toast (bad
# input, a quota, a busy slot): the page hides that tracker, and the result stays visible.
ERROR_BADGE = "[data-testid=status-tracker]:has(> span.error)"
CSS = f"""
.{PIXELATED} img {{ image-rendering: pixelated; }}
.{LINK_QUERY} {{ display: none !important; }}
/* Gallery: room above the grid for the label and the toolbar, so neither covers a face. The
   app's galleries ask for height="auto", which Gradio 6.31 caps at 55vh with a scroll bar (its
   `fixed-height` class), so the last row of a Style mixing grid was cut: they grow instead. */
.grid-wrap:has(> .grid-container) {{ padding-top: 2.5rem !important; }}
.grid-wrap.fixed-height:has(> .grid-container) {{ max-height: none !important; }}
/* My latents: thumbnails at a steady size however few there are (Gradio stretches a short
   gallery's columns over the whole width). */
#my-latents .grid-container {{
  grid-template-columns: repeat(auto-fill, minmax(110px, 150px)) !important;
}}
#my-latents .grid-wrap.fixed-height {{ min-height: 0 !important; }}
/* A tab's main result fills its box (a 64 px face drawn large, not as a thumbnail). */
.{LARGE_RESULT} img {{ width: 100%; height: 100%; object-fit: contain; }}
/* The 2D lab's square views: boxes as wide as their pictures, side by side and centred (a
   wide box drew white bands beside the picture); on a phone they stack. */
.lab2d-d-view, .lab2d-g-view {{ flex: 0 1 340px !important; }}
.lab2d-d-view img, .lab2d-g-view img {{ width: 100%; height: auto; }}
.row:has(> .lab2d-d-view) {{ justify-content: center; }}
/* The header wraps on a phone; the Hub status keeps whole words. */
#{HEADER_ROW} {{ flex-wrap: wrap; align-items: center; }}
#{HUB_STATUS} {{ min-width: 12rem; word-break: normal; overflow-wrap: normal; }}
/* No "Error" badge over a result: the toast says what went wrong (see ERROR_BADGE). */
{ERROR_BADGE} {{ display: none !important; }}
@media (max-width: 640px) {{
  .grid-container {{ grid-template-columns: repeat(auto-fill, minmax(72px, 1fr)) !important; }}
}}
"""


# --- Messages for the page --------------------------------------------------------------------
# Gradio renders the text of `gr.Error`, `gr.Warning` and `gr.Info` as HTML, and messages carry
# what a visitor typed (a link's parameter names, a file's or a model's name). The app makes its
# toasts only through `error`, `warning` and `info`, which escape the text, so that such a name
# shows as text and never as a link or markup (a test keeps the tabs off the raw ones).


def as_text(message: object) -> str:
    """`message` as HTML text: `&` and `<` escaped, so no tag (link, image, script) can open
    and no entity is read as another character. `>` and quotes mean nothing outside a tag, so
    they stay as they are for API callers, who read the same text ("must be >= 0")."""
    return str(message).replace("&", "&amp;").replace("<", "&lt;")


_MARKDOWN_PUNCTUATION = str.maketrans({c: "\\" + c for c in "\\`*_{}[]()#+-.!|~"})


def as_markdown_text(message: object) -> str:
    """`message` as text inside a `gr.Markdown` value: HTML and Markdown syntax escaped, so a
    name like `[Sign in](//elsewhere)` or `<a href=...>` shows as itself, never as a link."""
    return as_text(message).replace(">", "&gt;").translate(_MARKDOWN_PUNCTUATION)


def error(message: object) -> gr.Error:
    """A `gr.Error` that shows `message` as text (raise it)."""
    return gr.Error(as_text(message))


def warning(message: object) -> None:
    """A warning toast that shows `message` as text."""
    gr.Warning(as_text(message))


def info(message: object) -> None:
    """An info toast that shows `message` as text."""
    gr.Info(as_text(message))


def as_gr_error(
    error: Exception,
    release_memory: Callable[[], None] | None = None,
    lang: str = "en",
) -> Exception:
    """Turn any failure into a message for the person (as text, in `lang` where the message
    has a key); the server keeps serving."""
    if isinstance(error, gr.Error):
        return error  # made by `error` (escaped already) or by Gradio
    if isinstance(error, UserInputError):
        return _error(in_language(error.phrase, lang))
    if is_out_of_memory(error):
        if release_memory is not None:
            release_memory()
        log.warning("out of memory: %s", error)
        return _error(in_language(OUT_OF_MEMORY, lang))
    log.exception("unexpected error", exc_info=error)
    return _error(
        in_language(Phrase(UNEXPECTED, "msg.error.unexpected", kind=type(error).__name__), lang)
    )


OUT_OF_MEMORY = Phrase(
    "The GPU ran out of memory: try a smaller size or fewer images.", "msg.error.out_of_memory"
)
UNEXPECTED = "Something went wrong ({kind}); the details are in the log."


def in_language(phrase: Phrase, lang: str) -> str:
    """`phrase` in `lang` (`ui/locales`), its values filled (phrases among them translated
    too); its English text where it has no key or the key is unknown."""
    values = {
        k: in_language(v, lang) if isinstance(v, Phrase) else v for k, v in phrase.values.items()
    }
    if phrase.key is None or not has_message(phrase.key):
        return phrase.text.format(**values) if values else phrase.text
    return translate(phrase.key, lang, **values)


def language_of_call(names: list[str], args: tuple, kwargs: dict) -> str:
    """The page language of the request among a handler's arguments (the one `friendly` adds
    or the handler's own `request`); English without one (API clients send none)."""
    named = {**dict(zip([*names, *CALLER], args, strict=False)), **kwargs}
    return language_of(named.get("gs_request") or named.get("request"))


_error = error  # `as_gr_error`'s parameter hides the name


class RefusedUpload:
    """What an input's pre-processing hands the handler instead of a file it refused (Gradio
    runs it before the handler, without the request): `friendly` raises its message in the
    visitor's language before the handler runs."""

    def __init__(self, phrase: Phrase) -> None:
        self.phrase = phrase


def _reject_bad_input(names: list[str], args: tuple, kwargs: dict) -> None:
    """A refused upload; NaN and infinite numbers (they cannot come from the sliders, but can
    through the API)."""
    named = {**dict(zip(names, args, strict=False)), **kwargs}
    for name, value in named.items():
        if isinstance(value, RefusedUpload):
            raise UserInputError(value.phrase)
        if isinstance(value, float) and not math.isfinite(value):
            raise UserInputError(
                "{name} must be a finite number, not {value}",
                "msg.error.not_finite",
                name=name,
                value=value,
            )


def friendly(fn: Callable, release_memory: Callable[[], None] | None = None) -> Callable:
    """Wrap a handler (plain or generator) so that errors reach the page as `gr.Error`;
    `release_memory()` gives cached GPU memory back after an out-of-memory error. Under an
    installed guard the handler also identifies its caller (see the module docstring)."""
    names = list(inspect.signature(fn).parameters)
    guard = _GUARD.get()
    run = _on_gpu(fn, guard)
    if inspect.isgeneratorfunction(fn):

        @functools.wraps(fn)
        def stream(*args, **kwargs):
            lang = language_of_call(names, args, kwargs)
            try:
                args, kwargs, who = _caller(fn, guard, args, kwargs)
                _reject_bad_input(names, args, kwargs)
                checked = _checked(fn, guard, who, names, args, kwargs)
                with checked as (args, kwargs, deadline):
                    yield from _in_scope(guard, who, run(*args, **kwargs), deadline)
            except Exception as e:
                raise as_gr_error(e, release_memory, lang) from e

        return _with_caller_params(stream, fn, guard)

    @functools.wraps(fn)
    def call(*args, **kwargs):
        lang = language_of_call(names, args, kwargs)
        try:
            args, kwargs, who = _caller(fn, guard, args, kwargs)
            _reject_bad_input(names, args, kwargs)
            checked = _checked(fn, guard, who, names, args, kwargs)
            with checked as (args, kwargs, deadline), _scope(guard, who, deadline):
                return _after(fn, guard, who, run(*args, **kwargs))
        except Exception as e:
            raise as_gr_error(e, release_memory, lang) from e

    return _with_caller_params(call, fn, guard)


def _with_caller_params(wrapper: Callable, fn: Callable, guard: Any) -> Callable:
    """Give `wrapper` the handler's signature plus the caller parameters Gradio injects."""
    if guard is None:
        return wrapper
    sig = inspect.signature(fn)
    extra = [
        inspect.Parameter(n, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=None) for n in CALLER
    ]
    wrapper.__signature__ = sig.replace(parameters=[*sig.parameters.values(), *extra])
    hints = dict(getattr(fn, "__annotations__", {}))
    hints |= {
        "gs_request": gr.Request,
        "gs_profile": gr.OAuthProfile | None,
        "gs_oauth": gr.OAuthToken | None,
    }
    wrapper.__annotations__ = hints
    return wrapper


def _caller(fn: Callable, guard: Any, args: tuple, kwargs: dict) -> tuple[tuple, dict, Identity]:
    """Split off the injected caller parameters; who is asking."""
    if guard is None:
        return args, kwargs, OWNER
    n = len(inspect.signature(fn).parameters)
    injected = dict(zip(CALLER, args[n:], strict=False))
    injected |= {k: kwargs.pop(k) for k in CALLER if k in kwargs}
    who = guard.who(
        injected.get("gs_request"), injected.get("gs_profile"), injected.get("gs_oauth")
    )
    return args[:n], kwargs, who


def _checked(fn: Callable, guard: Any, who: Identity, names: list[str], args, kwargs):
    from ui.policy import checked  # the checks know the tabs' parameter names

    return checked(fn.__name__, guard, who, names, args, kwargs)


def _after(fn: Callable, guard: Any, who: Identity, result: Any) -> Any:
    from ui.policy import after

    return after(fn.__name__, guard, who, result)


def _on_gpu(fn: Callable, guard: Any) -> Callable:
    """The handler under ZeroGPU's `spaces.GPU` where the app runs on ZeroGPU (else itself)."""
    from ui.policy import on_gpu

    return on_gpu(fn.__name__, fn, guard)


@contextmanager
def _scope(guard: Any, who: Identity, deadline: Any = None) -> Iterator[None]:
    """The caller, their store scope and the job's deadline around one step of a handler."""
    from ui.policy import store_scope

    token, capped = _WHO.set(who), _DEADLINE.set(deadline)
    limits = _QUOTAS.set(None if guard is None or who.is_owner else guard.quotas)
    try:
        with store_scope(guard, who):
            yield
    finally:
        _QUOTAS.reset(limits)
        _DEADLINE.reset(capped)
        _WHO.reset(token)


def _in_scope(guard: Any, who: Identity, events: Iterator, deadline: Any) -> Iterator:
    """Run each step of a generator handler in the caller's scope (Gradio may run each step
    in another thread, with a fresh context), checking the job's wall-time cap between."""
    while True:
        with _scope(guard, who, deadline):
            try:
                item = next(events)
            except StopIteration:
                return
        yield item
        if deadline is not None:
            deadline.check("this job")


def session_key(request: gr.Request | None) -> str:
    """The browser session (or API client) a request comes from: the key of its stop flag,
    inside the caller's namespace (a visitor's Stop reaches only their own runs)."""
    session = getattr(request, "session_hash", None) or "api"
    who = _WHO.get()
    return session if who is None or who.is_owner else f"{who.owner_id}:{session}"


def inputs_for(fn: Callable, components: Mapping[str, Any]) -> list[Any]:
    """The input components of handler `fn`, looked up by its parameter names, in its order
    (the API's argument names and order are the handler's)."""
    names = [n for n in inspect.signature(fn).parameters if n not in INJECTED]
    return [components[n] for n in names]


def settings_from(cls: type[T], values: Mapping[str, Any]) -> T:
    """A settings dataclass from the values named like its fields (others are ignored)."""
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    return cls(**{k: v for k, v in values.items() if k in names})


# --- Stop buttons ------------------------------------------------------------------------------
# A Stop button is neutral (`variant="secondary"`) until its job runs: red while the run's event
# is going, neutral again when it ends (done, stopped or failed).


def stop_armed() -> dict:
    return gr.update(variant="stop")


def stop_neutral() -> dict:
    return gr.update(variant="secondary")


def arm_stop(run: gr.Button, stop: gr.Button) -> None:
    """`stop` turns red when `run` is clicked. Call before the run's own event: Gradio 6.31's
    page leaves a trigger's later listeners waiting while an earlier queued one runs."""
    run.click(stop_armed, None, stop, **_QUIET)


def settle_stop(job, stop: gr.Button) -> None:
    """`stop` neutral again once `job` (the run's event) ends."""
    job.then(stop_neutral, None, stop, **_QUIET)


_QUIET = {"queue": False, "api_visibility": "private", "show_progress": "hidden"}


def stoppable_video_job(
    run: gr.Button,
    stop: gr.Button,
    fn: Callable,
    inputs: list,
    outputs: list,
    api_name: str,
    stop_fn: Callable,
    release_memory: Callable[[], None] | None = None,
) -> None:
    """A video job on the heavy lane: `run` starts `fn` (API: `api_name`), `stop` turns red
    while it runs and calls `stop_fn` (page-only)."""
    arm_stop(run, stop)
    job = run.click(friendly(fn, release_memory), inputs, outputs, api_name=api_name, **HEAVY_LANE)
    settle_stop(job, stop)
    stop.click(friendly(stop_fn), None, None, queue=False, api_visibility="private")


# --- Downloads ---------------------------------------------------------------------------------
# A downloads box shows only while it holds files (an empty drop zone under a result reads as
# "upload here"); results, examples and permalinks all fill it, so it follows its own value.


def visible_if_any(files: Any) -> dict:
    """Shown with files; "hidden" (still on the page, so its change events fire) without."""
    return gr.update(visible=True if files else "hidden")


def downloads_box(label: Any) -> gr.File:
    """A downloads box (several files) under a result, hidden until it holds files (call
    where it belongs in the layout). Not interactive: its change event makes it an input,
    which Gradio would otherwise draw with an upload button and a clear cross."""
    files = gr.File(label=label, file_count="multiple", visible="hidden", interactive=False)
    show_when_filled(files)
    return files


def show_when_filled(files: gr.File) -> None:
    """Hide `files` while it is empty, show it once a result puts files in it."""
    files.change(visible_if_any, files, files, **_QUIET)
