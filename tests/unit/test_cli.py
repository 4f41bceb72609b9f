"""The `renderrush` command line, in-process through `cli.main` and as a real subprocess:
exit codes, JSON on stdout, and one clear error line on stderr (never a traceback)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from renderrush import probe
from renderrush.cli import main

JOB = ["--workers", "2", "--segment-seconds", "1", "--json", "--no-progress"]
RENDER = ["render", "{clip}", "-o", "{tmp}/out.mp4"]
"""A render command line; `{clip}` and `{tmp}` are filled in by the test."""
JOB_OPTIONS = [
    "--filters",
    "--workers",
    "--segment-seconds",
    "--scheduler",
    "--shared-storage",
    "--preset",
    "--crf",
    "--json",
    "--no-progress",
]
BUILTIN_FILTERS = {"grayscale", "blur", "brightness", "contrast", "sepia", "sharpen", "invert"}


def cli(capsys: pytest.CaptureFixture[str], *args: Any) -> tuple[int, str, str]:
    """Run `renderrush ARGS` in this process: (exit status, stdout, stderr)."""
    try:
        status = main([str(a) for a in args])
    except SystemExit as stop:  # argparse: --help and usage errors
        status = stop.code
    out, err = capsys.readouterr()
    return status, out, err


def cli_process(*args: Any) -> subprocess.CompletedProcess[str]:
    """Run `python -m renderrush ARGS` as a separate process."""
    return subprocess.run(
        [sys.executable, "-m", "renderrush", *map(str, args)], capture_output=True, text=True, timeout=300
    )


def fill(args: list[str], tmp: Path, clip: Path) -> list[str]:
    """`args` with `{tmp}` and `{clip}` replaced by the test's folder and sample."""
    return [a.format(tmp=tmp, clip=clip) for a in args]


def assert_one_error_line(err: str, *words: str) -> None:
    """stderr is exactly one `renderrush: error:` line naming `words`, without a traceback."""
    assert "Traceback" not in err
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("renderrush: error: ")
    assert all(w in lines[0] for w in words), lines[0]


