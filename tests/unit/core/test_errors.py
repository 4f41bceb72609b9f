"""Bad input and failing jobs: each raises its specific `RenderRushError` with a message
that says what is wrong, and leaves the folder exactly as it was (no output file, no
`.renderrush-*` work folders, no `.partial-*` files, an existing output untouched)."""

from __future__ import annotations

import pickle
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from renderrush import (
    DiskSpaceError,
    EmptyVideoError,
    FilterError,
    InputNotFoundError,
    NotAVideoError,
    OutputError,
    RenderRushError,
    SegmentError,
    SettingsError,
    make_sample_video,
    probe,
    render,
)
from renderrush.media.ffmpeg import run_ffmpeg

from ...support.filters import FilterRegistry
from ...support.frames import SMALL, frame_indices

FAST = {"scheduler": "threads", "workers": 2, "segment_seconds": 1}
"""Several segments, no process start-up: enough for everything but pickling."""


def snapshot(folder: Path) -> dict[str, bytes | None]:
    """Every path under `folder` with its bytes (None for folders)."""
    return {str(p.relative_to(folder)): None if p.is_dir() else p.read_bytes() for p in sorted(folder.rglob("*"))}


def fails_cleanly(error: type[RenderRushError], folder: Path, job: Callable[[], Any], *words: str) -> RenderRushError:
    """Run `job`, expecting `error` whose message has every one of `words` (any case),
    and check that nothing under `folder` was added, removed or changed."""
    before = snapshot(folder)
    with pytest.raises(error) as caught:
        job()
    message = str(caught.value).lower()
    missing = [w for w in words if w.lower() not in message]
    assert not missing, f"message {str(caught.value)!r} lacks {missing}"
    assert snapshot(folder) == before
    return caught.value


def render_fails(
    error: type[RenderRushError], folder: Path, source: Path, *words: str, **options: Any
) -> RenderRushError:
    """`fails_cleanly` for a render of `source` into `folder/out.mp4`."""
    options = {**FAST, "output": folder / "out.mp4", **options}
    return fails_cleanly(error, folder, lambda: render(source, **options), *words)


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def head(source: Path, folder: Path, size: int, suffix: str) -> Path:
    """The first `size` bytes of `source` (a truncated copy)."""
    return write(folder / f"head{suffix}", source.read_bytes()[:size])


@pytest.fixture(scope="module")
def mkv_clip(videos: Path) -> Path:
    """Matroska sample: its headers come first, so a short head has a video stream but no frames."""
    return make_sample_video(videos / "errors-clip.mkv", seconds=3, size=SMALL, fps=30)


@pytest.fixture(scope="module")
def avi_clip(videos: Path) -> Path:
    """AVI sample (MPEG-4 Part 2 + MP3)."""
    return make_sample_video(videos / "errors-clip.avi", seconds=3, size=SMALL, fps=30)


def _missing(folder: Path, *_: Path) -> Path:
    return folder / "missing.mp4"


def _directory(folder: Path, *_: Path) -> Path:
    (folder / "folder.mp4").mkdir()
    return folder / "folder.mp4"


def _empty(folder: Path, *_: Path) -> Path:
    return write(folder / "empty.mp4", b"")


def _text(folder: Path, *_: Path) -> Path:
    return write(folder / "notes.mp4", b"not a video, just some notes\n" * 40)


def _noise(folder: Path, *_: Path) -> Path:
    return write(folder / "noise.avi", np.random.default_rng(0).bytes(8192))


def _audio_only(folder: Path, *_: Path) -> Path:
    path = folder / "tone.m4a"
    run_ffmpeg(["-f", "lavfi", "-i", "sine=duration=1", "-c:a", "aac", path], what="writing an audio-only file")
    return path


def _mp4_head(folder: Path, mp4: Path, _: Path) -> Path:
    return head(mp4, folder, 1024, ".mp4")  # mdat comes first: no moov, no stream table


def _mkv_head(folder: Path, _: Path, mkv: Path) -> Path:
    return head(mkv, folder, 2048, ".mkv")  # track headers but not one frame


BAD_INPUTS = [
    pytest.param(_missing, InputNotFoundError, ["does not exist", "check the path"], id="missing"),
    pytest.param(_directory, InputNotFoundError, ["not a file"], id="directory"),
    pytest.param(_empty, EmptyVideoError, ["empty", "0 bytes"], id="zero-bytes"),
    pytest.param(_text, NotAVideoError, ["not a readable video", "use an mp4"], id="text-file"),
    pytest.param(_noise, NotAVideoError, ["not a readable video", "use an mp4"], id="random-bytes"),
    pytest.param(_audio_only, NotAVideoError, ["no video stream", "audio file"], id="audio-only"),
    pytest.param(_mp4_head, NotAVideoError, ["not a readable video", "truncated"], id="mp4-first-1k"),
    pytest.param(_mkv_head, EmptyVideoError, ["no frames", "truncated"], id="mkv-headers-only"),
]


