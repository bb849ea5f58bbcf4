"""The Generate tab: faces from seeds or from a latent vector."""

from __future__ import annotations

import json
import random
from collections.abc import Callable

import gradio as gr

from gan import DEFAULT_MODEL, latents
from gan.studio import FaceStudio
from ui.common import CHEAP_LANE, PIXELATED, friendly, inputs_for


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
        """Faces for the seeds (e.g. `1-8, 42`), or for a pasted/uploaded latent vector:
        the gallery (native-resolution PNGs), the latents (seeds, ψ, z) and a summary."""
        psi = float(truncation_psi)
        faces, pngs = self.studio.generate_request(model, seeds, psi, latent_vector, latent_file)
        labels = [f"seed {s}" for s in faces.seeds] if faces.seeds else None
        gallery = [(str(path), labels[i] if labels else f"z[{i}]") for i, path in enumerate(pngs)]
        h, w = faces.images.shape[1:3]
        info = f"{len(faces.images)} faces at {w}x{h} from **{model}**, truncation ψ={psi:g}"
        z = json.loads(latents.latents_json(faces.z, faces.seeds, faces.truncation_psi))
        return gallery, z, info

    def faces_zip(
        self,
        seeds: str,
        truncation_psi: float = 1.0,
        model: str = DEFAULT_MODEL,
        latent_vector: str = "",
        latent_file: str | None = None,
    ) -> str:
        """The same faces in one zip: native PNGs, the grid, latents.npy and latents.json."""
        psi = float(truncation_psi)
        return str(self.studio.zip_request(model, seeds, psi, latent_vector, latent_file))


def random_seeds(count: float) -> str:
    """`count` consecutive seeds from a random start."""
    start = random.randint(0, latents.MAX_SEED - int(count))
    return f"{start}-{start + int(count) - 1}" if count > 1 else str(start)


def build_generate_tab(
    model: gr.Dropdown, studio: FaceStudio, release_memory: Callable[[], None] | None = None
) -> None:
    """The Generate tab's components and events (API: `/generate`)."""
    handlers = GenerateHandlers(studio)
    with gr.Row():
        with gr.Column(scale=1):
            seeds = gr.Textbox(
                value="1-8", label="Seeds", info="whole numbers and ranges, e.g. `1-8, 42`"
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
            run = gr.Button("Generate", variant="primary")
        with gr.Column(scale=2):
            gallery = gr.Gallery(
                label="Faces",
                columns=4,
                format="png",
                height="auto",
                object_fit="contain",
                elem_id="faces",
                elem_classes=[PIXELATED],
            )
            info = gr.Markdown(label="info")
            z_out = gr.JSON(label="Latents (seeds, truncation ψ, z)", open=False)
            zip_button = gr.Button("Zip of the PNGs, grid and latents", size="sm")
            zip_file = gr.File(label="Download: native-resolution PNGs and latents")
    dice.click(random_seeds, count, seeds, api_visibility="private")
    components = {"seeds": seeds, "truncation_psi": psi, "model": model}
    components |= {"latent_vector": latent_text, "latent_file": latent_file}
    gr.on(
        [run.click, seeds.submit],
        friendly(handlers.generate, release_memory),
        inputs_for(handlers.generate, components),
        [gallery, z_out, info],
        api_name="generate",
        **CHEAP_LANE,
    )
    zip_button.click(
        friendly(handlers.faces_zip, release_memory),
        inputs_for(handlers.faces_zip, components),
        zip_file,
        api_name="faces_zip",
        **CHEAP_LANE,
    )


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
