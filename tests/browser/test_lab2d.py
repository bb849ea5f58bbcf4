"""The 2D lab in the browser (issue 26): on the ring, Step D shows D's heat map and G's
arrows and changes only D (its counter and heat map), not G's points; Step G moves them."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.browser.helpers import assert_no_error_toast, open_tab, panel, wait_until_idle


def _src(view) -> str:
    return view.locator("img").first.get_attribute("src") or ""


def test_step_d_changes_only_d_and_step_g_moves_g(page):
    open_tab(page, "GAN lab")
    tab = panel(page)
    d_view, g_view = tab.locator(".lab2d-d-view").first, tab.locator(".lab2d-g-view").first
    status = tab.locator(".lab2d-status").first
    expect(d_view.locator("img")).to_be_visible()  # the ring's first frame, at once
    expect(status).to_contain_text("D steps 0, G steps 0")
    d0, g0 = _src(d_view), _src(g_view)
    tab.locator(".lab2d-step-d").click()
    expect(status).to_contain_text("D steps 1, G steps 0")
    assert _src(d_view) != d0  # D's heat map (and the arrows it gives G) changed
    assert _src(g_view) == g0  # G's points and manifold did not
    tab.locator(".lab2d-step-g").click()
    expect(status).to_contain_text("D steps 1, G steps 1")
    assert _src(g_view) != g0
    expect(status).to_contain_text(re.compile(r"Modes covered: \d/8"))
    wait_until_idle(page)
    assert_no_error_toast(page)
