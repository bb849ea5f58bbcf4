"""The Fine-tune tab: upload, train with live losses and samples, stop and save, push."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator

import gradio as gr
import pandas as pd

from core.errors import UserInputError
from core.events import Progress
from core.media import grid, upscale
from gan import DEFAULT_MODEL
from gan.finetune import augment
from gan.finetune.config import AUGMENTS, MAX_SECONDS, MAX_STEPS, FinetuneConfig
from gan.finetune.data import preview_grid
from gan.finetune.service import FineTuner, FinetuneRun
from ui.common import TRAIN_LANE, friendly, inputs_for, on_a_space, session_key, settings_from
from ui.i18n import howto

POLICIES = list(augment.POLICIES)
# Settings that follow the chosen model's architecture and resolution.
DEFAULT_FIELDS = ("steps", "batch_size", "lr_g", "lr_d", "freeze_d", "d_warmup", "sample_every")
Outputs = tuple  # (status, preview, samples, loss plot, result)


def kid_summary(kid: dict[str, float | None]) -> str:
    parts = [f"{k} {v * 1e3:.2f}" for k, v in kid.items() if v is not None]
    return "KID ×10⁻³: " + ", ".join(parts) if parts else ""


def loss_frame(history: list[dict]) -> pd.DataFrame:
    rows = [(h["step"], "D", h["loss_d"]) for h in history]
    rows += [(h["step"], "G", h["loss_g"]) for h in history]
    rows += [(h["step"], "R1", h["r1"]) for h in history if math.isfinite(h.get("r1", math.nan))]
    return pd.DataFrame(rows, columns=["step", "network", "loss"])


def _shown(grid_image):
    """A small grid (16-32 px images) enlarged for the page, pixels kept crisp."""
    return upscale(grid_image, 512)


def samples_image(samples):
    return upscale(grid(samples, ncols=4), 512)


def status_text(lines: list[str], event: Progress | None = None, kid: dict | None = None) -> str:
    """The status box: the run's lines, the latest losses and throughput, the KIDs."""
    text = list(lines)
    if event is not None and event.losses:
        skipped = " (D step skipped: balance rule)" if event.metrics.get("d_skipped") else ""
        text.append(
            f"Step **{event.step}/{event.total}**: D loss {event.losses['loss_d']:.3f}{skipped}, "
            f"G loss {event.losses['loss_g']:.3f}{_stylegan2_numbers(event)}, "
            f"{event.metrics['images_per_s']:.1f} images/s"
        )
    if kid:
        text.append(kid_summary(kid) + " (EfficientNet-Lite0 features, lower is better)")
    return "  \n".join(text)


def _stylegan2_numbers(event: Progress) -> str:
    """ ", R1 0.012, ADA p 0.004, 1.2 kimg" for a StyleGAN2 run; "" for a DCGAN one."""
    parts = []
    if "r1" in event.losses and math.isfinite(event.losses["r1"]):
        parts.append(f"R1 {event.losses['r1']:.4f}")
    if "ada_p" in event.metrics:
        parts.append(f"ADA p {event.metrics['ada_p']:.3f}")
    if "kimg" in event.metrics:
        parts.append(f"{event.metrics['kimg']:g} kimg")
    return "".join(f", {p}" for p in parts)


def _kid(event: Progress) -> dict[str, float | None]:
    """{"before": ..., "after": ...} from an event's `kid_*` metrics."""
    return {k[4:]: v for k, v in event.metrics.items() if k.startswith("kid_")}


def _policy(diffaugment: list[str] | str | None) -> str:
    """The checkbox group's policies as FinetuneConfig's comma-separated string."""
    if diffaugment is None:
        return augment.DEFAULT_POLICY
    if isinstance(diffaugment, (list, tuple)):
        return ",".join(diffaugment) or "none"
    return diffaugment


