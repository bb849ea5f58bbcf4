"""Edit, Project and Judge through the real page: sliders, a projection with Stop, D's verdict."""

from __future__ import annotations

import os
import re

import pytest
from PIL import Image
from playwright.sync_api import Page, expect

from tests.browser.conftest import save_screenshot
from tests.browser.helpers import (
    JUDGED,
    add_judged_model,
    assert_no_error_toast,
    open_tab,
    panel,
    served_images,
)

README_RUN = os.environ.get("GAN_STUDIO_SCREENSHOTS") == "1"


def set_slider(scope, label: str, value: float) -> None:
    """Type into the number box of the slider whose label starts with `label`."""
    box = scope.get_by_label(re.compile("^number input for " + re.escape(label)))
    box.fill(str(value))
    box.press("Enter")


@pytest.fixture(scope="module")
def judged_model(app_services) -> str:
    """The bundled G with an untrained DCGAN D beside it (a stand-in for a fine-tuned model)."""
    return add_judged_model(JUDGED)


@pytest.fixture
def face_photo(app_services, tmp_path) -> str:
    """A face that the bundled DCGAN made (seed 7), enlarged to 256 px as a photo would be."""
    from gan.edit.service import faces_for_seeds

    face = faces_for_seeds(app_services.studio, "dcgan-digiface", [7])[0]
    path = tmp_path / "face7.png"
    Image.fromarray(face).resize((256, 256), Image.Resampling.LANCZOS).save(path)
    return str(path)


def upload(scope, label: str, paths: str | list[str]) -> None:
    block = scope.locator(".block").filter(has_text=label).first
    block.locator("input[type=file]").set_input_files(paths)


# --- Edit -------------------------------------------------------------------------------------


def test_edit_sliders_preview_and_export(page):
    open_tab(page, "Edit")
    tab = panel(page)
    # each slider is named in the page's language; its share of the spectrum is its info
    expect(tab.get_by_text("direction #0", exact=True).first).to_be_visible()
    expect(tab.get_by_text(re.compile(r"^\d+\.\d%$")).first).to_be_visible()
    tab.get_by_label("Seed").fill("11")
    set_slider(tab, "direction #0", 2.5)
    preview = tab.locator(".block").filter(has_text="Edited face (live preview)").first
    expect(served_images(preview)).to_have_count(1)
    set_slider(tab, "direction #2", -2)
    tab.get_by_role("button", name="Edit and export", exact=True).click()
    expect(tab.get_by_text("+2.5σ on direction #0")).to_be_visible()
    for name in ["edited.png", "strips.png", "edited.npy", "edited.json"]:
        expect(tab.locator(f"a[href$='/{name}']").last).to_be_visible()
    assert_no_error_toast(page)
    save_screenshot(page, "edit.png")


# --- Project ----------------------------------------------------------------------------------


def test_project_a_face_then_send_it_to_edit(page, face_photo):
    steps = 300 if README_RUN else 30
    open_tab(page, "Project")
    tab = panel(page)
    expect(tab.get_by_text("Perceptual loss in use")).to_be_visible()
    expect(tab.get_by_text("the red square is the crop that the projection takes")).to_be_visible()
    expect(tab.get_by_label("Align the face (FFHQ crop)")).to_be_checked()  # a face model
    tab.locator("input[type=file]").first.set_input_files(face_photo)
    crop_view = tab.locator(".block").filter(has_text="Crop box").first
    expect(served_images(crop_view)).to_have_count(1)
    set_slider(tab, "Steps (more: closer; NVIDIA uses 1000)", steps)
    set_slider(tab, "Preview every N steps", 10)
    tab.get_by_role("button", name="Project", exact=True).click()
    expect(tab.get_by_text("Done.")).to_be_visible(timeout=600_000)
    expect(tab.get_by_text(f"Step {steps}/{steps}")).to_be_visible()
    expect(tab.locator("video")).to_have_count(1)
    for name in ["projected.npy", "projected.json", "projection.mp4"]:
        expect(tab.locator(f"a[href$='/{name}']").last).to_be_visible()
    assert_no_error_toast(page)
    save_screenshot(page, "project.png")
    tab.get_by_role("button", name="Send to Edit").click()
    open_tab(page, "Edit")
    edit = panel(page)
    edit.get_by_text("Start from a latent instead").click()
    expect(edit.get_by_label("Latent vector (JSON)", exact=True)).to_have_value(
        re.compile(r'^\{"truncation_psi"')
    )
    edit.get_by_role("button", name="Edit and export", exact=True).click()
    expect(edit.get_by_text("no move")).to_be_visible()


