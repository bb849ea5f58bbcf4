"""High resolution as an experiment, on the page: three runs' samples and KID over time.

Not a tab: `build_highres_panel` draws the experiment wherever it is called (the GAN lab's
panel, a lesson step), with the run recorded in `bench/results/highres_cpu.json` shown before
any run and, when `runnable`, a preset to run live (`gan.lab.service.Lab.highres`).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import gradio as gr
import pandas as pd

from gan.lab.highres import METHODS, PRESETS, HighresProgress, Verdict
from gan.lab.service import Lab
from ui.common import arm_stop, friendly, session_key, settle_stop
from ui.i18n import language_of, t, translate

RECORDED = Path(__file__).resolve().parent.parent / "bench" / "results" / "highres_cpu.json"
PRESET = next(iter(PRESETS))
SERIES = {"dcgan": "DCGAN", "progressive": "ProGAN", "msg": "MSG-GAN"}  # the papers' names
log = logging.getLogger(__name__)


def kid_frame(points: list[tuple[str, float, float]]) -> pd.DataFrame:
    """(method, seconds of training, KID) points -> the KID plot's rows, KID x 1000."""
    rows = [(seconds, kid * 1000, SERIES[method]) for method, seconds, kid in points]
    return pd.DataFrame(rows, columns=["seconds", "KID x 1000", "run"])


def recorded_points(path: Path = RECORDED) -> list[tuple[str, float, float]]:
    """The KID curves of the recorded run (none when the file is missing or unreadable)."""
    try:
        curves = json.loads(path.read_text())["kid_over_time"]
        return [(m, p["seconds"], p["kid"]) for m in METHODS for p in curves.get(m, [])]
    except (OSError, ValueError, KeyError, TypeError) as e:
        log.warning("no recorded high-resolution run (%s)", e)
        return []


def verdict_text(verdict: Verdict, lang: str = "en", stopped: bool = False) -> str:
    """The lesson's claim, checked: each growing scheme against the plain run, in `lang`."""
    final = {m: f"{k * 1000:.1f}" for m, k in verdict.final.items()}
    lines = [translate("msg.highres.final", lang, **{m: final.get(m, "-") for m in METHODS})]
    for method, holds in verdict.holds.items():
        key = "msg.highres.holds" if holds else "msg.highres.fails"
        lines.append(translate(key, lang, method=translate(f"msg.highres.{method}", lang)))
    if stopped:
        lines.append(translate("msg.highres.stopped", lang))
    return "  \n".join(lines)


class HighresHandlers:
    """The experiment's events, each one call of `Lab`."""

    def __init__(self, lab: Lab) -> None:
        self.lab = lab

    def highres(self, preset: str = PRESET, request: gr.Request = None) -> Iterator[tuple]:
        """Train a plain DCGAN-style GAN, a progressively grown one and an MSG-GAN on the toy
        set (16 to 64 px), the same training time each, and measure KID over time.

        Args:
            preset: a preset name (the time budget of each run).

        Returns:
            Streams (plain samples, progressive samples, MSG-GAN samples, KID over time, a
            text with each run's state and, at the end, whether the lesson's claim held).
        """
        config = self.lab.highres_config(preset)
        lang = language_of(request)
        grids: dict[str, object] = {}
        points: list[tuple[str, float, float]] = []
        state: dict[str, str] = {}
        for event in self.lab.highres(config, session_key(request)):
            if event.done:
                text = verdict_text(event.verdict, lang, event.stopped)
                yield _outputs(grids, points, text)
            elif event.evaluation is not None:
                _record(event, grids, points, state, lang)
                yield _outputs(grids, points, "  \n".join(state.values()))

    def stop(self, request: gr.Request = None) -> None:
        self.lab.stop(session_key(request))


def _record(event: HighresProgress, grids: dict, points: list, state: dict, lang: str) -> None:
    e = event.evaluation
    grids[e.method] = event.preview
    points.append((e.method, e.seconds, e.kid.mean))
    state[e.method] = translate(
        "msg.highres.point",
        lang,
        method=translate(f"msg.highres.{e.method}", lang),
        seconds=f"{e.seconds:.0f}",
        steps=e.steps,
        resolution=e.resolution,
        alpha=f"{e.alpha:.2f}",
        kid=f"{e.kid.mean * 1000:.1f}",
    )


def _outputs(grids: dict, points: list, text: str) -> tuple:
    """(the three sample grids, shown once they exist; the KID plot; the text)."""
    shown = [gr.update(value=grids[m], visible=True) if m in grids else gr.skip() for m in METHODS]
    return (*shown, kid_frame(points), text)


def build_highres_panel(lab: Lab, runnable: bool = True, api_name: str | None = None) -> None:
    """The experiment: the recorded run's KID curves, and (when `runnable`) a preset, Run and
    Stop, the three runs' samples and their KID streamed live. Give `api_name` in one place
    only (the GAN lab's `lab_highres`); other copies are page-only."""
    gr.Markdown(t("lab.hr.intro"))
    gr.LinePlot(
        kid_frame(recorded_points()),
        x="seconds",
        y="KID x 1000",
        color="run",
        label=t("lab.hr.recorded.label"),
    )
    if not runnable:
        return
    handlers = HighresHandlers(lab)
    choices = [(t(f"lab.hr.preset.{name.split()[0]}"), name) for name in PRESETS]
    preset = gr.Dropdown(choices, value=PRESET, label=t("lab.hr.preset.label"))
    with gr.Row():
        run = gr.Button(t("lab.hr.run"), variant="primary")
        stop = gr.Button(t("common.stop"), variant="secondary")
    with gr.Row():
        grids = [
            gr.Image(
                label=t(f"lab.hr.{m}.label"),
                format="png",
                interactive=False,
                visible=False,  # shown by the run's first samples (no empty boxes before)
            )
            for m in METHODS
        ]
    kid = gr.LinePlot(x="seconds", y="KID x 1000", color="run", label=t("lab.hr.kid.label"))
    info = gr.Markdown()
    arm_stop(run, stop)
    job = run.click(
        friendly(handlers.highres),
        [preset],
        [*grids, kid, info],
        api_name=api_name,
        api_visibility="public" if api_name else "private",
        concurrency_id="train",
        concurrency_limit=1,
    )
    settle_stop(job, stop)
    stop.click(friendly(handlers.stop), None, None, queue=False, api_visibility="private")
