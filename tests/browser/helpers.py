"""What the browser tests look for on a Gradio 6 page."""

from __future__ import annotations

from playwright.sync_api import Locator, Page, expect

ERROR_TOAST = "[data-testid=toast-body].error"


def open_tab(page: Page, name: str) -> None:
    page.get_by_role("tab", name=name).click()


def panel(page: Page) -> Locator:
    """The visible tab panel (each tab's components live in one)."""
    return page.get_by_role("tabpanel").filter(visible=True).first


def error_toasts(page: Page) -> list[str]:
    return page.locator(f"{ERROR_TOAST} [data-testid=toast-text]").all_inner_texts()


def assert_no_error_toast(page: Page) -> None:
    assert error_toasts(page) == []


def expect_error_toast(page: Page, words: str) -> None:
    toast = page.locator(f"{ERROR_TOAST} [data-testid=toast-text]").filter(has_text=words)
    expect(toast.first).to_be_visible()


def close_toasts(page: Page) -> None:
    for button in page.locator("[data-testid=toast-close]").all():
        if button.is_visible():
            button.click()


def served_images(scope: Locator) -> Locator:
    """Images the server produced (not icons): their src points at Gradio's file route."""
    return scope.locator("img[src*='/gradio_api/file=']")


def wait_until_idle(page: Page) -> None:
    """No progress bar or pending spinner on the page."""
    expect(page.locator(".progress-text, .eta-bar").filter(visible=True)).to_have_count(0)
