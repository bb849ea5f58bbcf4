"""The Fine-tune tab: upload, train with live losses and samples, stop and save, push."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from pathlib import Path

import gradio as gr
import pandas as pd
from gradio.context import Context

from core.errors import UserInputError
from core.events import Progress
from core.media import grid, upscale
from gan import DEFAULT_MODEL
from gan.finetune import augment
from gan.finetune.config import (
    MODEL_DEFAULTS,
    FinetuneConfig,
)
from gan.finetune.data import preview_grid
from gan.finetune.service import FineTuner, FinetuneRun
from ui.common import (
    TRAIN_LANE,
    arm_stop,
    as_markdown_text,
    current_deadline,
    friendly,
    inputs_for,
    session_key,
    settle_stop,
    warning,
)
from ui.finetune_form import hint, output_components, push_inputs, training_inputs
from ui.i18n import howto, language_of, t, translate
from ui.links import Permalinks
from ui.plots import whole_steps

# Settings that follow the chosen model's architecture and resolution: left unset (empty, or
# 0 on the sliders), they take the model's default, in the tab and over the API alike.
DEFAULT_FIELDS = MODEL_DEFAULTS
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


def status_text(
    lines: list[str], event: Progress | None = None, kid: dict | None = None, lang: str = "en"
) -> str:
    """The status box: the run's lines, the latest losses and throughput, the KIDs."""
    text = list(lines)
    if event is not None and event.losses:
        skipped = translate("msg.finetune.skipped", lang) if event.metrics.get("d_skipped") else ""
        text.append(
            translate(
                "msg.finetune.step",
                lang,
                step=event.step,
                total=event.total,
                loss_d=f"{event.losses['loss_d']:.3f}{skipped}",
                loss_g=f"{event.losses['loss_g']:.3f}{_stylegan2_numbers(event)}",
                speed=f"{event.metrics['images_per_s']:.1f}",
            )
        )
    if kid:
        text.append(kid_summary(kid) + translate("msg.finetune.kid", lang))
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
        lr_g: float | None = None,
        lr_d: float | None = None,
        beta1_g: float | None = None,
        beta2_g: float | None = None,
        beta1_d: float | None = None,
        beta2_d: float | None = None,
        d_loss_threshold: float | None = None,
        diffaugment: list[str] | str | None = None,
        hflip: bool | None = None,
        freeze_d: float | None = None,
        ema_decay: float | None = None,
        d_warmup: float | None = None,
        sample_every: float | None = None,
        max_seconds: float | None = None,
        resume: bool | None = None,
        kid: bool | None = None,
        augment: str | None = None,
        ada_target: float | None = None,
        r1_gamma: float | None = None,
        style_mixing_prob: float | None = None,
        ema_kimg: float | None = None,
        crops_per_image: float | None = None,
        freezed: float | None = None,
        ada_kimg: float | None = None,
        ema_rampup: float | None = None,
        pl_weight: float | None = None,
        pl_batch_shrink: float | None = None,
        pl_decay: float | None = None,
        g_reg_interval: float | None = None,
        request: gr.Request = None,
        progress=gr.Progress(),  # noqa: B008 (Gradio injects it)
    ):
        """Fine-tune `model` on the uploaded images (files or one .zip) and save it as `name`;
        streams status, preview, samples and losses; the last `result` holds the KIDs.
        Settings left unset (None, or 0 steps / batch size) take `model`'s recipe's defaults
        for its resolution: for a StyleGAN2, NVIDIA's `train.py --resume` settings. Freeze-D:
        `freezed` counts D layers as NVIDIA's --freezed (StyleGAN2); `freeze_d` counts D blocks
        (DCGAN's unit; for a StyleGAN2, an older call's, turned into its layers)."""
        # The parameters are named after FinetuneConfig's fields: the config is built by name.
        # None (an API call leaving a setting out): the model's or FinetuneConfig's default.
        values = locals() | {"diffaugment": _policy(diffaugment)}
        values["kid_samples"] = self.tuner.defaults.kid_samples if kid else 0
        config = self.tuner.settings(name if resume else model, values)
        run = self.tuner.start(images, model, name, config, bool(resume))
        lang = language_of(request)
        lines = [
            translate(
                "msg.finetune.prepared",
                lang,
                count=len(run.dataset),
                size=run.dataset.image_size,
                model=self.describe(name if resume else model, lang),
            )
        ]
        if skipped := run.dataset.warning():
            warning(skipped)
            lines.append(f"⚠️ {as_markdown_text(skipped)}")
        preview = _shown(preview_grid(run.dataset.images))
        yield status_text(lines, lang=lang), preview, gr.skip(), gr.skip(), gr.skip()
        yield from _outputs(run, session_key(request), lines, preview, progress, lang)

    def preview_upload(
        self,
        images: list[str] | None,
        model: str = DEFAULT_MODEL,
        augment: str = "ada",
        diffaugment: list[str] | str | None = None,
        crops_per_image: float = 1,
        request: gr.Request = None,
    ):
        """Prepare the upload as training would, to show the grid, the same images as the
        StyleGAN2 D sees them (augmented) and any problems, before training."""
        if not images:
            return None, "", gr.update(value=None, visible=False)
        crops = int(crops_per_image or 1)
        dataset = self.tuner.prepare(images, model, crops=crops, deadline=current_deadline())
        lang = language_of(request)
        note = translate(
            "msg.finetune.ready",
            lang,
            count=len(dataset),
            size=dataset.image_size,
            model=self.describe(model, lang),
        )
        if skipped := dataset.warning():
            note += f"  \n⚠️ {as_markdown_text(skipped)}"
        augmented = None
        if self.tuner.architecture(model) in ("stylegan2", "stylegan3"):  # ADA's preview
            config = FinetuneConfig(augment=augment, diffaugment=_policy(diffaugment))
            augmented, caption = self.tuner.augment_preview(dataset, config)
            augmented = _shown(augmented)
            note += "  \n" + translate("msg.finetune.augmented", lang, caption=caption)
        shown_for_sg2 = gr.update(value=augmented, visible=augmented is not None)  # not for a DCGAN
        return _shown(preview_grid(dataset.images)), note, shown_for_sg2

    def defaults(self, model: str, request: gr.Request = None):
        """`model`'s defaults (its architecture's and resolution's) in the number boxes and
        the sliders' hints, and a line saying so."""
        try:
            lang = language_of(request)
            d, line = self.tuner.defaults_for(model), self.describe(model, lang)
        except UserInputError:
            return (gr.skip(),) * (len(DEFAULT_FIELDS) + 1)
        note = translate("msg.finetune.model", lang, model=model, line=line)
        return *(gr.update(**hint(f, getattr(d, f))) for f in DEFAULT_FIELDS), note

    def describe(self, model: str, lang: str = "en") -> str:
        """One line on how `model` will be fine-tuned (architecture, resolution, its D), in
        `lang` (`FineTuner.describe` is its English)."""
        architecture, size, has_d = self.tuner.plan(model)
        if architecture == "dcgan" and has_d:
            return f"DCGAN, {size} px"  # names and numbers only
        if architecture == "dcgan":
            return translate("msg.finetune.dcgan_fresh_d", lang, size=size)
        key = "msg.finetune.sg2" if has_d else "msg.finetune.sg2_fresh_d"
        return translate(key, lang, size=size)

    def push(
        self,
        name: str,
        repo_id: str,
        token: str = "",
        private: bool = True,
        request: gr.Request = None,
    ) -> str:
        """Upload `checkpoints/<name>/` to the Hub; the token comes from the box or `HF_TOKEN`."""
        url = self.tuner.push(name, repo_id, token, private)
        lang = language_of(request)
        return translate("msg.finetune.pushed", lang, name=name, repo=repo_id, url=url)

    def stop(self, request: gr.Request = None) -> None:
        self.tuner.stop(session_key(request))


