"""The MCP server of the running app: exactly `MCP_TOOLS`, each documented, callable by a client.

(On a simulated public Space: tests/security/test_hostile_visitor.py.)
"""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import run_coroutine
from ui.launch import API_ENDPOINTS, MCP_TOOLS


def mcp_schema(url: str) -> list[dict]:
    return httpx.get(url.rstrip("/") + "/gradio_api/mcp/schema", timeout=60).json()


def check_tools(schema: list[dict]) -> None:
    """Exactly `MCP_TOOLS`, each with a description, what it returns, and every argument's
    meaning (shared by the Space test)."""
    endpoints = {tool["meta"]["endpoint_name"]: tool for tool in schema}
    assert set(endpoints) == set(MCP_TOOLS), sorted(endpoints)
    for name, tool in endpoints.items():
        assert "Returns" in tool["description"], name
        props = tool["inputSchema"]["properties"]
        assert props, name
        undocumented = [arg for arg, p in props.items() if not p.get("description", "").strip()]
        assert not undocumented, f"{name}: no description for {undocumented}"


def test_the_schema_lists_exactly_the_documented_tools(app_url):
    schema = mcp_schema(app_url)
    check_tools(schema)
    assert set(API_ENDPOINTS) - set(MCP_TOOLS) >= {"finetune", "lab_train", "lab_compare"}


def test_the_training_endpoints_stay_in_the_api(app_url):
    info = httpx.get(app_url.rstrip("/") + "/gradio_api/info", timeout=60).json()
    public = {name.strip("/") for name in info["named_endpoints"]}
    assert {"finetune", "lab_train", "lab_compare", "project"} <= public


def _mcp_session(url: str, work):
    """Run `work(session)` in an MCP client session on the app's streamable HTTP endpoint."""
    from mcp import ClientSession
    from mcp.client.streamable_http import streamable_http_client

    async def main():
        async with (
            streamable_http_client(url.rstrip("/") + "/gradio_api/mcp/") as (read, write, _),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            return await work(session)

    return run_coroutine(main())


def test_an_mcp_client_lists_the_tools_and_generates_faces(app_url):
    async def work(session):
        tools = await session.list_tools()
        result = await session.call_tool("generate", {"seeds": "3, 5", "truncation_psi": 0.7})
        hidden = await session.call_tool("train", {"data": "toy", "steps": 10})
        return tools, result, hidden

    tools, result, hidden = _mcp_session(app_url, work)
    names = {tool.name for tool in tools.tools}
    assert names == {"generate", "interpolate", "style_mix", "stylize", "edit", "judge_images"}
    assert not result.isError
    text = " ".join(c.text for c in result.content if getattr(c, "text", None))
    assert "seed0003.png" in text and "seed0005.png" in text  # the gallery's files
    assert "2 faces" in text and "ψ=0.7" in text  # the info line
    assert hidden.isError and "Unknown tool" in hidden.content[0].text  # not even by name


@pytest.mark.parametrize("tool", ["generate", "interpolate"])
def test_the_arguments_say_what_they_mean(app_url, tool):
    schema = {t["meta"]["endpoint_name"]: t for t in mcp_schema(app_url)}
    props = schema[tool]["inputSchema"]["properties"]
    assert "ranges" in props["seeds"]["description"] or "keyframe" in props["seeds"]["description"]
    assert "ψ" in props["truncation_psi"]["description"]
    assert "StyleGAN2" in props["noise_mode"]["description"]


def test_an_mcp_file_argument_is_a_data_uri_and_a_url_is_refused_with_its_reason(app_url):
    """The README's MCP note: a file goes as a base64 `data:` URI; a URL is refused (the server
    never fetches what a caller names) with a message that says so."""
    import base64
    import json

    latent = json.dumps({"z": [[0.1] * 100]}).encode()  # the bundled DCGAN's nz
    data_uri = "data:application/json;base64," + base64.b64encode(latent).decode()

    async def work(session):
        given = await session.call_tool("generate", {"latent_file": data_uri})
        fetched = await session.call_tool("generate", {"latent_file": "http://127.0.0.1:9/z.json"})
        return given, fetched

    given, fetched = _mcp_session(app_url, work)
    assert not given.isError, given.content
    assert "1 face" in " ".join(c.text for c in given.content if getattr(c, "text", None))
    assert fetched.isError and "URLs are not accepted" in fetched.content[0].text
