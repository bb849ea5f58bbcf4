"""Shared fixtures: an isolated checkpoints folder, a local Hub server, a tiny generator."""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import logging
import os
import shutil
import tempfile
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

import pytest
import torch

from core import store
from gan.models.dcgan import Generator, GeneratorConfig
from tests.hub_server import HubServer

T = TypeVar("T")
ROOT = Path(__file__).resolve().parent.parent
SHARED_IMAGES = ROOT.parent / "shared" / "images"


@pytest.fixture
def images_dir() -> Path:
    """The shared photos and paintings (never copied into the project)."""
    if not SHARED_IMAGES.is_dir():
        pytest.fail(f"{SHARED_IMAGES} is missing: the tests need ../shared/images beside the repo")
    return SHARED_IMAGES


@pytest.fixture
def hub(monkeypatch, tmp_path) -> HubServer:
    """A running local Hub; HF_ENDPOINT points at it and the HF cache is per-test."""
    server = HubServer().start()
    monkeypatch.setenv("HF_ENDPOINT", server.url)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    store.forget_hub_probe()
    yield server
    server.stop()
    store.forget_hub_probe()


@pytest.fixture
def offline_hub(monkeypatch, tmp_path):
    """A Hub endpoint that refuses connections (a closed local port), as on these machines."""
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    store.forget_hub_probe()
    yield
    store.forget_hub_probe()


@pytest.fixture
def checkpoints(monkeypatch, tmp_path) -> Path:
    """An empty, private checkpoints folder."""
    folder = tmp_path / "checkpoints"
    folder.mkdir()
    monkeypatch.setenv("GAN_STUDIO_CHECKPOINTS", str(folder))
    return folder


def tiny_generator(seed: int = 0, image_size: int = 16) -> Generator:
    torch.manual_seed(seed)
    return Generator(GeneratorConfig(nz=8, ngf=4, image_size=image_size)).eval()


logging.getLogger("httpx").setLevel(logging.WARNING)


def _own_examples_cache() -> None:
    """Each test process (each xdist worker) caches example results in a folder of its own,
    set before any app is built: Gradio's default, `.gradio/cached_examples` in the working
    directory, is shared by both workers and outlives the run, so one app could be served
    another's (or an earlier run's) result."""
    folder = tempfile.mkdtemp(prefix="gan-studio-examples-")
    os.environ["GRADIO_EXAMPLES_CACHE"] = folder
    atexit.register(shutil.rmtree, folder, ignore_errors=True)


_own_examples_cache()


def run_coroutine(coroutine: Coroutine[Any, Any, T]) -> T:
    """`asyncio.run(coroutine)` on a thread of its own: the browser tests' session-wide
    Playwright keeps an event loop running in the main thread, where asyncio.run refuses."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def launch_app(services=None) -> tuple[object, str]:
    """The app on `services` (or fresh ones) at a free local port: (demo, url)."""
    import app

    demo = app.build_demo(services)
    demo.queue(**app.queue_options(demo))
    _, url, _ = demo.launch(
        prevent_thread_lock=True, quiet=True, server_port=None, **app.launch_options(demo)
    )
    return demo, url


@pytest.fixture(scope="session")
def app_services(tmp_path_factory):
    """The session app's services, offline, with their own checkpoints folder (the bundled
    models linked in) so tests may add models to it."""
    from ui.services import build_services

    folder = tmp_path_factory.mktemp("app-checkpoints")
    for child in (ROOT / "checkpoints").iterdir():
        if child.is_dir() and not child.name.startswith("."):
            (folder / child.name).symlink_to(child)
    os.environ["GAN_STUDIO_CHECKPOINTS"] = str(folder)
    os.environ["HF_HUB_OFFLINE"] = "1"
    return build_services()


@pytest.fixture(scope="session")
def app_url(app_services) -> str:
    """The real app, launched once per session on a free local port."""
    demo, url = launch_app(app_services)
    yield url
    demo.close()


@pytest.fixture(scope="session")
def client(app_url):
    """A `gradio_client.Client` on the session's app."""
    from gradio_client import Client

    return Client(app_url, verbose=False)
