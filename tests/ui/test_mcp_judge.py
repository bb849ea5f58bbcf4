"""The MCP `judge_images` tool takes several images (issue 19: every call failed with
`PointerToNowhere: '/$defs/FileData'`): a real MCP client call on an app with a judged model."""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest
from PIL import Image
from safetensors.torch import save_file

from core import store
from gan.judge import judge as J
from tests.conftest import ROOT, launch_app, run_coroutine, tiny_generator
from tests.ui.test_edit_project_judge_api import BUNDLED, tiny_d
from ui.mcp_files import concrete, without_dead_refs


@pytest.fixture(scope="module")
def judge_app(tmp_path_factory):
    """(url, services): the app with a tiny model saved with its D ("tiny-judged")."""
    from ui.services import build_services

    folder = tmp_path_factory.mktemp("mcp-judge-checkpoints")
    for name in BUNDLED:
        (folder / name).symlink_to(ROOT / "checkpoints" / name)
    G = tiny_generator(1)
    store.save_pretrained(folder / "tiny-judged", G.config.to_dict(), G.state_dict(), "card")
    save_file(dict(tiny_d().state_dict()), str(folder / "tiny-judged" / J.DISCRIMINATOR_NAME))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GAN_STUDIO_CHECKPOINTS", str(folder))
        mp.setenv("HF_HUB_OFFLINE", "1")
        services = build_services()
        demo, url = launch_app(services)
        try:
            yield url.rstrip("/"), services
        finally:
            demo.close()


def data_url(seed: int) -> str:
    pixels = np.random.default_rng(seed).integers(0, 256, (40, 40, 3), dtype=np.uint8)
    data = io.BytesIO()
    Image.fromarray(pixels).save(data, format="PNG")
    return "data:image/png;base64," + base64.b64encode(data.getvalue()).decode()


def test_an_mcp_client_judges_several_images(judge_app):
    from mcp import ClientSession
    from mcp.client.streamable_http import streamable_http_client

    url, _ = judge_app
    images = [data_url(1), data_url(2)]

    async def main():
        async with (
            streamable_http_client(url + "/gradio_api/mcp/") as (read, write, _),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            tools = {t.name: t for t in (await session.list_tools()).tools}
            arguments = {"images": images, "model": "tiny-judged", "seeds": "1"}
            return tools, await session.call_tool("judge_images", arguments)

    tools, result = run_coroutine(main())
    assert "$ref" not in str(tools["judge_images"].inputSchema)
    assert not result.isError, result.content[0].text
    text = " ".join(c.text for c in result.content if getattr(c, "text", None))
    logits = [float(x) for x in text.split("]")[0].strip("[ ").split(",")]
    assert len(logits) == 3  # two images, then the seed's face


def test_item_positions_stand_for_every_element():
    value = {"images": ["a", "b"], "model": "m"}
    assert list(concrete(value, ["images", "items"])) == [["images", 0], ["images", 1]]
    assert list(concrete(value, ["photo"])) == [["photo"]]
    schema = {
        "properties": {
            "images": {"$defs": {}, "type": "array", "items": {"$ref": "#/$defs/F"}},
            "photo": {"type": "string"},
        }
    }
    fixed = without_dead_refs(schema, [["images", "items"], ["photo"]])
    assert fixed["properties"]["images"] == {"type": "array", "items": {}}
