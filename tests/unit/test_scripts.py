"""The two commands' shared setup (`scripts/setup.sh`): the demo installs the package alone,
the test command the test extras. A stand-in `python` records what pip was asked for."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = ROOT / "scripts"


def installs(tmp_path: Path, script: str, **env: str) -> list[str]:
    """The `pip install` argument lists `script` makes setup.sh run, with a fake venv python."""
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    log = tmp_path / "pip.log"
    fake = venv / "bin" / "python"
    fake.write_text(f'#!/bin/sh\necho "$*" >> "{log}"\n')
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    command = f'source "{SCRIPTS / "setup.sh"}"; echo sourced' if script == "setup.sh" else script
    done = subprocess.run(
        ["bash", "-c", command],
        env={**os.environ, "RENDERRUSH_VENV": str(venv), **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0 and "sourced" in done.stdout, done.stderr
    return [line for line in log.read_text().splitlines() if line.startswith("-m pip install --quiet -e")]


def test_setup_installs_the_test_extras_by_default_and_the_package_alone_when_asked(tmp_path: Path) -> None:
    assert installs(tmp_path / "test", "setup.sh") == [f"-m pip install --quiet -e {ROOT}[test]"]
    assert installs(tmp_path / "demo", "setup.sh", RENDERRUSH_EXTRAS="") == [f"-m pip install --quiet -e {ROOT}"]
    assert installs(tmp_path / "ui", "setup.sh", RENDERRUSH_EXTRAS="ui") == [f"-m pip install --quiet -e {ROOT}[ui]"]


@pytest.mark.parametrize(("script", "extras"), [("demo.sh", ""), ("test.sh", None)])
def test_the_demo_installs_what_the_main_job_needs_and_tests_get_their_extras(script: str, extras: str | None) -> None:
    lines = (SCRIPTS / script).read_text().splitlines()
    (setup,) = [line for line in lines if "setup.sh" in line and "source" in line]
    assert ('RENDERRUSH_EXTRAS=""' in setup) == (extras == ""), setup