@pytest.mark.parametrize("make, error, words", BAD_INPUTS)
@pytest.mark.parametrize("call", ["probe", "render"])
def test_bad_input_gets_its_own_error(
    call: str,
    make: Callable[..., Path],
    error: type[RenderRushError],
    words: list[str],
    tmp_path: Path,
    clip: Path,
    mkv_clip: Path,
) -> None:
    source = make(tmp_path, clip, mkv_clip)
    if call == "probe":
        fails_cleanly(error, tmp_path, lambda: probe(source), *words)
    else:
        render_fails(error, tmp_path, source, *words)


@pytest.mark.parametrize("suffix", [".mkv", ".avi"])
def test_file_cut_in_the_middle_renders_only_frames_that_decode(
    suffix: str, tmp_path: Path, mkv_clip: Path, avi_clip: Path
) -> None:
    full = {".mkv": mkv_clip, ".avi": avi_clip}[suffix]
    data = full.read_bytes()
    cut = write(tmp_path / f"cut{suffix}", data[: len(data) * 6 // 10])
    info = probe(cut)
    assert 0 < info.frame_count < probe(full).frame_count
    result = render(cut, tmp_path / "out.mp4", **FAST)
    assert result.frames == info.frame_count
    assert probe(result.output).frame_count == info.frame_count
    assert frame_indices(result.output) == frame_indices(cut)  # the very frames the cut file decodes to
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cut" + suffix, "out.mp4"]


@pytest.mark.parametrize(
    "chain, words",
    [
        pytest.param("grayscale,nosuch", ["unknown filter 'nosuch'", "available: blur,", "sepia"], id="unknown"),
        pytest.param("blur:999", ["blur sigma", "between 0.1 and 50"], id="too-big"),
        pytest.param("contrast:-1", ["contrast gain", "between 0 and 4"], id="too-small"),
        pytest.param("blur:strong", ["must be a number", "between 0.1 and 50", "'strong'"], id="not-a-number"),
        pytest.param("blur:1:2", ["takes parameters sigma"], id="too-many-params"),
        pytest.param("grayscale:1", ["takes no parameters"], id="params-for-none"),
        pytest.param("blur:radius=3", ["no parameter 'radius'", "sigma"], id="unknown-param"),
    ],
)
def test_bad_filter_chain_lists_what_is_allowed(chain: str, words: list[str], tmp_path: Path, clip: Path) -> None:
    render_fails(FilterError, tmp_path, clip, *words, filters=chain)


def _output_txt(folder: Path, _: Path) -> Path:
    return folder / "out.txt"


def _output_in_missing_folder(folder: Path, _: Path) -> Path:
    return folder / "missing" / "out.mp4"


def _output_is_folder(folder: Path, _: Path) -> Path:
    (folder / "out.mp4").mkdir()
    return folder / "out.mp4"


def _output_is_input(_: Path, source: Path) -> Path:
    return source


def _output_is_input_spelled_differently(folder: Path, source: Path) -> Path:
    (folder / "sub").mkdir()
    return folder / "sub" / ".." / source.name


@pytest.mark.parametrize(
    "make, words",
    [
        pytest.param(_output_txt, ["must end in one of", ".mp4"], id="suffix"),
        pytest.param(_output_in_missing_folder, ["does not exist", "create it"], id="no-folder"),
        pytest.param(_output_is_folder, ["is a folder"], id="folder"),
        pytest.param(_output_is_input, ["is the input file", "another name"], id="same-as-input"),
        pytest.param(_output_is_input_spelled_differently, ["is the input file"], id="same-via-dotdot"),
    ],
)
def test_bad_output_path(make: Callable[[Path, Path], Path], words: list[str], tmp_path: Path, clip: Path) -> None:
    source = write(tmp_path / "input.mp4", clip.read_bytes())
    render_fails(OutputError, tmp_path, source, *words, output=make(tmp_path, source))


@pytest.mark.parametrize(
    "options, words",
    [
        pytest.param({"workers": 0}, ["workers", "at least 1"], id="workers-0"),
        pytest.param({"workers": 1.5}, ["workers", "whole number"], id="workers-fraction"),
        pytest.param({"scheduler": "bogus"}, ["unknown scheduler 'bogus'", "threads", "processes"], id="scheduler"),
        pytest.param({"segment_seconds": -1}, ["segment length", "positive"], id="segment-negative"),
        pytest.param({"segment_seconds": 0}, ["segment length", "positive"], id="segment-zero"),
        pytest.param({"crf": 99}, ["crf", "between 0", "51"], id="crf-99"),
        pytest.param({"crf": "high"}, ["crf"], id="crf-not-a-number"),
        pytest.param({"preset": "nope"}, ["preset 'nope'", "veryfast"], id="preset"),
    ],
)
def test_bad_setting(options: dict[str, Any], words: list[str], tmp_path: Path, clip: Path) -> None:
    render_fails(SettingsError, tmp_path, clip, *words, **options)


def explode(frame: np.ndarray) -> np.ndarray:
    """User filter that always fails (module level, so worker processes can import it)."""
    raise ValueError("lens cap is on")


def half_height(frame: np.ndarray) -> np.ndarray:
    """User filter that returns the wrong shape."""
    return frame[: frame.shape[0] // 2]


@pytest.fixture
def user_filters(registry: FilterRegistry) -> None:
    """Register the failing user filters for one test only."""
    for fn in (explode, half_height):
        registry.register()(fn)


@pytest.mark.parametrize("scheduler", ["threads", "processes"])
def test_user_filter_that_raises_names_segment_and_filter(
    scheduler: str, user_filters: None, tmp_path: Path, clip: Path
) -> None:
    error = render_fails(
        SegmentError,
        tmp_path,
        clip,
        "segment",
        "explode",
        "ValueError: lens cap is on",
        filters="grayscale,explode",
        scheduler=scheduler,
    )
    assert error.index in (0, 1, 2)
    assert str(error).startswith(f"segment {error.index} failed")


def test_user_filter_with_wrong_shape_says_expected_shape(user_filters: None, tmp_path: Path, clip: Path) -> None:
    width, height = SMALL
    render_fails(
        SegmentError,
        tmp_path,
        clip,
        "segment",
        "half_height",
        f"must return uint8 ({height}, {width}, 3)",
        filters="half_height",
        scheduler="sync",
    )


def test_segment_error_survives_pickling() -> None:
    error = pickle.loads(pickle.dumps(SegmentError(3, "encoder: disk full")))
    assert (error.index, error.reason, str(error)) == (3, "encoder: disk full", "segment 3 failed: encoder: disk full")


def test_command_line_wording_survives_pickling() -> None:
    """A worker's error reaches the CLI pickled: its command-line message comes with it."""
    sent = DiskSpaceError("pass force=True").in_cli_terms("use --force")
    error = pickle.loads(pickle.dumps(sent))
    assert (str(error), error.cli_message, type(error)) == ("pass force=True", "use --force", DiskSpaceError)
    assert RenderRushError("plain").cli_message is None


def test_failed_job_leaves_existing_output_untouched(user_filters: None, tmp_path: Path, clip: Path) -> None:
    output = write(tmp_path / "out.mp4", b"the previous render, keep me")
    render_fails(SegmentError, tmp_path, clip, "explode", filters="explode", output=output)
    assert output.read_bytes() == b"the previous render, keep me"


def test_failed_threads_job_stops_every_segment_before_raising(
    tmp_path: Path, clip: Path, registry: FilterRegistry
) -> None:
    """One segment fails while another is still inside the filter: render must not raise
    before that task has stopped (orphaned, it would write into the deleted work folder)."""
    lock, roles = threading.Lock(), {}
    stalled, release, resumed = threading.Event(), threading.Event(), threading.Event()

    @registry.register(name="fail_while_other_runs")
    def fail_while_other_runs(frame: np.ndarray) -> np.ndarray:
        with lock:
            role = roles.setdefault(threading.get_ident(), "stall" if roles else "fail")
        if role == "fail":
            stalled.wait(10)
            raise ValueError("planned failure")
        if not stalled.is_set():
            stalled.set()
            release.wait(1)  # render must wait out this pause before it raises
            resumed.set()
        return frame

    try:
        render_fails(SegmentError, tmp_path, clip, "planned failure", filters="fail_while_other_runs")
        assert resumed.is_set(), "render() raised while another segment task was still running"
    finally:
        release.set()
        resumed.wait(10)


def test_translate_av_errors_is_the_one_translation_of_pyav_errors(tmp_path) -> None:
    import av

    from renderrush.core.errors import StitchError, av_reason, translate_av_errors

    missing = tmp_path / "missing.mp4"
    with pytest.raises(StitchError) as caught:
        with translate_av_errors(StitchError, "joining into {name} failed: {reason}", name="out.mp4"):
            av.open(str(missing))
    assert str(caught.value) == "joining into out.mp4 failed: No such file or directory"
    assert caught.value.__cause__ is None and caught.value.__suppress_context__  # one line, no PyAV chain
    # errors of RenderRush's own and unrelated ones pass through untouched; `also` widens the net
    with pytest.raises(KeyError), translate_av_errors(StitchError, "{reason}"):
        raise KeyError("k")
    with (
        pytest.raises(StitchError, match="^bad: boom$"),
        translate_av_errors(StitchError, "bad: {reason}", also=(OSError,)),
    ):
        raise OSError("boom")
    assert av_reason(ValueError("")) == "ValueError"


def test_translate_av_errors_gives_errors_that_take_more_than_a_message_their_arguments() -> None:
    from renderrush.core.errors import SegmentError, translate_av_errors

    with (
        pytest.raises(SegmentError) as caught,
        translate_av_errors(SegmentError, "encoder: {reason}", also=(OSError,), leading=(3,)),
    ):
        raise OSError("no encoder")
    assert caught.value.index == 3 and str(caught.value) == "segment 3 failed: encoder: no encoder"
