"""The Judge tab: the discriminator's verdict on uploads and on the model's own faces."""

from __future__ import annotations

from collections.abc import Callable

import gradio as gr

from core.media import upscale
from gan import DEFAULT_MODEL, latents
from gan.generate.service import DISPLAY_SIZE
from gan.judge.service import Judge
from gan.library.service import LatentLibrary
from style.examples import (
    EXAMPLES_DIR as PAINTINGS,  # public-domain paintings (examples/SOURCES.md)
)
from ui.common import JUDGE_LANE, friendly, inputs_for
from ui.components import latent_picker
from ui.examples import (
    capability_notice,
    capable_model,
    follow_capability,
    has_discriminator,
    lane_examples,
)
from ui.i18n import howto, language_of, t, translate
from ui.links import Permalinks


class JudgeHandlers:
    """The tab's events, each one call of `Judge`."""

    def __init__(self, judge: Judge) -> None:
        self.judge = judge

    def judge_images(
        self,
        images: list[str] | None = None,
        model: str = DEFAULT_MODEL,
        seeds: str = "",
        latent_files: list[str] | None = None,
        request: gr.Request = None,
    ):
        """The discriminator's verdict on images: uploads and/or the model's own faces.

        Args:
            images: image files to judge (photos, paintings, downloaded faces), or none.
            model: a model name with a discriminator (its D judges; G makes the seed faces).
            seeds: the model's own faces to judge too, e.g. "1-4" (empty: uploads only).
            latent_files: latent files (e.g. from My latents) whose faces the model makes and
                D judges too (z or w; the model's own shapes).

        Returns:
            D's raw logits, JSON numbers, one per image (uploads in upload order, then seeds);
            a gallery ranked from most to least real in D's view;
            a table of rank, image, logit and sigmoid (p real).
        """
        seed_list = latents.parse_seeds(seeds) if seeds and seeds.strip() else None
        judged = self.judge.score_request(model, images or [], seed_list, latent_files)
        v = judged.verdict
        gallery = [
            (
                upscale(judged.images[i], DISPLAY_SIZE // 2),
                f"#{r + 1} {judged.labels[i]}: logit {v.logits[i]:+.3f}, "
                f"p(real) {v.probabilities[i]:.3f}",
            )
            for r, i in enumerate(v.ranking)
        ]
        rows = [
            f"| {r + 1} | {judged.labels[i]} | {v.logits[i]:+.4f} | {v.probabilities[i]:.4f} |"
            for r, i in enumerate(v.ranking)
        ]
        head = translate("msg.judge.table", language_of(request))
        table = head + "\n|---|---|---|---|\n" + "\n".join(rows)
        return v.logits, gallery, table


def build_judge_tab(
    model: gr.Dropdown,
    judge: Judge,
    release_memory: Callable[[], None] | None = None,
    links: Permalinks | None = None,
    library: LatentLibrary | None = None,
) -> None:
    """The Judge tab's components and events (API: `/judge`)."""
    handlers = JudgeHandlers(judge)
    notice = capability_notice("gate.judge")
    with gr.Row():
        with gr.Column(scale=1):
            images = gr.File(
                label=t("judge.images.label"),
                file_count="multiple",
                file_types=["image"],
                type="filepath",
            )
            seeds = gr.Textbox(
                value="1-4", label=t("judge.seeds.label"), info=t("judge.seeds.info")
            )
            with gr.Accordion(t("library.accordion"), open=False):
                picker = latent_picker(library)
            files = picker.files if picker else gr.File(file_count="multiple", visible=False)
            run = gr.Button(t("judge.run"), variant="primary")
            with gr.Accordion(t("judge.lesson.accordion"), open=True):
                gr.Markdown(t("judge.lesson.body"))
        with gr.Column(scale=2):
            gallery = gr.Gallery(
                label=t("judge.gallery.label"), columns=4, height="auto", format="png"
            )
            table = gr.Markdown()
            logits = gr.JSON(label=t("judge.logits.label"))
    c = {"images": images, "model": model, "seeds": seeds, "latent_files": files}
    gr.on(
        [run.click, seeds.submit],
        friendly(handlers.judge_images, release_memory),
        inputs_for(handlers.judge_images, c),
        [logits, gallery, table],
        api_name="judge",
        **JUDGE_LANE,
    )
    examples = _share(handlers, c, [logits, gallery, table], release_memory, links)
    follow_capability(model, has_discriminator, notice, run, examples)


# Images (public-domain paintings in examples/) and seeds of faces the model makes on the spot.
EXAMPLES = [
    (["munch_the_scream.jpg"], "1-3"),
    (["van_gogh_starry_night.jpg", "turner_shipwreck.jpg"], "1, 2"),
    ([], "1-8"),
]
# Captions by key (in English here; the page's scripts show the visitor's language).
EXAMPLE_LABELS = [translate(f"example.judge.{i}") for i in range(3)]


def example_rows() -> tuple[list[list], list[str]]:
    """The examples whose paintings are present (images, seeds), and their labels."""
    rows, labels = [], []
    for (names, seeds), label in zip(EXAMPLES, EXAMPLE_LABELS, strict=True):
        paths = [str(PAINTINGS / name) for name in names]
        if all((PAINTINGS / name).is_file() for name in names):
            rows.append([paths, seeds])  # [] for faces only
            labels.append(label)
    return rows, labels


def _share(handlers, c, outputs, release_memory, links: Permalinks | None) -> gr.Examples:
    """Examples (cached on first use, in the cheap lane: the app's own paintings, with a model
    that has a D), the "How it works" panel and the permalink (model and seeds: uploads never
    go into a link, so it too runs in the cheap lane)."""
    run = friendly(handlers.judge_images, release_memory)
    rows, labels = example_rows()

    def example(images, seeds):
        name = capable_model(has_discriminator, "a model saved with its discriminator")
        return (*run(images, name, seeds), name)

    examples = lane_examples(
        rows,
        [c["images"], c["seeds"]],
        [*outputs, c["model"]],  # the header's model follows the example's
        example,
        labels,
        "judge-examples",
    )
    howto("judge")
    if links is not None:
        links.add("judge", c, run, outputs, concurrency_id="cheap")
    return examples
