"""`scripts/demo.py`, the second half of `scripts/demo.sh`: a built-in chain and a NumPy user
filter compared on one clip, each with its speedup and the ceiling of this machine's cores,
in words and numbers that agree (and with the README's account of them)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from renderrush import make_sample_video, probe
from renderrush.core.resources import available_cores

ROOT = Path(__file__).resolve().parents[2]


def test_demo_prints_both_jobs_with_speedup_and_ceiling(tmp_path: Path) -> None:
    clip = make_sample_video(tmp_path / "clip.mp4", seconds=2, size=(320, 180), fps=30)
    kept = tmp_path / "out"
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "demo.py"), str(clip), "--keep", str(kept)],
        capture_output=True,
        text=True,
        timeout=300,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "RENDERRUSH_HISTORY": str(tmp_path / "h.sqlite3")},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout
    cores = available_cores()
    speedups = [float(s) for s in re.findall(r"^speedup (\d+\.\d\d)x", out, re.MULTILINE)]
    ceilings = [float(c) for c in re.findall(rf"^ceiling (\d+\.\d\d)x on {cores} cores", out, re.MULTILINE)]
    assert len(speedups) == len(ceilings) == 2, out
    assert all(0 < c <= cores for c in ceilings), "never more than one segment per core"
    table = re.findall(r"^(built-in chain|NumPy user filter)\s+(\S+)\s+(\d+\.\d\d)x\s+(\d+\.\d\d)x$", out, re.MULTILINE)
    assert [(job, chain) for job, chain, _, _ in table] == [
        ("built-in chain", "grayscale,blur:3"),
        ("NumPy user filter", "grade"),
    ]
    assert [float(s) for _, _, s, _ in table] == speedups, "the table repeats the measured speedups"
    assert [float(c) for _, _, _, c in table] == ceilings
    assert "outputs identical" in out and out.count("frames 60/60") == 2
    assert "cluster" in out.splitlines()[-1] and "cores x wall / CPU" in out.splitlines()[-1]
    # the user filter really ran: its outputs are graded, not copies of the built-in chain's
    outputs = sorted(p.name for p in kept.iterdir())
    assert outputs == ["clip.parallel.mp4", "clip.sequential.mp4"], "the second job's outputs, kept"
    assert probe(kept / "clip.parallel.mp4").frame_count == 60


def test_readme_tells_what_the_demo_prints() -> None:
    readme = (ROOT / "README.md").read_text()
    demo = (ROOT / "scripts" / "demo.py").read_text()
    assert "bash scripts/demo.sh" in readme
    for words in ("ceiling", "cores x wall / CPU", "NumPy user filter", "grayscale,blur:3"):
        assert words in readme, words
    assert 'BUILTIN = "grayscale,blur:3"' in demo
