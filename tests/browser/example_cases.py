"""The example cases of `test_examples_light.py` and `test_examples_heavy.py` (two files, so
that the two test workers share them): every example of every tab, clicked on a fresh page as
a visitor would: it settles, with no JavaScript error (the `no_page_errors` fixture), nothing
left processing, no "Error" badge on any component (present in the page, even where the page
hides it) and no error toast, and it shows its result. The heavy tabs' loss plots once froze
the page (`ui/plots.py`, docs/upstream.md). Fine-tune's and the lab's examples fill a form (a
run takes minutes): they must fill it cleanly, each set on one fresh page.

Each case loads a fresh page (its own Gradio session) on the session's app. Style mixing and
Judge examples are offered only when an installed model can run them: `capable_models` adds a
tiny StyleGAN2 and a model saved with its discriminator first, so that they are clicked too.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable

import pytest
from playwright.sync_api import Locator, Page, expect

from core import store
from gan.project.examples import PROJECT_EXAMPLES
from style.examples import EXAMPLE_PAIRS
from tests.browser.conftest import VIEWPORT, stop_leftover_runs
from tests.browser.helpers import (
    add_judged_model,
    assert_no_error_toast,
    error_badges,
    open_tab,
    panel,
    wait_until_idle,
)
from tests.gan.sg2_models import save_tiny
from ui import edit, judge, style_mix
from ui.finetune import EXAMPLE_RUNS
from ui.lab import PRESETS

SG2 = "sg2-examples-64"
EXAMPLE_JUDGED = "examples-with-d"


def shows(text: str) -> Callable[[Locator, int], None]:
    """The result check: `text` is on the tab."""

    def check(tab: Locator, index: int) -> None:
        expect(tab.get_by_text(text).first).to_be_visible()

    return check


def plot_drawn(label: str, line: str) -> Callable[[Locator, int], None]:
    """A heavy tab's check: its result line, and its plot drawn (not stuck)."""

    def check(tab: Locator, index: int) -> None:
        expect(tab.get_by_text(line).first).to_be_visible()
        wait_until_idle(tab.page)
        plot = tab.locator(".block").filter(has=tab.page.get_by_text(label, exact=True)).last
        expect(plot.locator("canvas, svg").first).to_be_visible()

    return check


def generated_seed(tab: Locator, index: int) -> None:
    expect(tab.get_by_text(f"seed {(1, 42, 100)[index]}", exact=True)).to_be_visible()


def finetune_form(tab: Locator, index: int) -> None:
    name = list(EXAMPLE_RUNS.values())[index][0]
    expect(tab.get_by_label("Save as (checkpoints/<name>/)")).to_have_value(name)


def lab_form(tab: Locator, index: int) -> None:
    steps = list(PRESETS.values())[index].steps
    expect(tab.get_by_label("number input for Steps", exact=True).first).to_have_value(str(steps))


def compare_form(tab: Locator, index: int) -> None:
    expect(tab.get_by_label("Value in run A")).not_to_have_value("")


# tab: (its examples' elem_id, how many, an accordion to open first, the result check)
TABS = {
    "Generate": ("generate-examples", 3, None, generated_seed),
    "Interpolate": ("interpolate-examples", 2, None, shows(" frames, ")),
    "Style mixing": ("style-mixing-examples", len(style_mix.EXAMPLES), None, shows("rows take")),
    "Judge": ("judge-examples", len(judge.example_rows()[0]), None, shows("p real")),
    "Edit": ("edit-examples", len(edit.EXAMPLES), None, shows("Strip columns")),
    "Style transfer": (
        "style-examples",
        len(EXAMPLE_PAIRS),
        None,
        plot_drawn("Weighted losses", "Done"),
    ),
    "Project": (
        "project-examples",
        len(PROJECT_EXAMPLES),
        None,
        plot_drawn("Perceptual distance", "Step "),
    ),
}
# Examples that only fill a form (a run takes minutes: not cached, no plot): all of a set on
# one fresh page, one after the other, so that they cost one page load per set.
FORMS = {
    "Fine-tune": ("finetune-examples", len(EXAMPLE_RUNS), None, finetune_form),
    "GAN lab": ("lab-examples", len(PRESETS), None, lab_form),
    "GAN lab (compare)": ("lab-compare-examples", 3, "Two runs side by side", compare_form),
}


def cases(names: list[str]) -> list:
    """The test cases of these tabs: one per example, or one per form set."""
    params = []
    for name in names:
        _, count, _, _ = (TABS | FORMS)[name]
        if name in FORMS:
            params.append(pytest.param(name, list(range(count)), id=f"{name}-all"))
        else:
            params += [pytest.param(name, [i], id=f"{name}-{i}") for i in range(count)]
    return params


def capable_models(app_services):
    """A tiny 64 px StyleGAN2 (Style mixing) and a model with its D (Judge), before the pages
    load (each test file makes it a module fixture)."""
    folder = store.checkpoints_dir()
    save_tiny(folder, SG2, seed=5, resolution=64)  # 10 ws: the fine preset applies
    add_judged_model(EXAMPLE_JUDGED)
    yield
    for name in (SG2, EXAMPLE_JUDGED):
        shutil.rmtree(folder / name, ignore_errors=True)


def examples_context(browser):
    """One browser context for the module: each case loads a fresh page (its own Gradio
    session) with the page's scripts from the context's HTTP cache."""
    context = browser.new_context(viewport=VIEWPORT)
    context.set_default_timeout(60_000)  # as the `page` fixture's: a busy CI machine
    yield context
    context.close()


def fresh_page(context, app_url: str, app_services) -> Page:
    stop_leftover_runs(app_services)
    page = context.new_page()
    page.goto(app_url)  # no wait for the load events: a visitor clicks at once too
    return page


def example_settles_on_a_fresh_page(
    context, app_url: str, app_services, tab_name: str, indices: list[int]
) -> None:
    """Click these examples of a tab on one fresh page; each settles cleanly with its result."""
    examples_id, _, accordion, check = (TABS | FORMS)[tab_name]
    page = fresh_page(context, app_url, app_services)
    try:
        open_tab(page, tab_name.split(" (")[0])
        tab = panel(page)
        if accordion:
            tab.get_by_text(accordion).first.click()
        for index in indices:
            tab.locator(f"#{examples_id} button.gallery-item").nth(index).click()
            check(tab, index)
            wait_until_idle(page)
            expect(page.locator(".pending, .generating").filter(visible=True)).to_have_count(0)
            expect(error_badges(page)).to_have_count(0)
            assert_no_error_toast(page)
    finally:
        page.close()
