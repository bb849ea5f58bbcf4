"""The Fine-tune tab's form: the inputs by the handler's parameter names (with the hints
that show each per-model default), the push panel and the outputs."""

from __future__ import annotations

from typing import Any

import gradio as gr

from gan.finetune import augment
from gan.finetune.config import AUGMENTS, MAX_SECONDS, MAX_STEPS, UNSET_AT_ZERO, FinetuneConfig
from ui.common import on_a_space

POLICIES = list(augment.POLICIES)


def hint(name: str, value: float) -> dict[str, Any]:
    """How a setting shows the chosen model's default, as an update: a slider says it
    (0 = the default); a number box holds it (set on page load and when the model changes)."""
    if name in UNSET_AT_ZERO:
        return {"info": f"0 = this model's default ({value:g})"}
    return {"value": value}


def initial(name: str, value: float) -> dict[str, Any]:
    """The same, as the form is built. A number box starts empty, so that the API's default
    is None (the model's own); the page fills it on load, since the browser turns an empty
    box into 0 once its accordion opens (below `minimum`, or a zero lr)."""
    return hint(name, value) if name in UNSET_AT_ZERO else {}


def training_inputs(d: FinetuneConfig) -> dict[str, gr.components.Component]:
    """Upload, name, steps, batch size, the hyper-parameters and Resume, by parameter name."""
    c: dict[str, gr.components.Component] = {}
    c["images"] = gr.File(
        label="Training images (many images or one .zip)",
        file_count="multiple",
        file_types=["image", ".zip"],
        type="filepath",
        height=140,
    )
    c["upload_note"] = gr.Markdown()
    c["crops_per_image"] = gr.Slider(
        1, 16, value=1, step=1, label="Crops per image",
        info="1: each image once (centre crop); more: random crops of each too, for a "
        "handful of large images such as paintings.",
    )  # fmt: skip
    c["name"] = gr.Textbox(value="my-finetune", label="Save as (checkpoints/<name>/)")
    with gr.Row():
        c["steps"] = gr.Slider(
            0, MAX_STEPS, value=0, step=1, label="Steps", **initial("steps", d.steps)
        )
        c["batch_size"] = gr.Slider(
            0, 256, value=0, step=1, label="Batch size", **initial("batch_size", d.batch_size)
        )
    with gr.Accordion("Hyper-parameters", open=False):
        c |= _optimiser_inputs(d)
        c |= _regulariser_inputs(d)
    with gr.Accordion("StyleGAN2 settings (ignored for DCGAN models)", open=False):
        c |= _stylegan2_inputs(d)
    c["resume"] = gr.Checkbox(value=False, label="Resume the saved run of this name")
    return c


def _optimiser_inputs(d: FinetuneConfig) -> dict[str, gr.components.Component]:
    c: dict[str, gr.components.Component] = {}
    with gr.Row():
        c["lr_g"] = gr.Number(label="lr_g (generator)", minimum=0, **initial("lr_g", d.lr_g))
        c["lr_d"] = gr.Number(label="lr_d (discriminator)", minimum=0, **initial("lr_d", d.lr_d))
    with gr.Row():
        c["beta1_g"] = gr.Number(value=d.beta1_g, label="G Adam β1", minimum=0, maximum=0.999)
        c["beta2_g"] = gr.Number(value=d.beta2_g, label="G Adam β2", minimum=0, maximum=0.9999)
        c["beta1_d"] = gr.Number(value=d.beta1_d, label="D Adam β1", minimum=0, maximum=0.999)
        c["beta2_d"] = gr.Number(value=d.beta2_d, label="D Adam β2", minimum=0, maximum=0.9999)
    c["d_loss_threshold"] = gr.Number(
        value=d.d_loss_threshold,
        label="Balance rule: skip the D step while its loss is below",
        minimum=0,
    )
    return c


