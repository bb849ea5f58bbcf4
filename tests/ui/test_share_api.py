"""Share and learn through the running app: the MCP schema, the GAN lab run, the examples."""

from __future__ import annotations

import json
import re
import secrets
from pathlib import Path

import httpx
import pandas as pd
from PIL import Image

from tests.api_helpers import page_event, queue_call


def test_the_mcp_schema_lists_the_tools(app_url):
    schema = httpx.get(app_url.rstrip("/") + "/gradio_api/mcp/schema", timeout=60).json()
    tools = {tool["name"]: tool for tool in schema}
    for name in ("generate", "interpolate", "stylize"):
        assert any(n == name or n.endswith("_" + name) for n in tools), sorted(tools)
    generate = next(t for n, t in tools.items() if n.endswith("generate") and "lab" not in n)
    assert "seed" in generate["description"].lower()
    props = generate["inputSchema"]["properties"]
    assert "ranges" in props["seeds"]["description"]  # from the Args: docstring


def test_a_toy_run_shows_the_collapse_meter_and_the_marked_skipped_d_steps(client):
    job = client.submit(
        data="toy",
        preset="balance rule",
        steps=20,
        lr_g=2e-4,
        lr_d=2e-4,
        d_loss_threshold=1.5,  # above D's first losses: D steps get skipped
        seed=0,
        api_name="/lab_train",
    )
    samples, losses, _probs, collapse, info, timelapse = job.result(timeout=600)
    losses = pd.DataFrame(losses["data"], columns=losses["columns"])
    assert set(losses["step"]) == set(range(1, 21))  # skipped steps are kept
    assert "D loss (step skipped)" in set(losses["series"])
    collapse = pd.DataFrame(collapse["data"], columns=collapse["columns"])
    assert len(collapse) >= 1 and (collapse["diversity"] >= 0).all()
    assert "2. G step" in info and samples is not None and timelapse is None  # not kept


def test_the_instant_preview_streams_a_96px_start_first(client, tmp_path):
    from gradio_client import handle_file

    from tests.api_helpers import small_style_pair

    content, style = small_style_pair(tmp_path)
    job = client.submit(
        handle_file(content),
        handle_file(style),
        steps=3,
        size=128,
        init="coarse",
        api_name="/stylize",
    )
    final = job.result(timeout=600)
    outputs = job.outputs()
    first = Image.open(outputs[0][0])
    assert max(first.size) == 96 and "Iteration 0/3" in outputs[0][1]  # before iteration 1
    assert Image.open(final[0]).size == (128, 128) and "Done" in final[1]


def test_examples_ship_with_their_sources():
    from gan.project.examples import PROJECT_EXAMPLES
    from ui.style import EXAMPLE_PAIRS, EXAMPLES

    sources = (EXAMPLES / "SOURCES.md").read_text()
    files = {name for pair in EXAMPLE_PAIRS for name in pair[:2]}
    files |= {e.painting for e in PROJECT_EXAMPLES if e.painting}  # the others are generated
    assert all((EXAMPLES / name).is_file() and name in sources for name in files)
    assert sum((EXAMPLES / name).stat().st_size for name in files) < 400_000


# --- The Style transfer and Project examples, and their links (through the page's queue) ----


def test_a_style_example_runs_with_quick_settings_and_is_then_cached(app_url):
    from style.examples import QUICK_SETTINGS

    event = page_event(app_url, "load_example", "Result (live preview)")
    ok, first, _ = queue_call(app_url, event, [0], secrets.token_hex(6))
    assert ok, first
    image, info, plot = first
    steps = QUICK_SETTINGS["steps"]
    assert f"/{steps}" in info and "Done" in info and plot
    with Image.open(image["path"]) as result:
        assert max(result.size) == QUICK_SETTINGS["size"]
    ok, again, _ = queue_call(app_url, event, [0], secrets.token_hex(6))
    assert ok and again[1] == info  # the cached run (its own timing), not a new one


def test_a_project_example_projects_a_face_the_app_generated(app_url):
    from gan.project.examples import PROJECT_EXAMPLES

    example = PROJECT_EXAMPLES[0]
    event = page_event(app_url, "load_example", "Projection (live preview)")
    ok, data, _ = queue_call(app_url, event, [0], secrets.token_hex(6))
    assert ok, data
    info, latent = data[1], json.loads(data[6])
    assert f"Step {example.steps}/{example.steps}" in info and "Done" in info
    psnr = float(re.search(r"PSNR to the target ([\d.]+) dB", info).group(1))
    assert psnr > 20  # the model's own face: a good fit even in a few steps
    assert len(latent["z"][0]) > 0


def _run_link(app_url: str, query: str, first_output: str) -> tuple[bool, object, list]:
    """Open a link as a page load does: restore (reads the query), then the tab's rerun."""
    session = secrets.token_hex(6)
    ok, restored, _ = queue_call(app_url, page_event(app_url, "restore", None), [], session, query)
    assert ok, restored
    rerun = page_event(app_url, "rerun_stream", first_output)
    return queue_call(app_url, rerun, [None], session, query)


def test_a_style_example_link_restores_the_pair_and_reruns_it(app_url):
    query = "tab=style&example=scream-shipwreck&steps=3&size=128&init=content"
    ok, data, streamed = _run_link(app_url, query, "Content image")
    assert ok, data
    content, style = streamed[0][:2]  # the pair goes into the inputs first
    assert Path(content["path"]).name == "munch_the_scream.jpg"
    assert Path(style["path"]).name == "turner_shipwreck.jpg"
    _, _, image, info, _ = data
    assert "Iteration 3/3" in info and "Done" in info and len(streamed) >= 2
    with Image.open(image["path"]) as result:
        assert max(result.size) == 128


def test_a_style_link_without_an_example_only_restores(app_url):
    ok, data, _ = _run_link(app_url, "tab=style&steps=3", "Content image")
    assert ok and all(value is None or value == {"__type__": "update"} for value in data), data


def test_a_project_example_link_reruns_the_generated_face(app_url):
    query = "tab=project&example=seed7&steps=4&preview_every=2"
    ok, data, streamed = _run_link(app_url, query, "Photo")
    assert ok, data
    assert Path(streamed[0][0]["path"]).name.endswith("seed7.png")
    assert "Step 4/4" in data[2] and "Done" in data[2]
