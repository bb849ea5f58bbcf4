"""Share and learn through the running app: the MCP schema, the GAN lab run, the examples."""

from __future__ import annotations

import httpx
import pandas as pd
from PIL import Image


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
    samples, losses, _probs, collapse, info = job.result(timeout=600)
    losses = pd.DataFrame(losses["data"], columns=losses["columns"])
    assert set(losses["step"]) == set(range(1, 21))  # skipped steps are kept
    assert "D loss (step skipped)" in set(losses["series"])
    collapse = pd.DataFrame(collapse["data"], columns=collapse["columns"])
    assert len(collapse) >= 1 and (collapse["diversity"] >= 0).all()
    assert "2. G step" in info and samples is not None


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
    from ui.style import EXAMPLE_PAIRS, EXAMPLES

    sources = (EXAMPLES / "SOURCES.md").read_text()
    files = {name for pair in EXAMPLE_PAIRS for name in pair[:2]}
    assert all((EXAMPLES / name).is_file() and name in sources for name in files)
    assert sum((EXAMPLES / name).stat().st_size for name in files) < 400_000
