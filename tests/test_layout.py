"""The architecture of issue 8, checked: core imports no other package, gan and style never
import each other, the UI layer imports no torch."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

PURE = {"__future__", "math", "dataclasses", "typing", "torch", "gan"}  # what models may import


def imported_packages(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def imports_of(package: str) -> set[str]:
    return set().union(*(imported_packages(p) for p in (ROOT / package).rglob("*.py")))


@pytest.mark.parametrize(
    ("package", "forbidden"),
    [
        ("core", {"gan", "style", "ui", "app"}),
        ("gan", {"style", "ui", "app"}),
        ("style", {"gan", "ui", "app"}),
    ],
)
def test_package_dependencies_point_one_way(package, forbidden):
    assert not imports_of(package) & forbidden


def test_the_ui_layer_imports_no_torch():
    assert "torch" not in imports_of("ui") | imported_packages(ROOT / "app.py")


def test_models_are_pure_modules():
    """Architectures import torch, the standard library and each other, nothing else; the
    family registry (`families.py`) also reads and writes through the store."""
    for path in (ROOT / "gan" / "models").glob("*.py"):
        outside = {p for p in imported_packages(path) if p not in sys.stdlib_module_names}
        allowed = {"torch", "gan"} | ({"core", "safetensors"} if path.stem == "families" else set())
        assert outside <= allowed, path
