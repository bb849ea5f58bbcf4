"""The Style mixing, Edit and Judge examples through the running app: every example runs, in
the cheap lane, with a model that can do the job (chosen at the first click, and set in the
header), and gives what the public endpoint gives for the same values (through `gradio_client`).
Links to these tabs open them with their values; invalid ones warn.

The app here has its own checkpoints folder (the bundled models, a tiny StyleGAN2, a tiny DCGAN
saved with its discriminator) and its own examples cache, so no cached result of another app
or another layout is ever read back.
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path

import httpx
import numpy as np
import pytest
import torch
from gradio_client import Client, handle_file
from PIL import Image
from safetensors.torch import save_file

from core import store
from gan.judge import judge as J
from gan.models.dcgan import Discriminator, DiscriminatorConfig, init_weights
from tests.conftest import ROOT, launch_app, tiny_generator
from tests.gan.sg2_models import save_tiny

SG2 = "sg2-share"  # 64 px: 10 ws, so the coarse, middle and fine presets all apply
JUDGED = "tiny-judged"
EXAMPLE_TABLES = ("style-mixing-examples", "edit-examples", "judge-examples")


def _tiny_d() -> Discriminator:
    torch.manual_seed(5)
    D = Discriminator(DiscriminatorConfig(ndf=4, image_size=16))
    D.apply(init_weights)
    return D.eval()


def _models(folder: Path) -> None:
    for child in (ROOT / "checkpoints").iterdir():
        if child.is_dir() and not child.name.startswith("."):
            (folder / child.name).symlink_to(child)
    save_tiny(folder, SG2, resolution=64)
    G = tiny_generator(1)
    store.save_pretrained(folder / JUDGED, G.config.to_dict(), G.state_dict(), "card")
    save_file(dict(_tiny_d().state_dict()), str(folder / JUDGED / J.DISCRIMINATOR_NAME))


@pytest.fixture(scope="module")
def share_app(tmp_path_factory):
    """(demo, url, client) of an app built on the folder above."""
    folder = tmp_path_factory.mktemp("share-checkpoints")
    _models(folder)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GAN_STUDIO_CHECKPOINTS", str(folder))
        mp.setenv("HF_HUB_OFFLINE", "1")
        mp.setenv("GRADIO_EXAMPLES_CACHE", str(tmp_path_factory.mktemp("examples-cache")))
        from ui.services import build_services

        demo, url = launch_app(build_services())
        try:
            yield demo, url.rstrip("/"), Client(url, verbose=False)
        finally:
            demo.close()


def _examples_event(demo, table: str):
    """(fn_index, block function, samples) of the event that gives an example's results."""
    for index, fn in demo.fns.items():
        if fn.name != "load_example_output":
            continue
        dataset = fn.inputs[0]
        if dataset.elem_id == table:
            return index, fn, dataset.raw_samples
    raise AssertionError(f"no examples {table}")


def _queue(url: str, index: int, data: list, query: str = "") -> tuple[list, list[str]]:
    """One event through the raw queue, as the page sends it (the events here are private):
    (its output data, the texts of its warnings). `query` is the page's URL query."""
    session = secrets.token_hex(6)
    logs = []
    with httpx.Client(timeout=300) as http:
        body = {"data": data, "fn_index": index, "session_hash": session}
        joined = http.post(f"{url}/gradio_api/queue/join?{query}", json=body)
        assert joined.status_code == 200, joined.text
        params = {"session_hash": session}
        with http.stream("GET", f"{url}/gradio_api/queue/data", params=params) as r:
            for line in r.iter_lines():
                message = json.loads(line[5:]) if line.startswith("data:") else {}
                if message.get("msg") == "log":
                    logs.append(message.get("log", ""))
                if message.get("msg") == "process_completed":
                    assert message.get("success"), message.get("output")
                    return message["output"]["data"], logs
    raise AssertionError("no result")


