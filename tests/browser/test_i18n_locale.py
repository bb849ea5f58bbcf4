"""The page's language in a real browser: Gradio's own choice, our browser-locale script and the
selector override (ui.i18n). A tiny page with the shipped translations, not the whole app."""

from __future__ import annotations

import socket

import gradio as gr
import pytest
from playwright.sync_api import expect

from ui import i18n

TEXTS = i18n.load_translations()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _page(with_script: bool) -> gr.Blocks:
    t = i18n.build_i18n()
    with gr.Blocks() as demo:
        gr.Markdown(t("howto.lab.sensitivity.body"))
        gr.Button(t("lab.run"))
        choices = [(name, code) for code, name in i18n.LANGUAGES.items()]
        selector = gr.Dropdown(choices, value="en", label="Language")
        if with_script:
            demo.load(None, None, selector, js=i18n.BROWSER_LOCALE_JS)
            selector.input(None, selector, None, js=i18n.SET_LOCALE_JS)
    return demo


@pytest.fixture(scope="module", params=[True, False], ids=["script", "plain"])
def site(request):
    demo = _page(request.param)
    port = _free_port()
    demo.launch(
        i18n=i18n.build_i18n(),
        server_name="127.0.0.1",
        server_port=port,
        prevent_thread_lock=True,
        quiet=True,
    )
    yield request.param, f"http://127.0.0.1:{port}/"
    demo.close()


def _open(browser, url: str, locale: str):
    context = browser.new_context(locale=locale)
    context.set_default_timeout(60_000)
    page = context.new_page()
    page.goto(url)
    return context, page


def _button(page, lang: str):
    return page.get_by_role("button", name=TEXTS[lang]["lab.run"])


@pytest.mark.parametrize("locale, lang", [("el-GR", "el"), ("hr-HR", "hr"), ("fil-PH", "tl")])
def test_greek_croatian_tagalog_browsers_need_the_script(browser, site, locale, lang):
    with_script, url = site
    context, page = _open(browser, url, locale)
    try:
        # Gradio alone picks only among its own UI languages, which lack el, hr and tl.
        expect(_button(page, lang if with_script else "en")).to_be_visible()
    finally:
        context.close()


@pytest.mark.parametrize("locale, lang", [("nl-NL", "nl"), ("fi", "fi")])
def test_dutch_and_finnish_browsers_get_their_language(browser, site, locale, lang):
    context, page = _open(browser, site[1], locale)
    try:
        expect(_button(page, lang)).to_be_visible()
    finally:
        context.close()


def test_the_selector_overrides_and_is_remembered(browser, site):
    with_script, url = site
    if not with_script:
        pytest.skip("the selector needs the script")
    context, page = _open(browser, url, "nl-NL")
    try:
        expect(_button(page, "nl")).to_be_visible()
        page.get_by_label("Language").click()
        page.get_by_role("option", name=i18n.LANGUAGES["el"]).click()
        expect(_button(page, "el")).to_be_visible()
        page.reload()
        expect(_button(page, "el")).to_be_visible()
    finally:
        context.close()


# --- The whole app (the session's app): labels and every tab name, not only the open tab's ------

APP_LABELS = (  # translated in every language (none is the English text)
    "app.language.label",
    "model.label",
    "generate.seeds.label",
    "generate.count.label",
    "generate.dice",
    "generate.zip",
    "common.howto",
    "common.copy_link",
)


@pytest.mark.parametrize("locale, lang", [("el-GR", "el"), ("hr-HR", "hr"), ("fil-PH", "tl")])
def test_the_apps_labels_and_all_tab_names_follow_the_script(browser, app_url, locale, lang):
    """Gradio keeps the names of the tabs not yet opened in English after a run-time locale
    change; the script renames them (ui.i18n)."""
    texts = TEXTS[lang]
    context, page = _open(browser, app_url, locale)
    try:
        tabs = page.locator("[role=tablist]").first.get_by_role("tab")
        expect(tabs).to_have_text([texts[key] for key in i18n.tab_names()])
        for key in APP_LABELS:
            assert texts[key] != TEXTS["en"][key], key
            expect(page.get_by_text(texts[key], exact=True).first).to_be_visible()
        running_on = i18n.translate("msg.app.device", lang, device="X").split("**")[0].strip()
        expect(page.get_by_text(running_on).first).to_be_visible()  # from Accept-Language
        page.get_by_role("tab", name=texts["tab.lab"]).click()
        expect(page.get_by_role("button", name=texts["lab.run"])).to_be_visible()
        expect(page.get_by_text(texts["lab.seed.label"], exact=True)).to_be_visible()
        # Gradio's own words, which Gradio has no Greek, Croatian or Tagalog for (ui/locales)
        expect(page.get_by_text(texts["upload_text.drop_file"]).first).to_be_visible()
    finally:
        context.close()


def test_the_more_tabs_menu_is_renamed_too(browser, app_url):
    texts = TEXTS["el"]
    context = browser.new_context(locale="el-GR", viewport={"width": 500, "height": 900})
    context.set_default_timeout(60_000)
    page = context.new_page()
    try:
        page.goto(app_url)
        expect(page.get_by_role("tab", name=texts["tab.generate"])).to_be_visible()
        page.get_by_label("More tabs").click()
        expect(page.get_by_role("button", name=texts["tab.lab"], exact=True)).to_be_visible()
        expect(page.get_by_role("button", name=TEXTS["en"]["tab.lab"], exact=True)).to_have_count(0)
    finally:
        context.close()
