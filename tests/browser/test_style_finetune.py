"""Style transfer and fine-tuning through the real page: runs, live previews, Stop."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from PIL import Image
from playwright.sync_api import Page, expect

from tests.browser.conftest import save_screenshot
from tests.browser.helpers import (
    assert_no_error_toast,
    expect_error_toast,
    open_tab,
    panel,
    served_images,
)


def crop(source: Path, target: Path, size: int) -> str:
    with Image.open(source) as image:
        image.convert("RGB").resize((size, size)).save(target)
    return str(target)


def set_slider(scope, label: str, value: int) -> None:
    """Type into a slider's number box (the way to set an exact value)."""
    box = scope.get_by_label(f"number input for {label}")
    box.fill(str(value))
    box.press("Enter")


def upload_image(scope, label: str, path: str) -> None:
    block = scope.locator(".block").filter(has_text=label).first
    block.locator("input[type=file]").set_input_files(path)
    expect(served_images(block).first).to_be_visible()


# --- Style transfer ---------------------------------------------------------------------------


# With GAN_STUDIO_SCREENSHOTS=1 the run is README-sized (the photos themselves, 100 iterations
# at 256 px, about two minutes on a CPU); in CI it is tiny.
README_RUN = os.environ.get("GAN_STUDIO_SCREENSHOTS") == "1"


@pytest.fixture
def style_pair(images_dir, tmp_path) -> tuple[str, str]:
    if README_RUN:
        return str(images_dir / "tubingen.jpg"), str(images_dir / "starry_night.jpg")
    return (
        crop(images_dir / "tubingen.jpg", tmp_path / "content.png", 96),
        crop(images_dir / "starry_night.jpg", tmp_path / "style.png", 96),
    )


def start_style(page: Page, pair: tuple[str, str], steps: int, size: int):
    open_tab(page, "Style transfer")
    tab = panel(page)
    upload_image(tab, "Content image", pair[0])
    upload_image(tab, "Style image", pair[1])
    set_slider(tab, "Iterations", steps)
    set_slider(tab, "Output size (longer side, px)", size)
    tab.get_by_role("button", name="Stylise", exact=True).click()
    return tab


def test_stylise_a_small_image(page, style_pair):
    steps, size = (100, 256) if README_RUN else (10, 64)
    tab = start_style(page, style_pair, steps=steps, size=size)
    expect(tab.get_by_text("Done.")).to_be_visible(timeout=600_000)
    result = tab.locator(".block").filter(has_text="Result (live preview)").first
    expect(served_images(result)).to_have_count(1)
    expect(tab.get_by_text(f"Iteration {steps}/{steps}")).to_be_visible()
    assert_no_error_toast(page)
    save_screenshot(page, "style.png")


def test_stop_a_style_run_keeps_the_current_image(page, style_pair):
    stop = panel(page).get_by_role("button", name="Stop", exact=True)
    open_tab(page, "Style transfer")
    expect(stop).to_have_class(re.compile(r"\bsecondary\b"))  # neutral: nothing runs
    tab = start_style(page, style_pair, steps=2000, size=256)
    result = tab.locator(".block").filter(has_text="Result (live preview)").first
    expect(served_images(result)).to_have_count(1)  # a live preview while it runs
    expect(stop).to_have_class(re.compile(r"\bstop\b"))  # red while the job runs
    save_screenshot(page, "style-running.png")
    stop.click()
    expect(tab.get_by_text("Stopped")).to_be_visible()
    expect(served_images(result)).to_have_count(1)
    expect(stop).to_have_class(re.compile(r"\bsecondary\b"))  # neutral again
    assert_no_error_toast(page)


def test_a_broken_style_image_is_a_clear_message(page, style_pair, tmp_path):
    open_tab(page, "Style transfer")
    tab = panel(page)
    upload_image(tab, "Content image", style_pair[0])
    tab.get_by_role("button", name="Stylise", exact=True).click()
    expect_error_toast(page, "please upload a style image")


# --- Fine-tune --------------------------------------------------------------------------------


@pytest.fixture
def training_images(images_dir, tmp_path) -> list[str]:
    sources = sorted(images_dir.glob("*.jpg"))[:8]
    return [crop(path, tmp_path / f"{i}.png", 64) for i, path in enumerate(sources)]


def start_finetune(page: Page, images: list[str], name: str, steps: int):
    open_tab(page, "Fine-tune")
    tab = panel(page)
    block = tab.locator(".block").filter(has_text="Training images").first
    block.locator("input[type=file]").set_input_files(images)
    expect(tab.get_by_text(f"{len(images)} images").first).to_be_visible()  # the preview note
    tab.get_by_label("Save as (checkpoints/<name>/)").fill(name)
    set_slider(tab, "Steps", steps)
    set_slider(tab, "Batch size", 4)
    tab.get_by_text("Training settings").click()
    tab.get_by_label("KID before and after").uncheck()
    tab.get_by_role("button", name="Start fine-tuning").click()
    return tab


def test_a_tiny_fine_tune_runs_and_its_model_appears(page, training_images):
    tab = start_finetune(page, training_images, "browser-finetune", steps=200 if README_RUN else 20)
    expect(tab.get_by_text("Saved browser-finetune")).to_be_visible()
    samples = tab.locator(".block").filter(has_text="EMA generator samples").first
    expect(served_images(samples)).to_have_count(1)
    expect(tab.get_by_text('"finished"')).to_be_visible()
    expect(tab.get_by_text("Augmented real images")).to_have_count(0)  # a StyleGAN2's only
    assert_no_error_toast(page)
    save_screenshot(page, "finetune.png")
    page.get_by_label("Face model").click()
    expect(page.get_by_role("option", name="browser-finetune")).to_be_visible()


def test_stop_a_fine_tune_and_keep_what_it_learned(page, training_images):
    tab = start_finetune(page, training_images, "browser-stopped", steps=5000)
    expect(tab.get_by_text(re.compile(r"Step [1-9]\d+/5000"))).to_be_visible()  # live status
    samples = tab.locator(".block").filter(has_text="EMA generator samples").first
    expect(served_images(samples)).to_have_count(1)
    expect(
        tab.locator(".block").filter(has_text="Losses").locator("canvas, svg").first
    ).to_be_visible()
    save_screenshot(page, "finetune-running.png")
    tab.get_by_role("button", name="Stop and save").click()
    expect(tab.get_by_text("Saved browser-stopped")).to_be_visible()
    expect(tab.get_by_text('"stopped"')).to_be_visible()
    assert_no_error_toast(page)
