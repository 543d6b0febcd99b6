"""The floor plan: every core module sits in a layer package and imports only its own layer and
the ones below (lazy imports inside functions included), without import loops and without
Streamlit."""

from __future__ import annotations

import ast
from pathlib import Path

from helpers import REPO_ROOT

CORE = REPO_ROOT / "core"
# lowest first; a module may import its own layer and any layer before it
LAYERS = ["core.errors", "core.progress", "core.data", "core.analysis", "core.models",
          "core.detect", "core.labs", "core.serve", "core.cli"]
RANK = {"core.errors": 0, "core.progress": 0, **{name: i for i, name in enumerate(LAYERS)}}


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO_ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer(module: str) -> str | None:
    """The layer a core module belongs to (None for the package itself and ``__main__``)."""
    return next((name for name in RANK if module == name or module.startswith(name + ".")), None)


def imports(path: Path) -> set[str]:
    """Every module a file imports, at the top or inside functions."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            # "from core.labs import adversarial" imports the module core.labs.adversarial
            found.update(f"{node.module}.{alias.name}" for alias in node.names
                         if (CORE.parent / node.module.replace(".", "/") / f"{alias.name}.py")
                         .exists())
    return found


GRAPH = {module_name(path): {m for m in imports(path) if m.split(".")[0] == "core"}
         for path in CORE.rglob("*.py")}
OUTSIDE = {module_name(path): {m.split(".")[0] for m in imports(path)}
           for path in CORE.rglob("*.py")}


def test_every_core_module_is_in_a_layer():
    loose = [m for m in GRAPH if layer(m) is None and m not in ("core", "core.__main__")]
    assert loose == []
    assert {p.name for p in CORE.iterdir() if p.suffix == ".py"} == {
        "__init__.py", "__main__.py", "errors.py", "progress.py"}


def test_no_layer_imports_a_higher_one():
    upward = sorted((module, target) for module, targets in GRAPH.items() if layer(module)
                    for target in targets if layer(target)
                    and RANK[layer(target)] > RANK[layer(module)])
    assert upward == []


def test_no_import_loops():
    def reach(start: str) -> set[str]:
        seen, todo = set(), list(GRAPH.get(start, ()))
        while todo:
            module = todo.pop()
            if module not in seen:
                seen.add(module)
                todo.extend(GRAPH.get(module, ()))
        return seen

    assert sorted(m for m in GRAPH if m in reach(m)) == []


def test_core_never_imports_streamlit():
    assert sorted(m for m, packages in OUTSIDE.items() if "streamlit" in packages) == []
