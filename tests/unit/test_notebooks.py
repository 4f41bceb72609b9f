"""Notebooks 01-04 write where the README says: each kernel into a folder of its own under
notebooks/output/ (`session_folder`), beside one shared history; nothing straight into output/."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
NAMES = sorted(p.name for p in NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))


def code(name: str) -> list[str]:
    cells = json.loads((NOTEBOOKS / name).read_text())["cells"]
    return ["".join(cell["source"]) for cell in cells if cell["cell_type"] == "code"]


def test_the_four_notebooks_are_checked() -> None:
    assert [name[:2] for name in NAMES] == ["01", "02", "03", "04"]


@pytest.mark.parametrize("name", NAMES)
def test_each_notebook_writes_into_a_folder_per_kernel(name: str) -> None:
    cells = code(name)
    assert re.search(r'^OUT = session_folder\("output"\)$', cells[0], re.MULTILINE), "OUT is this kernel's folder"
    source = "\n".join(cells)
    # "output" is named once for OUT and once for the shared history, nowhere else
    mentions = re.findall(r"""Path\(\s*["']output["'][^)]*\)|session_folder\(["']output["']\)""", source)
    assert mentions == ['session_folder("output")', 'Path("output", "history.sqlite3")'], mentions
    assert "OUT.mkdir" not in source and 'Path("output")' not in source


def test_the_readme_promises_a_folder_per_kernel() -> None:
    readme = (NOTEBOOKS.parent / "README.md").read_text()
    assert "writes under `notebooks/output/` (a folder per kernel)" in readme
