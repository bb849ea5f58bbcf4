"""Components that several tabs share: the StyleGAN controls (noise mode, truncation cutoff,
class) that follow the chosen model's family, and the "from My latents" picker. No tab module
imports another tab's module."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import gradio as gr
from gradio.context import get_blocks_context

from gan.generate.faces import MAX_TRANSLATE, NOISE_MODES, SG2Settings
from gan.generate.service import NO_MODEL_INFO, FaceStudio
from gan.library.service import Entry, LatentLibrary
from ui.common import current_caller, friendly
from ui.i18n import t

log = logging.getLogger(__name__)


def sg2_settings(
    truncation_psi: float,
    noise_mode: str,
    truncation_cutoff: float,
    class_idx: float,
    camera: tuple[float, float, float] = (0.0, 0.0, 0.0),
    camera_end: tuple[float, float, float] | None = None,
) -> SG2Settings:
    """The StyleGAN inputs of a request (cutoff 0 = every layer; the camera: StyleGAN3's
    translate_x, translate_y and rotate, in degrees)."""
    return SG2Settings(
        float(truncation_psi),
        int(truncation_cutoff or 0),
        noise_mode or "const",
        int(class_idx or 0),
        _camera(camera),
        None if camera_end is None else _camera(camera_end),
    )


def _camera(values: tuple[float, float, float]) -> tuple[float, float, float]:
    tx, ty, deg = (float(v or 0) for v in values)
    return tx, ty, deg


@dataclass
class StyleGAN2Controls:
    """Noise mode, truncation cutoff and class: shown for StyleGAN2 models only."""

    group: gr.Accordion
    noise_mode: gr.Radio
    truncation_cutoff: gr.Slider
    class_idx: gr.Number
    camera: dict[str, gr.Slider] = field(default_factory=dict)  # StyleGAN3's, where asked for

    def components(self) -> dict:
        return {
            "noise_mode": self.noise_mode,
            "truncation_cutoff": self.truncation_cutoff,
            "class_idx": self.class_idx,
            **self.camera,
        }

    def follow(self, model: gr.Dropdown, studio: FaceStudio) -> None:
        """Show or hide the controls (and size them) on page load and whenever the model
        changes (a DCGAN has none of them)."""

        def update(name: str):
            info = _model_info(studio, name)
            num_ws, c_dim = info["num_ws"], info["c_dim"]
            moves = bool(info.get("input_transform"))
            return (
                gr.update(visible=info["stylegan2"]),
                gr.update(visible=bool(info.get("noise_inputs"))),
                gr.update(maximum=max(num_ws, 1)),
                gr.update(visible=c_dim > 0, maximum=max(c_dim - 1, 0)),
                *[gr.update(visible=moves) for _ in self.camera],
            )

        outputs = [self.group, self.noise_mode, self.truncation_cutoff, self.class_idx]
        outputs += list(self.camera.values())
        triggers = [model.change, get_blocks_context().root_block.load]  # on page load too
        gr.on(
            triggers,
            friendly(update),
            model,
            outputs,
            api_visibility="private",
            show_progress="hidden",
        )


def _model_info(studio: FaceStudio, name: str) -> dict:
    try:
        return studio.model_info(name)
    except Exception as e:  # a bad name: the controls hide, generating gives the message
        log.info("no model info for %r: %s", name, e)
        return NO_MODEL_INFO


# The camera sliders (name -> (t key, bound)), as hysts' StyleGAN3 Space and NVIDIA's
# gen_images.py --translate=tx,ty --rotate=deg; shown for a family with an input transform.
CAMERA_SLIDERS = {
    "translate_x": ("generate.translate_x.label", MAX_TRANSLATE),
    "translate_y": ("generate.translate_y.label", MAX_TRANSLATE),
    "rotate": ("generate.rotate.label", 180.0),
}


def build_camera_sliders(suffix: str = "") -> dict[str, gr.Slider]:
    """The three camera sliders (hidden until a StyleGAN3 is chosen), keyed by the handler's
    parameter names plus `suffix` (Interpolate's last frame: `_end`, labelled as such)."""
    sliders = {}
    for name, (key, bound) in CAMERA_SLIDERS.items():
        label = t(key if not suffix else f"interpolate.{name}{suffix}.label")
        step = 1.0 if name == "rotate" else 0.05
        sliders[name + suffix] = gr.Slider(
            -bound, bound, value=0, step=step, label=label, visible=False
        )
    return sliders


def build_sg2_controls(
    visible: bool = False, camera: bool = False, camera_end: bool = False
) -> StyleGAN2Controls:
    """The StyleGAN accordion (hidden until a model with a W space is chosen); `camera`: with
    the camera sliders (shown for StyleGAN3 only); `camera_end`: and a second set for the
    last frame of a walk (`translate_x_end`, ...)."""
    with gr.Accordion("StyleGAN", open=True, visible=visible) as group:
        noise = gr.Radio(
            list(NOISE_MODES),
            value="const",
            label=t("generate.noise.label"),
            info=t("generate.noise.info"),
        )
        cutoff = gr.Slider(
            0,
            18,
            value=0,
            step=1,
            label=t("generate.cutoff.label"),
            info=t("generate.cutoff.info"),
        )
        class_idx = gr.Number(
            value=0,
            precision=0,
            minimum=0,
            label=t("generate.class.label"),
            visible=False,
            info=t("generate.class.info"),
        )
        sliders = build_camera_sliders() if camera else {}
        if camera_end:
            sliders |= build_camera_sliders("_end")
    return StyleGAN2Controls(group, noise, cutoff, class_idx, sliders)


# --- My latents ------------------------------------------------------------------------------


@dataclass
class LatentPicker:
    """The "from My latents" picker: `choose` lists the visitor's entries (values: entry ids);
    the chosen entries land in `files` as latent files, the input the tab's API takes."""

    choose: gr.Dropdown
    files: gr.File


def entry_label(entry: Entry) -> str:
    """How a picker names an entry: its name, space and model."""
    return f"{entry.name} · {entry.space} · {entry.model}"


class PickerHandlers:
    """The picker's events: the caller's entries as choices, the chosen ones as files."""

    def __init__(self, library: LatentLibrary) -> None:
        self.library = library

    def entry_choices(self, chosen: list[str] | str | None = None) -> dict:
        """The caller's entries, newest first (the chosen ones that still exist stay chosen)."""
        entries = self.library.entries(current_caller().owner_id)
        ids = {e.entry_id for e in entries}
        keep = [c for c in _as_list(chosen) if c in ids]
        value = keep if isinstance(chosen, list) else (keep[0] if keep else None)
        return gr.update(choices=[(entry_label(e), e.entry_id) for e in entries], value=value)

    def picked_files(self, chosen: list[str] | str | None = None) -> list[str] | str | None:
        """Copies of the chosen entries' latent files (one path when one may be chosen)."""
        ids = _as_list(chosen)
        paths = [str(p) for p in self.library.latent_files(current_caller().owner_id, ids)]
        if isinstance(chosen, list):
            return paths
        return paths[0] if paths else None


def _as_list(chosen: list[str] | str | None) -> list[str]:
    if not chosen:
        return []
    return [str(c) for c in chosen] if isinstance(chosen, list) else [str(chosen)]


def latent_picker(
    library: LatentLibrary | None,
    files: gr.File | None = None,
    multiple: bool = True,
    label: str | None = None,
) -> LatentPicker | None:
    """A "from My latents" picker, where it is called in the layout: a dropdown of the
    visitor's entries (refreshed on page load and when it gets focus) that fills `files` (made
    here when None: a `gr.File` of latent files, `file_count="multiple"` when `multiple`) with
    the chosen entries' `.json` latents. Give `files` to the tab's event as its latent input
    (e.g. `latent_files`, at the end of the inputs): visitors may also upload files there.
    `label` names the dropdown where a tab has two pickers. None without a library (a tab
    built alone)."""
    if library is None:
        return None
    handlers = PickerHandlers(library)
    choose = gr.Dropdown(
        choices=[],
        value=[] if multiple else None,
        multiselect=multiple,
        label=label or t("library.picker.label"),
        info=t("library.picker.info"),
    )
    if files is None:
        files = gr.File(
            label=t("library.files.label"),
            file_count="multiple" if multiple else "single",
            file_types=[".npy", ".json"],
            type="filepath",
        )
    quiet = {"api_visibility": "private", "show_progress": "hidden"}
    refresh = [get_blocks_context().root_block.load, choose.focus]
    gr.on(refresh, friendly(handlers.entry_choices), choose, choose, **quiet)
    choose.input(friendly(handlers.picked_files), choose, files, **quiet)
    return LatentPicker(choose, files)
