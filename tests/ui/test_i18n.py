"""The page's translations: every key in every language, non-empty, same placeholders."""

from __future__ import annotations

import json
import re
import types

import gradio as gr
import pytest

from ui import i18n, i18n_coverage

TRANSLATIONS = i18n.load_translations()


def test_all_six_languages_ship():
    assert set(TRANSLATIONS) == {"en", "nl", "tl", "el", "fi", "hr"}
    for lang in i18n.LANGUAGES:
        assert (i18n.LOCALES_DIR / f"{lang}.json").is_file()


def test_no_key_is_missing_empty_or_mismatched_in_any_language():
    assert i18n.problems(TRANSLATIONS) == []


@pytest.mark.parametrize("lang", [lang for lang in i18n.LANGUAGES if lang != "en"])
def test_every_language_has_exactly_the_english_keys(lang):
    assert set(TRANSLATIONS[lang]) == set(TRANSLATIONS["en"])


def test_translations_are_translated():
    # Technical names (ψ, lr_g, KID, ...) may stay; the long panels must not be English.
    for lang in ("nl", "tl", "el", "fi", "hr"):
        same = [k for k in TRANSLATIONS["en"] if TRANSLATIONS[lang][k] == TRANSLATIONS["en"][k]]
        assert not [k for k in same if k.startswith(("howto.", "msg.", "lab.intro"))], lang
        assert len(same) < 0.25 * len(TRANSLATIONS["en"]), (lang, same)


def test_every_tab_has_a_name_and_a_how_it_works_panel():
    en = TRANSLATIONS["en"]
    for tab in ("generate", "interpolate", "style_mixing", "style", "finetune", "edit"):
        assert f"tab.{tab}" in en and f"howto.{tab}.body" in en
    for tab in ("project", "judge", "lab"):
        assert f"tab.{tab}" in en and f"howto.{tab}.body" in en
    for panel in ("collapse", "sensitivity", "highres"):
        assert f"howto.lab.{panel}.body" in en


def test_the_lessons_terms_are_used():
    # The lesson's own words for the key ideas (its Dutch, Finnish, Greek, Croatian and
    # Tagalog translations).
    terms = {
        "nl": ["Stijltransfer", "inhoudsverlies", "Gevoeligheid voor hyperparameters"],
        "fi": ["Tyylinsiirto", "diskriminaattori", "progressiivinen kasvu"],
        "el": ["Μεταφορά στυλ", "απώλεια περιεχομένου", "προοδευτική ανάπτυξη"],
        "hr": ["Prijenos stila", "Kolaps moda", "Gubitak varijacije".lower()],
        "tl": ["Mode collapse", "Sensitivity sa hyperparameters", "dalawang yugto"],
    }
    for lang, words in terms.items():
        text = " ".join(TRANSLATIONS[lang].values()).lower()
        for word in words:
            assert word.lower() in text, (lang, word)


def test_problems_finds_each_kind_of_fault():
    good = {"en": {"a": "A", "msg.n": "{n} faces"}, "nl": {"a": "A nl", "msg.n": "{n} gezichten"}}
    assert i18n.problems(good) == []
    cases = {
        "missing": {"en": good["en"], "nl": {"a": "x"}},
        "empty": {"en": good["en"], "nl": {"a": " ", "msg.n": "{n}"}},
        "placeholder": {"en": good["en"], "nl": {"a": "x", "msg.n": "{count} gezichten"}},
        "unknown": {"en": good["en"], "nl": {**good["nl"], "b": "B"}},
        "braces in page text": {"en": {"a": "{x}"}},
        "malformed": {"en": good["en"], "nl": {"a": "x", "msg.n": "{n gezichten"}},
    }
    for name, translations in cases.items():
        assert i18n.problems(translations), name


def test_build_i18n_gives_gradio_the_page_texts_only():
    built = i18n.build_i18n()
    assert isinstance(built, gr.I18n)
    assert set(built.translations_dict) == set(i18n.LANGUAGES)
    for texts in built.translations_dict.values():
        assert texts and not any(k.startswith(i18n.MESSAGE_PREFIX) for k in texts)
    assert built.translations_dict["nl"]["tab.style"] == "Stijltransfer"
    assert json.loads(str(built("tab.lab"))[len("__i18n__") :]) == {
        "__type__": "translation_metadata",
        "key": "tab.lab",
    }


