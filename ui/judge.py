"""The Judge tab: the discriminator's verdict on uploads and on the model's own faces."""

from __future__ import annotations

from collections.abc import Callable

import gradio as gr

from core.media import upscale
from gan import DEFAULT_MODEL, latents
from gan.judge import Judge
from gan.studio import DISPLAY_SIZE
from ui.common import CHEAP_LANE, friendly, inputs_for

LESSON = """**What D learns.** The discriminator is trained to tell the training images from the
generator's, nothing more: its logit is high for what looked like the training set *during
training*. It is not a general "is this photo real?" detector.

**Why its verdict on other photos says little.** Real photos of another domain (a landscape,
a painting, a face framed differently) are far from anything D saw; its output there is an
extrapolation, often confidently wrong in either direction. Ranking faces of the same kind is
more telling than any single probability.

**How the balance rule uses D's loss.** During fine-tuning, D's loss on each batch (real
and fake) shows which network is winning. The lesson's balance rule skips D's update while
that loss is below a threshold (0.2 by default, Fine-tune tab): a D that already wins easily
would only get stronger and leave G without a useful gradient, so G catches up first."""
NO_D_NOTE = """Models without a discriminator (e.g. the bundled `dcgan-digiface`, which ships G
only) cannot be judged: **fine-tune** the model in the Fine-tune tab (the saved model keeps
its D), or convert a StyleGAN2 pickle with its D."""


class JudgeHandlers:
    """The tab's events, each one call of `Judge`."""

    def __init__(self, judge: Judge) -> None:
        self.judge = judge

    def judge_images(
        self,
        images: list[str] | None = None,
        model: str = DEFAULT_MODEL,
        seeds: str = "",
    ):
        """The discriminator's verdict on images: uploads and/or the model's own faces.

        Args:
            images: image files to judge (photos, paintings, downloaded faces), or none.
            model: a model name with a discriminator (its D judges; G makes the seed faces).
            seeds: the model's own faces to judge too, e.g. "1-4" (empty: uploads only).

        Returns:
            D's raw logits, JSON numbers, one per image (uploads in upload order, then seeds);
            a gallery ranked from most to least real in D's view;
            a table of rank, image, logit and sigmoid (p real).
        """
        seed_list = latents.parse_seeds(seeds) if seeds and seeds.strip() else None
        judged = self.judge.score_request(model, images or [], seed_list)
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
        table = "| rank | image | logit | sigmoid (p real) |\n|---|---|---|---|\n" + "\n".join(rows)
        return v.logits, gallery, table


def build_judge_tab(
    model: gr.Dropdown, judge: Judge, release_memory: Callable[[], None] | None = None
) -> None:
    """The Judge tab's components and events (API: `/judge`)."""
    handlers = JudgeHandlers(judge)
    with gr.Row():
        with gr.Column(scale=1):
            images = gr.File(
                label="Images to judge",
                file_count="multiple",
                file_types=["image"],
                type="filepath",
            )
            seeds = gr.Textbox(
                value="1-4", label="and the model's faces for seeds", info="empty: uploads only"
            )
            run = gr.Button("Judge", variant="primary")
            gr.Markdown(NO_D_NOTE)
            with gr.Accordion("What is D telling us?", open=True):
                gr.Markdown(LESSON)
        with gr.Column(scale=2):
            gallery = gr.Gallery(
                label="Most to least real (D's view)", columns=4, height="auto", format="png"
            )
            table = gr.Markdown()
            logits = gr.JSON(label="Raw logits (upload order, then seeds)")
    c = {"images": images, "model": model, "seeds": seeds}
    gr.on(
        [run.click, seeds.submit],
        friendly(handlers.judge_images, release_memory),
        inputs_for(handlers.judge_images, c),
        [logits, gallery, table],
        api_name="judge",
        **CHEAP_LANE,
    )