class FinetuneHandlers:
    """The tab's events, each one call of `FineTuner` (the run's events are then streamed)."""

    def __init__(self, tuner: FineTuner) -> None:
        self.tuner = tuner

    def finetune(
        self,
        images: list[str] | None,
        model: str,
        name: str,
        steps: float,
        batch_size: float,
        lr_g: float,
        lr_d: float,
        beta1_g: float,
        beta2_g: float,
        beta1_d: float,
        beta2_d: float,
        d_loss_threshold: float,
        diffaugment: list[str] | str | None,
        hflip: bool,
        freeze_d: float,
        ema_decay: float,
        d_warmup: float,
        sample_every: float,
        max_seconds: float,
        resume: bool,
        kid: bool,
        augment: str = "ada",
        ada_target: float = 0.6,
        r1_gamma: float = 0.0,
        style_mixing_prob: float = 0.9,
        ema_kimg: float = 0.0,
        request: gr.Request = None,
        progress=gr.Progress(),  # noqa: B008 (Gradio injects it)
    ):
        """Fine-tune `model` on the uploaded images (files or one .zip) and save it as `name`;
        streams status, preview, samples and losses; the last `result` holds the KIDs."""
        # The parameters are named after FinetuneConfig's fields: the config is built by name.
        values = locals() | {"diffaugment": _policy(diffaugment), "hflip": bool(hflip)}
        values["kid_samples"] = self.tuner.defaults.kid_samples if kid else 0
        config = settings_from(FinetuneConfig, values)
        run = self.tuner.start(images, model, name, config, bool(resume))
        if warning := run.dataset.warning():
            gr.Warning(warning)
        lines = [
            f"**{len(run.dataset)} images** prepared at {run.dataset.image_size}px "
            f"({self.tuner.describe(name if resume else model)})"
        ]
        preview = _shown(preview_grid(run.dataset.images))
        yield status_text(lines), preview, gr.skip(), gr.skip(), gr.skip()
        yield from _outputs(run, session_key(request), lines, preview, progress)

    def preview_upload(
        self,
        images: list[str] | None,
        model: str = DEFAULT_MODEL,
        augment: str = "ada",
        diffaugment: list[str] | str | None = None,
    ):
        """Prepare the upload as training would, to show the grid, the same images as the
        StyleGAN2 D sees them (augmented) and any problems, before training."""
        if not images:
            return None, "", None
        dataset = self.tuner.prepare(images, model)
        note = (
            f"**{len(dataset)} images** ready at {dataset.image_size}px "
            f"({self.tuner.describe(model)})"
        )
        if warning := dataset.warning():
            note += f"  \n⚠️ {warning}"
        augmented = None
        if self.tuner.architecture(model) == "stylegan2":
            config = FinetuneConfig(augment=augment, diffaugment=_policy(diffaugment))
            augmented, caption = self.tuner.augment_preview(dataset, config)
            augmented = _shown(augmented)
            note += f"  \nAugmented preview: {caption}"
        return _shown(preview_grid(dataset.images)), note, augmented

    def defaults(self, model: str):
        """The settings for `model`'s architecture and resolution, and a line saying so."""
        try:
            d, line = self.tuner.defaults_for(model), self.tuner.describe(model)
        except UserInputError:
            return (gr.skip(),) * (len(DEFAULT_FIELDS) + 1)
        return *(getattr(d, f) for f in DEFAULT_FIELDS), f"Fine-tuning **{model}**: {line}"

    def push(self, name: str, repo_id: str, token: str = "", private: bool = True) -> str:
        """Upload `checkpoints/<name>/` to the Hub; the token comes from the box or `HF_TOKEN`."""
        url = self.tuner.push(name, repo_id, token, private)
        return f"Pushed **{name}** to [{repo_id}]({url})"

    def stop(self, request: gr.Request = None) -> None:
        self.tuner.stop(session_key(request))


def _outputs(
    run: FinetuneRun, session: str, lines: list[str], preview, progress
) -> Iterator[Outputs]:
    """Training progress -> (status, preview, samples, loss plot, result) updates."""
    skip = gr.skip
    kid: dict = {}
    for event in run.events(session):
        if event.done:
            yield _final(event, run, lines, preview)
            continue
        kid |= _kid(event)
        if event.message:
            lines.append(event.message)
        if event.losses:
            progress((event.step, event.total), desc="Training", unit="steps")
            status = status_text(lines, event, kid)
            yield status, skip(), skip(), loss_frame(event.history), skip()
        elif event.preview is not None:
            yield skip(), skip(), samples_image(event.preview), skip(), skip()
        else:  # a line or the KID before training
            yield status_text(lines, kid=kid), skip(), skip(), skip(), skip()


def _final(event: Progress, run: FinetuneRun, lines: list[str], preview) -> Outputs:
    """Every output again, so API clients get all of them from the last update."""
    name, kid = run.job.name, _kid(event)
    lines.append(f"Saved **{name}**: pick it in the model list above to generate.")
    result = {
        "model": name,
        "steps": event.step,
        "ended": event.message,
        "images": len(run.job.images),
        "skipped_files": len(run.job.skipped),
        "kid_before": kid.get("before"),
        "kid_after": kid.get("after"),
    }
    last = event.history[-1] if event.history else {}
    result |= {k: last[k] for k in ("ada_p", "kimg") if k in last}  # StyleGAN2 runs
    samples = samples_image(event.preview)
    return status_text(lines, kid=kid), preview, samples, loss_frame(event.history), result


# --- Components ---------------------------------------------------------------------------------

INTRO = (
    "Fine-tune the model chosen above (DCGAN or StyleGAN2) on your own images (a few dozen "
    "to a few thousand, or one .zip): upload, check the prepared set, press Start; the "
    "settings follow the model's architecture and resolution. Then pick the result in the "
    "model list. One training run at a time: "
    "others wait in the queue. Runs are capped at "
    f"{MAX_STEPS:,} steps and {MAX_SECONDS / 60:g} minutes; tick *Resume* to "
    "continue a saved run."
)