def test_stop_a_projection_keeps_the_current_result(page, face_photo):
    open_tab(page, "Project")
    tab = panel(page)
    tab.locator("input[type=file]").first.set_input_files(face_photo)
    set_slider(tab, "Steps (more: closer; NVIDIA uses 1000)", 5000)
    set_slider(tab, "Preview every N steps", 5)
    tab.get_by_role("button", name="Project", exact=True).click()
    expect(tab.get_by_text(re.compile(r"Step \d+/5000"))).to_be_visible()
    tab.get_by_role("button", name="Stop", exact=True).first.click()  # the Morph has its own
    expect(tab.get_by_text("Stopped")).to_be_visible()
    expect(tab.locator("a[href$='/projected.npy']").last).to_be_visible()


def projections_kept(client) -> int:
    """How many projections My latents holds (this machine's visitors share one library)."""
    _, entries = client.predict(api_name="/library_list")
    return sum(e["origin"] == "projection" for e in entries)


def test_morph_two_photos_in_one_click(page, judged_model, app_services, client, tmp_path):
    """Two photos in, one click: the looping video, D's realness plot and both latents, which
    are in My latents after a reload."""
    from gan.edit.service import faces_for_seeds

    paths = []
    for seed in (7, 11):
        face = faces_for_seeds(app_services.studio, "dcgan-digiface", [seed])[0]
        paths.append(tmp_path / f"face{seed}.png")
        Image.fromarray(face).resize((256, 256), Image.Resampling.LANCZOS).save(paths[-1])
    kept = projections_kept(client)
    choose_model(page, judged_model)
    open_tab(page, "Project")
    tab = panel(page)
    files = tab.locator("input[type=file]")
    files.nth(1).set_input_files(str(paths[0]))  # the tab's own photo is the first
    files.nth(2).set_input_files(str(paths[1]))
    set_slider(tab, "Projection steps per photo", 2)
    set_slider(tab, "Frames of the looping video", 9)
    tab.get_by_role("button", name="Morph", exact=True).click()
    expect(tab.get_by_text("9 frames, A → B → A")).to_be_visible(timeout=300_000)
    expect(tab.locator("video")).to_have_count(1)
    plot = tab.locator(".block").filter(has_text="D's realness (logit) along the morph").last
    expect(plot.locator("canvas, svg").first).to_be_visible()
    for name in ["photo_a.npy", "photo_b.npy", "morph.mp4"]:
        expect(tab.locator(f"a[href$='/{name}']").last).to_be_visible()
    assert_no_error_toast(page)
    page.reload()
    open_tab(page, "My latents")
    mine = panel(page).locator("#my-latents")
    assert projections_kept(client) == kept + 2
    expect(mine.get_by_text(re.compile(r"^projection \d"))).to_have_count(kept + 2)


# --- Judge ------------------------------------------------------------------------------------


def choose_model(page: Page, name: str) -> None:
    """Pick a model from the header's dropdown (it exists before the page loads)."""
    page.get_by_label("Face model").click()
    page.get_by_role("option", name=name, exact=True).click()
    expect(page.get_by_label("Face model")).to_have_value(name)


def test_judge_ranks_uploads_and_faces(judged_model, page, images_dir):
    choose_model(page, judged_model)
    open_tab(page, "Judge")
    tab = panel(page)
    photos = [str(images_dir / n) for n in ("brad_pitt.jpg", "frida_kahlo.jpg", "golden_gate.jpg")]
    upload(tab, "Images to judge", photos)
    expect(tab.get_by_text("golden_gate").first).to_be_visible()
    tab.get_by_role("button", name="Judge", exact=True).click()
    gallery = tab.locator(".block").filter(has_text="Most to least real").first
    expect(served_images(gallery)).to_have_count(7)
    expect(tab.get_by_text("sigmoid (p real)")).to_be_visible()
    expect(tab.get_by_text("What D learns.")).to_be_visible()
    assert_no_error_toast(page)
    save_screenshot(page, "judge.png")


def test_judge_a_model_without_d_says_how_to_get_one(page, images_dir):
    open_tab(page, "Judge")
    tab = panel(page)
    upload(tab, "Images to judge", str(images_dir / "brad_pitt.jpg"))
    expect(tab.get_by_text("brad_pitt").first).to_be_visible()
    # The tab says why before anyone clicks, and its button is disabled (issue 21).
    expect(tab.get_by_text("without its discriminator, so it cannot judge")).to_be_visible()
    expect(tab.get_by_role("button", name="Judge", exact=True)).to_be_disabled()
