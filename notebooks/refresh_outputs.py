"""Re-execute the notebooks and store their outputs, which nbval compares against.

Run after editing a notebook (from the repository root, in the environment of
`scripts/test.sh`):

    python notebooks/refresh_outputs.py [NAME.ipynb ...]

Each notebook runs in its own folder, like under nbval and JupyterLab. Widget state is
NOT stored (it would embed the plotly.js bundle, megabytes per notebook), nor are
execution timings; review the diff of the outputs before committing.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

HERE = Path(__file__).resolve().parent


def refresh(path: Path) -> float:
    notebook = nbformat.read(path, as_version=4)
    started = time.perf_counter()
    client = NotebookClient(
        notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}},
        store_widget_state=False, record_timing=False,
    )  # fmt: skip
    client.execute()
    notebook.metadata.pop("widgets", None)
    for cell in notebook.cells:
        cell.metadata.pop("execution", None)
    nbformat.write(notebook, path)
    return time.perf_counter() - started


def main(names: list[str]) -> None:
    paths = [HERE / name for name in names] if names else sorted(HERE.glob("[0-9][0-9]_*.ipynb"))
    for path in paths:
        print(f"{path.name}: {refresh(path):.1f} s", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
