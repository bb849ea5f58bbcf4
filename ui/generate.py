"""The Generate tab: faces from seeds or from a latent vector."""

from __future__ import annotations

import random
from collections.abc import Callable

import gradio as gr

from core.media import upscale
from gan import DEFAULT_MODEL, latents
from gan.studio import DISPLAY_SIZE, FaceStudio
from ui.common import friendly, inputs_for
from ui.i18n import howto, t
from ui.links import Permalinks


class GenerateHandlers:
    """The tab's events, each one call of `FaceStudio`."""

    def __init__(self, studio: FaceStudio) -> None:
        self.studio = studio

    def generate(
        self,
        seeds: str,
        truncation_psi: float = 1.0,
        model: str = DEFAULT_MODEL,
        latent_vector: str = "",
        latent_file: str | None = None,
    ):
        """Faces for the seeds (e.g. `1-8, 42`), or for a pasted/uploaded latent vector.

        Args:
            seeds: whole numbers and ranges, e.g. "1-8, 42" (up to 64 faces); each seed is one face.
            truncation_psi: ψ, 1 = the full variety; below 1 pulls faces towards the average face.
            model: a face model name from the app's model list.
            latent_vector: optional JSON list of numbers (or a list of lists) used instead of seeds.
            latent_file: optional .npy or .json file of latent vectors used instead of seeds.

        Returns:
            The faces (a gallery of images with their seeds), the PNG and latent files,
            a line of info.
        """
        psi = float(truncation_psi)
        faces, files = self.studio.generate_request(model, seeds, psi, latent_vector, latent_file)
        labels = [f"seed {s}" for s in faces.seeds] if faces.seeds else None
        gallery = [
            (upscale(image, DISPLAY_SIZE), labels[i] if labels else f"z[{i}]")
            for i, image in enumerate(faces.images)
        ]
        h, w = faces.images.shape[1:3]
        info = f"{len(faces.images)} faces at {w}x{h} from **{model}**, truncation ψ={psi:g}"
        return gallery, [str(p) for p in files], info


def random_seeds(count: float) -> str:
    """`count` consecutive seeds from a random start."""
    start = random.randint(0, latents.MAX_SEED - int(count))
    return f"{start}-{start + int(count) - 1}" if count > 1 else str(start)


def build_generate_tab(
    model: gr.Dropdown,
    studio: FaceStudio,
    release_memory: Callable[[], None] | None = None,
    links: Permalinks | None = None,
) -> None:
    """The Generate tab's components and events (API: `/generate`)."""
    handlers = GenerateHandlers(studio)
    with gr.Row():
        with gr.Column(scale=1):
            seeds = gr.Textbox(
                value="1-8", label=t("generate.seeds.label"), info=t("generate.seeds.info")
            )
            with gr.Row():
                count = gr.Slider(1, latents.MAX_SEEDS, value=8, step=1, label="Random faces")
                dice = gr.Button("Random seeds", scale=0, size="sm")
            psi = gr.Slider(
                0.0,
                2.0,
                value=1.0,
                step=0.05,
                label="Truncation ψ",
                info="below 1: more typical faces, less variety",
            )
            latent_text, latent_file = _latent_inputs()
            run = gr.Button(t("generate.run"), variant="primary")
        with gr.Column(scale=2):
            gallery = gr.Gallery(
                label="Faces", columns=4, format="png", height="auto", object_fit="contain"
            )
            info = gr.Markdown(label="info")
            files = gr.File(
                label="Downloads: native-resolution PNGs and latents", file_count="multiple"
            )
    dice.click(random_seeds, count, seeds, api_visibility="private")
    components = {"seeds": seeds, "truncation_psi": psi, "model": model}
    components |= {"latent_vector": latent_text, "latent_file": latent_file}
    gr.on(
        [run.click, seeds.submit],
        friendly(handlers.generate, release_memory),
        inputs_for(handlers.generate, components),
        [gallery, files, info],
        api_name="generate",
        concurrency_id="gpu",
        concurrency_limit=1,
    )
    _share(handlers, components, [gallery, files, info], release_memory, links)


def _share(handlers, components, outputs, release_memory, links: Permalinks | None) -> None:
    """Examples (cached on first use), the "How it works" panel and the permalink, which also
    runs the default seeds on page load so the first page shows faces."""
    run = friendly(handlers.generate, release_memory)
    gr.Examples(
        [["1-8", 1.0], ["42, 7, 2024, 3", 0.7], ["100-111", 0.5]],
        [components["seeds"], components["truncation_psi"]],
        outputs,
        fn=lambda seeds, psi: run(seeds, psi, components["model"].value),
        cache_examples=True,
        cache_mode="lazy",
        label=t("common.examples"),
        example_labels=["seeds 1-8, ψ 1", "seeds 42, 7, 2024, 3, ψ 0.7", "seeds 100-111, ψ 0.5"],
        api_visibility="private",
    )
    howto("generate")
    if links is not None:
        links.add("generate", components, run, outputs, on_load=True, concurrency_id="gpu")


def _latent_inputs() -> tuple[gr.Textbox, gr.File]:
    with gr.Accordion("Latent vector instead of seeds", open=False):
        latent_text = gr.Textbox(
            value="",
            label="Latent vector (JSON)",
            lines=3,
            placeholder="[0.1, -1.2, ...] (nz numbers) or a list of such lists",
        )
        latent_file = gr.File(
            label="or upload latents (.npy / .json)",
            file_types=[".npy", ".json"],
            type="filepath",
        )
    return latent_text, latent_file
