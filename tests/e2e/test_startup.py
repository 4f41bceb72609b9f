"""Start-up stays cheap: `import renderrush` and `renderrush --help` load no heavy library
(each costs 0.1-1.7 s to import on 2 cores), and the lazy public API still behaves like
eager imports. Checked by module lists in fresh interpreters, never by timing."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

import renderrush

HEAVY = ("jsonschema", "dask", "distributed", "plotly", "ipywidgets", "pandas", "cv2", "av", "numpy", "tqdm", "psutil")
"""Libraries the package imports only where they are used."""


def loaded_after(code: str) -> list[str]:
    """The heavy top-level modules in sys.modules after running `code` in a fresh interpreter."""
    script = textwrap.dedent(code) + textwrap.dedent(f"""
        import json, sys
        print(json.dumps(sorted({{m.split(".")[0] for m in sys.modules}} & set({list(HEAVY)!r}))))
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


def test_import_loads_no_heavy_module() -> None:
    assert loaded_after("import renderrush") == []


def test_help_loads_no_heavy_module() -> None:
    code = """
        import contextlib, io, runpy, sys
        sys.argv = ["renderrush", "--help"]
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            try:
                runpy.run_module("renderrush", run_name="__main__")
            except SystemExit as stop:
                assert stop.code == 0, stop.code
        assert "render" in out.getvalue() and "usage: renderrush" in out.getvalue()
    """
    assert loaded_after(code) == []


def test_render_help_and_usage_errors_load_no_heavy_module() -> None:
    code = """
        from renderrush.cli import main
        for argv in (["render", "--help"], ["render"], ["no-such-command"]):
            try:
                main(argv)
            except SystemExit:
                pass
    """
    assert loaded_after(code) == []


def test_lazy_names_load_only_their_module() -> None:
    # the error tree is there at once; a light name does not drag in the renderer
    assert loaded_after("from renderrush import RenderRushError, SettingsError, FilterError") == []
    assert "dask" not in loaded_after("from renderrush import History")
    assert "jsonschema" not in loaded_after("from renderrush import render, compare, probe")


def test_every_public_name_resolves_and_is_listed() -> None:
    assert set(renderrush.__all__) <= set(dir(renderrush))
    for name in renderrush.__all__:
        assert getattr(renderrush, name) is not None, name
    namespace: dict = {}
    exec("from renderrush import *", namespace)
    assert set(renderrush.__all__) <= set(namespace)
    with pytest.raises(AttributeError, match="no_such_name"):
        renderrush.no_such_name  # noqa: B018
    with pytest.raises(ImportError):
        exec("from renderrush import no_such_name", {})


def test_functions_named_like_their_modules_stay_functions() -> None:
    """`renderrush.probe` and `renderrush.compare` are functions even after the modules that define
    them (`renderrush.media.probe`, `renderrush.jobs.compare`) load."""
    code = """
        import renderrush
        import renderrush.media.probe, renderrush.jobs.compare  # binding the submodules must not replace the functions
        from renderrush.media.probe import probe
        from renderrush.jobs.compare import compare
        assert renderrush.probe is probe and renderrush.compare is compare, (renderrush.probe, renderrush.compare)
        from renderrush import probe as p, compare as c
        assert p is probe and c is compare
    """
    assert loaded_after(code) is not None


def test_cli_flags_are_the_options_fields() -> None:
    """The CLI's job flags come from RenderOptions: one list, no copy to keep in step."""
    from dataclasses import fields

    from renderrush.cli import build_parser
    from renderrush.jobs.options import RenderOptions

    commands = build_parser()._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    flagged = {f.name: f.metadata["commands"] for f in fields(RenderOptions) if f.metadata["flag"]}
    for command in ("render", "compare"):
        dests = {action.dest for action in commands[command]._actions}
        assert {name for name, where in flagged.items() if command in where} <= dests
    assert "resume" not in {action.dest for action in commands["compare"]._actions}
    assert {"history", "label"}.isdisjoint(dests)
