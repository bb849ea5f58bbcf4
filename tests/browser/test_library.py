"""My latents through the real page: keep a face, reload, it is still there."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.browser.conftest import save_screenshot
from tests.browser.helpers import assert_no_error_toast, open_tab, panel, served_images


def test_a_kept_face_is_in_my_latents_after_a_reload(page: Page):
    tab = panel(page)
    expect(served_images(tab.locator("#faces"))).to_have_count(8)  # seeds 1-8, made on load
    served_images(tab.locator("#faces")).nth(2).click()  # seed 3
    tab.get_by_role("button", name="Keep the selected face in My latents").click()
    expect(page.get_by_text("Kept in My latents as “seed 3”.")).to_be_visible()
    page.reload()
    open_tab(page, "My latents")
    mine = panel(page).locator("#my-latents")
    expect(mine.get_by_text("seed 3", exact=True).first).to_be_visible()
    expect(served_images(mine).first).to_be_visible()
    assert_no_error_toast(page)
    save_screenshot(page, "library.png")
