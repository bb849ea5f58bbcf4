"""Generate and Style mixing with a StyleGAN2 model through the real page."""

from __future__ import annotations

import shutil

import pytest
from playwright.sync_api import expect

from core import store
from tests.browser.conftest import save_screenshot
from tests.browser.helpers import (
    assert_no_error_toast,
    open_tab,
    panel,
    served_images,
    wait_until_idle,
)
from tests.gan.sg2_models import save_tiny

MODEL = "sg2-browser-64"


@pytest.fixture(scope="module")
def sg2_model(app_services):
    """A random 64 px StyleGAN2 (10 ws: coarse, middle and fine presets all apply)."""
    folder = store.checkpoints_dir()
    save_tiny(folder, MODEL, seed=4, resolution=64)
    yield MODEL
    shutil.rmtree(folder / MODEL, ignore_errors=True)


def choose_model(page, name: str) -> None:
    dropdown = page.get_by_label("Face model")
    dropdown.click()
    page.get_by_role("option", name=name, exact=True).click()
    expect(dropdown).to_have_value(name)


def test_stylegan2_controls_show_only_for_stylegan2(page, sg2_model):
    tab = panel(page)
    expect(tab.get_by_label("Noise mode")).to_have_count(0)  # hidden for the DCGAN
    choose_model(page, sg2_model)
    expect(tab.get_by_text("Noise mode")).to_be_visible()
    expect(tab.get_by_text("Truncation cutoff")).to_be_visible()
    choose_model(page, "dcgan-digiface")
    expect(tab.get_by_text("Noise mode")).to_be_hidden()


def test_generate_with_a_stylegan2(page, sg2_model):
    choose_model(page, sg2_model)
    tab = panel(page)
    tab.get_by_label("Seeds").fill("1-8")
    tab.get_by_label("Truncation ψ", exact=False).first.fill("0.7")
    tab.get_by_role("button", name="Generate", exact=True).click()
    expect(served_images(tab)).to_have_count(8)
    expect(tab.get_by_text("8 faces at 64x64")).to_be_visible()
    # The native-resolution PNGs, grid, z and w come in one zip, built on demand.
    tab.get_by_role("button", name="Zip of the PNGs, grid and latents").click()
    expect(tab.locator("a[href$='/faces.zip']").last).to_be_visible()
    wait_until_idle(page)
    assert_no_error_toast(page)
    save_screenshot(page, "generate-stylegan2.png")


def test_style_mixing_with_a_stylegan2(page, sg2_model):
    choose_model(page, sg2_model)
    open_tab(page, "Style mixing")
    tab = panel(page)
    tab.get_by_label("Row seeds").fill("1-3")
    tab.get_by_label("Column seeds").fill("4-7")
    tab.get_by_text("middle", exact=True).click()
    tab.get_by_role("button", name="Mix styles").click()
    expect(tab.get_by_text("3 x 4 at 64x64")).to_be_visible()
    expect(tab.get_by_text("rows take ws 4-7")).to_be_visible()
    expect(served_images(tab)).to_have_count(1 + 3 + 4 + 12)  # the grid, then the gallery
    downloads = tab.locator(".block").filter(has=page.locator("a[href$='/style-mix.png']")).last
    expect(downloads).to_be_visible()
    expect(downloads.get_by_role("button", name="Clear")).to_have_count(
        0
    )  # a result, not an upload
    wait_until_idle(page)
    gallery = tab.locator(".grid-wrap").filter(has=page.get_by_text("3 + styles of 7"))
    cut = gallery.evaluate("w => w.scrollHeight - w.clientHeight")
    assert cut <= 1, cut  # the last row is whole, not behind a scroll bar
    assert_no_error_toast(page)
    save_screenshot(page, "style-mix.png")
