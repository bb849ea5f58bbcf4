"""The Generate tab: faces from seeds or from a latent vector."""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Callable

import gradio as gr

from core.errors import UserInputError
from gan import DEFAULT_MODEL, latents
from gan.generate.faces import FacesRequest, SG2Settings
from gan.generate.faces import latent_files as export_files
from gan.generate.service import FaceStudio
from gan.library.service import LatentLibrary
from ui.common import (
    CHEAP_LANE,
    PIXELATED,
    current_caller,
    friendly,
    info,
    inputs_for,
    installed_guard,
)
from ui.components import StyleGAN2Controls, build_sg2_controls, latent_picker, sg2_settings
from ui.examples import lane_examples
from ui.header import ModelChoices
from ui.i18n import howto, language_of, t, translate
from ui.links import Permalinks

log = logging.getLogger(__name__)


def faces_request(
    seeds: str,
    truncation_psi: float,
    latent_vector: str,
    latent_file: str | None,
    noise_mode: str,
    truncation_cutoff: float,
    class_idx: float,
    camera: tuple[float, float, float] = (0.0, 0.0, 0.0),
    latent_files: list[str] | None = None,
) -> FacesRequest:
    """The studio's request from the tab's inputs."""
    psi = float(truncation_psi)
    sg2 = sg2_settings(psi, noise_mode, truncation_cutoff, class_idx, camera)
    return FacesRequest(seeds, psi, latent_vector, latent_file, sg2, tuple(latent_files or ()))


class GenerateHandlers:
    """The tab's events, each one call of `FaceStudio`."""

    def __init__(self, studio: FaceStudio, library: LatentLibrary | None = None) -> None:
        self.studio = studio
        self.library = library

    def generate(
        self,
        seeds: str,
        truncation_psi: float = 1.0,
        model: str = DEFAULT_MODEL,
        latent_vector: str = "",
        latent_file: str | None = None,
        noise_mode: str = "const",
        truncation_cutoff: float = 0,
        class_idx: float = 0,
        translate_x: float = 0,
        translate_y: float = 0,
        rotate: float = 0,
        latent_files: list[str] | None = None,
        save_to_library: bool = False,
        request: gr.Request = None,
    ):
        """Faces for the seeds (e.g. `1-8, 42`), or for a pasted/uploaded latent vector.

        Args:
            seeds: whole numbers and ranges, e.g. "1-8, 42" (up to 64 faces); one face per seed.
            truncation_psi: ψ, 1 = the full variety; below 1 pulls faces towards the average face.
            model: a face model name from the app's model list (default: the bundled DCGAN).
            latent_vector: optional JSON list of numbers (or of such lists), used instead of seeds.
            latent_file: optional .npy/.json latents used instead of seeds: z (N, z_dim), or w.
            noise_mode: StyleGAN2 only: "const" (same seed, same pixels), "random" or "none".
            truncation_cutoff: StyleGAN2 only: truncate only the first N ws toward w_avg; 0 = all.
            class_idx: StyleGAN2 only: the class of a conditional model (0 otherwise).
            translate_x: StyleGAN3 only: move the picture sideways (-1 to 1; 0 = still).
            translate_y: StyleGAN3 only: move the picture up or down (-1 to 1; 0 = still).
            rotate: StyleGAN3 only: turn the picture by this many degrees (0 = upright).
            latent_files: optional latent files (e.g. from My latents), in order, used instead
                of the seeds: z or w (a W model maps the z ones).
            save_to_library: also keep every face's latent in My latents (w where the model
                has one, else z), named by its seed.

        Returns:
            a gallery of the faces (native-resolution PNGs, captioned with their seeds);
            the latents as JSON (seeds, ψ and z; for StyleGAN2 also w after truncation);
            a line of info (count, size, model, ψ).
        """
        wanted = faces_request(  # not `request`: that one carries the browser's language
            seeds,
            truncation_psi,
            latent_vector,
            latent_file,
            noise_mode,
            truncation_cutoff,
            class_idx,
            (translate_x, translate_y, rotate),
            latent_files,
        )
        faces, pngs = self.studio.generate_request(model, wanted)
        if save_to_library and self.library is not None:
            self.library.add_faces(current_caller().owner_id, model, faces)
        psi, sg2 = wanted.truncation_psi, wanted.sg2
        space = "z" if faces.z is not None else "w"
        lang = language_of(request)
        seeds = faces.seeds or []
        labels = [translate("msg.generate.seed", lang, seed=s) for s in seeds] or None
        gallery = [
            (str(path), labels[i] if labels else f"{space}[{i}]") for i, path in enumerate(pngs)
        ]
        noisy = self.studio.model_info(model)["noise_inputs"]  # StyleGAN3 has no noise
        return gallery, latents_value(faces), _info(faces, model, psi, sg2 if noisy else None, lang)

    def faces_zip(
        self,
        seeds: str,
        truncation_psi: float = 1.0,
        model: str = DEFAULT_MODEL,
        latent_vector: str = "",
        latent_file: str | None = None,
        noise_mode: str = "const",
        truncation_cutoff: float = 0,
        class_idx: float = 0,
        translate_x: float = 0,
        translate_y: float = 0,
        rotate: float = 0,
        latent_files: list[str] | None = None,
    ) -> str:
        """The same faces in one zip: native PNGs, the grid, latents.npy/.json (z) and, for
        StyleGAN2/3, w.npy/.json (w after truncation); StyleGAN3 takes the camera
        (translate_x, translate_y, rotate in degrees), the other families ignore it."""
        request = faces_request(
            seeds,
            truncation_psi,
            latent_vector,
            latent_file,
            noise_mode,
            truncation_cutoff,
            class_idx,
            (translate_x, translate_y, rotate),
            latent_files,
        )
        return str(self.studio.zip_request(model, request))

    def save_face(
        self,
        seeds: str,
        truncation_psi: float = 1.0,
        model: str = DEFAULT_MODEL,
        latent_vector: str = "",
        latent_file: str | None = None,
        noise_mode: str = "const",
        truncation_cutoff: float = 0,
        class_idx: float = 0,
        translate_x: float = 0,
        translate_y: float = 0,
        rotate: float = 0,
        latent_files: list[str] | None = None,
        selected: float | None = None,
        request: gr.Request = None,
    ) -> None:
        """Keep the selected face's latent in My latents (the faces are made again: the same
        inputs give the same faces)."""
        if self.library is None:
            return
        if selected is None or int(selected) < 0:
            raise UserInputError("pick a face first", "msg.error.library_pick")
        camera = (translate_x, translate_y, rotate)
        sg2 = (noise_mode, truncation_cutoff, class_idx, camera, latent_files)
        wanted = faces_request(seeds, truncation_psi, latent_vector, latent_file, *sg2)
        faces = self.studio.faces_request(model, wanted)
        added = self.library.add_faces(current_caller().owner_id, model, faces, [int(selected)])
        info(translate("msg.library.saved", language_of(request), name=added[0].name))


