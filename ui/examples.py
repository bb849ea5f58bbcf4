"""Examples that run: lazily cached `gr.Examples` in a concurrency lane, and the models they use.

Gradio 6.31's `gr.Examples` takes no `concurrency_id` or `concurrency_limit`; a click on a
cached example runs (and, the first time, computes) its result in the `load_example_output`
event, which would otherwise queue in the default lane. `lane_examples` moves that event
into the tab's lane (`ui.common.CHEAP_LANE`) so examples never wait behind a stylisation.

The example models are chosen when the page is built: the default model when it can do the
job, else the first local model that can (a StyleGAN2 for style mixing, a model saved with its
discriminator for Judge). With none, the examples keep the default model, and a click gives
the tab's usual message (e.g. "style mixing needs a StyleGAN2 model").
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

import gradio as gr
from gradio.context import get_blocks_context

from core import store
from gan import DEFAULT_MODEL
from ui.common import CHEAP_LANE
from ui.i18n import t

log = logging.getLogger("gan_studio")

DCGAN_TYPE = "dcgan-generator"  # the `model_type` of a generator's config.json
STYLEGAN2_TYPE = "stylegan2-generator"


def lane_examples(
    examples: list[list[Any]],
    inputs: Sequence[Any],
    outputs: Sequence[Any],
    fn: Callable,
    labels: list[str],
    elem_id: str,
    lane: dict | None = None,
) -> gr.Examples:
    """Clickable examples whose results are computed on first use, cached for everyone, and
    run in `lane` (the cheap lane by default); private to the API. `elem_id` names the
    examples' table (e.g. `edit-examples`)."""
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
    put_in_lane(examples_block, lane or CHEAP_LANE)
    return examples_block


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


def _local_models(model_type: str | None = None) -> list[str]:
    try:
        return store.list_local(model_type)
    except OSError as e:  # an unreadable checkpoints folder must not stop the page
        log.warning("cannot list the local models: %s", e)
        return []


def stylegan2_model() -> str:
    """A StyleGAN2 model for examples: the default model if it is one, else the first local."""
    found = _local_models(STYLEGAN2_TYPE)
    if DEFAULT_MODEL in found or not found:
        return DEFAULT_MODEL
    return found[0]


def has_discriminator(name: str) -> bool:
    """Whether the local model `name` was saved with its discriminator."""
    try:
        return store.discriminator_file(name, store.resolve(name)) is not None
    except (store.ModelLoadError, store.ModelNotFoundError, OSError):
        return False


def judged_model() -> str:
    """A model with a discriminator for Judge's examples (the default when it has one)."""
    if has_discriminator(DEFAULT_MODEL):
        return DEFAULT_MODEL
    generators = sorted({*_local_models(DCGAN_TYPE), *_local_models(STYLEGAN2_TYPE)})
    return next((name for name in generators if has_discriminator(name)), DEFAULT_MODEL)