def test_translate_fills_placeholders_and_falls_back_to_english():
    text = i18n.translate("msg.lab.diverged", "fi-FI", step=12)
    assert "12" in text and text != i18n.translate("msg.lab.diverged", "en", step=12)
    assert i18n.translate("msg.app.device", "de", device="CPU") == "Running on **CPU**."
    assert i18n.translate("tab.lab", "hr") == "GAN laboratorij"


@pytest.mark.parametrize(
    "header, lang",
    [
        ("el-GR,el;q=0.9,en;q=0.8", "el"),
        ("de-DE,de;q=0.9,hr;q=0.5", "hr"),
        ("fil-PH", "tl"),
        ("en-US,nl;q=0.9", "en"),
        ("fr;q=1.0, fi;q=0.3, nl;q=0.7", "nl"),
        ("", "en"),
        (None, "en"),
        ("xx;q=abc", "en"),
    ],
)
def test_best_language_reads_accept_language(header, lang):
    assert i18n.best_language(header) == lang


def test_language_of_a_request():
    request = types.SimpleNamespace(headers={"accept-language": "tl,en;q=0.5"})
    assert i18n.language_of(request) == "tl"
    assert i18n.language_of(None) == "en"


def test_locale_scripts_know_all_languages():
    for lang in i18n.LANGUAGES:
        assert f'"{lang}"' in i18n.BROWSER_LOCALE_JS
    assert "changeLocale" in i18n.SET_LOCALE_JS and "localStorage.setItem" in i18n.SET_LOCALE_JS
    assert "localStorage.setItem" not in i18n.BROWSER_LOCALE_JS


UI = i18n.LOCALES_DIR.parent
# Every file that builds page text: the tabs, the header, the links and the examples.
TRANSLATED_FILES = (
    "generate.py",
    "interpolate.py",
    "style_mix.py",
    "style.py",
    "finetune.py",
    "finetune_form.py",
    "edit.py",
    "project.py",
    "judge.py",
    "lab.py",
    "lesson.py",
    "highres_view.py",
    "tools.py",
    "header.py",
    "links.py",
    "examples.py",
    "tabs.py",
    "common.py",
    "components.py",
)
# Names and file types that read the same in every language.
UNTRANSLATED = {"info", "GIF", "MP4", "A", "B", "StyleGAN", "StyleGAN2", "# GAN Studio", "example"}


def test_every_page_text_key_the_code_uses_exists():
    used = set()
    for path in UI.glob("*.py"):
        used |= set(re.findall(r"""\bt\(\s*["']([a-z0-9_.]+)["']""", path.read_text()))
        used |= set(re.findall(r"""translate\(\s*["']([a-z0-9_.]+)["']""", path.read_text()))
    assert used and not sorted(used - set(TRANSLATIONS["en"]))


def english_literals(source: str) -> list[str]:
    """The English texts written into a page-building file instead of a `t()` key."""
    literals = re.findall(r"""\b(?:label|info|placeholder|desc)=f?"([^"]*)\"""", source)
    literals += re.findall(r"""gr\.(?:Button|Accordion|Tab|Markdown)\(\s*f?"([^"]*)\"""", source)
    # a radio's or dropdown's shown names: ("shown text", "value") pairs
    literals += re.findall(r"""\(\s*f?"([^"]*[a-z] [a-z][^"]*)",\s*"[a-z_]+"\s*\)""", source)
    # example captions and other lists of plain sentences
    literals += re.findall(r"""LABELS\s*=\s*\[\s*"([^"]*)\"""", source)
    english = [text for text in literals if re.search("[A-Za-z]{2}", text)]
    return [text for text in english if text not in UNTRANSLATED]


@pytest.mark.parametrize("name", TRANSLATED_FILES)
def test_the_translated_tabs_have_no_english_literals_left(name):
    assert not english_literals((UI / name).read_text()), name


@pytest.mark.parametrize(
    "source",
    [
        'gr.Slider(label="Style weight")',
        'gr.Button("Start fine-tuning")',
        'gr.Button(f"Send to {tab}")',
        'gr.Radio([("content with the colours", "content")])',
        'EXAMPLE_LABELS = [\n    "seed 3 on direction one",\n]',
        'progress(0.5, desc="Repainting")',
    ],
)
def test_the_literal_check_finds_each_kind_of_english_left(source):
    assert english_literals(source)


# --- The built page: its strings, and the server's messages --------------------------------


