"""Share and learn in a real browser: permalinks restore and rerun, the page's six languages."""

from __future__ import annotations

import io
import re

import numpy as np
import pytest
from PIL import Image
from playwright.sync_api import expect

from tests.browser.helpers import open_tab, panel, served_images
from ui import i18n

TEXTS = i18n.load_translations()
WARNING_TOAST = "[data-testid=toast-body].warning [data-testid=toast-text]"


def _open(browser, url: str, locale: str = "en-US"):
    context = browser.new_context(locale=locale, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(120_000)
    page = context.new_page()
    page.goto(url)
    return context, page


def _pixels(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def test_a_permalink_reruns_generate_with_the_same_pixels(browser, app_url, client):
    context, page = _open(browser, app_url + "?tab=generate&seeds=5,7&truncation_psi=0.8")
    try:
        tab = panel(page)
        expect(tab.get_by_text("seed 7")).to_be_visible()
        expect(served_images(tab)).to_have_count(2)
        expect(tab.locator("textarea").first).to_have_value("5,7")
        shown = [
            _pixels(page.request.get(img.get_attribute("src")).body())
            for img in served_images(tab).all()
        ]
        gallery, _, _ = client.predict(seeds="5,7", truncation_psi=0.8, api_name="/generate")
        expected = [np.asarray(Image.open(item["image"]).convert("RGB")) for item in gallery]
        assert all(np.array_equal(a, b) for a, b in zip(shown, expected, strict=True))
    finally:
        context.close()


def test_an_invalid_link_warns_and_the_page_still_shows_faces(browser, app_url):
    context, page = _open(browser, app_url + "?tab=generate&truncation_psi=9")
    try:
        expect(page.locator(WARNING_TOAST).filter(has_text="between 0 and 2")).to_be_visible()
        expect(served_images(panel(page))).to_have_count(8)  # the default seeds ran
    finally:
        context.close()


def test_copy_link_builds_the_tabs_url(browser, app_url):
    context, page = _open(browser, app_url)
    try:
        tab = panel(page)
        tab.locator("textarea").first.fill("3, 4")
        tab.get_by_role("button", name="Copy link").click()
        link = tab.get_by_placeholder("link")
        expect(link).to_have_value(
            app_url.rstrip("/") + "/?tab=generate&seeds=3%2C+4"
            "&truncation_psi=1&model=dcgan-digiface"
        )
    finally:
        context.close()


def test_a_style_example_link_restores_the_pair_and_reruns_it(browser, app_url, images_dir):
    query = "?tab=style&example=shipwreck-starry-night&steps=3&size=128&init=content"
    context, page = _open(browser, app_url + query)
    try:
        tab = panel(page)
        expect(tab.get_by_text("Iteration 3/3")).to_be_visible()
        expect(tab.get_by_text("Done.")).to_be_visible()
        for label, name in (("Content image", "turner_shipwreck"), ("Style image", "van_gogh")):
            block = tab.locator(".block").filter(has_text=label).first
            expect(block.locator(f"img[src*='{name}']")).to_have_count(1)
        result = tab.locator(".block").filter(has_text="Result (live preview)").first
        expect(served_images(result)).to_have_count(1)
        steps = tab.get_by_label(re.compile("^number input for Iterations"))
        expect(steps).to_have_value("3")
        tab.get_by_role("button", name="Copy link").click()
        link = tab.get_by_placeholder("link")
        expect(link).to_have_value(re.compile(r"tab=style&steps=3&size=128.*example=shipwreck"))
        # An own content image replaces the example: a link copied now names none.
        content = tab.locator(".block").filter(has_text="Content image").first
        content.locator("input[type=file]").set_input_files(str(images_dir / "tubingen.jpg"))
        expect(content.locator("img[src*='tubingen']")).to_have_count(1)
        tab.get_by_role("button", name="Copy link").click()
        expect(link).to_have_value(re.compile(r"tab=style&steps=3&size=128"))
        expect(link).not_to_have_value(re.compile("example="))
    finally:
        context.close()


def test_the_project_example_projects_the_face_the_app_generated(browser, app_url):
    from gan.project.examples import PROJECT_EXAMPLES

    example = PROJECT_EXAMPLES[0]
    context, page = _open(browser, app_url)
    try:
        open_tab(page, "Project")
        tab = panel(page)
        tab.get_by_role(
            "button",
            name=re.compile("^" + re.escape(i18n.translate(f"example.project.{example.name}"))),
        ).click()
        expect(tab.get_by_text(f"Step {example.steps}/{example.steps}")).to_be_visible()
        expect(tab.get_by_text("PSNR to the target")).to_be_visible()
        photo = tab.locator(".block").filter(has=page.get_by_text("Photo", exact=True)).last
        expect(photo.locator(f"img[src*='seed{example.seed}']")).to_have_count(1)
        steps = tab.get_by_label(re.compile("^number input for Steps"))
        expect(steps).to_have_value(str(example.steps))
    finally:
        context.close()


@pytest.mark.parametrize(
    "locale, lang",
    [
        ("en-US", "en"),
        ("nl-NL", "nl"),
        ("fil-PH", "tl"),
        ("el-GR", "el"),
        ("fi-FI", "fi"),
        ("hr-HR", "hr"),
    ],
)
def test_the_page_renders_in_each_language(browser, app_url, locale, lang):
    context, page = _open(browser, app_url, locale)
    try:
        run = TEXTS[lang]["generate.run"]
        expect(panel(page).get_by_role("button", name=run, exact=True)).to_be_visible()
        expect(page.get_by_text(TEXTS[lang]["common.howto"]).first).to_be_visible()
        expect(served_images(panel(page))).to_have_count(8)
    finally:
        context.close()