def _info(faces, model: str, psi: float, sg2: SG2Settings | None, lang: str) -> str:
    """The line under the gallery: how many faces, their size, the model and ψ."""
    h, w = faces.images.shape[1:3]
    count, psi_text = len(faces.images), f"{psi:g}"
    info = translate(
        "msg.generate.info", lang, count=count, width=w, height=h, model=model, psi=psi_text
    )
    if faces.w is not None:
        if sg2 is not None:  # a family with noise inputs
            info += translate("msg.generate.noise", lang, noise_mode=sg2.noise_mode)
        info += translate("msg.generate.from_w", lang) if faces.z is None else ""
    return info


def latents_value(faces) -> dict:
    """The JSON output: the z export (seeds, ψ, StyleGAN2 settings, z) and, for StyleGAN2, w
    after truncation (the zip holds both as files that Generate reads back)."""
    files = export_files(faces)
    value = json.loads(files["latents.json"]) if "latents.json" in files else {}
    if faces.w is not None:
        value |= {"noise_mode": faces.settings["noise_mode"], "w": faces.w.tolist()}
    return value


def hidden_file() -> dict:
    """The downloads box hidden and emptied (its zip no longer matches the faces shown)."""
    return gr.update(value=None, visible=False)


def shown_file() -> dict:
    """The downloads box shown (once it holds the zip)."""
    return gr.update(visible=True)


def random_seeds(count: float) -> str:
    """`count` consecutive seeds from a random start."""
    start = random.randint(0, latents.MAX_SEED - int(count))
    return f"{start}-{start + int(count) - 1}" if count > 1 else str(start)


