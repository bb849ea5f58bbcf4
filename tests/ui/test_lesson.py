"""The Lesson tab: its texts in all six languages, the quiz's answer table and checker, the
navigation scripts, and the live widgets' handlers on tiny models."""

from __future__ import annotations

import json
import re
from pathlib import Path

import gradio as gr
import pytest
from safetensors.torch import save_file

from core import store
from gan.judge import judge as J
from gan.lab.service import Lab
from gan.lab2d.service import Lab2D
from style.examples import EXAMPLES_DIR
from tests.conftest import ROOT, tiny_generator
from tests.gan.sg2_tiny import tiny_stylegan2
from tests.ui.test_edit_project_judge_api import tiny_d
from ui import i18n, i18n_coverage, lesson
from ui.lab2d_widget import Lab2DHandlers, preset_2d

SECTIONS = lesson.sections()
TEXTS = i18n.load_translations()
TOPICS = ("two", "discriminator", "generator", "two phases", "collapse", "resolution", "style")


def _lesson_file(lang: str) -> dict[str, str]:
    return json.loads((i18n.LESSONS_DIR / f"{lang}.json").read_text(encoding="utf-8"))


def _built(lab: Lab | None = None, lab2d: Lab2D | None = None) -> gr.Blocks:
    with gr.Blocks() as demo:
        model = gr.Dropdown(["dcgan-digiface"], value="dcgan-digiface")
        with gr.Tabs() as tabs, gr.Tab("Lesson", id="lesson"):
            lesson.build_lesson_tab(model, None, None, None, tabs, lab, lab2d)
    return demo


def _step(demo: gr.Blocks, n: int) -> list:
    """The components of lesson step `n`."""
    tab = next(b for b in demo.blocks.values() if getattr(b, "id", None) == f"lesson-{n}")
    found, todo = [], list(tab.children)
    while todo:
        block = todo.pop(0)
        found.append(block)
        todo.extend(getattr(block, "children", []))
    return found


# --- Texts --------------------------------------------------------------------------------------


def test_the_sections_follow_the_lesson_in_order():
    assert len(SECTIONS) == 8
    titles = [TEXTS["en"][s.title].lower() for s in SECTIONS]
    for n, (title, topic) in enumerate(zip(titles, TOPICS, strict=False), start=1):
        assert title.startswith(f"{n}.") and topic.split()[0] in title, title
    assert "stylegan" in titles[7]


@pytest.mark.parametrize("lang", list(i18n.LANGUAGES))
def test_every_section_and_quiz_text_is_present_in_every_language(lang):
    own = _lesson_file(lang)
    for section in SECTIONS:
        for key in section.text_keys():
            assert own.get(key, "").strip(), (lang, key)
    assert set(own) == set(_lesson_file("en"))  # nothing missing, nothing left over


@pytest.mark.parametrize("lang", [lang for lang in i18n.LANGUAGES if lang != "en"])
def test_the_lesson_is_translated(lang):
    en, own = _lesson_file("en"), _lesson_file(lang)
    long = [k for k in en if len(en[k]) > 40]
    assert long and not [k for k in long if own[k] == en[k]], lang


def test_the_lesson_keys_are_the_pages_own_and_do_not_clash_with_the_locales():
    locales = json.loads((i18n.LOCALES_DIR / "en.json").read_text(encoding="utf-8"))
    lesson_keys = set(_lesson_file("en"))
    assert not lesson_keys & set(locales)
    assert all(k == "tab.lesson" or k.startswith("lesson.") for k in lesson_keys)
    assert lesson_keys <= set(TEXTS["en"])  # merged into the page's translations
    assert i18n.problems(TEXTS) == []


def test_the_built_tab_shows_only_translated_text_with_keys_in_all_six_languages():
    keys, plain = i18n_coverage.strings(_built())
    assert not [p for p in plain if p != "Lesson"], plain  # "Lesson" is this test's own tab
    lesson_keys = {k for k in keys if k.startswith("lesson.")}
    # every text but the explanations, which the page's checker shows (test below)
    needed = {k for s in SECTIONS for k in s.text_keys() if not k.endswith(".why")}
    assert needed <= lesson_keys
    for lang, texts in TEXTS.items():
        assert not [k for k in lesson_keys if k not in texts], lang


