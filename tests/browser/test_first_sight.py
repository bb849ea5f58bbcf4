"""What a visitor meets first (issue 21): results at once, only what applies, a header that fits
a phone, and a lab link whose settings match no preset."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.browser.helpers import (
    assert_no_error_toast,
    error_badges,
    expect_error_toast,
    open_tab,
    panel,
    wait_until_idle,
)
from ui.examples import any_capable, can_style_mix, has_discriminator


def test_random_seeds_shows_their_faces_and_the_zip_holds_them(page):
    tab = panel(page)
    expect(tab.get_by_text("seed 1", exact=True)).to_be_visible()  # the page-load faces
    downloads = tab.locator(".block").filter(has_text="Downloads: native-resolution")
    expect(downloads).to_have_count(0)  # no empty downloads box before a zip exists
    tab.get_by_role("button", name="Random seeds").click()
    seeds = tab.get_by_label("Seeds")
    expect(seeds).not_to_have_value("1-8")
    start = int(seeds.input_value().split("-")[0])
    expect(tab.get_by_text(f"seed {start}", exact=True)).to_be_visible()  # generated at once
    expect(tab.get_by_text("seed 1", exact=True)).to_have_count(0)
    tab.get_by_role("button", name="Zip of the PNGs, grid and latents").click()
    expect(downloads.first).to_be_visible()
    expect(downloads.first.get_by_text(re.compile(r"\.zip"))).to_be_visible()
    wait_until_idle(page)
    assert_no_error_toast(page)


def test_the_latents_sit_in_a_closed_accordion(page):
    tab = panel(page)
    expect(tab.get_by_text("seed 1", exact=True)).to_be_visible()
    expect(tab.get_by_text('"truncation_psi"')).to_have_count(0)
    tab.get_by_text("Latents (seeds, truncation ψ, z)").first.click()
    expect(tab.get_by_text('"truncation_psi"').first).to_be_visible()


def test_tabs_the_dcgan_cannot_serve_say_why_and_disable_their_button(page, app_services):
    """The bundled model is a DCGAN without its D: Style mixing and Judge cannot run on it."""
    for name, button, why in (
        ("Style mixing", "Mix styles", "is not a StyleGAN2"),
        ("Judge", "Judge", "without its discriminator"),
    ):
        open_tab(page, name)
        tab = panel(page)
        expect(tab.get_by_text(why)).to_be_visible()
        expect(tab.get_by_role("button", name=button, exact=True)).to_be_disabled()
        # Offered only when an installed model can run them (earlier tests may add one).
        offered = any_capable(can_style_mix if name == "Style mixing" else has_discriminator)
        expect(tab.get_by_text("Examples", exact=True)).to_have_count(int(offered))
    open_tab(page, "Style mixing")
    expect(panel(page).get_by_text("Noise mode")).to_have_count(0)  # StyleGAN2-only controls


# The side of the picture as drawn (an <img> box may be large around a small picture).
DRAWN_SIZE = """i => {
  const fit = getComputedStyle(i).objectFit;
  let k = Math.min(i.width / i.naturalWidth, i.height / i.naturalHeight);
  if (fit === "scale-down" || fit === "none") k = Math.min(k, 1);
  if (fit === "fill") return Math.min(i.width, i.height);
  return Math.min(i.naturalWidth, i.naturalHeight) * k;
}"""


def test_edit_shows_no_layer_choice_for_a_dcgan_and_a_large_result(page):
    open_tab(page, "Edit")
    tab = panel(page)
    expect(tab.get_by_text("Layers (StyleGAN2)")).to_have_count(0)
    downloads = tab.get_by_text("Downloads: edited image, strips, latent")
    expect(downloads).not_to_be_visible()  # no empty drop zone before there are files
    tab.get_by_text("seed 3: +2σ on direction #0").click()
    expect(downloads).to_be_visible()
    result = tab.locator(".block").filter(has_text="Edited face (live preview)").first
    image = result.locator("img[src*='/gradio_api/file=']").first
    expect(image).to_be_visible()
    wait_until_idle(page)
    drawn = image.evaluate(DRAWN_SIZE)
    assert drawn >= 300, drawn


def test_the_header_fits_a_phone(browser, app_url):
    context = browser.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    try:
        page.goto(app_url)
        status = page.get_by_text("Hub:").first
        expect(status).to_be_visible()
        box = status.bounding_box()
        assert box["width"] >= 150, box  # whole words, not one letter per line
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 400, width  # nothing wider than the phone
    finally:
        context.close()


def test_a_lab_link_with_its_own_steps_names_no_preset(browser, app_url):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    try:
        page.goto(f"{app_url}?tab=lab&steps=40&lr_g=0.0002")
        tab = panel(page)
        expect(page.get_by_role("tab", name="GAN lab", selected=True)).to_be_visible()
        expect(tab.get_by_label("Preset", exact=True)).to_have_value("custom")
        tab.get_by_role("button", name="Stop", exact=True).click()
        wait_until_idle(page)
    finally:
        context.close()


def test_a_bad_input_shows_a_toast_and_no_error_badge(page):
    """A message that belongs in a toast: Gradio 6.31 also marks the outputs "Error" (present
    in the page), the page hides that badge and keeps the last result in view."""
    tab = panel(page)
    expect(tab.get_by_text("seed 1", exact=True)).to_be_visible()  # the page-load faces
    seeds = tab.get_by_label("Seeds")
    seeds.fill("1-8, twelve")
    tab.get_by_role("button", name="Generate", exact=True).click()
    expect_error_toast(page, "cannot read seed 'twelve'")
    expect(error_badges(page).first).to_be_attached()  # Gradio marked the outputs
    expect(error_badges(page).filter(visible=True)).to_have_count(0)
    expect(tab.get_by_text("seed 1", exact=True)).to_be_visible()  # not covered