def build_generate_tab(
    model: gr.Dropdown,
    studio: FaceStudio,
    release_memory: Callable[[], None] | None = None,
    links: Permalinks | None = None,
    library: LatentLibrary | None = None,
) -> None:
    """The Generate tab's components and events (API: `/generate`, `/faces_zip`)."""
    handlers = GenerateHandlers(studio, library)
    with gr.Row():
        with gr.Column(scale=1):
            components, count, dice, sg2, run = _controls(model, library)
        with gr.Column(scale=2):
            outputs, zip_button, zip_file, keep = _results(library is not None)
            if keep is not None:
                _save_face(handlers, components, outputs[0], keep, release_memory)
    sg2.follow(model, studio)
    generate = friendly(handlers.generate, release_memory)
    inputs = inputs_for(handlers.generate, components)
    gr.on(
        [run.click, components["seeds"].submit],
        generate,
        inputs,
        outputs,
        api_name="generate",
        **CHEAP_LANE,
    ).success(hidden_file, None, zip_file, api_visibility="private", queue=False)
    # Random seeds shows the faces at once, so that the zip then holds what the visitor saw.
    dice.click(random_seeds, count, components["seeds"], api_visibility="private").success(
        generate, inputs, outputs, api_visibility="private", **CHEAP_LANE
    ).success(hidden_file, None, zip_file, api_visibility="private", queue=False)
    zip_button.click(
        friendly(handlers.faces_zip, release_memory),
        inputs_for(handlers.faces_zip, components),
        zip_file,
        api_name="faces_zip",
        **CHEAP_LANE,
    ).success(shown_file, None, zip_file, api_visibility="private", queue=False)
    build_compare(model, studio, components, release_memory)
    _share(handlers, components, outputs, release_memory, links)


def _save_face(handlers, components, gallery: gr.Gallery, keep: gr.Button, release_memory):
    """The "Keep the selected face" button's events (page only: the API keeps faces with
    `save_to_library`)."""
    selected = gr.State(-1)
    gallery.select(selected_face, None, selected, api_visibility="private", queue=False)
    inputs = [*inputs_for(handlers.save_face, {**components, "selected": selected})]
    keep.click(
        friendly(handlers.save_face, release_memory),
        inputs,
        None,
        api_visibility="private",
        **CHEAP_LANE,
    )


def selected_face(event: gr.SelectData) -> int:
    """The index of the face clicked in the gallery."""
    return int(event.index)


def _controls(
    model: gr.Dropdown, library: LatentLibrary | None = None
) -> tuple[dict, gr.Slider, gr.Button, StyleGAN2Controls, gr.Button]:
    """The left column: (the inputs by the handler's parameter names, the random-faces count,
    the dice, the StyleGAN2 controls, the Generate button)."""
    seeds = gr.Textbox(value="1-8", label=t("generate.seeds.label"), info=t("generate.seeds.info"))
    with gr.Row():
        count = gr.Slider(1, latents.MAX_SEEDS, value=8, step=1, label=t("generate.count.label"))
        dice = gr.Button(t("generate.dice"), scale=0, size="sm")
    psi = gr.Slider(
        0.0,
        2.0,
        value=1.0,
        step=0.05,
        label=t("generate.psi.label"),
        info=t("generate.psi.info"),
    )
    sg2 = build_sg2_controls(camera=True)
    latent_text, latent_file, library_files = _latent_inputs(library)
    save = gr.Checkbox(False, label=t("library.save_all.label"), info=t("library.save_all.info"))
    run = gr.Button(t("generate.run"), variant="primary")
    components = {"seeds": seeds, "truncation_psi": psi, "model": model}
    components |= {"latent_vector": latent_text, "latent_file": latent_file}
    components |= sg2.components()
    components |= {"latent_files": library_files, "save_to_library": save}
    return components, count, dice, sg2, run


def _results(keeps: bool = False) -> tuple[list, gr.Button, gr.File, gr.Button | None]:
    """The gallery, the info line, the latents and the zip: ([gallery, latents, info], the
    zip button, the zip file, the "Keep the selected face" button when `keeps`)."""
    gallery = gr.Gallery(
        label=t("generate.gallery.label"),
        columns=4,
        format="png",
        height="auto",
        object_fit="contain",
        elem_id="faces",
        elem_classes=[PIXELATED],
    )
    info = gr.Markdown(label="info")
    with gr.Row():
        zip_button = gr.Button(t("generate.zip"), size="sm")
        keep = gr.Button(t("library.keep_face"), size="sm") if keeps else None
    zip_file = gr.File(label=t("generate.files.label"), visible=False, height=80)
    with gr.Accordion(t("generate.latents.label"), open=False):
        z_out = gr.JSON(label=t("generate.latents.label"), open=False, show_label=False)
    return [gallery, z_out, info], zip_button, zip_file, keep


