"""What the browser tests look for on a Gradio 6 page."""

from __future__ import annotations

from playwright.sync_api import Locator, Page, expect

from core import store
from tests.conftest import ROOT

ERROR_TOAST = "[data-testid=toast-body].error"
# Gradio 6.31 marks a failed event's outputs with this badge (ui.common.ERROR_BADGE).
ERROR_BADGE = "[data-testid=status-tracker] > span.error"
JUDGED = "digiface-with-d"


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


def error_badges(page: Page) -> Locator:
    """The "Error" badges on the page, shown or hidden."""
    return page.locator(ERROR_BADGE)


def add_judged_model(name: str = JUDGED) -> str:
    """The bundled G with an untrained DCGAN D beside it (a stand-in for a fine-tuned model),
    in the session's checkpoints folder."""
    import torch
    from safetensors.torch import save_file

    from gan.judge import judge as J
    from gan.models.dcgan import Discriminator, DiscriminatorConfig, init_weights

    folder = store.checkpoints_dir() / name
    if not folder.is_dir():
        source = ROOT / "checkpoints" / "dcgan-digiface"
        config, tensors = store.from_pretrained(source)
        store.save_pretrained(folder, config, tensors, "test model: bundled G, untrained D")
        torch.manual_seed(0)
        D = Discriminator(DiscriminatorConfig(ndf=16, image_size=int(config["image_size"])))
        D.apply(init_weights)
        save_file(dict(D.state_dict()), str(folder / J.DISCRIMINATOR_NAME))
    return name