def test_the_texts_name_the_papers():
    en = " ".join(_lesson_file("en").values())
    for cite in ("Goodfellow", "Radford", "Karras et al. 2018", "Karnewar", "Gatys", "Johnson"):
        assert cite in en, cite
    assert "mean squared difference" in en  # the variation loss, as style/losses.py computes it


# --- The quiz -----------------------------------------------------------------------------------


def test_the_answer_table_is_well_formed():
    widgets = set(lesson.WIDGETS)
    for section in SECTIONS:
        assert section.widget in widgets
        assert 2 <= len(section.questions) <= 4
        for q in section.questions:
            assert q.answer in q.choices and len(q.choices) >= 3


def test_the_checker_marks_right_and_wrong_answers():
    q = SECTIONS[1].questions[0]  # "What is D trained to do?"
    assert q.answer == "a"
    assert q.verdict("a") == "lesson.quiz.right"
    assert q.verdict("b") == q.verdict("c") == "lesson.quiz.wrong"
    assert q.verdict(None) is None and q.verdict("z") is None
    rights = [
        q for s in SECTIONS for q in s.questions if q.verdict(q.answer) == "lesson.quiz.right"
    ]
    assert len(rights) == sum(len(s.questions) for s in SECTIONS)


def test_the_pages_checker_is_the_answer_table():
    for section in SECTIONS:
        for q in section.questions:
            script = lesson.check_js(q)
            table = json.loads(re.search(r"const v = (\{.*?\})\[choice\]", script).group(1))
            assert set(table) == set(q.choices)
            for choice, shown in table.items():
                assert shown == lesson.marker(q.verdict(choice))
            assert json.dumps(lesson.marker(f"{q.key}.why")) in script


# --- Navigation ---------------------------------------------------------------------------------


def test_steps_are_the_sections_then_the_assignment():
    ids = lesson.steps(SECTIONS)
    assert ids == [f"lesson-{n}" for n in range(1, 9)] + ["lesson-task"]


def test_navigation_and_the_kept_step():
    demo = _built()
    steps = next(b for b in demo.blocks.values() if getattr(b, "elem_id", None) == "lesson-steps")
    ids = [c.id for c in steps.children]
    assert ids == lesson.steps(SECTIONS)
    scripts = [fn.js for fn in demo.fns.values() if fn.js and fn.outputs == [steps]]
    for i, step in enumerate(ids):  # every step but the first has a previous, all but last a next
        wanted = (i > 0) + (i < len(ids) - 1)
        assert sum(lesson.go_js(step) == js for js in scripts) == wanted, step
    assert lesson.resume_js(ids) in scripts  # on page load
    assert lesson.STEP_KEY in lesson.go_js("lesson-3") and "'lesson-3'" not in lesson.store_js("x")


def test_the_assignment_opens_the_lab_and_fine_tune():
    demo = _built()
    tab_switches = {fn.js for fn in demo.fns.values() if fn.js and "selected" in fn.js}
    assert lesson.open_tab_js("lab") in tab_switches
    assert lesson.open_tab_js("finetune") in tab_switches


def test_steps_4_to_6_show_the_2d_lab_and_the_high_resolution_experiment():
    demo = _built(Lab(), Lab2D())
    for n, preset in ((4, "ring"), (5, "collapse")):
        blocks = _step(demo, n)
        views = [b for b in blocks if "lab2d-d-view" in (getattr(b, "elem_classes", None) or [])]
        presets = [b for b in blocks if isinstance(b, gr.Dropdown) and preset == b.value]
        assert len(views) == 1 and len(presets) == 1, n
    plots = [b for b in _step(demo, 6) if isinstance(b, gr.LinePlot)]
    assert plots and len(plots[0].value["data"]) > 0  # the recorded KID curves, before any run
    tab_switches = [fn for fn in demo.fns.values() if fn.js == lesson.open_tab_js("lab")]
    assert len(tab_switches) >= 4  # steps 4-6 and the assignment keep "Open the GAN lab"
    public = [fn.api_name for fn in demo.fns.values() if fn.api_visibility == "public"]
    assert not [name for name in public if "lab" in name]  # the lesson's copies add no API


