"""The Lesson tab in a real browser: the step list and its navigation, the kept step, the quiz's
verdicts checked in the page, the lesson in another language, step 4's live 2D lab and the
tab switch to the lab."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.browser.helpers import assert_no_error_toast, open_tab
from ui import i18n

TEXTS = i18n.load_translations()
EN, EL = TEXTS["en"], TEXTS["el"]
ONE_D_STEP = re.compile(r"D[^,:]* 1, [^:]*G[^:]* 0:")  # "D steps 1, G steps 0:", any language


def _answer(page, texts: dict[str, str], choice: str) -> None:
    page.locator("#lesson-s2-q1").get_by_label(texts[f"lesson.s2.q1.{choice}"]).check()


def test_step_two_checks_answers_in_the_page_keeps_the_step_and_speaks_greek(page):
    open_tab(page, EN["tab.lesson"])
    expect(page.get_by_role("tab", name=EN["lesson.step.s1"])).to_have_attribute(
        "aria-selected", "true"
    )
    page.locator("#lesson-1-next").click()
    verdict, why = page.locator("#lesson-s2-q1-verdict"), page.locator("#lesson-s2-q1-why")
    _answer(page, EN, "a")  # right
    expect(verdict).to_contain_text("Right.")
    expect(why).to_contain_text(EN["lesson.s2.q1.why"][:40])

    page.reload()  # the step is kept in this browser
    open_tab(page, EN["tab.lesson"])
    expect(page.locator("#lesson-s2-q1")).to_be_visible()
    expect(verdict).to_be_empty()  # a fresh page has no verdicts yet

    page.get_by_label(EN["app.language.label"]).click()
    page.get_by_role("option", name=i18n.LANGUAGES["el"]).click()
    expect(page.get_by_role("tab", name=EL["lesson.step.s2"])).to_be_visible()
    expect(page.get_by_text(EL["lesson.s2.q1"])).to_be_visible()
    _answer(page, EL, "c")  # wrong
    expect(verdict).to_contain_text(EL["lesson.quiz.wrong"].strip("✗ *"))
    expect(verdict).not_to_contain_text(EL["lesson.quiz.right"].strip("✓ *"))
    page.locator("#lesson-2-prev").click()
    expect(page.get_by_text(EL["lesson.s1.q1"])).to_be_visible()
    page.get_by_role("tab", name=EL["lesson.step.s4"]).click()
    step = page.locator("#lesson-steps")  # step 4's 2D lab: Step D trains D alone
    step.get_by_role("button", name=EL["lab2d.step_d"]).click()
    expect(step.locator(".lab2d-status").first).to_contain_text(ONE_D_STEP)
    page.get_by_role("button", name=EL["lesson.open.lab"]).click()  # one click to the GAN lab
    expect(page.get_by_role("tab", name=EL["tab.lab"], selected=True)).to_be_visible()
    assert_no_error_toast(page)