def test_sample_then_probe_json(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    video = tmp_path / "tiny.mp4"
    status, out, _ = cli(capsys, "sample", video, "--seconds", 1, "--size", "96x64", "--fps", 24, "--no-audio")
    assert status == 0 and video.is_file()
    assert str(video) in out
    status, out, err = cli(capsys, "probe", video, "--json")
    assert (status, err) == (0, "")
    info = json.loads(out)  # the whole of stdout is one JSON object
    assert {k: info[k] for k in ("width", "height", "frame_count", "has_audio")} == {
        "width": 96,
        "height": 64,
        "frame_count": 24,
        "has_audio": False,
    }


def test_probe_text_lists_size(capsys: pytest.CaptureFixture[str], clip: Path) -> None:
    status, out, _ = cli(capsys, "probe", clip)
    assert status == 0
    fields = dict(line.split(":", 1) for line in out.splitlines())
    fields = {key.strip(): value.strip() for key, value in fields.items()}
    assert (fields["width"], fields["height"], fields["frame_count"]) == ("160", "120", "90")


@pytest.mark.parametrize(
    ("display_rotation", "shown"),
    [(90, "turned 90° counter-clockwise"), (-90, "turned 90° clockwise"), (180, "upside down")],
)
def test_probe_reports_rotation_as_ffmpeg_describes_it(
    capsys: pytest.CaptureFixture[str], clip: Path, tmp_path: Path, display_rotation: int, shown: str
) -> None:
    """A clip ffmpeg describes as "rotation of 90.00 degrees" probes as 90, never 270, with
    the direction in words."""
    from ..support.media import ffmpeg, ffmpeg_info

    rotated = tmp_path / "rotated.mp4"
    ffmpeg("-display_rotation", display_rotation, "-i", clip, "-c", "copy", "-y", rotated)
    degrees = int(re.search(r"rotation of (-?\d+)\.00 degrees", ffmpeg_info(rotated)).group(1))
    status, out, _ = cli(capsys, "probe", rotated)
    assert status == 0
    assert f"rotation: {degrees} (as ffmpeg reports it: the picture is shown {shown})" in out
    status, out, _ = cli(capsys, "probe", rotated, "--json")
    assert json.loads(out)["rotation"] == degrees
    status, out, _ = cli(capsys, "probe", clip)
    assert "      rotation: 0\n" in out


@pytest.mark.parametrize(
    ("options", "segments"),
    [(["--segment-seconds", "0.5"], 6), ([], None), (["--workers", "2", "--segment-seconds", "1"], 3)],
    ids=["segments-given", "all-advised", "all-given"],
)
def test_the_advisor_line_describes_the_job_that_ran(
    capsys: pytest.CaptureFixture[str], clip: Path, tmp_path: Path, options: list[str], segments: int | None
) -> None:
    """The advisor speaks only when it chose something, and then of the segments that ran."""
    status, out, err = cli(capsys, *fill(RENDER, tmp_path, clip), *options, "--json", "--no-progress")
    assert status == 0
    ran = json.loads(out)
    advice = [line for line in err.splitlines() if line.startswith("advisor:")]
    if "--workers" in options:
        assert (advice, ran["recommendation"]) == ([], None), "the user chose everything: the advisor is silent"
        return
    assert len(ran["segments"]) == segments or segments is None
    (line,) = advice
    count = len(ran["segments"])
    assert f"{ran['segment_seconds']:.1f} s segments" in line
    assert re.search(rf"\b{count} segments? of|\bone segment\b", line), line
    assert ran["recommendation"]["segments"] == count
    mentioned = {int(n) for n in re.findall(r"(\d+) segments?\b", line)}
    assert mentioned <= {count}, f"the line names a plan that did not run: {line}"


def test_help_and_readme_name_every_output_extension(capsys: pytest.CaptureFixture[str]) -> None:
    from renderrush.media.outputs import OUTPUT_SUFFIXES
    from renderrush.media.samples import VIDEO_CODECS

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    for command, suffixes in (("render", OUTPUT_SUFFIXES), ("sample", tuple(VIDEO_CODECS))):
        status, out, _ = cli(capsys, command, "--help")
        assert status == 0
        text = " ".join(out.split())
        assert [s for s in suffixes if s not in text] == [], f"{command} --help leaves out an extension"
        line = next(line for line in readme.splitlines() if line.startswith(f"renderrush {command} "))
        assert [s for s in suffixes if s not in line] == [], f"the README's {command} line leaves out an extension"


def test_render_json(capsys: pytest.CaptureFixture[str], clip: Path, tmp_path: Path) -> None:
    output = tmp_path / "gray.mp4"
    status, out, err = cli(
        capsys, "render", clip, "-o", output, "--filters", "grayscale", "--scheduler", "threads", *JOB
    )
    result = json.loads(out)
    # the only warnings a clean source gets: joins whose keyframe pulses, on one line
    warned = result["warnings"]
    assert status == 0 and err == (f"renderrush: warning: {'; '.join(warned)}\n" if warned else "")
    assert all("pulses" in w for w in warned)
    frames = probe(clip).frame_count
    assert (result["frames"], result["filters"], len(result["segments"])) == (frames, "grayscale", 3)
    assert result["output"] == str(output)
    assert probe(output).frame_count == frames


def test_render_text_shows_progress_bar_and_summary(
    capsys: pytest.CaptureFixture[str], clip: Path, tmp_path: Path
) -> None:
    output = tmp_path / "out.mp4"
    status, out, err = cli(capsys, "render", clip, "-o", output, "--scheduler", "sync", "--segment-seconds", 1)
    assert status == 0
    assert out.startswith(f"wrote {output}: 90 frames")
    assert "90/90" in err and "Traceback" not in err


def test_compare_json_with_default_thread_scheduler(capsys: pytest.CaptureFixture[str], clip: Path) -> None:
    status, out, err = cli(capsys, "compare", clip, *JOB)
    result = json.loads(out)
    assert status == 0 and all("pulses" in line for line in err.splitlines())  # joins whose keyframe pulses only
    frames = probe(clip).frame_count
    assert result["speedup"] > 0
    assert result["sequential_frames"] == result["parallel_frames"] == frames
    assert (result["parallel"]["scheduler"], result["workers"]) == ("threads", 2)  # built-in filters: threads
    assert result["identical"] is True


@pytest.mark.parametrize(
    "args, words",
    [
        pytest.param(["probe", "{tmp}/missing.mp4"], ["missing.mp4", "does not exist"], id="probe-missing"),
        pytest.param(["render", "{tmp}/missing.mp4", "-o", "{tmp}/out.mp4"], ["does not exist"], id="render-missing"),
        pytest.param(["compare", "{tmp}/missing.mp4"], ["does not exist"], id="compare-missing"),
        pytest.param([*RENDER, "--filters", "blur:99"], ["blur sigma", "between"], id="filter-range"),
        pytest.param([*RENDER, "--filters", "glow"], ["unknown filter 'glow'", "grayscale"], id="filter-name"),
        pytest.param(
            [*RENDER, "--filters", "greyscale"],
            ["unknown filter 'greyscale' (did you mean 'grayscale'?)"],
            id="greyscale",
        ),
        pytest.param(
            [*RENDER, "--filters", "blur:sigmas=2"], ["no parameter 'sigmas' (did you mean 'sigma'?)"], id="param-name"
        ),
        pytest.param(["render", "{clip}", "-o", "{tmp}/out.txt"], ["must end in one of"], id="output-suffix"),
        pytest.param([*RENDER, "--workers", "0"], ["workers"], id="workers"),
        pytest.param([*RENDER, "--scheduler", "gpu"], ["unknown scheduler 'gpu'", "tcp://host:8786"], id="scheduler"),
        pytest.param(["sample", "{tmp}/out.txt"], ["cannot write a sample", ".mp4"], id="sample-suffix"),
        pytest.param(["sample", "{tmp}/out.mp4", "--fps", "fast"], ["fps", "'fast'"], id="sample-fps"),
    ],
)
def test_errors_exit_1_with_one_line(
    args: list[str], words: list[str], capsys: pytest.CaptureFixture[str], clip: Path, tmp_path: Path
) -> None:
    status, out, err = cli(capsys, *fill(args, tmp_path, clip))
    assert (status, out) == (1, "")
    assert_one_error_line(err, *words)
    assert list(tmp_path.iterdir()) == []  # no output, no temporary files


PYTHON_WORDS = re.compile(r"\w\(\)|=True|=False|distributed\.Client|History\.|work_dir|force=")
"""What names a Python call or keyword in a message: the CLI says commands and flags instead."""


@pytest.mark.parametrize(
    "args, words",
    [
        pytest.param(
            ["report", "999", "-o", "{tmp}/r.json"], ["no job 999", "`renderrush history` shows the ids"], id="report"
        ),
        pytest.param(["history", "--limit", "-1"], ["--limit must be 0 or more"], id="history-limit"),
        pytest.param(
            ["health", "--work-dir", "{tmp}/nowhere"],
            ["nowhere", "give an existing folder with --work-dir"],
            id="health",
        ),
        pytest.param([*RENDER, "--scheduler", "gpu"], ["unknown scheduler 'gpu'", "scheduler address"], id="scheduler"),
    ],
)
def test_errors_name_commands_and_flags_not_python_calls(
    args: list[str], words: list[str], capsys: pytest.CaptureFixture[str], clip: Path, tmp_path: Path
) -> None:
    status, out, err = cli(capsys, *fill(args, tmp_path, clip))
    assert (status, out) == (1, "")
    assert_one_error_line(err, *words)
    assert not PYTHON_WORDS.search(err), err


def test_disk_space_error_names_the_force_flag(
    capsys: pytest.CaptureFixture[str], clip: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shutil
    from collections import namedtuple

    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage(10**12, 10**12, 1000))
    status, out, err = cli(capsys, *fill(RENDER, tmp_path, clip))
    assert (status, out) == (1, "")
    assert_one_error_line(err, "not enough free disk space", "or use --force if the estimate is wrong")
    assert not PYTHON_WORDS.search(err), err


@pytest.mark.parametrize(
    "command, options",
    [
        ("sample", ["--seconds", "--size", "--fps", "--no-audio"]),
        ("probe", ["--json"]),
        ("render", ["--output", "--resume", *JOB_OPTIONS]),
        ("compare", ["--keep", *JOB_OPTIONS]),
        ("filters", []),
    ],
)
def test_help_for_each_command(command: str, options: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = cli(capsys, command, "--help")
    assert status == 0
    assert out.startswith(f"usage: renderrush {command}")
    assert [o for o in options if o not in out] == []


def test_filters_lists_every_builtin_with_its_description(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = cli(capsys, "filters")
    assert status == 0
    listed = {re.match(r"[a-z0-9_]+", line).group(): line for line in out.splitlines()}
    assert BUILTIN_FILTERS <= set(listed)
    assert "sigma (0.1..50, default 2)" in listed["blur"]
    assert all(" — " in line for line in listed.values())


def test_subprocess_success_exits_0(tmp_path: Path) -> None:
    video = tmp_path / "tiny.mp4"
    proc = cli_process("sample", video, "--seconds", 1, "--size", "64x48", "--no-audio")
    assert (proc.returncode, proc.stderr) == (0, "")
    assert proc.stdout.strip() == f"wrote {video}"
    assert probe(video).frame_count == 30


@pytest.mark.parametrize(
    "args, words",
    [
        pytest.param(["probe", "{tmp}/missing.mp4"], ["does not exist"], id="missing"),
        pytest.param([*RENDER, "--filters", "blur:x"], ["must be a number"], id="bad-filter"),
    ],
)
def test_subprocess_error_exits_1_without_traceback(
    args: list[str], words: list[str], clip: Path, tmp_path: Path
) -> None:
    proc = cli_process(*fill(args, tmp_path, clip))
    assert (proc.returncode, proc.stdout) == (1, "")
    assert_one_error_line(proc.stderr, *words)


def test_the_command_keeps_blas_to_one_thread_unless_told_otherwise(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # set before NumPy loads in a fresh process: segments already fill every core
    monkeypatch.delenv("OPENBLAS_NUM_THREADS", raising=False)
    assert main(["filters"]) == 0
    assert os.environ["OPENBLAS_NUM_THREADS"] == "1"
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "4")
    assert main(["filters"]) == 0
    assert os.environ["OPENBLAS_NUM_THREADS"] == "4"  # the user's choice stands