def test_each_lesson_2d_lab_trains_a_run_of_its_own():
    demo = _built(Lab(), Lab2D())
    steps = [fn for fn in demo.fns.values() if "step_d" in getattr(fn.fn, "__name__", "")]
    assert len(steps) == 2
    lab2d = Lab2D()
    four, five = Lab2DHandlers(lab2d, "lesson-4:"), Lab2DHandlers(lab2d, "lesson-5:")
    four.step_d("ring", *preset_2d("ring"))
    five.step_g("collapse", *preset_2d("collapse"))
    four.step_d("ring", *preset_2d("ring"))
    counters = {k: vars(r.trainer.counters) for k, r in lab2d.runs.items()}
    assert counters["lesson-4:api"]["d_steps"] == 2 and counters["lesson-4:api"]["g_steps"] == 0
    assert counters["lesson-5:api"]["g_steps"] == 1


# --- The live widgets' handlers -----------------------------------------------------------------


@pytest.fixture
def models(checkpoints: Path) -> Path:
    (checkpoints / "dcgan-digiface").symlink_to(ROOT / "checkpoints" / "dcgan-digiface")
    G = tiny_generator(1)
    store.save_pretrained(checkpoints / "tiny-judged", G.config.to_dict(), G.state_dict(), "card")
    save_file(dict(tiny_d().state_dict()), str(checkpoints / "tiny-judged" / J.DISCRIMINATOR_NAME))
    return checkpoints


@pytest.fixture
def handlers(app_services) -> lesson.LessonHandlers:
    return lesson.LessonHandlers(app_services.studio, app_services.judge)


def test_step_1_and_2_judge_the_models_faces_and_a_painting(handlers, models):
    faces = handlers.judge_images(None, "tiny-judged", "1-3")
    assert sorted(caption.split(":")[0] for _, caption in faces) == ["seed 1", "seed 2", "seed 3"]
    shown = [float(caption.rsplit(" ", 1)[1]) for _, caption in faces]
    assert shown == sorted(shown, reverse=True)  # most real first
    painting = str(EXAMPLES_DIR / lesson.PAINTING_EXAMPLES[0])
    [(image, caption)] = handlers.judge_images(painting, "tiny-judged", "")
    assert caption.startswith(lesson.PAINTING_EXAMPLES[0]) and image.size[0] >= 16
    # the bundled model has no D: the first installed model with one judges instead
    assert len(handlers.judge_images(None, "dcgan-digiface", "1-2")) == 2


def test_the_judge_widgets_say_when_no_model_has_a_discriminator(handlers, checkpoints):
    (checkpoints / "dcgan-digiface").symlink_to(ROOT / "checkpoints" / "dcgan-digiface")
    with pytest.raises(gr.Error, match="saved with its discriminator"):
        handlers.judge_images(None, "dcgan-digiface", "1-2")


def test_step_3_makes_the_same_faces_for_the_same_seeds(handlers, models):
    first, again = handlers.generate("1-2", "tiny-judged"), handlers.generate("1-2", "tiny-judged")
    assert [c for _, c in first] == ["seed 1", "seed 2"]
    assert [Path(p).read_bytes() for p, _ in first] == [Path(p).read_bytes() for p, _ in again]


def test_step_8_mixes_styles_with_a_stylegan_or_says_none_is_installed(handlers, models):
    with pytest.raises(gr.Error, match="StyleGAN2 or StyleGAN3"):
        handlers.style_mix("dcgan-digiface")
    S = tiny_stylegan2(2)
    store.save_pretrained(models / "tiny-sg2", S.config.to_dict(), S.state_dict(), "card")
    assert Path(handlers.style_mix("dcgan-digiface")).is_file()  # found in the model list
    assert Path(handlers.style_mix("tiny-sg2")).is_file()
