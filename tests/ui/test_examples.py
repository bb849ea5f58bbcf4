"""The examples' models (ui/examples.py): chosen at the first click, by what the job needs."""

from __future__ import annotations

import os
from pathlib import Path

import gradio as gr
import pytest
from safetensors.torch import save_file

from core import store
from gan import DEFAULT_MODEL
from tests.conftest import ROOT, tiny_generator
from tests.gan.sg2_models import save_tiny
from ui.examples import can_style_mix, capable_model, has_discriminator, has_ws, is_generator


@pytest.fixture
def folder(checkpoints, offline_hub, monkeypatch):
    monkeypatch.delenv("GAN_STUDIO_HUB_MODELS", raising=False)
    return checkpoints


def test_no_capable_model_gives_a_message(folder):
    G = tiny_generator()
    store.save_pretrained(folder / "g-only", G.config.to_dict(), G.state_dict(), "card")
    assert capable_model(is_generator, "a face model") == "g-only"
    with pytest.raises(gr.Error, match="needs a StyleGAN2 model, and none is installed"):
        capable_model(can_style_mix, "a StyleGAN2 model")
    with pytest.raises(gr.Error, match="needs a model saved with its discriminator"):
        capable_model(has_discriminator, "a model saved with its discriminator")


def test_the_default_model_comes_first_then_local_models_in_order(folder):
    (folder / DEFAULT_MODEL).symlink_to(ROOT / "checkpoints" / DEFAULT_MODEL)
    for name in ("sg2-b", "sg2-a"):
        save_tiny(folder, name)
    assert capable_model(is_generator, "a face model") == DEFAULT_MODEL
    assert capable_model(can_style_mix, "a StyleGAN2 model") == "sg2-a"
    G = tiny_generator()
    store.save_pretrained(folder / "with-d", G.config.to_dict(), G.state_dict(), "card")
    save_file({"x": G.main[0].weight.detach()}, str(folder / "with-d" / store.DISCRIMINATOR_NAME))
    assert capable_model(has_discriminator, "a D") == "with-d"


def test_a_configured_hub_model_that_cannot_be_fetched_is_skipped(folder, monkeypatch):
    monkeypatch.setenv("GAN_STUDIO_HUB_MODELS", "someone/sg2-faces@main")
    assert not can_style_mix("someone/sg2-faces@main")  # the Hub is unreachable here
    with pytest.raises(gr.Error, match="StyleGAN2"):
        capable_model(can_style_mix, "a StyleGAN2 model")


def test_cached_results_are_filed_by_the_examples_content(monkeypatch, tmp_path):
    """Gradio names the cache folder by block id; ours adds a key of the examples' content, so
    a page whose ids shifted never reads another table's results."""
    from ui.examples import lane_examples

    monkeypatch.setenv("GRADIO_EXAMPLES_CACHE", str(tmp_path))
    with gr.Blocks() as demo:
        box, out = gr.Textbox(), gr.Textbox()
        a = lane_examples([["x"]], [box], [out], str.upper, ["x"], "a-examples")
        b = lane_examples([["y"]], [box], [out], str.upper, ["y"], "b-examples")
        again = lane_examples([["x"]], [box], [out], str.upper, ["x"], "a-examples")
    keys = [Path(e.cached_folder).parent for e in (a, b, again)]
    assert keys[0] != keys[1] and keys[0] == keys[2] and keys[0].parent == tmp_path
    assert os.environ["GRADIO_EXAMPLES_CACHE"] == str(tmp_path)  # restored
    lane = demo.fns[a.cache_event["id"]]
    assert (lane.concurrency_id, lane.concurrency_limit) == ("cheap", 2)


def test_apps_with_different_models_never_share_cached_results(monkeypatch, tmp_path):
    """Two apps whose examples are alike but whose models differ (another checkpoints folder,
    other Hub models) file their results apart: the first click of one must not fill the
    other's cache with another model's result."""
    from ui.examples import lane_examples

    monkeypatch.setenv("GRADIO_EXAMPLES_CACHE", str(tmp_path / "cache"))

    def folder_of_an_app(checkpoints: str, hub_models: str = "") -> Path:
        monkeypatch.setenv("GAN_STUDIO_CHECKPOINTS", str(tmp_path / checkpoints))
        monkeypatch.setenv("GAN_STUDIO_HUB_MODELS", hub_models)
        with gr.Blocks():
            box, out = gr.Textbox(), gr.Textbox()
            examples = lane_examples([["x"]], [box], [out], str.upper, ["x"], "a-examples")
        return Path(examples.cached_folder).parent

    first = folder_of_an_app("one")
    assert folder_of_an_app("one") == first
    assert folder_of_an_app("two") != first
    assert folder_of_an_app("one", "someone/sg2@main") != first


def test_the_tests_cache_examples_in_a_folder_of_their_own():
    """Not Gradio's default in the working directory, which both workers and later runs share."""
    folder = Path(os.environ["GRADIO_EXAMPLES_CACHE"]).resolve()
    assert not folder.is_relative_to(ROOT)


def test_a_style_mixing_example_runs_on_a_stylegan2_that_has_its_ws(folder):
    """The "fine" example mixes ws 8 and up: a 32 px StyleGAN2 (8 ws) cannot run it."""
    save_tiny(folder, "sg2-a-32", resolution=32)
    save_tiny(folder, "sg2-b-64", resolution=64)
    assert [has_ws("sg2-a-32", n) for n in (8, 9)] == [True, False]
    assert has_ws("sg2-b-64", 10) and not has_ws("sg2-b-64", 11)
    assert capable_model(lambda n: has_ws(n, 9), "fine ws") == "sg2-b-64"
    assert capable_model(lambda n: has_ws(n, 5), "middle ws") == "sg2-a-32"