def _regulariser_inputs(d: FinetuneConfig) -> dict[str, gr.components.Component]:
    c: dict[str, gr.components.Component] = {}
    c["diffaugment"] = gr.CheckboxGroup(
        POLICIES,
        value=list(augment.parse_policy(d.diffaugment)),
        label="DiffAugment (against overfitting)",
    )
    with gr.Row():
        c["hflip"] = gr.Checkbox(value=d.hflip, label="Random horizontal flips")
        c["kid"] = gr.Checkbox(value=d.kid_samples > 0, label="KID before and after")
    with gr.Row():
        c["freeze_d"] = gr.Number(
            label="Freeze-D blocks (pre-trained D only)", minimum=0, maximum=8, precision=0,
            **initial("freeze_d", d.freeze_d),
        )  # fmt: skip
        c["ema_decay"] = gr.Number(
            value=d.ema_decay, label="EMA decay of G", minimum=0, maximum=0.9999
        )
        c["d_warmup"] = gr.Number(
            label="D warm-up steps (fresh D only)", minimum=0, precision=0,
            **initial("d_warmup", d.d_warmup),
        )  # fmt: skip
    with gr.Row():
        c["sample_every"] = gr.Number(
            label="Samples every K steps", minimum=1, **initial("sample_every", d.sample_every)
        )
        c["max_seconds"] = gr.Number(
            value=d.max_seconds, label="Wall-time cap (s)", minimum=1, maximum=MAX_SECONDS
        )
    return c


def _stylegan2_inputs(d: FinetuneConfig) -> dict[str, gr.components.Component]:
    """ADA or DiffAugment, ADA's target, R1's γ, style mixing and G's EMA, each with a why."""
    c: dict[str, gr.components.Component] = {}
    c["augment"] = gr.Radio(
        list(AUGMENTS),
        value=d.augment,
        label="Augmentation",
        info="ADA adapts its strength p to how much D overfits; DiffAugment uses the fixed "
        "policy above; none: only for large sets (D memorises a few dozen images).",
    )
    with gr.Row():
        c["ada_target"] = gr.Number(
            value=d.ada_target, label="ADA target", minimum=0, maximum=1,
            info="p rises while D is surer than this on real images (0.6 as in the paper).",
        )  # fmt: skip
        c["r1_gamma"] = gr.Number(
            value=d.r1_gamma, label="R1 γ (0 = auto)", minimum=0,
            info="Penalises D's gradient on real images, so it stays smooth; "
            "auto = 0.0002·res²/batch.",
        )  # fmt: skip
    with gr.Row():
        c["style_mixing_prob"] = gr.Number(
            value=d.style_mixing_prob, label="Style-mixing probability", minimum=0, maximum=1,
            info="Two latents per image part of the time: keeps the styles disentangled.",
        )  # fmt: skip
        c["ema_kimg"] = gr.Number(
            value=d.ema_kimg, label="G EMA half-life, kimg (0 = auto)", minimum=0,
            info="The saved G averages its recent weights: smoother, better samples.",
        )  # fmt: skip
    return c


def push_inputs() -> dict[str, gr.components.Component]:
    c: dict[str, gr.components.Component] = {}
    with gr.Accordion("Push to the Hub", open=False):
        c["repo"] = gr.Textbox(label="Hub repo", placeholder="owner/name")
        c["token"] = gr.Textbox(
            label="Hub token (empty: HF_TOKEN from the environment)",
            type="password",
            visible=not on_a_space(),  # visitors push with their own sign-in
        )
        c["private"] = gr.Checkbox(value=True, label="Private repo")
        c["push"] = gr.Button("Push")
        c["pushed"] = gr.Markdown()
    return c


def output_components() -> dict[str, gr.components.Component]:
    c: dict[str, gr.components.Component] = {}
    c["status"] = gr.Markdown()
    c["samples"] = gr.Image(label="EMA generator samples (fixed seeds)", format="png")
    c["losses"] = gr.LinePlot(
        x="step",
        y="loss",
        color="network",
        color_map={"D": "#2563eb", "G": "#ea580c", "R1": "#16a34a"},
        label="Losses (D: discriminator, G: generator, R1: StyleGAN2's gradient penalty)",
        x_lim=[0, None],  # a fixed height would clip the colour legend below the plot
    )
    c["preview"] = gr.Image(label="Prepared training set", format="png")
    c["augmented"] = gr.Image(
        label="Augmented real images, as the StyleGAN2 D sees them", format="png"
    )
    c["result"] = gr.JSON(label="Result")
    return c
