"""Generate with a converted tiny StyleGAN3 through the real page: the camera sliders show
(and noise mode hides) for it alone, and a rotated, shifted batch comes back."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from playwright.sync_api import expect

from core import store
from gan.convert import cli
from tests.browser.conftest import save_screenshot
from tests.browser.helpers import assert_no_error_toast, panel, served_images, wait_until_idle

MODEL = "sg3-browser-t"
PICKLE = Path(__file__).resolve().parents[1] / "fixtures" / "stylegan3" / "sg3t.pkl"


@pytest.fixture(scope="module")
def sg3_model(app_services):
    """NVIDIA's tiny random StyleGAN3-T (32 px), converted as a visitor's owner would."""
    assert cli.main([str(PICKLE), "--name", MODEL]) == 0
    yield MODEL
    shutil.rmtree(store.checkpoints_dir() / MODEL, ignore_errors=True)


def choose_model(page, name: str) -> None:
    dropdown = page.get_by_label("Face model")
    dropdown.click()
    page.get_by_role("option", name=name, exact=True).click()
    expect(dropdown).to_have_value(name)


def test_generate_with_a_stylegan3_and_its_camera(page, sg3_model):
    tab = panel(page)
    expect(tab.get_by_text("Rotate (degrees)")).to_be_hidden()  # the DCGAN has no camera
    choose_model(page, sg3_model)
    expect(tab.get_by_text("Rotate (degrees)")).to_be_visible()
    expect(tab.get_by_text("Translate x")).to_be_visible()
    expect(tab.get_by_text("Truncation cutoff")).to_be_visible()
    expect(tab.get_by_text("Noise mode")).to_be_hidden()  # StyleGAN3 has no noise inputs
    tab.get_by_label("Seeds").fill("1-8")
    tab.get_by_label("Translate x", exact=False).first.fill("0.2")
    tab.get_by_label("Rotate (degrees)", exact=False).first.fill("15")
    tab.get_by_role("button", name="Generate", exact=True).click()
    expect(served_images(tab)).to_have_count(8)
    expect(tab.get_by_text("8 faces at 32x32")).to_be_visible()
    wait_until_idle(page)
    assert_no_error_toast(page)
    page.set_viewport_size({"width": 1366, "height": 900})
    save_screenshot(page, "generate-stylegan3.png")
