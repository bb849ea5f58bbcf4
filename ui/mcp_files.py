"""MCP tools that take a list of files (Judge's `images`), which Gradio 6.31's MCP server breaks.

For a `gr.File(file_count="multiple")` input, Gradio's `simplify_filedata_schema` turns the
list's items into strings (URLs or base64) but keeps their `$ref` to `#/$defs/FileData`, whose
`$defs` sit inside the property rather than at the schema's root: every call fails its argument
validation (`PointerToNowhere: '/$defs/FileData'`). Its file positions also end in `"items"`,
which never matches a list index, so the strings would not become files either.
`accept_file_lists(server)` fixes both on the app's server instance: the schema loses the dead
`$ref` (and the property's `$defs`), and an `"items"` position stands for every element.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

Position = list[str | int]


def accept_file_lists(server: Any) -> None:
    """Make `server` (a `gradio.mcp.GradioMCPServer`) take lists of files."""
    get_schema = server.get_input_schema
    convert = server.convert_strings_to_filedata

    def get_input_schema(tool_name: str, parameters: dict | None = None) -> tuple[dict, list]:
        schema, positions = get_schema(tool_name, parameters)
        return without_dead_refs(schema, positions), positions

    def convert_strings_to_filedata(value: Any, positions: list[Position]) -> Any:
        return convert(value, [p for path in positions for p in concrete(value, path)])

    server.get_input_schema = get_input_schema
    server.convert_strings_to_filedata = convert_strings_to_filedata


def without_dead_refs(schema: dict, positions: list[Position]) -> dict:
    """`schema` without the `$ref` of each list-item file position, nor its property's `$defs`."""
    properties = schema.get("properties", {})
    for path in positions:
        if "items" not in path or path[0] not in properties:
            continue
        properties[path[0]].pop("$defs", None)
        node: Any = properties
        for key in path:
            node = node.get(key, {}) if isinstance(node, dict) else {}
        if isinstance(node, dict):
            node.pop("$ref", None)
    return schema


def concrete(value: Any, path: Position) -> Iterator[Position]:
    """The positions in `value` that `path` names, each `"items"` standing for every index
    of the list found there (a path that names nothing in `value` is given back as it is)."""
    if not path:
        yield []
        return
    key, rest = path[0], path[1:]
    if key == "items" and isinstance(value, list):
        for i, item in enumerate(value):
            yield from ([i, *tail] for tail in concrete(item, rest))
    elif isinstance(value, dict) and key in value:
        yield from ([key, *tail] for tail in concrete(value[key], rest))
    else:
        yield list(path)
