"""The Lesson tab: the GAN lesson's sections in order, each with a short text, a live widget
from the app and a quiz checked in the page; it ends with the lesson's assignment.

The texts are `tab.lesson` and `lesson.*` keys in `ui/lessons/<lang>.json` (merged into the
page's translations by `ui.i18n.load_translations`); the order of the sections, the widget
of each and the quiz's answer keys are one table, `ui/lessons/quiz.json`. Everything that
does not compute runs in the page: the quiz's verdicts (a table lookup, no server round trip),
the step navigation and the tab switches. The visitor's step is kept in the browser's
localStorage, as the language choice is: it is no secret, so it needs no `gr.BrowserState`
(whose values the app encrypts with its own key).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr
from gradio.i18n import I18nData

from core.media import upscale
from gan import DEFAULT_MODEL, latents
from gan.generate.faces import FacesRequest
from gan.generate.service import DISPLAY_SIZE, FaceStudio
from gan.judge.service import Judge
from gan.lab.service import Lab
from gan.lab2d.service import Lab2D
from style.examples import EXAMPLES_DIR as PAINTINGS  # public-domain paintings
from ui.common import CHEAP_LANE, JUDGE_LANE, error, friendly, inputs_for
from ui.examples import capable_model, has_discriminator, has_ws
from ui.highres_view import build_highres_panel
from ui.i18n import LESSONS_DIR, language_of, t, translate
from ui.lab2d_widget import build_lab2d_widget
from ui.uploads import uploaded_image

QUIZ_FILE = LESSONS_DIR / "quiz.json"
STEP_KEY = "gan-studio-lesson-step"  # localStorage: the visitor's step in the lesson
TASK = "task"  # the step after the last section: the assignment
PAINTING_EXAMPLES = ("munch_the_scream.jpg", "van_gogh_starry_night.jpg")
MIX_ROWS, MIX_COLUMNS = "1, 2", "3, 4"


@dataclass(frozen=True)
class Question:
    """One multiple-choice question: its key (`lesson.s2.q1`), choice letters, the right one."""

    key: str
    choices: tuple[str, ...]
    answer: str

    def verdict(self, choice: str | None) -> str | None:
        """The key of the verdict on `choice` (None for no or an unknown choice)."""
        if choice not in self.choices:
            return None
        return "lesson.quiz.right" if choice == self.answer else "lesson.quiz.wrong"

    def text_keys(self) -> list[str]:
        """The question, its choices and its explanation."""
        return [self.key, *(f"{self.key}.{c}" for c in self.choices), f"{self.key}.why"]


@dataclass(frozen=True)
class Section:
    """One step of the lesson: its number, the name of its live widget and its quiz."""

    number: int
    widget: str
    questions: tuple[Question, ...]

    @property
    def key(self) -> str:
        return f"lesson.s{self.number}"

    @property
    def title(self) -> str:
        """Its name in the step list (`lesson.step.*`: the page's scripts rename these tab
        buttons too, as they do the app's tabs; see `ui.i18n.relabel_keys`)."""
        return f"lesson.step.s{self.number}"

    @property
    def step(self) -> str:
        return f"lesson-{self.number}"

    def text_keys(self) -> list[str]:
        """Its title, text, the widget's caption and every quiz text."""
        own = [self.title, *(f"{self.key}.{part}" for part in ("body", "try"))]
        return own + [k for q in self.questions for k in q.text_keys()]


def sections(path: Path = QUIZ_FILE) -> list[Section]:
    """The lesson's sections in order, from the answer table."""
    table = json.loads(path.read_text(encoding="utf-8"))
    out = []
    for n, entry in enumerate(table["sections"], start=1):
        questions = tuple(
            Question(f"lesson.s{n}.q{i}", _letters(q["choices"]), q["answer"])
            for i, q in enumerate(entry["questions"], start=1)
        )
        out.append(Section(n, entry["widget"], questions))
    return out


def _letters(count: int) -> tuple[str, ...]:
    return tuple("abcdefgh"[:count])


def steps(found: list[Section]) -> list[str]:
    """The ids of the lesson's steps in order: one per section, then the assignment."""
    return [s.step for s in found] + [f"lesson-{TASK}"]


# --- Page scripts -----------------------------------------------------------------------------


def marker(key: str) -> str:
    """A page text as a value: Gradio's frontend shows it translated (as `t(key)` would)."""
    return str(I18nData(key))


def check_js(question: Question) -> str:
    """The quiz's checker in the page: choice -> [verdict, explanation], both translated."""
    table = {c: marker(question.verdict(c)) for c in question.choices}
    why = marker(f"{question.key}.why")
    return (
        f"(choice) => {{ const v = {json.dumps(table)}[choice];"
        f" return v ? [v, {json.dumps(why)}] : ['', '']; }}"
    )


def go_js(step: str) -> str:
    """Selects `step` in a Tabs and keeps it as the visitor's step."""
    return (
        f"() => {{ {_store(step)} return {{ __type__: 'update', selected: {json.dumps(step)} }}; }}"
    )


def store_js(step: str) -> str:
    """Keeps `step` as the visitor's step (a step chosen in the step list)."""
    return f"() => {{ {_store(step)} }}"


def _store(step: str) -> str:
    key = json.dumps(STEP_KEY)
    return f"try {{ localStorage.setItem({key}, {json.dumps(step)}); }} catch (e) {{}}"


def resume_js(ids: list[str]) -> str:
    """On page load: the visitor's kept step (the first one if none or unknown)."""
    return (
        f"() => {{ let s = null; try {{ s = localStorage.getItem({json.dumps(STEP_KEY)}); }}"
        f" catch (e) {{}} const ids = {json.dumps(ids)};"
        " return { __type__: 'update', selected: ids.includes(s) ? s : ids[0] }; }"
    )


def open_tab_js(tab: str) -> str:
    """Switches the app's tabs to `tab` (e.g. `lab`)."""
    return f"() => ({{ __type__: 'update', selected: {json.dumps(tab)} }})"


# --- The widgets' server side -----------------------------------------------------------------


class LessonHandlers:
    """The live widgets' events, each one call of a service."""

    def __init__(self, studio: FaceStudio, judge: Judge | None) -> None:
        self.studio = studio
        self.judge = judge

    def judge_images(
        self,
        images: str | None = None,
        model: str = DEFAULT_MODEL,
        seeds: str = "",
        request: gr.Request = None,
    ) -> list[tuple[Any, str]]:
        """D's verdict on an image and/or on the model's own faces for `seeds`, ranked: the
        header's model, or the first installed one saved with its discriminator."""
        if self.judge is None:
            raise error("This server has no judge.")
        if not (model and has_discriminator(model)):
            model = capable_model(has_discriminator, "a model saved with its discriminator")
        seed_list = latents.parse_seeds(seeds) if seeds and seeds.strip() else None
        judged = self.judge.score_request(model, [images] if images else [], seed_list)
        v = judged.verdict
        return [
            (
                upscale(judged.images[i], DISPLAY_SIZE // 2),
                f"{judged.labels[i]}: p(real) {v.probabilities[i]:.2f}",
            )
            for i in v.ranking
        ]

    def generate(
        self, seeds: str, model: str = DEFAULT_MODEL, request: gr.Request = None
    ) -> list[tuple[str, str]]:
        """The model's faces for `seeds` (e.g. `1-4`), captioned with their seeds."""
        faces, pngs = self.studio.generate_request(model, FacesRequest(seeds))
        lang = language_of(request)
        labels = [translate("msg.generate.seed", lang, seed=s) for s in faces.seeds or []]
        return list(zip(map(str, pngs), labels, strict=False))

    def style_mix(self, model: str = DEFAULT_MODEL, request: gr.Request = None) -> str:
        """A style-mixing grid (coarse styles of the rows, the rest of the columns) with the
        header's model, or the first installed one that mixes styles."""
        if not (model and has_ws(model, 2)):
            model = capable_model(lambda name: has_ws(name, 2), "a StyleGAN2 or StyleGAN3 model")
        _, _, preview = self.studio.style_mix_request(model, MIX_ROWS, MIX_COLUMNS, "coarse")
        return str(preview)


# --- The page ---------------------------------------------------------------------------------


@dataclass
class LessonContext:
    """What the widgets need: the header's model, the handlers, the app's tabs, and the
    GAN lab's services (None: the lab is one click away instead)."""

    model: gr.Dropdown
    handlers: LessonHandlers
    tabs: gr.Tabs | None
    release: Callable[[], None] | None
    lab: Lab | None = None
    lab2d: Lab2D | None = None


def _gallery() -> gr.Gallery:
    return gr.Gallery(label=t("lesson.gallery.label"), columns=4, height=260, format="png")


def duel_widget(ctx: LessonContext, section: Section) -> None:
    """Step 1: G makes four faces and D judges them."""
    run = gr.Button(t("lesson.duel.run"), variant="primary")
    gallery = _gallery()
    c = {"images": gr.State(None), "model": ctx.model, "seeds": gr.State("1-4")}
    fn = friendly(ctx.handlers.judge_images, ctx.release)
    run.click(
        fn,
        inputs_for(ctx.handlers.judge_images, c),
        gallery,
        api_visibility="private",
        **JUDGE_LANE,
    )


def judge_widget(ctx: LessonContext, section: Section) -> None:
    """Step 2: D's verdict on a picture the visitor gives (or a painting)."""
    image = uploaded_image(label=t("lesson.judge.image.label"), height=220)
    paintings = [[str(PAINTINGS / n)] for n in PAINTING_EXAMPLES if (PAINTINGS / n).is_file()]
    if paintings:
        gr.Examples(paintings, [image], label=t("lesson.judge.examples"))
    run = gr.Button(t("lesson.judge.run"), variant="primary")
    gallery = _gallery()
    c = {"images": image, "model": ctx.model, "seeds": gr.State("")}
    fn = friendly(ctx.handlers.judge_images, ctx.release)
    run.click(
        fn,
        inputs_for(ctx.handlers.judge_images, c),
        gallery,
        api_visibility="private",
        **JUDGE_LANE,
    )


def generate_widget(ctx: LessonContext, section: Section) -> None:
    """Step 3: faces from seeds."""
    seeds = gr.Textbox("1-4", label=t("lesson.generate.seeds.label"))
    run = gr.Button(t("lesson.generate.run"), variant="primary")
    gallery = _gallery()
    c = {"seeds": seeds, "model": ctx.model}
    fn = friendly(ctx.handlers.generate, ctx.release)
    gr.on(
        [run.click, seeds.submit],
        fn,
        inputs_for(ctx.handlers.generate, c),
        gallery,
        api_visibility="private",
        **CHEAP_LANE,
    )


def tab_button(ctx: LessonContext, label: str, tab: str, variant: str = "primary") -> gr.Button:
    """A button that opens the app's tab `tab`."""
    button = gr.Button(t(label), variant=variant)
    if ctx.tabs is not None:
        button.click(None, None, ctx.tabs, js=open_tab_js(tab), api_visibility="private")
    return button


def lab_widget(ctx: LessonContext, section: Section) -> None:
    """The GAN lab (its two phases, skipped D steps, collapse meter), one click away."""
    tab_button(ctx, "lesson.open.lab", "lab")


def _lab2d_step(ctx: LessonContext, section: Section, preset: str) -> None:
    """The compact 2D lab from `preset` (a run of the visitor's own for this step), then the
    GAN lab one click away."""
    if ctx.lab2d is not None:
        build_lab2d_widget(ctx.lab2d, compact=True, preset=preset, scope=f"{section.step}:")
    tab_button(ctx, "lesson.open.lab", "lab", "secondary")


def phases_widget(ctx: LessonContext, section: Section) -> None:
    """Step 4: the 2D lab on the ring, where Step D and Step G show the two phases."""
    _lab2d_step(ctx, section, "ring")


def collapse_widget(ctx: LessonContext, section: Section) -> None:
    """Step 5: the 2D lab from the collapse preset (the ring preset one choice away)."""
    _lab2d_step(ctx, section, "collapse")


def highres_widget(ctx: LessonContext, section: Section) -> None:
    """Step 6: the high-resolution experiment: the recorded KID curves, a preset on request."""
    if ctx.lab is not None:
        build_highres_panel(ctx.lab)
    tab_button(ctx, "lesson.open.lab", "lab", "secondary")


def style_widget(ctx: LessonContext, section: Section) -> None:
    """Step 7: the Style transfer tab, one click away."""
    tab_button(ctx, "lesson.open.style", "style")


def mix_widget(ctx: LessonContext, section: Section) -> None:
    """Step 8: style mixing with a StyleGAN, or a note when none is installed."""
    run = gr.Button(t("lesson.mix.run"), variant="primary")
    grid = gr.Image(label=t("lesson.gallery.label"), type="filepath", height=320)
    gr.Markdown(t("lesson.mix.note"))
    fn = friendly(ctx.handlers.style_mix, ctx.release)
    run.click(fn, [ctx.model], grid, api_visibility="private", **CHEAP_LANE)


# The live widget of each section, by the name in quiz.json.
WIDGETS: dict[str, Callable[[LessonContext, Section], None]] = {
    "duel": duel_widget,
    "judge": judge_widget,
    "generate": generate_widget,
    "lab": lab_widget,
    "phases": phases_widget,
    "collapse": collapse_widget,
    "highres": highres_widget,
    "style": style_widget,
    "mix": mix_widget,
}


def quiz(section: Section) -> None:
    """The section's questions; each answer is checked in the page."""
    for q in section.questions:
        choices = [(t(f"{q.key}.{c}"), c) for c in q.choices]
        name = q.key.replace(".", "-")  # lesson-s2-q1
        radio = gr.Radio(choices, value=None, label=t(q.key), elem_id=name)
        verdict = gr.Markdown(elem_id=f"{name}-verdict")
        why = gr.Markdown(elem_id=f"{name}-why")
        radio.input(None, radio, [verdict, why], js=check_js(q), api_visibility="private")


def navigation(steps_tabs: gr.Tabs, ids: list[str], i: int) -> None:
    """Previous and next buttons of step `i`."""
    with gr.Row():
        for label, j in (("lesson.prev", i - 1), ("lesson.next", i + 1)):
            if 0 <= j < len(ids):
                button = gr.Button(t(label), size="sm", elem_id=f"{ids[i]}-{label.split('.')[1]}")
                button.click(None, None, steps_tabs, js=go_js(ids[j]), api_visibility="private")


def section_step(ctx: LessonContext, section: Section) -> None:
    """A section's text beside its live widget, then its quiz."""
    with gr.Row():
        with gr.Column(scale=3, min_width=300):
            gr.Markdown(t(f"{section.key}.body"))
        with gr.Column(scale=2, min_width=300):
            gr.Markdown(t("lesson.try"))
            gr.Markdown(t(f"{section.key}.try"))
            WIDGETS[section.widget](ctx, section)
    gr.Markdown(t("lesson.quiz"))
    quiz(section)


def task_step(ctx: LessonContext) -> None:
    """The lesson's assignment, with the GAN lab and Fine-tune one click away."""
    gr.Markdown(t("lesson.task.body"))
    with gr.Row():
        tab_button(ctx, "lesson.open.lab", "lab")
        tab_button(ctx, "lesson.open.finetune", "finetune", "secondary")


def build_lesson_tab(
    model: gr.Dropdown,
    studio: FaceStudio,
    judge: Judge | None,
    release_memory: Callable[[], None] | None = None,
    tabs: gr.Tabs | None = None,
    lab: Lab | None = None,
    lab2d: Lab2D | None = None,
) -> None:
    """The Lesson tab: a step list (tabs), each step's text, widget, quiz and navigation."""
    handlers = LessonHandlers(studio, judge)
    ctx = LessonContext(model, handlers, tabs, release_memory, lab, lab2d)
    found = sections()
    ids = steps(found)
    gr.Markdown(t("lesson.intro"))
    with gr.Tabs(selected=ids[0], elem_id="lesson-steps") as steps_tabs:
        for i, section in enumerate(found):
            with gr.Tab(t(section.title), id=ids[i]) as tab:
                section_step(ctx, section)
                navigation(steps_tabs, ids, i)
            tab.select(None, None, None, js=store_js(ids[i]), api_visibility="private")
        with gr.Tab(t("lesson.step.task"), id=ids[-1]) as tab:
            task_step(ctx)
            navigation(steps_tabs, ids, len(ids) - 1)
        tab.select(None, None, None, js=store_js(ids[-1]), api_visibility="private")
    gr.on(None, None, None, steps_tabs, js=resume_js(ids), api_visibility="private")
