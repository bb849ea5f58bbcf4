"""Every example of the heavy tabs, clicked on a fresh page as a visitor would: it settles,
with no JavaScript error (the `no_page_errors` fixture), nothing left processing and no
error badge, and its plot is drawn. Their loss plots once froze the page (`ui/plots.py`,
docs/upstream.md)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from gan.project.examples import PROJECT_EXAMPLES
from style.examples import EXAMPLE_PAIRS
from tests.browser.conftest import stop_leftover_runs
from tests.browser.helpers import assert_no_error_toast, open_tab, panel, wait_until_idle

TABS = {  # tab: (its examples' elem_id, its plot's label, a line its result shows)
    "Style transfer": ("style-examples", "Weighted losses", "Done"),
    "Project": ("project-examples", "Perceptual distance", "Step "),
}
CASES = [("Style transfer", i) for i in range(len(EXAMPLE_PAIRS))]
CASES += [("Project", i) for i in range(len(PROJECT_EXAMPLES))]


@pytest.mark.parametrize(("tab_name", "index"), CASES)
def test_an_example_settles_on_a_fresh_page(browser, app_url, app_services, tab_name, index):
    examples_id, plot_label, result_line = TABS[tab_name]
    stop_leftover_runs(app_services)
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        page = context.new_page()
        page.goto(app_url)
        open_tab(page, tab_name)
        tab = panel(page)
        tab.locator(f"#{examples_id} button.gallery-item").nth(index).click()
        expect(tab.get_by_text(result_line).first).to_be_visible()
        wait_until_idle(page)
        plot = tab.locator(".block").filter(has=page.get_by_text(plot_label, exact=True)).last
        expect(plot.locator("canvas, svg").first).to_be_visible()  # drawn, not stuck
        expect(tab.locator(".pending, .generating").filter(visible=True)).to_have_count(0)
        expect(tab.locator(".error").filter(visible=True)).to_have_count(0)  # no "Error" badge
        assert_no_error_toast(page)
    finally:
        context.close()
