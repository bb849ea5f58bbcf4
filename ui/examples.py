"""Examples that run: lazily cached `gr.Examples` in a concurrency lane, and the models they use.

Gradio 6.31's `gr.Examples` takes no `concurrency_id` or `concurrency_limit`; a click on a
cached example runs (and, the first time, computes) its result in the `load_example_output`
event, which would otherwise queue in the default lane. `lane_examples` moves that event
into the tab's lane (`ui.common.CHEAP_LANE`) so examples never wait behind a stylisation.
Gradio keeps cached results in a folder named by the examples table's block id, which shifts
whenever a component is added before it, so a later version of the page could read another
table's results; `lane_examples` files them under a key of the examples' own content instead
(and of the models they may choose from, so that another app's result is never read back).

An example's model is chosen at its first click, not when the page is built (so that start-up
reads no model, and a Hub model configured with `GAN_STUDIO_HUB_MODELS` counts once it can be
fetched): the default model when it can do the job, else the first local model, else the
first configured Hub model that can (`capable_model`: a StyleGAN2 for Style mixing, a model
saved with its discriminator for Judge). The chosen name is also an output of the example, so
the header's model follows it and the tab's own button then runs on the same model. With no
such model, the click gives a clear message and nothing is cached.

The heavy tabs (Style transfer, Project) keep their examples in their own lane-less event:
Gradio 6.31's lazy example cache (`cache_examples=True, cache_mode="lazy"`) runs a generator
handler to its end on the first click (`gradio.caching.resolve_generator`: no previews reach
the page meanwhile) and caches only the last value; it recognises a generator by
`inspect.isgeneratorfunction`, so an example's `fn` must itself be a generator function (a
lambda returning a generator would be cached as a generator object). The run is its own event
(`load_example_output`), outside the tabs' concurrency lanes; the handler's own checks (heavy
slot, wall-time cap, files) still apply, for the visitor whose click filled the cache.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import logging
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import gradio as gr
from gradio.context import get_blocks_context

from core import store
from core.errors import UserInputError
from gan import DEFAULT_MODEL
from gan.models import families
from ui.common import CALLER, CHEAP_LANE, PAGE_LOAD, error, friendly
from ui.i18n import t

log = logging.getLogger("gan_studio")


def lane_examples(
    examples: list[list[Any]],
    inputs: Sequence[Any],
    outputs: Sequence[Any],
    fn: Callable,
    labels: list[str],
    elem_id: str,
    lane: dict | None = CHEAP_LANE,
) -> gr.Examples:
    """Clickable examples whose results are computed on first use, cached for everyone, and
    run in `lane` (None: Gradio's own example event, as the heavy tabs want); private to the
    API. `elem_id` names the examples' table (e.g. `edit-examples`)."""
    with _cache_folder(_content_key(examples, inputs, outputs, labels, elem_id)):
        examples_block = gr.Examples(
            examples,
            list(inputs),
            list(outputs),
            fn=fn,
            cache_examples=True,
            cache_mode="lazy",
            label=t("common.examples"),
            example_labels=labels,
            elem_id=elem_id,
            api_visibility="private",
        )
    if lane is not None:
        put_in_lane(examples_block, lane)
    return examples_block


def _content_key(examples, inputs, outputs, labels, elem_id) -> str:
    """A short hash of what the cached results depend on (values, labels, component kinds, and
    the models an example may choose: the checkpoints folder and the configured Hub models, so
    that two apps with different models never read each other's results)."""
    kinds = [type(c).__name__ for c in (*inputs, *outputs)]
    models = [str(store.checkpoints_dir().resolve()), os.environ.get("GAN_STUDIO_HUB_MODELS", "")]
    text = json.dumps([elem_id, examples, labels, kinds, models], default=str, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@contextmanager
def _cache_folder(key: str) -> Iterator[None]:
    """Gradio's examples cache (`GRADIO_EXAMPLES_CACHE`, read as the examples are made) moved
    into a `key` subfolder for the block built inside."""
    name = "GRADIO_EXAMPLES_CACHE"
    before = os.environ.get(name)
    os.environ[name] = os.path.join(before or ".gradio/cached_examples", key)
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = before


def put_in_lane(examples_block: gr.Examples, lane: dict) -> None:
    """Run the examples' result event under `lane`'s concurrency id and limit (call while
    the Blocks are being built)."""
    event = examples_block.cache_event  # the `load_example_output` event of cached examples
    blocks = get_blocks_context()
    if event is None or blocks is None:
        return
    block_fn = blocks.fns[event["id"]]
    block_fn.concurrency_id = lane["concurrency_id"]
    block_fn.concurrency_limit = lane["concurrency_limit"]


def capable_model(can: Callable[[str], bool], what: str) -> str:
    """The first model that `can` do an example's job (see the module docstring); a message
    for the page when there is none."""
    for name in _candidates():
        if can(name):
            return name
    raise error(f"This example needs {what}, and none is installed.")


def _candidates() -> Iterator[str]:
    """The default model, the local generators, then the configured Hub models."""
    local = [n for kind in families.generator_types() for n in _local_models(kind)]
    hub = [str(ref) for ref in store.configured_hub_models()]
    yield from dict.fromkeys([DEFAULT_MODEL, *sorted(local), *hub])


def _local_models(model_type: str) -> list[str]:
    try:
        return store.list_local(model_type)
    except OSError as e:  # an unreadable checkpoints folder must not stop the examples
        log.warning("cannot list the local models: %s", e)
        return []


def model_config(name: str) -> dict:
    """The config.json of model `name` ({} when unreadable)."""
    try:
        if "/" in name:
            path = store.hub_file(store.HubRef.parse(name), store.CONFIG_NAME)
            return json.loads(path.read_text())
        return store.read_config(store.resolve(name))
    except (UserInputError, OSError, ValueError) as e:
        log.info("example model %s: %s", name, e)
        return {}


def family(name: str) -> families.Family | None:
    """The family of generator `name` (from its config.json only), None when unreadable or
    not a generator of a known family."""
    return _generator_family(model_config(name))


def _generator_family(config: dict) -> families.Family | None:
    if not config:  # unreadable ({} would read as the oldest, type-less DCGAN folders)
        return None
    try:
        return families.family_of(config) if families.role_of(config) == "G" else None
    except KeyError:
        return None


def has_ws(name: str, count: int) -> bool:
    """Whether model `name`'s family mixes styles and its G has at least `count` ws (its
    config.json read once)."""
    config = model_config(name)
    found = _generator_family(config)
    if found is None or not found.style_mixing or found.num_ws is None:
        return False
    return found.num_ws(config) >= count


def is_generator(name: str) -> bool:
    return family(name) is not None


def can_style_mix(name: str) -> bool:
    """Whether model `name`'s family has style mixing (the Style mixing and Edit layer tabs)."""
    found = family(name)
    return found is not None and found.style_mixing


def has_discriminator(name: str) -> bool:
    """Whether model `name` was saved with its discriminator."""
    try:
        return store.discriminator_file(name, store.resolve(name)) is not None
    except (UserInputError, OSError) as e:
        log.info("example model %s: %s", name, e)
        return False


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


# --- Only what applies --------------------------------------------------------------------------
# A tab that the chosen model cannot serve (Style mixing: a StyleGAN2; Judge: a model saved with
# its discriminator) says why in one line and disables its button; its examples are offered only
# when the installation has a model that can run them. Each follows the header's model.


def any_capable(can: Callable[[str], bool]) -> bool:
    """Whether some installed or configured model `can` do the job (`capable_model`)."""
    return any(can(name) for name in _candidates())


def capability_notice(key: str) -> gr.Markdown:
    """The one-line "why not, and how to get such a model" (hidden until a model lacks it)."""
    return gr.Markdown(t(key), visible=False, elem_classes=["gs-capability"])


def follow_capability(
    model: gr.Dropdown,
    can: Callable[[str], bool],
    notice: gr.Markdown,
    run: gr.Button,
    examples: gr.Examples | None = None,
) -> None:
    """Show `notice` and disable `run` while the header's model cannot (`can`), on page load
    and whenever the model changes; hide `examples` when no model can run them."""

    def update(model: str | None) -> tuple[dict, dict]:
        """(the notice, the button) for `model`, read in the caller's own model scope."""
        ok = bool(model) and can(model)
        return gr.update(visible=not ok), gr.update(interactive=ok)

    blocks = get_blocks_context()
    triggers = [model.change, blocks.root_block.load]
    gr.on(triggers, friendly(update), model, [notice, run], **PAGE_LOAD)
    if examples is not None and examples.dataset is not None:

        def offered() -> dict:
            return gr.update(visible=any_capable(can))

        blocks.root_block.load(friendly(offered), None, examples.dataset, **PAGE_LOAD)
