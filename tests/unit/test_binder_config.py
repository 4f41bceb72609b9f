"""Binder, conda and pyproject agree on the dependencies; notebooks are clean and validated."""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

import nbformat
import pytest
import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

from ..support import ROOT

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    tomllib = pytest.importorskip("tomli")

NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
EXPECTED_NOTEBOOKS = ["01_quickstart", "02_sequential_vs_parallel", "03_live_dashboard", "04_history_and_reports"]


def pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def expand(names: list[str], extras: dict[str, list[str]], seen: set[str] | None = None) -> dict[str, Requirement]:
    """Requirements by canonical name, with the package's own extras (renderrush[ui]) expanded."""
    seen = seen or set()
    result: dict[str, Requirement] = {}
    for text in names:
        req = Requirement(text)
        if canonicalize_name(req.name) == "renderrush":
            for extra in req.extras - seen:
                result.update(expand(extras[extra], extras, seen | {extra}))
        else:
            result[canonicalize_name(req.name)] = req
    return result


def notebook_requirements() -> dict[str, Requirement]:
    """What running the notebooks needs: the dependencies plus the "notebook" extra."""
    project = pyproject()["project"]
    extras = project["optional-dependencies"]
    return {**expand(project["dependencies"], extras), **expand(extras["notebook"], extras)}


def conda_env(path: Path) -> tuple[list[str], list[str]]:
    """(conda dependencies, pip dependencies) of an environment.yml."""
    env = yaml.safe_load(path.read_text())
    conda = [d for d in env["dependencies"] if isinstance(d, str)]
    pip = [p for d in env["dependencies"] if isinstance(d, dict) for p in d.get("pip", [])]
    return conda, pip


def pip_requirements(pip: list[str]) -> dict[str, Requirement]:
    reqs = [Requirement(p) for p in pip if not p.startswith(("-", ".", "/"))]
    return {canonicalize_name(r.name): r for r in reqs}


@pytest.mark.parametrize("env_file", ["environment.yml", "binder/environment.yml"])
def test_environment_files_mirror_pyproject(env_file: str) -> None:
    _, pip = conda_env(ROOT / env_file)
    listed = pip_requirements(pip)
    wanted = notebook_requirements()
    assert sorted(listed) == sorted(wanted), f"{env_file} and pyproject.toml list different packages"
    for name, req in wanted.items():
        assert listed[name].specifier == req.specifier, f"{env_file}: {listed[name]} but pyproject.toml says {req}"


def test_environment_files_agree_and_python_is_supported() -> None:
    top_conda, top_pip = conda_env(ROOT / "environment.yml")
    binder_conda, binder_pip = conda_env(ROOT / "binder/environment.yml")
    assert top_conda == binder_conda
    assert pip_requirements(top_pip) == pip_requirements(binder_pip)
    python = next(d for d in top_conda if d.startswith("python"))
    version = python.split("=", 1)[1]
    assert version in SpecifierSet(pyproject()["project"]["requires-python"])
    assert "-e ." in top_pip, "environment.yml installs the package itself"


def test_binder_installs_the_package_and_raises_the_upload_limit() -> None:
    post_build = ROOT / "binder/postBuild"
    assert os.access(post_build, os.X_OK), "binder/postBuild must be executable"
    text = post_build.read_text()
    assert re.search(r"pip install --no-deps -e \.", text)
    assert "binder/jupyter_server_config.json" in text
    from renderrush.ui import MAX_UPLOAD_BYTES

    config = json.loads((ROOT / "binder/jupyter_server_config.json").read_text())
    limit = config["ServerApp"]["tornado_settings"]["websocket_max_message_size"]
    assert limit >= MAX_UPLOAD_BYTES * 1.2, "room for a 200 MB upload plus message overhead"


def test_test_extra_can_run_the_notebooks() -> None:
    extras = pyproject()["project"]["optional-dependencies"]
    test = expand(extras["test"], extras)
    for name in ("nbval", "ipykernel", "ipywidgets", "plotly", "anywidget", "pytest"):
        assert name in test, f"the test extra lacks {name}"
    options = pyproject()["tool"]["pytest"]["ini_options"]
    assert "notebooks" in options["testpaths"] and "tests" in options["testpaths"]
    addopts = options["addopts"]
    assert "--nbval " in f"{addopts} " and "--nbval-current-env" in addopts
    sanitizer = re.search(r"--nbval-sanitize-with[= ](\S+)", addopts).group(1)
    assert (ROOT / sanitizer).is_file()


def test_binder_badge_opens_the_first_notebook() -> None:
    text = (ROOT / "README.md").read_text()
    badge = re.search(r"https://mybinder\.org/v2/gh/[^)\s]+", text)
    assert badge, "a Launch-on-Binder badge"
    path = re.search(r"urlpath=lab/tree/([^)&\s]+)", badge.group(0)).group(1)
    assert path == "notebooks/01_quickstart.ipynb" and (ROOT / path).is_file()
    assert "jupyter lab" in text


def test_the_four_notebooks_exist_in_order() -> None:
    assert [p.stem for p in NOTEBOOKS] == EXPECTED_NOTEBOOKS


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_clean(path: Path) -> None:
    """Outputs are stored (nbval compares them) but no widget state, no absolute paths,
    and every cell ran in order without errors."""
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    assert "widgets" not in notebook.metadata, "widget state must not be committed (refresh_outputs.py drops it)"
    assert path.stat().st_size < 100_000
    counts = []
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        assert not re.search(r"""["'](/|[A-Za-z]:\\)""", cell.source), f"absolute path in: {cell.source[:80]}"
        assert all(o.output_type != "error" for o in cell.outputs)
        counts.append(cell.execution_count)
    assert counts == list(range(1, len(counts) + 1)), "outputs come from one run, top to bottom"
    text = json.dumps(notebook)
    assert "/work/" not in text and "/home/" not in text and "/tmp/" not in text
