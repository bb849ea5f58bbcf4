"""Generate and Interpolate through the real page, as a person uses them."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.browser.conftest import save_screenshot
from tests.browser.helpers import (
    assert_no_error_toast,
    close_toasts,
    expect_error_toast,
    open_tab,
    panel,
    served_images,
    wait_until_idle,
)


def test_the_header_says_which_models_are_served(page):
    expect(page.get_by_text("Hub: offline, serving local models")).to_be_visible()
    expect(page.get_by_label("Face model")).to_have_value("dcgan-digiface")


def test_generate_a_grid_of_faces(page):
    tab = panel(page)
    tab.get_by_label("Seeds").fill("1-8")
    tab.get_by_role("button", name="Generate", exact=True).click()
    expect(served_images(tab)).to_have_count(8)
    expect(tab.get_by_text("8 faces at 64x64")).to_be_visible()
    # Native 64 px PNGs, scaled up crisply by the browser.
    face = served_images(tab.locator("#faces")).first
    expect(face).to_have_js_property("naturalWidth", 64)
    assert face.evaluate("e => getComputedStyle(e).imageRendering") == "pixelated"
    assert face.evaluate("e => e.getBoundingClientRect().width") > 64
    tab.get_by_role("button", name="Zip of the PNGs, grid and latents").click()
    expect(tab.locator("a[href$='/faces.zip']").last).to_be_visible()
    wait_until_idle(page)
    assert_no_error_toast(page)
    save_screenshot(page, "generate.png")


def test_bad_seeds_show_a_clear_message_and_the_next_click_works(page):
    tab = panel(page)
    tab.get_by_label("Seeds").fill("one, two")
    tab.get_by_role("button", name="Generate", exact=True).click()
    expect_error_toast(page, "cannot read seed")
    close_toasts(page)
    tab.get_by_label("Seeds").fill("5, 6")
    tab.get_by_role("button", name="Generate", exact=True).click()
    expect(served_images(tab)).to_have_count(2)
    assert_no_error_toast(page)


def test_a_broken_latent_upload_is_a_clear_message(page, tmp_path):
    tab = panel(page)
    broken = tmp_path / "z.npy"
    broken.write_bytes(b"\x93NUMPY garbage")
    tab.get_by_text("Latent vector instead of seeds").click()
    tab.locator("input[type=file]").first.set_input_files(str(broken))
    # Gradio splits the name into two blocks ("z", ".npy"); the cell's accessible name joins them.
    expect(tab.get_by_role("cell", name="z.npy")).to_be_visible()
    tab.get_by_role("button", name="Generate", exact=True).click()
    expect_error_toast(page, "cannot read z.npy")


def test_interpolate_between_three_seeds(page):
    open_tab(page, "Interpolate")
    tab = panel(page)
    tab.get_by_label("Keyframe seeds").fill("1, 2, 3")
    tab.get_by_role("button", name="Interpolate", exact=True).click()
    expect(tab.get_by_text("31 frames, slerp, 3 keyframes")).to_be_visible()
    expect(served_images(tab)).to_have_count(2)  # the strip and the GIF
    expect(tab.locator("video")).to_have_count(1)
    for name in ["strip.png", "interpolation.gif", "interpolation.mp4"]:
        expect(tab.locator(f"a[href$='/{name}']").last).to_be_visible()
    wait_until_idle(page)
    # The looping video: a 2 x 2 grid of cubic walks, two keyframes per tile.
    tab.get_by_text("Looping video (cubic walk, grid)").click()
    expect(tab.get_by_role("button", name="Make video")).to_be_visible()
    tab.get_by_label("Keyframe seeds").fill("1-8")
    for label in ["Grid rows", "Grid columns"]:
        box = tab.get_by_label(re.compile("^number input for " + re.escape(label)))
        box.fill("2")
        box.press("Enter")
        expect(box).to_have_value("2")
    tab.get_by_role("button", name="Make video").click()
    # 24 frames per transition, 2 keyframes per tile, 12 fps (the tab's), 2 x 2 tiles of 64 px
    expect(tab.get_by_text("48 frames (4.0 s) at 128x128")).to_be_visible()
    expect(tab.locator("video")).to_have_count(2)
    wait_until_idle(page)
    assert_no_error_toast(page)
    save_screenshot(page, "interpolate.png")
