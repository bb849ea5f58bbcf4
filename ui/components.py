"""Components that several tabs share: the StyleGAN controls (noise mode, truncation cutoff,
class) that follow the chosen model's family. No tab module imports another tab's module."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import gradio as gr
from gradio.context import get_blocks_context

from gan.generate.faces import NOISE_MODES, SG2Settings
from gan.generate.service import FaceStudio
from ui.common import friendly
from ui.i18n import t

log = logging.getLogger(__name__)


def sg2_settings(
    truncation_psi: float, noise_mode: str, truncation_cutoff: float, class_idx: float
) -> SG2Settings:
    """The StyleGAN2 inputs of a request (cutoff 0 = every layer)."""
    return SG2Settings(
        float(truncation_psi), int(truncation_cutoff or 0), noise_mode, int(class_idx or 0)
    )


@dataclass
class StyleGAN2Controls:
    """Noise mode, truncation cutoff and class: shown for StyleGAN2 models only."""

    group: gr.Accordion
    noise_mode: gr.Radio
    truncation_cutoff: gr.Slider
    class_idx: gr.Number

    def components(self) -> dict:
        return {
            "noise_mode": self.noise_mode,
            "truncation_cutoff": self.truncation_cutoff,
            "class_idx": self.class_idx,
        }

    def follow(self, model: gr.Dropdown, studio: FaceStudio) -> None:
        """Show or hide the controls (and size them) on page load and whenever the model
        changes (a DCGAN has none of them)."""

        def update(name: str):
            info = _model_info(studio, name)
            num_ws, c_dim = info["num_ws"], info["c_dim"]
            return (
                gr.update(visible=info["stylegan2"]),
                gr.update(maximum=max(num_ws, 1)),
                gr.update(visible=c_dim > 0, maximum=max(c_dim - 1, 0)),
            )

        outputs = [self.group, self.truncation_cutoff, self.class_idx]
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
        return {"stylegan2": False, "c_dim": 0, "num_ws": 0, "resolution": 0}


def build_sg2_controls(visible: bool = False) -> StyleGAN2Controls:
    """The StyleGAN2 accordion (hidden until a StyleGAN2 model is chosen)."""
    with gr.Accordion("StyleGAN2", open=True, visible=visible) as group:
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
    return StyleGAN2Controls(group, noise, cutoff, class_idx)
