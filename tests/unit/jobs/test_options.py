"""RenderOptions: every job option validated in one place, with one-line errors."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import pytest

from renderrush import History, render
from renderrush.core.errors import FilterError, SchedulerError, SettingsError
from renderrush.jobs.options import RenderOptions, cli_options, job_request


def test_values_are_normalised_once() -> None:
    options = RenderOptions(filters="grayscale, blur:3", scheduler="sequential", segment_seconds=2)
    assert str(options.filters) == "grayscale,blur:3" and options.chain is options.filters
    assert options.scheduler == "sync"
    assert options.segment_seconds == 2.0 and isinstance(options.segment_seconds, float)
    assert str(RenderOptions().filters) == "none"
    assert RenderOptions(scheduler="multiprocessing").scheduler == "processes"
    assert RenderOptions(scheduler="tcp://10.0.0.5:8786").scheduler == "tcp://10.0.0.5:8786"


@pytest.mark.parametrize(
    ("values", "error", "words"),
    [
        ({"workers": 0}, SettingsError, "workers must be a whole number"),
        ({"workers": True}, SettingsError, "workers must be a whole number"),
        ({"workers": 2.5}, SettingsError, "workers must be a whole number"),
        ({"segment_seconds": -1}, SettingsError, "positive number of seconds"),
        ({"segment_seconds": math.nan}, SettingsError, "positive number of seconds"),
        ({"scheduler": "gpu"}, SchedulerError, "unknown scheduler 'gpu'"),
        ({"preset": "quick"}, SettingsError, "unknown preset 'quick'"),
        ({"preset": "quick", "codec": "h264"}, SettingsError, "unknown H.264 preset 'quick'"),
        ({"preset": "8", "codec": "hevc"}, SettingsError, "unknown HEVC preset '8'"),
        ({"codec": "mpeg2"}, SettingsError, "unknown codec 'mpeg2'; use one of h264, hevc, av1, vp9, prores"),
        ({"tonemap": "yes"}, SettingsError, "tonemap must be True or False"),
        ({"crf": 60}, SettingsError, "between 0 (lossless) and 51"),
        ({"split": "shots"}, SettingsError, "unknown split 'shots'; use one of fixed, keyframes, scenes"),
        ({"resume": "yes"}, SettingsError, "resume must be True or False"),
        ({"target_quality": 101}, SettingsError, "VMAF score between 0 and 100"),
        ({"target_quality": -1}, SettingsError, "VMAF score between 0 and 100"),
        ({"target_quality": math.nan}, SettingsError, "VMAF score between 0 and 100"),
        ({"target_quality": "92"}, SettingsError, "VMAF score between 0 and 100"),
        ({"label": 3}, SettingsError, "label must be a string"),
        ({"history": 3}, SettingsError, "history must be"),
        ({"filters": "blurr"}, FilterError, "blurr"),
        ({"wrokers": 2}, SettingsError, "did you mean 'workers'"),
        ({"colour": 2}, SettingsError, "options are filters, workers"),
    ],
)
def test_a_bad_value_is_one_settings_error(values: dict, error: type, words: str) -> None:
    with pytest.raises(error, match=words.replace("(", r"\(").replace(")", r"\)")) as caught:
        RenderOptions.build(**values)
    assert isinstance(caught.value, ValueError) and "\n" not in str(caught.value)


def test_options_are_frozen_and_amended_by_copy() -> None:
    base = RenderOptions(workers=2, filters="invert")
    with pytest.raises(dataclasses.FrozenInstanceError):
        base.workers = 3  # type: ignore[misc]
    amended = RenderOptions.build(base, crf=30)
    assert (amended.workers, amended.crf, str(amended.filters)) == (2, 30, "invert")
    assert base.crf == 23 and base.replace(label="x").label == "x"
    with pytest.raises(SettingsError, match="did you mean 'preset'"):
        base.replace(presett="slow")


def test_from_mapping_keeps_only_option_names() -> None:
    options = RenderOptions.from_mapping({"workers": 3, "json": True, "input": "a.mp4", "no_progress": False})
    assert options.workers == 3


def test_request_records_what_was_asked_even_when_invalid() -> None:
    options = RenderOptions(filters="grayscale", workers=2, scheduler="threads")
    assert options.request("in.mp4", "out.mp4") == {
        "input": "in.mp4",
        "output": "out.mp4",
        "filters": "grayscale",
        "workers": 2,
        "segment_seconds": None,
        "scheduler": "threads",
        "preset": "veryfast",
        "crf": 23,
    }
    refused = job_request("in.mp4", None, options, {"filters": "blurr", "workers": -1})
    assert refused["filters"] == "blurr" and refused["workers"] == -1 and "output" not in refused


def test_cli_options_follow_the_fields() -> None:
    render_flags = [name for name, _, _ in cli_options("render")]
    compare_flags = [name for name, _, _ in cli_options("compare")]
    flagged = [f.name for f in dataclasses.fields(RenderOptions) if f.metadata["flag"]]
    assert render_flags == flagged
    assert compare_flags == [name for name in flagged if name not in ("resume", "keep_segments")]
    assert all(help_text for _, _, help_text in cli_options("render"))


def test_render_refuses_a_misspelt_option_and_records_it(clip: Path, tmp_path: Path) -> None:
    history = History(tmp_path / "h.sqlite3")
    with pytest.raises(SettingsError, match="did you mean 'segment_seconds'") as caught:
        render(clip, tmp_path / "o.mp4", segment_secs=2, history=history)
    (record,) = history.list()
    assert record.status == "failed" and caught.value.job_id == record.id
    assert not (tmp_path / "o.mp4").exists()


def test_an_options_object_and_keywords_combine(clip: Path, tmp_path: Path) -> None:
    options = RenderOptions(filters="invert", workers=2, scheduler="threads", history=False)
    result = render(clip, tmp_path / "o.mp4", options=options, segment_seconds=1.0)
    assert result.filters == "invert" and result.segment_seconds == 1.0 and len(result.segments) == 3
    assert result.job_id is None
