"""The package's shape: the public names resolve, every error is in the tree with its builtin
base, and no two modules import each other (directly or through others) at import time."""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path

import pytest

import renderrush
from renderrush.core import errors

PACKAGE = Path(renderrush.__file__).parent


def test_every_public_name_resolves_and_every_error_is_exported() -> None:
    for name in renderrush.__all__:
        assert getattr(renderrush, name) is not None, name
    error_classes = {
        name
        for name, value in vars(errors).items()
        if inspect.isclass(value) and issubclass(value, (errors.RenderRushError, errors.RenderRushWarning))
    }
    assert error_classes <= set(renderrush.__all__), f"errors not exported: {error_classes - set(renderrush.__all__)}"
    assert sorted(renderrush.__all__) == renderrush.__all__


def test_every_error_is_drawn_in_the_tree() -> None:
    tree = errors.__doc__ or ""
    for name, value in vars(errors).items():
        if inspect.isclass(value) and issubclass(value, errors.RenderRushError):
            assert name in tree.split(), f"{name} is missing from errors.py's tree"


@pytest.mark.parametrize(
    ("error", "builtin"),
    [
        (errors.InputNotFoundError, FileNotFoundError),
        (errors.NotAVideoError, ValueError),
        (errors.SettingsError, ValueError),
        (errors.FilterError, ValueError),
        (errors.OutputError, OSError),
        (errors.UploadError, ValueError),
        (errors.ReportError, ValueError),
    ],
)
def test_errors_have_their_builtin_base(error: type, builtin: type) -> None:
    assert issubclass(error, builtin) and issubclass(error, errors.RenderRushError)
    caught = error("message")
    assert str(caught) == "message"


def _top_level_imports(path: Path) -> set[str]:
    """The package modules `path` imports when it is imported (not inside functions or
    TYPE_CHECKING blocks), as dotted names relative to the package."""
    module = ".".join(path.relative_to(PACKAGE).with_suffix("").parts)
    package_parts = module.split(".")[:-1] if path.name != "__init__.py" else module.split(".")[:-1]
    found: set[str] = set()
    tree = ast.parse(path.read_text())
    for node in tree.body:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            continue
        if isinstance(node, ast.ImportFrom) and node.level:
            base = package_parts[: len(package_parts) - (node.level - 1)] if node.level > 1 else package_parts
            target = ".".join([*base, *(node.module.split(".") if node.module else [])])
            if node.module:
                found.add(target)
            else:
                found.update(".".join([*base, alias.name]) for alias in node.names)
    return {name.strip(".") for name in found}


def test_no_import_cycles() -> None:
    graph: dict[str, set[str]] = {}
    for path in PACKAGE.rglob("*.py"):
        name = ".".join(path.relative_to(PACKAGE).with_suffix("").parts).removesuffix(".__init__")
        graph[name] = _top_level_imports(path)
    modules = set(graph)
    graph = {name: {t for t in targets if t in modules and t != name} for name, targets in graph.items()}
    visiting: list[str] = []
    done: set[str] = set()

    def visit(name: str) -> None:
        if name in done:
            return
        assert name not in visiting, f"import cycle: {' -> '.join([*visiting[visiting.index(name) :], name])}"
        visiting.append(name)
        for target in sorted(graph[name]):
            if target != "__init__" and not (name.startswith("ui") and target == "ui"):
                visit(target)
        visiting.pop()
        done.add(name)

    for name in sorted(graph):
        visit(name)


def test_no_module_grows_past_400_lines() -> None:
    sizes = {str(path.relative_to(PACKAGE)): len(path.read_text().splitlines()) for path in PACKAGE.rglob("*.py")}
    assert {name: n for name, n in sizes.items() if n > 400} == {}
    # the segment's three jobs (decode, encode with the heap fill, the loop) stay small apiece
    assert {
        name: sizes[name] for name in ("media/decode.py", "media/encode.py", "segments/render.py") if sizes[name] >= 300
    } == {}


def test_readme_is_a_short_guide_whose_paths_exist() -> None:
    root = PACKAGE.parent
    readme = (root / "README.md").read_text()
    assert len(readme.splitlines()) <= 250
    assert 'pytest -m "not slow and not cluster and not browser" tests' in readme
    named = set(re.findall(r"`((?:tests|docs|scripts|notebooks|benchmarks|binder)/[\w./-]*)`", readme))
    named |= set(re.findall(r"\]\(((?:docs|binder)/[\w./-]+)\)", readme))
    named.discard("notebooks/output/")  # made by the notebooks when they run
    assert named and [path for path in sorted(named) if not (root / path).exists()] == []
