"""The package's public face: the public names resolve, every error is in the tree with its
builtin base, modules stay small and the README short (the import graph: test_layers.py)."""

from __future__ import annotations

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