def _run_example(url: str, index: int, example: int) -> list:
    """Click example `example` (its results, computed on first use)."""
    return _queue(url, index, [example])[0]


def _file(url: str, value) -> np.ndarray:
    """Pixels of an image output (a FileData dict, or a gallery item holding one)."""
    data = value.get("image", value) if isinstance(value, dict) else value
    if "path" in data and Path(data["path"]).is_file():
        return np.asarray(Image.open(data["path"]).convert("RGB"))
    response = httpx.get(data["url"], timeout=60)
    from io import BytesIO

    return np.asarray(Image.open(BytesIO(response.content)).convert("RGB"))


def _pixels(path: str) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"))


def test_the_examples_run_in_the_cheap_lane_and_set_the_model(share_app):
    demo, _, _ = share_app
    for table in EXAMPLE_TABLES:
        _, fn, samples = _examples_event(demo, table)
        assert (fn.concurrency_id, fn.concurrency_limit) == ("cheap", 2), table
        assert len(samples) >= 2, table
        assert fn.outputs[-1].label is not None and "model" in str(fn.outputs[-1].label)


def test_every_style_mixing_example_runs_as_the_endpoint_does(share_app):
    demo, url, client = share_app
    index, _, samples = _examples_event(demo, "style-mixing-examples")
    for i, (rows, cols, preset, layers, psi) in enumerate(samples):
        grid, gallery, _files, info, model = _run_example(url, index, i)
        assert model == SG2  # the default model is a DCGAN: the first local StyleGAN2
        expected = client.predict(
            row_seeds=rows,
            column_seeds=cols,
            preset=preset,
            layers=layers,
            truncation_psi=psi,
            model=model,
            api_name="/style_mix",
        )
        assert np.array_equal(_file(url, grid), _pixels(expected[0])), preset
        assert len(gallery) == len(expected[1]) and info == expected[3]


def test_every_edit_example_runs_as_the_endpoint_does(share_app):
    demo, url, client = share_app
    index, _, samples = _examples_event(demo, "edit-examples")
    for i, (seed, psi, layers, *moves) in enumerate(samples):
        image, _strip, _files, latent, info, model = _run_example(url, index, i)
        assert model == "dcgan-digiface"  # the default model
        directions = {f"direction_{k}": m for k, m in enumerate(moves)}
        expected = client.predict(
            model=model,
            seed=seed,
            truncation_psi=psi,
            layers=layers,
            **directions,
            api_name="/edit",
        )
        assert np.array_equal(_file(url, image), _pixels(expected[0]))
        assert json.loads(latent) == json.loads(expected[3]) and info == expected[4]
        assert any(m != 0 for m in moves) and "no move" not in info


def test_every_judge_example_runs_as_the_endpoint_does(share_app):
    demo, url, client = share_app
    index, _, samples = _examples_event(demo, "judge-examples")
    for i, (images, seeds) in enumerate(samples):
        logits, gallery, table, model = _run_example(url, index, i)
        assert model == JUDGED  # the default model has no D: the first local one with a D
        paths = [item["path"] if isinstance(item, dict) else item for item in images or []]
        uploads = [handle_file(p) for p in paths] or None
        expected = client.predict(images=uploads, model=model, seeds=seeds, api_name="/judge")
        assert len(logits) > len(paths) and np.allclose(logits, expected[0], atol=1e-5)
        assert len(gallery) == len(logits) and table.count("\n") == len(logits) + 1
        assert all(Path(p).name in table for p in paths)  # the paintings, by name
    assert any(images for images, _ in samples)  # at least one example judges a painting


def _restore(demo, url: str, query: str) -> tuple[list, list[str]]:
    """The page-load event that reads a link (ui.links), for a page opened at `?query`."""
    index = next(i for i, fn in demo.fns.items() if fn.name == "restore")
    return _queue(url, index, [], query)


