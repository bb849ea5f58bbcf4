"""The architecture of issue 8, checked: core imports no other package, gan and style never
import each other, the UI layer imports no torch."""

from __future__ import annotations

import ast
import re
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


# --- The layout of issue 22: files, families, state, tabs --------------------------------------

PACKAGES = ("app.py", "core", "gan", "style", "ui")
# what may know a model's class or its config's `model_type`: the family registry and the
# architectures; the converter writes `model_type` into the configs it makes (dict keys only);
# `core.store.list_local` selects folders by a type it is given and knows no family
FAMILY_CHECKS_ALLOWED = ("gan/models/", "core/store.py")
# attributes by which a module's family could be guessed (duck typing)
FAMILY_ATTRIBUTES = {"mapping", "synthesis", "num_ws", "w_dim", "z_dim", "img_resolution", "c_dim"}
# module-level memory that holds no model, device or visitor's thing, each with its reason
ALLOWED_STATE = {
    ("ui/i18n.py", "load_translations"),  # the locale files shipped with the app
    ("style/losses.py", "_bmm_has_out_dtype"),  # one capability probe per (device type, dtype)
    ("core/store.py", "_probe_cache"),  # whether the Hub answers, per endpoint, for 60 s
}
ASSEMBLERS = {"tabs", "tools"}  # ui modules that put the tabs on the page


def source_files() -> list[Path]:
    files = []
    for entry in PACKAGES:
        path = ROOT / entry
        files += [path] if path.is_file() else sorted(path.rglob("*.py"))
    return [f for f in files if "__pycache__" not in f.parts]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path, known: set[str]) -> set[str]:
    """The project modules a file imports, at the top or inside functions (`from a import b`
    names module a.b when there is one, else a)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            subs = {f"{node.module}.{a.name}" for a in node.names} & known
            found |= subs or {node.module}
    return found & known


def import_graph() -> dict[str, set[str]]:
    files = {module_name(p): p for p in source_files()}
    known = set(files)
    return {name: imported_modules(path, known) - {name} for name, path in files.items()}


def test_no_two_files_import_each_other_nor_any_cycle():
    graph = import_graph()
    mutual = sorted((a, b) for a, deps in graph.items() for b in deps if a in graph[b] and a < b)
    assert not mutual
    assert not _cycles(graph)


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    groups: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return groups


def _model_classes() -> set[str]:
    """The class names that the architecture files define."""
    names: set[str] = set()
    for path in (ROOT / "gan" / "models").glob("*.py"):
        tree = ast.parse(path.read_text())
        names |= {n.name for n in tree.body if isinstance(n, ast.ClassDef)}
    return names


def family_checks(path: Path, classes: set[str]) -> list[str]:
    """Where a file branches on a model's class or `model_type` (reading it; a dict literal
    that writes it is fine)."""
    tree = ast.parse(path.read_text())
    written = {id(k) for n in ast.walk(tree) if isinstance(n, ast.Dict) for k in n.keys if k}
    found = []
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Constant)
            and node.value == "model_type"
            and id(node) not in written
        ):
            found.append(f"{path.name}:{node.lineno} reads model_type")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            args = [ast.unparse(a) for a in node.args]
            by_class = node.func.id in ("isinstance", "issubclass") and len(args) == 2
            by_attribute = node.func.id == "hasattr" and len(args) == 2
            if (by_class and set(re.findall(r"\w+", args[1])) & classes) or (
                by_attribute and args[1].strip("'\"") in FAMILY_ATTRIBUTES
            ):
                found.append(f"{path.name}:{node.lineno} {ast.unparse(node)}")
        elif isinstance(node, ast.Compare) and re.search(r"\btype\(", ast.unparse(node)):
            found += [f"{path.name}:{node.lineno}"] if _names(node) & classes else []
    return found


def test_only_the_family_registry_checks_a_models_class_or_model_type():
    classes = _model_classes()
    found = []
    for path in source_files():
        relative = path.relative_to(ROOT).as_posix()
        if relative.startswith(FAMILY_CHECKS_ALLOWED):
            continue
        found += family_checks(path, classes)
    assert classes and not found


def _names(node: ast.AST) -> set[str]:
    return set(re.findall(r"\w+", ast.unparse(node)))


def module_state(path: Path) -> list[str]:
    """Module-level caches, devices and modules: what belongs to the services made at
    start-up."""
    tree = ast.parse(path.read_text())
    local_classes = {n.name for n in tree.body if isinstance(n, ast.ClassDef)}
    found = []
    for node in tree.body:
        if isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names = " ".join(ast.unparse(t) for t in targets)
            value = ast.unparse(node.value)
            called = ast.unparse(node.value.func) if isinstance(node.value, ast.Call) else ""
            mutable = isinstance(node.value, (ast.Dict, ast.List, ast.Set, ast.Call))
            device = called.endswith("device")  # torch.device(...), resolve_device()
            module = called in local_classes and _is_module_class(tree, called)
            allowed = (_relative(path), names) in ALLOWED_STATE
            if (("cache" in names.lower() and mutable) or device or module) and not allowed:
                found.append(f"{path.name}:{node.lineno} {names} = {value[:60]}")
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            decorators = " ".join(ast.unparse(d) for d in node.decorator_list)
            if "cache" in decorators and (_relative(path), node.name) not in ALLOWED_STATE:
                found.append(f"{path.name}:{node.lineno} @{decorators} {node.name}")
    return found


def _relative(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def _is_module_class(tree: ast.Module, name: str) -> bool:
    cls = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == name)
    return any("Module" in ast.unparse(b) for b in cls.bases)


def test_no_module_level_cache_device_or_module():
    found = [hit for path in source_files() for hit in module_state(path)]
    assert not found


def test_no_ui_module_imports_another_tabs_module():
    """Tab modules (those with a `build_<tab>_tab`) are imported only by the assemblers."""
    ui = ROOT / "ui"
    tabs = {
        p.stem for p in ui.glob("*.py") if re.search(r"^def build_\w+_tab\(", p.read_text(), re.M)
    }
    known = {f"ui.{p.stem}" for p in ui.glob("*.py")}
    found = []
    for path in ui.glob("*.py"):
        if path.stem in ASSEMBLERS:
            continue
        imported = {m.removeprefix("ui.") for m in imported_modules(path, known)}
        found += [f"{path.stem} imports {m}" for m in sorted(imported & tabs - {path.stem})]
    assert len(tabs) >= 9 and not found
