"""The Fine-tune tab's form: the inputs by the handler's parameter names (with the hints
that show each per-model default), the push panel and the outputs."""

from __future__ import annotations

from typing import Any

import gradio as gr

from gan.finetune import augment
from gan.finetune.config import AUGMENTS, MAX_SECONDS, MAX_STEPS, UNSET_AT_ZERO, FinetuneConfig
from ui.common import on_a_space
from ui.i18n import t

POLICIES = list(augment.POLICIES)


def hint(name: str, value: float) -> dict[str, Any]:
    """How a setting shows the chosen model's default, as an update: a slider says it
    (0 = the default); a number box holds it (set on page load and when the model changes)."""
    if name in UNSET_AT_ZERO:
        # the number is the model's: the words around it come from the page's language
        return {"info": f"0 = {value:g}"}
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
        label=t("finetune.images.label"),
        file_count="multiple",
        file_types=["image", ".zip"],
        type="filepath",
        height=140,
    )
    c["upload_note"] = gr.Markdown()
    c["crops_per_image"] = gr.Slider(
        1, 16, value=1, step=1, label=t("finetune.crops.label"),
        info=t("finetune.crops.info"),
    )  # fmt: skip
    c["name"] = gr.Textbox(value="my-finetune", label=t("finetune.name.label"))
    with gr.Row():
        c["steps"] = gr.Slider(
            0,
            MAX_STEPS,
            value=0,
            step=1,
            label=t("finetune.steps.label"),
            **initial("steps", d.steps),
        )
        c["batch_size"] = gr.Slider(
            0,
            256,
            value=0,
            step=1,
            label=t("finetune.batch.label"),
            **initial("batch_size", d.batch_size),
        )
    with gr.Accordion(t("finetune.hyper.accordion"), open=False):
        c |= _optimiser_inputs(d)
        c |= _regulariser_inputs(d)
    with gr.Accordion(t("finetune.sg2.accordion"), open=False):
        c |= _stylegan2_inputs(d)
    c["resume"] = gr.Checkbox(value=False, label=t("finetune.resume.label"))
    return c


def _optimiser_inputs(d: FinetuneConfig) -> dict[str, gr.components.Component]:
    c: dict[str, gr.components.Component] = {}
    with gr.Row():
        c["lr_g"] = gr.Number(label=t("finetune.lr_g.label"), minimum=0, **initial("lr_g", d.lr_g))
        c["lr_d"] = gr.Number(label=t("finetune.lr_d.label"), minimum=0, **initial("lr_d", d.lr_d))
    with gr.Row():
        c["beta1_g"] = gr.Number(
            label=t("finetune.beta1_g.label"),
            **initial("beta1_g", d.beta1_g),
            minimum=0,
            maximum=0.999,
        )
        c["beta2_g"] = gr.Number(
            label=t("finetune.beta2_g.label"),
            **initial("beta2_g", d.beta2_g),
            minimum=0,
            maximum=0.9999,
        )
        c["beta1_d"] = gr.Number(
            label=t("finetune.beta1_d.label"),
            **initial("beta1_d", d.beta1_d),
            minimum=0,
            maximum=0.999,
        )
        c["beta2_d"] = gr.Number(
            label=t("finetune.beta2_d.label"),
            **initial("beta2_d", d.beta2_d),
            minimum=0,
            maximum=0.9999,
        )
    c["d_loss_threshold"] = gr.Number(
        label=t("finetune.threshold.label"),
        minimum=0,
        **initial("d_loss_threshold", d.d_loss_threshold),
    )
    return c


def _regulariser_inputs(d: FinetuneConfig) -> dict[str, gr.components.Component]:
    c: dict[str, gr.components.Component] = {}
    c["diffaugment"] = gr.CheckboxGroup(
        POLICIES,
        value=list(augment.parse_policy(d.diffaugment)),
        label=t("finetune.diffaugment.label"),
    )
    with gr.Row():
        c["hflip"] = gr.Checkbox(value=d.hflip, label=t("finetune.hflip.label"))
        c["kid"] = gr.Checkbox(value=d.kid_samples > 0, label=t("finetune.kid.label"))
    with gr.Row():  # NVIDIA's unit (D layers) and the block count beside it
        c["freezed"] = gr.Number(
            label=t("finetune.freezed.label"), minimum=0, maximum=64, precision=0,
            info=t("finetune.freezed.info"), **initial("freezed", d.freezed),
        )  # fmt: skip
        c["freeze_d"] = gr.Number(
            label=t("finetune.freeze_d.label"), minimum=0, maximum=8, precision=0,
            **initial("freeze_d", d.freeze_d),
        )  # fmt: skip
    with gr.Row():
        c["ema_decay"] = gr.Number(
            value=d.ema_decay, label=t("finetune.ema.label"), minimum=0, maximum=0.9999
        )
        c["d_warmup"] = gr.Number(
            label=t("finetune.d_warmup.label"), minimum=0, precision=0,
            **initial("d_warmup", d.d_warmup),
        )  # fmt: skip
    with gr.Row():
        c["sample_every"] = gr.Number(
            label=t("finetune.sample_every.label"),
            minimum=1,
            **initial("sample_every", d.sample_every),
        )
        c["max_seconds"] = gr.Number(
            value=d.max_seconds,
            label=t("finetune.max_seconds.label"),
            minimum=1,
            maximum=MAX_SECONDS,
        )
    return c


