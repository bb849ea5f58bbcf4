"""The model zoo by Hub id: a configured NVIDIA pickle is downloaded, converted in the sandbox on
first use, listed, and generates; a second start uses the cache; visitors name no other file."""

from __future__ import annotations

import pytest
import torch

from core import store
from core.errors import UserInputError
from gan.convert import layout
from gan.generate.service import FaceStudio
from tests.gan.convert import fakes, hostile

SHA = "0123456789abcdef0123456789abcdef01234567"


@pytest.fixture
def zoo_env(hub, checkpoints, monkeypatch, tmp_path):
    gc = fakes.tiny_g_config()
    g = fakes.random_state(layout.generator_shapes(gc), seed=11)
    hub.add("nv/stylegan2", "nets/ffhq.pkl", fakes.nvidia_pickle_bytes(gc, g), revision=SHA)
    hub.add("nv/stylegan2", "nets/evil.pkl", hostile.tensor_stride_zero(), revision=SHA)
    spec = f"nv/stylegan2@{SHA}:nets/ffhq.pkl"
    monkeypatch.setenv("GAN_STUDIO_HUB_MODELS", spec)
    monkeypatch.setenv("GAN_STUDIO_DATA", str(tmp_path / "data"))
    return spec, g


def test_a_configured_pickle_converts_once_lists_and_generates(zoo_env, hub, monkeypatch):
    spec, g = zoo_env
    studio = FaceStudio(torch.device("cpu"))
    assert spec in studio.model_choices()
    faces = studio.generate(spec, seeds=[1, 2])
    assert len(faces.images) == 2
    folder = store.zoo_dir() / store.HubFileRef.parse(spec).folder_name
    weights = store.read_safetensors(folder / "model.safetensors")
    assert all(torch.equal(weights[k], g[k]) for k in g)

    # a second start: the cache, no download and no conversion
    monkeypatch.setattr(store, "_hub_file_converter", lambda *a: pytest.fail("converted again"))
    downloads = hub.count("GET")
    again = FaceStudio(torch.device("cpu")).generate(spec, seeds=[1])
    assert (again.images[0] == faces.images[0]).all()
    assert hub.count("GET") == downloads


def test_only_configured_files_are_converted(zoo_env):
    with pytest.raises(UserInputError, match="only the Hub network files the owner configured"):
        store.resolve(f"nv/stylegan2@{SHA}:nets/evil.pkl")
    with pytest.raises(UserInputError, match="commit sha"):
        store.resolve("nv/stylegan2@main:nets/ffhq.pkl")


def test_a_hostile_configured_file_is_a_clear_error_and_nothing_is_cached(zoo_env, monkeypatch):
    spec = f"nv/stylegan2@{SHA}:nets/evil.pkl"
    monkeypatch.setenv("GAN_STUDIO_HUB_MODELS", spec)
    with pytest.raises(store.ModelLoadError, match="stride below 1"):
        store.resolve(spec)
    assert not store.zoo_dir().exists() or not any(store.zoo_dir().iterdir())


def test_the_app_lists_and_generates_with_a_configured_pickle(zoo_env, tmp_path):
    """Through the app's API, as a client: the pickle entry is listed and generates faces."""
    from gradio_client import Client

    from tests.conftest import launch_app
    from ui.services import build_services

    spec, _ = zoo_env
    services = build_services("cpu", tmp_path / "outputs")
    assert spec in services.studio.model_choices()
    demo, url = launch_app(services)
    try:
        gallery, _files, info = Client(url, verbose=False).predict(
            seeds="1, 2", model=spec, api_name="/generate"
        )
    finally:
        demo.close()
    assert len(gallery) == 2 and "16x16" in info
    assert (store.zoo_dir() / store.HubFileRef.parse(spec).folder_name / "config.json").is_file()