@pytest.fixture(scope="module")
def demo(app_services):
    import app

    return app.build_demo(app_services)


def test_the_page_keys_exist_in_every_language(demo):
    keys, _ = i18n_coverage.strings(demo)
    assert keys
    for lang, texts in TRANSLATIONS.items():
        assert not sorted(set(keys) - set(texts)), lang


def test_at_least_95_percent_of_the_visible_strings_are_translated(demo):
    keys, plain = i18n_coverage.strings(demo)
    assert len(keys) / (len(keys) + len(plain)) >= 0.95, plain


def test_the_coverage_counts_a_plain_string_as_untranslated():
    with gr.Blocks() as blocks:
        gr.Textbox(label=i18n.t("tab.lab"), info="plain words here")
        gr.Button(i18n.t("lab.run"))
        gr.Radio([(i18n.t("lab.data.toy"), "toy"), ("my own images", "upload")])
        gr.Markdown("GIF")  # a name: not counted
    keys, plain = i18n_coverage.strings(blocks)
    assert sorted(keys) == ["lab.data.toy", "lab.run", "tab.lab"]
    assert plain == ["plain words here", "my own images"]


def test_every_example_caption_is_relabelled_in_the_browser():
    from ui import edit, judge, style_mix

    english = {texts["en"] for texts in i18n.relabel_keys().values()}
    for labels in (edit.EXAMPLE_LABELS, judge.EXAMPLE_LABELS, style_mix.EXAMPLE_LABELS):
        assert set(labels) <= english
    for script in (i18n.BROWSER_LOCALE_JS, i18n.SET_LOCALE_JS):
        assert TRANSLATIONS["el"]["example.judge.2"] in script and ".gallery-item" in script


def _request(lang: str) -> types.SimpleNamespace:
    return types.SimpleNamespace(headers={"accept-language": lang})


def test_generate_writes_its_line_and_captions_in_the_browsers_language(app_services):
    # The faces' request once shadowed the browser's, so the line stayed English.
    from ui.generate import GenerateHandlers

    handlers = GenerateHandlers(app_services.studio)
    gallery, _, info = handlers.generate("1-2", request=_request("nl-NL,nl;q=0.9"))
    assert info.startswith("2 gezichten van ") and gallery[0][1] == "seed nr. 1"
    _, _, info = handlers.generate("1-2", request=_request("el-GR"))
    assert "πρόσωπα" in info
    assert handlers.generate("1-2")[2].startswith("2 faces at ")


def test_the_lab_step_line_follows_the_language():
    from gan.lab.collapse import CollapseReading
    from gan.lab.train import LabProgress, StepRecord
    from ui.lab import collapse_note, step_line

    record = StepRecord(3, 0.1, 2.0, 0.9, 0.1, 0.2, d_skipped=True)
    event = LabProgress(3, 10, record.losses(), record=record)
    event.collapse = CollapseReading(0.05, 0.1, 2.0, 12, 16, collapsed=True)
    event.message = "step 3/10: ... . Mode collapse warning: ..."
    greek, english = step_line(event, "el", 0.2), step_line(event, "en", 0.2)
    assert greek != english and "βήμα" in greek.lower() and "0.2" in english
    assert "12" in collapse_note(event, "fi") and collapse_note(event, "fi") != collapse_note(event)
    event.message += " (stopped)"  # as gan.lab.compare marks a run it stopped
    assert step_line(event, "hr").endswith("(zaustavljeno)")


def test_the_fine_tune_lines_follow_the_language(app_services):
    from gan import DEFAULT_MODEL
    from ui.finetune import FinetuneHandlers

    handlers = FinetuneHandlers(app_services.tuner)
    english = handlers.describe(DEFAULT_MODEL)
    assert english == app_services.tuner.describe(DEFAULT_MODEL)
    assert handlers.describe(DEFAULT_MODEL, "el") != english
    note = handlers.defaults(DEFAULT_MODEL, request=_request("hr"))[-1]
    assert note.startswith("Dotreniravanje **")


def test_the_edit_sliders_are_named_by_key_with_their_share_as_info(app_services):
    from ui.edit import EditHandlers, shares

    assert shares(["direction #0 (12.2%)", "direction #1 (7.4%)"]) == ["12.2%", "7.4%", *["0%"] * 3]
    updates = EditHandlers(app_services.editor).slider_updates("dcgan-digiface")
    assert all(re.fullmatch(r"\d+\.\d%", u["info"]) for u in updates)