def _share(handlers, components, outputs, release_memory, links: Permalinks | None) -> None:
    """Examples (cached on first use), the "How it works" panel and the permalink, which also
    runs the default seeds on page load so the first page shows faces."""
    run = friendly(handlers.generate, release_memory)
    model = components["model"]

    def example(seeds: str, truncation_psi: float):
        """On the default model, which the header then shows (the cache holds its faces)."""
        return (*run(seeds, truncation_psi, model.value), model.value)

    lane_examples(
        [["1-8", 1.0], ["42, 7, 2024, 3", 0.7], ["100-111", 0.5]],
        [components["seeds"], components["truncation_psi"]],
        [*outputs, model],
        example,
        ["seeds 1-8, ψ 1", "seeds 42, 7, 2024, 3, ψ 0.7", "seeds 100-111, ψ 0.5"],
        "generate-examples",
    )
    howto("generate")
    if links is not None:
        links.add("generate", components, run, outputs, on_load=True, concurrency_id="cheap")


def _latent_inputs(library: LatentLibrary | None) -> tuple[gr.Textbox, gr.File, gr.File]:
    """The latent inputs: pasted JSON, one file, and My latents (the picker and its files)."""
    with gr.Accordion(t("generate.latent.accordion"), open=False):
        latent_text = gr.Textbox(
            value="",
            label=t("generate.latent.label"),
            lines=3,
            placeholder=t("generate.latent.placeholder"),
            info=t("generate.latent.info"),
        )
        latent_file = gr.File(
            label=t("generate.latent_file.label"),
            file_types=[".npy", ".json"],
            type="filepath",
        )
    with gr.Accordion(t("library.accordion"), open=False):
        picker = latent_picker(library)
        files = picker.files if picker else gr.File(file_count="multiple", visible=False)
    return latent_text, latent_file, files


# --- Compare models ------------------------------------------------------------------------------


class CompareHandlers:
    """The comparison's event: one call of `FaceStudio.compare_request`."""

    def __init__(self, studio: FaceStudio) -> None:
        self.studio = studio

    def compare_models(
        self,
        seeds: str = "1-4",
        other_model: str = DEFAULT_MODEL,
        truncation_psi: float = 1.0,
        model: str = DEFAULT_MODEL,
        latent_file: str | None = None,
        request: gr.Request = None,
    ):
        """The same seeds (or the same latent file, where both models' latent spaces match)
        through two models side by side, e.g. a base model and its fine-tune.

        Args:
            seeds: seeds, e.g. "1-4" (each model draws its own z from a seed).
            other_model: the model to compare with (the "after" side).
            truncation_psi: ψ for both models.
            model: the first model (the "before" side).
            latent_file: a latent file (.npy/.json, z or w) used instead of the seeds; it must
                fit both models.

        Returns:
            the two grids as a before/after pair (the first model's, then the other's);
            a line of info (both models, faces, sizes).
        """
        psi = float(truncation_psi)
        faces_request = FacesRequest(seeds, psi, "", latent_file, SG2Settings(psi))
        a, b, before, after = self.studio.compare_request(model, other_model, faces_request)
        info = translate(
            "msg.compare.info",
            language_of(request),
            count=len(a.images),
            model=model,
            size=a.images.shape[1],
            other=other_model,
            other_size=b.images.shape[1],
        )
        return (str(before), str(after)), info


def build_compare(
    model: gr.Dropdown,
    studio: FaceStudio,
    components: dict,
    release_memory: Callable[[], None] | None = None,
) -> None:
    """The "Compare models" accordion at the bottom of the tab: the tab's seeds, ψ and latent
    file through the header's model and another, with a before/after slider (API:
    `/compare_models`)."""
    handlers = CompareHandlers(studio)
    choices = ModelChoices(studio, installed_guard())
    with gr.Accordion(t("generate.compare.accordion"), open=False) as accordion:
        gr.Markdown(t("generate.compare.intro"))
        with gr.Row(equal_height=True):
            other = gr.Dropdown(
                studio.model_choices(),
                value=DEFAULT_MODEL,
                label=t("generate.compare.other.label"),
                scale=3,
                allow_custom_value=True,  # as the header's: the store checks the name
            )
            run = gr.Button(t("generate.compare.run"), variant="primary", scale=1)
        slider = gr.ImageSlider(
            label=t("generate.compare.slider.label"),
            type="filepath",
            format="png",
            max_height=640,
            elem_classes=[PIXELATED],
        )
        info = gr.Markdown()
    accordion.expand(friendly(choices.update), other, other, api_visibility="private", queue=False)
    run.click(
        friendly(handlers.compare_models, release_memory),
        inputs_for(handlers.compare_models, components | {"other_model": other}),
        [slider, info],
        api_name="compare_models",
        **CHEAP_LANE,
    )