def build_finetune_tab(
    model: gr.Dropdown,
    tuner: FineTuner,
    release_memory: Callable[[], None] | None = None,
    on_saved: Callable[[str | None], dict] | None = None,
) -> None:
    """The Fine-tune tab's components and events (API: `/finetune`); `on_saved(model)`
    refreshes the model dropdown after a run."""
    handlers = FinetuneHandlers(tuner)
    gr.Markdown(INTRO)
    arch_note = gr.Markdown()
    with gr.Row():
        with gr.Column(scale=1):
            c = {"model": model, **_training_inputs(_initial_defaults(tuner, model.value))}
            with gr.Row():
                run = gr.Button("Start fine-tuning", variant="primary")
                stop = gr.Button("Stop and save", variant="stop")
            push = _push_inputs()
        with gr.Column(scale=1):
            out = _output_components()
    images = c["images"]
    for trigger in (images.upload, c["augment"].change):
        trigger(
            friendly(handlers.preview_upload, release_memory),
            [images, model, c["augment"], c["diffaugment"]],
            [out["preview"], c["upload_note"], out["augmented"]],
            api_visibility="private",
            concurrency_id="train",  # data preparation runs in the heavy lane
        )
    model.change(
        friendly(handlers.defaults),
        model,
        [c[f] for f in DEFAULT_FIELDS] + [arch_note],
        api_visibility="private",
    )
    event = run.click(
        friendly(handlers.finetune, release_memory),
        inputs_for(handlers.finetune, c),
        [out["status"], out["preview"], out["samples"], out["losses"], out["result"]],
        show_progress_on=out["result"],  # the bar sits on the (still empty) result
        api_name="finetune",
        **TRAIN_LANE,
    )
    if on_saved is not None:
        event.then(on_saved, model, model, api_visibility="private")
    stop.click(friendly(handlers.stop), None, None, queue=False, api_visibility="private")
    push["push"].click(
        friendly(handlers.push, release_memory),
        [c["name"], push["repo"], push["token"], push["private"]],
        push["pushed"],
        api_visibility="private",
    )
    howto("finetune")  # the "How it works" panel (ui/i18n.py)


def _training_inputs(d: FinetuneConfig) -> dict[str, gr.components.Component]:
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
    c["name"] = gr.Textbox(value="my-finetune", label="Save as (checkpoints/<name>/)")
    with gr.Row():
        c["steps"] = gr.Slider(1, MAX_STEPS, value=d.steps, step=1, label="Steps")
        c["batch_size"] = gr.Slider(2, 256, value=d.batch_size, step=1, label="Batch size")
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
        c["lr_g"] = gr.Number(value=d.lr_g, label="lr_g (generator)", minimum=0)
        c["lr_d"] = gr.Number(value=d.lr_d, label="lr_d (discriminator)", minimum=0)
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
        c["freeze_d"] = gr.Slider(
            0, 4, value=d.freeze_d, step=1, label="Freeze-D blocks (pre-trained D only)"
        )
        c["ema_decay"] = gr.Number(
            value=d.ema_decay, label="EMA decay of G", minimum=0, maximum=0.9999
        )
        c["d_warmup"] = gr.Number(
            value=d.d_warmup, label="D warm-up steps (fresh D only)", minimum=0, precision=0
        )
    with gr.Row():
        c["sample_every"] = gr.Number(
            value=d.sample_every, label="Samples every K steps", minimum=1
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


def _initial_defaults(tuner: FineTuner, model: str | None) -> FinetuneConfig:
    """The settings for the model the page opens with (the device's, if it cannot be read)."""
    try:
        return tuner.defaults_for(model or DEFAULT_MODEL)
    except UserInputError:
        return tuner.defaults


def _push_inputs() -> dict[str, gr.components.Component]:
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


def _output_components() -> dict[str, gr.components.Component]:
    c: dict[str, gr.components.Component] = {}
    c["status"] = gr.Markdown()
    c["samples"] = gr.Image(label="EMA generator samples (fixed seeds)", format="png")
    c["losses"] = gr.LinePlot(
        x="step",
        y="loss",
        color="network",
        color_map={"D": "#2563eb", "G": "#ea580c", "R1": "#16a34a"},
        label="Losses (D: discriminator, G: generator, R1: StyleGAN2's gradient penalty)",
        height=220,
    )
    c["preview"] = gr.Image(label="Prepared training set", format="png")
    c["augmented"] = gr.Image(
        label="Augmented real images, as the StyleGAN2 D sees them", format="png"
    )
    c["result"] = gr.JSON(label="Result")
    return c
