"""A StyleGAN2 fine-tune through the real page: pick a (tiny) StyleGAN2 model converted
without D, upload, see the prepared and augmented sets and the fresh-D note, train, and find
the result in the model list. With GAN_STUDIO_SCREENSHOTS=1 it writes
docs/screenshots/finetune-stylegan2.png."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from core import store
from tests.browser.conftest import save_screenshot
from tests.browser.helpers import assert_no_error_toast, open_tab, panel, served_images
from tests.browser.test_style_finetune import set_slider, training_images  # noqa: F401
from tests.gan.finetune.sg2_tiny import tiny_g

BASE = "browser-sg2-base"


@pytest.fixture
def sg2_base(app_services):
    folder = store.checkpoints_dir() / BASE
    if not folder.exists():
        G = tiny_g()
        store.save_pretrained(folder, G.config.to_dict(), G.state_dict(), f"# {BASE}\n")
    return BASE


def test_a_stylegan2_fine_tune_runs_in_the_browser(page, sg2_base, training_images):  # noqa: F811
    page.reload()  # the model list as of now, with the StyleGAN2 base
    page.get_by_role("tab", name="Generate").wait_for()
    page.get_by_label("Face model").click()
    page.get_by_role("option", name=BASE, exact=True).click()
    open_tab(page, "Fine-tune")
    tab = panel(page)
    expect(tab.get_by_text("StyleGAN2, 16 px").first).to_be_visible()  # defaults switched
    block = tab.locator(".block").filter(has_text="Training images").first
    block.locator("input[type=file]").set_input_files(training_images)
    expect(tab.get_by_text("Augmented preview: ADA at p = 0.50").first).to_be_visible()
    augmented = tab.locator(".block").filter(has_text="Augmented real images").first
    expect(served_images(augmented)).to_have_count(1)
    tab.get_by_label("Save as (checkpoints/<name>/)").fill("browser-sg2")
    set_slider(tab, "Steps", 6)
    tab.get_by_role("button", name="Start fine-tuning").click()
    expect(tab.get_by_text("Saved browser-sg2")).to_be_visible(timeout=480_000)
    expect(tab.get_by_text("a fresh D is trained").first).to_be_visible()
    samples = tab.locator(".block").filter(has_text="EMA generator samples").first
    expect(served_images(samples)).to_have_count(1)
    expect(tab.get_by_text('"ada_p"')).to_be_visible()
    assert_no_error_toast(page)
    tab.get_by_text("StyleGAN2/3 settings").click()  # show the accordion in the screenshot
    save_screenshot(page, "finetune-stylegan2.png")
    page.get_by_label("Face model").click()
    expect(page.get_by_role("option", name="browser-sg2", exact=True)).to_be_visible()