@pytest.mark.parametrize(
    "query, values",
    [
        (
            "tab=style_mixing&row_seeds=2,3&preset=fine&truncation_psi=0.6&model=" + SG2,
            ["2,3", "fine", 0.6, SG2],
        ),
        ("tab=edit&seed=9&direction_1=-2&layers=all", [9, -2.0, "all"]),
        ("tab=judge&seeds=5,6&model=" + JUDGED, ["5,6", JUDGED]),
    ],
)
def test_a_link_opens_its_tab_with_its_values(share_app, query, values):
    demo, url, _ = share_app
    data, warnings = _restore(demo, url, query)
    tab = query.split("&")[0].removeprefix("tab=")
    assert data[-1]["selected"] == tab and warnings == []
    set_values = [d["value"] for d in data[1:-1] if isinstance(d, dict) and "value" in d]
    assert sorted(map(str, set_values)) == sorted(map(str, values))


def test_an_invalid_link_warns_and_changes_nothing(share_app):
    demo, url, _ = share_app
    data, warnings = _restore(demo, url, "tab=edit&seed=3&direction_1=9")
    assert any("between -3 and 3" in w for w in warnings)
    assert data[0] is None and not any(isinstance(d, dict) and "value" in d for d in data)


@pytest.mark.parametrize(
    "query",
    [
        "tab=edit&<a href=//evil.example>Session expired: sign in again</a>=1",
        "tab=<img src=x onerror=alert(1)>",
        "tab=edit&seed=<b>x</b>",
    ],
)
def test_a_link_that_carries_markup_warns_in_text(share_app, query):
    """The warning toast is rendered as HTML by the page: what the link carries is escaped."""
    demo, url, _ = share_app
    _, warnings = _restore(demo, url, query)
    assert warnings and all("<" not in w for w in warnings), warnings
    assert any("&lt;" in w for w in warnings)


def test_the_mcp_tools_of_the_three_tabs_say_what_their_arguments_mean(share_app):
    _, url, _ = share_app
    schema = httpx.get(url + "/gradio_api/mcp/schema", timeout=60).json()
    tools = {tool["name"]: tool["inputSchema"]["properties"] for tool in schema}
    expected = {
        "style_mix": ("preset", "coarse"),
        "edit": ("direction_0", "σ"),
        "judge_images": ("seeds", "own faces to judge"),
    }
    for name, (argument, words) in expected.items():
        assert words in tools[name][argument]["description"], name


def _page_load_events(config: dict) -> list[dict]:
    """The events a page opened at the bare URL runs: load triggers and what they chain."""
    deps = config["dependencies"]
    ran = {d["id"] for d in deps if any(t[1] == "load" for t in d["targets"])}
    while chained := {d["id"] for d in deps if d.get("trigger_after") in ran} - ran:
        ran |= chained
    return [d for d in deps if d["id"] in ran]


def test_a_page_opened_without_a_link_runs_no_link_chain(share_app):
    """Gradio's page rechecks, after every status change of every later event, each component
    any event has output to (a walk of the layout tree each): the link chain outputs to most
    of the page, so it runs only when the browser finds a query string (ui.links)."""
    _, url, _ = share_app
    config = httpx.get(f"{url}/config", timeout=60).json()
    loads = _page_load_events(config)
    names = {d["api_name"] for d in loads}
    assert "first_run" in names and not {"restore", "rerun", "rerun_stream"} & names
    touched = {o for d in loads if d["backend_fn"] for o in d["outputs"]}
    assert len(touched) < 80, len(touched)  # 64 today; some 200 with the link chain
    restore = next(d for d in config["dependencies"] if d["api_name"] == "restore")
    box = next(c for c in config["components"] if c["id"] == restore["targets"][0][0])
    assert restore["targets"][0][1] == "change" and "gs-link-query" in box["props"]["elem_classes"]
    js_load = next(d for d in loads if box["id"] in d["outputs"])
    assert not js_load["backend_fn"] and "location.search" in js_load["js"]