def _outputs(
    run: FinetuneRun, session: str, lines: list[str], preview, progress, lang: str = "en"
) -> Iterator[Outputs]:
    """Training progress -> (status, preview, samples, loss plot, result) updates."""
    skip = gr.skip
    kid: dict = {}
    for event in run.events(session):
        if event.done:
            yield _final(event, run, lines, preview, lang)
            continue
        kid |= _kid(event)
        if event.message:
            lines.append(event.message)
        if event.losses:
            progress(
                (event.step, event.total),
                desc=translate("msg.finetune.progress", lang),
                unit="steps",
            )
            status = status_text(lines, event, kid, lang)
            losses = whole_steps(loss_frame(event.history), event.total)
            yield status, skip(), skip(), losses, skip()
        elif event.preview is not None:
            yield skip(), skip(), samples_image(event.preview), skip(), skip()
        else:  # a line or the KID before training
            yield status_text(lines, kid=kid, lang=lang), skip(), skip(), skip(), skip()


def _final(event: Progress, run: FinetuneRun, lines: list[str], preview, lang: str) -> Outputs:
    """Every output again, so API clients get all of them from the last update."""
    name, kid = run.job.name, _kid(event)
    lines.append(translate("msg.finetune.saved", lang, name=name))
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
    status = status_text(lines, kid=kid, lang=lang)
    # A plain frame (API clients read its data); the page keeps the streamed updates' x_lim.
    return status, preview, samples, loss_frame(event.history), result


