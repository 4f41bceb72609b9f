"""The package's shape: each layer is a subpackage, imports point down the layers only, and no
modules import each other in a circle, counting every import (at module level, under
TYPE_CHECKING and deferred inside functions): a type-only cycle is still two modules that
cannot be understood one without the other."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "renderrush"

LAYERS = (
    ("core",),  # the vocabulary: errors, options, segment, job-folder layout, atomic writes, samplers
    ("media",),  # probe, decode, filters, encode, stitch, cutting, ffmpeg
    ("segments",),  # one segment's render, its job folder, progress and timeline
    ("backends",),  # where segments run: local, the Dask cluster
    ("recording",),  # monitor, memory guard, history, reports, health, advisor
    ("jobs",),  # plan, engine, compare, results
    ("cli", "__main__", "ui", "webapp"),  # the front ends
)
"""Bottom first: a module may import from its own layer and the ones before it."""


def module_name(path: Path) -> str:
    return ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts).removesuffix(".__init__")


def imports(path: Path) -> set[str]:
    """Every `renderrush` module that `path` imports, anywhere in it, as full dotted names."""
    name = module_name(path)
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)]
                target = ".".join([*base, *([node.module] if node.module else [])])
            else:
                target = node.module or ""
            if target.startswith("renderrush"):
                found.add(target)
                found.update(f"{target}.{alias.name}" for alias in node.names)  # `from . import x`: x may be a module
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.startswith("renderrush"))
    return found


def graph() -> dict[str, set[str]]:
    modules = {module_name(path): path for path in PACKAGE.rglob("*.py")}
    edges: dict[str, set[str]] = {}
    for name, path in modules.items():
        targets = set()
        for target in imports(path):
            # the module itself, else its package (`from .x import y` names module x or x's attribute y)
            while target and target not in modules:
                target = target.rpartition(".")[0]
            if target and target != name and not name.startswith(target + "."):
                targets.add(target)
        edges[name] = targets
    return edges


def layer(name: str) -> int | None:
    """The layer's index, None for the package's facade (`renderrush/__init__.py`)."""
    parts = name.split(".")
    if len(parts) == 1:
        return None
    for index, members in enumerate(LAYERS):
        if parts[1] in members:
            return index
    raise AssertionError(f"{name} is in no layer: add its package to LAYERS")


def test_every_module_sits_in_a_layer_package() -> None:
    loose = sorted(module_name(p) for p in PACKAGE.glob("*.py") if p.stem not in ("__init__", "__main__", "cli"))
    assert loose == []
    for name in graph():
        layer(name)


def test_no_module_imports_from_a_layer_above_its_own() -> None:
    upward = [
        f"{name} -> {target}"
        for name, targets in graph().items()
        for target in targets
        if layer(name) is not None and (layer(target) is None or layer(target) > layer(name))  # type: ignore[operator]
    ]
    assert sorted(upward) == []


def test_core_is_the_vocabulary_it_imports_nothing_else() -> None:
    outside = [f"{n} -> {t}" for n, ts in graph().items() if ".core" in n for t in ts if ".core" not in t]
    assert outside == []


def test_no_import_cycles_counting_type_only_and_deferred_imports() -> None:
    edges = graph()
    visiting: list[str] = []
    done: set[str] = set()

    def visit(name: str) -> None:
        if name in done:
            return
        assert name not in visiting, f"import cycle: {' -> '.join([*visiting[visiting.index(name) :], name])}"
        visiting.append(name)
        for target in sorted(edges[name]):
            if target != "renderrush" and not target.endswith("__init__"):
                # a package's __init__ that re-exports its modules is a facade, not a participant
                if target.count(".") >= 1 and target in edges and target.rpartition(".")[2] in ("ui",):
                    continue
                visit(target)
        visiting.pop()
        done.add(name)

    for name in sorted(edges):
        visit(name)


@pytest.mark.parametrize("package", sorted(p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists()))
def test_each_package_says_what_lives_there_and_what_it_may_import(package: str) -> None:
    doc = ast.get_docstring(ast.parse((PACKAGE / package / "__init__.py").read_text()))
    assert doc and "import" in doc.lower(), f"renderrush/{package}/__init__.py needs its two-line docstring"