def _stylegan2_inputs(d: FinetuneConfig) -> dict[str, gr.components.Component]:
    """ADA or DiffAugment, ADA's target, R1's γ, style mixing and G's EMA, each with a why."""
    c: dict[str, gr.components.Component] = {}
    c["augment"] = gr.Radio(
        list(AUGMENTS),
        value=d.augment,
        label=t("finetune.augment.label"),
        info=t("finetune.augment.info"),
    )
    with gr.Row():
        c["ada_target"] = gr.Number(
            value=d.ada_target, label=t("finetune.ada_target.label"), minimum=0, maximum=1,
            info=t("finetune.ada_target.info"),
        )  # fmt: skip
        c["r1_gamma"] = gr.Number(
            label=t("finetune.r1.label"), minimum=0, info=t("finetune.r1.info"),
            **initial("r1_gamma", d.r1_gamma),
        )  # fmt: skip
        c["ada_kimg"] = gr.Number(
            label=t("finetune.ada_kimg.label"), minimum=0, **initial("ada_kimg", d.ada_kimg)
        )
    with gr.Row():
        c["style_mixing_prob"] = gr.Number(
            value=d.style_mixing_prob, label=t("finetune.mixing.label"), minimum=0, maximum=1,
            info=t("finetune.mixing.info"),
        )  # fmt: skip
        c["ema_kimg"] = gr.Number(
            label=t("finetune.ema_kimg.label"), minimum=0, info=t("finetune.ema_kimg.info"),
            **initial("ema_kimg", d.ema_kimg),
        )  # fmt: skip
        c["ema_rampup"] = gr.Number(
            label=t("finetune.ema_rampup.label"), minimum=0, maximum=1,
            **initial("ema_rampup", d.ema_rampup),
        )  # fmt: skip
    c |= _path_length_inputs(d)
    return c


def _path_length_inputs(d: FinetuneConfig) -> dict[str, gr.components.Component]:
    """Path-length regularisation and G's lazy interval (NVIDIA's: 2, 2, 0.01, 4)."""
    c: dict[str, gr.components.Component] = {}
    with gr.Row():
        c["pl_weight"] = gr.Number(
            label=t("finetune.pl_weight.label"), minimum=0, **initial("pl_weight", d.pl_weight)
        )
        c["pl_batch_shrink"] = gr.Number(
            value=d.pl_batch_shrink, label=t("finetune.pl_batch_shrink.label"), minimum=1,
            precision=0,
        )  # fmt: skip
        c["pl_decay"] = gr.Number(
            value=d.pl_decay, label=t("finetune.pl_decay.label"), minimum=0, maximum=1
        )
        c["g_reg_interval"] = gr.Number(
            value=d.g_reg_interval, label=t("finetune.g_reg_interval.label"), minimum=1,
            precision=0,
        )  # fmt: skip
    return c


def push_inputs() -> dict[str, gr.components.Component]:
    c: dict[str, gr.components.Component] = {}
    with gr.Accordion(t("finetune.push.accordion"), open=False):
        c["repo"] = gr.Textbox(
            label=t("finetune.repo.label"), placeholder=t("finetune.repo.placeholder")
        )
        c["token"] = gr.Textbox(
            label=t("finetune.token.label"),
            type="password",
            visible=not on_a_space(),  # visitors push with their own sign-in
        )
        c["private"] = gr.Checkbox(value=True, label=t("finetune.private.label"))
        c["push"] = gr.Button(t("finetune.push"))
        c["pushed"] = gr.Markdown()
    return c


def output_components() -> dict[str, gr.components.Component]:
    c: dict[str, gr.components.Component] = {}
    c["status"] = gr.Markdown()
    c["samples"] = gr.Image(label=t("finetune.samples.label"), format="png")
    c["losses"] = gr.LinePlot(
        x="step",
        y="loss",
        color="network",
        color_map={"D": "#2563eb", "G": "#ea580c", "R1": "#16a34a"},
        label=t("finetune.losses.label"),
        x_lim=[0, None],  # a fixed height would clip the colour legend below the plot
    )
    c["preview"] = gr.Image(label=t("finetune.preview.label"), format="png")
    c["augmented"] = gr.Image(  # shown once a StyleGAN2's augmented set exists
        label=t("finetune.augmented.label"), format="png", visible=False
    )
    c["result"] = gr.JSON(label=t("finetune.result.label"))
    return c