# --- Components ---------------------------------------------------------------------------------


def build_finetune_tab(
    model: gr.Dropdown,
    tuner: FineTuner,
    release_memory: Callable[[], None] | None = None,
    on_saved: Callable[[str | None], dict] | None = None,
    links: Permalinks | None = None,
) -> None:
    """The Fine-tune tab's components and events (API: `/finetune`); `on_saved(model)`
    refreshes the model dropdown after a run; `links` gets its settings permalink."""
    handlers = FinetuneHandlers(tuner)
    gr.Markdown(t("finetune.intro"))
    arch_note = gr.Markdown()
    with gr.Row():
        with gr.Column(scale=1):
            c = {"model": model, **training_inputs(_initial_defaults(tuner, model.value))}
            with gr.Row():
                run = gr.Button(t("finetune.run"), variant="primary")
                stop = gr.Button(t("finetune.stop"), variant="secondary")
            push = push_inputs()
        with gr.Column(scale=1):
            out = output_components()
    images = c["images"]
    for trigger in (images.change, c["augment"].change, c["crops_per_image"].input):
        trigger(
            friendly(handlers.preview_upload, release_memory),
            [images, model, c["augment"], c["diffaugment"], c["crops_per_image"]],
            [out["preview"], c["upload_note"], out["augmented"]],
            api_visibility="private",
            concurrency_id="train",  # data preparation runs in the heavy lane
        )
    gr.on(  # on page load too: the number boxes start empty (see ui/finetune_form.initial)
        [model.change, Context.root_block.load],
        friendly(handlers.defaults),
        model,
        [c[f] for f in DEFAULT_FIELDS] + [arch_note],
        api_visibility="private",
    )
    arm_stop(run, stop)
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
    settle_stop(event, stop)
    stop.click(friendly(handlers.stop), None, None, queue=False, api_visibility="private")
    push["push"].click(
        friendly(handlers.push, release_memory),
        [c["name"], push["repo"], push["token"], push["private"]],
        push["pushed"],
        api_visibility="private",
    )
    _share(c, links)


# The paintings in examples/ (public domain, see examples/SOURCES.md), a few crops of each.
EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
EXAMPLE_PAINTINGS = ("munch_the_scream.jpg", "turner_shipwreck.jpg", "van_gogh_starry_night.jpg")
EXAMPLE_FIELDS = ("images", "name", "steps", "batch_size", "crops_per_image", "kid")
EXAMPLE_RUNS = {  # label key -> values of EXAMPLE_FIELDS after the images
    "example.finetune.quick": ("paintings-quick", 10, 4, 4, False),
    "example.finetune.longer": ("paintings", 200, 8, 8, True),
}


def example_rows() -> list[list]:
    """The example forms: the three paintings, and quick (CPU-sized) or longer settings."""
    paintings = [str(EXAMPLES / name) for name in EXAMPLE_PAINTINGS]
    if not all(Path(p).is_file() for p in paintings):
        return []
    return [[paintings, *values] for values in EXAMPLE_RUNS.values()]


def _share(c: dict, links: Permalinks | None) -> None:
    """Examples that fill a runnable form (a run takes minutes: not cached), the "How it
    works" panel and the settings link (never the images)."""
    if rows := example_rows():
        gr.Examples(
            rows,
            [c[f] for f in EXAMPLE_FIELDS],
            label=t("common.examples"),
            elem_id="finetune-examples",
            example_labels=[translate(key) for key in EXAMPLE_RUNS],  # plain text only
        )
    howto("finetune")  # the "How it works" panel (ui/i18n.py)
    if links is not None:
        links.add("finetune", c)


def _initial_defaults(tuner: FineTuner, model: str | None) -> FinetuneConfig:
    """The settings for the model the page opens with (the device's, if it cannot be read)."""
    try:
        return tuner.defaults_for(model or DEFAULT_MODEL)
    except UserInputError:
        return tuner.defaults
