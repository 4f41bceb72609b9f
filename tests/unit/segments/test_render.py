"""Unit tests of `renderrush.segments.render.render_segment`: one segment decoded, filtered (YUV or
BGR chain) and encoded in this process gives a file of exactly its frames with their output
timestamps beside it, and a `SegmentResult` describing it. The file appears only once the
segment is complete, so a finished segment can be taken over by a resumed job and a failed
or cancelled one leaves nothing (and no stage thread) behind. Failures are named: a filter's
error with its frame, the encoder's, a decoder's with the frames it got, a listing that does
not match the file as a `TimelineError`; damaged packets shorten the segment and are counted."""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest

from renderrush import plan_segments, probe
from renderrush.backends.base import reused_result, segment_job
from renderrush.core.errors import JobCancelledError, SegmentError, TimelineError
from renderrush.core.layout import cancel_marker, progress_path
from renderrush.jobs.plan import Segment
from renderrush.media import quality as quality_module
from renderrush.media.encode import EncodeSettings, SegmentWriter
from renderrush.media.filters import FilterChain
from renderrush.media.probe import VideoInfo
from renderrush.media.samples import read_frame_index
from renderrush.media.stitch import count_video_packets
from renderrush.segments import render as segment_module
from renderrush.segments.jobfolder import JobFolder
from renderrush.segments.progress import DONE, FileReporter
from renderrush.segments.render import (
    SegmentJob,
    SegmentResult,
    read_timestamps,
    render_segment,
    timestamps_path,
    write_timestamps,
)

from ...support.filters import FilterRegistry
from ...support.frames import decode_frames, frame_indices


@pytest.fixture(scope="module")
def info(clip: Path) -> VideoInfo:
    return probe(clip)


@pytest.fixture(scope="module")
def middle(info: VideoInfo) -> Segment:
    """Frames 30-59 of the 90-frame clip: a segment that starts between keyframes."""
    segments = plan_segments(info, 1)
    assert [(s.start, s.stop) for s in segments] == [(0, 30), (30, 60), (60, 90)]
    return segments[1]


@pytest.fixture
def folder(tmp_path: Path) -> JobFolder:
    folder = JobFolder(tmp_path / "out.mp4")
    folder.path.mkdir()
    return folder


def job_for(
    info: VideoInfo, segment: Segment, folder: JobFolder, chain: str | None = None, **changes: Any
) -> SegmentJob:
    """The segment's job as the backend builds it, without progress files unless asked."""
    job = segment_job(info, segment, FilterChain.parse(chain), EncodeSettings(), 1, folder)
    return replace(job, **{"reporter": None, **changes})


def stage_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name in ("segment-reader", "segment-writer")]


def assert_nothing_written(folder: JobFolder) -> None:
    assert sorted(p.name for p in folder.path.iterdir()) == [], "a failed segment left files"
    assert stage_threads() == [], "a stage thread outlived its segment"


class Recorder:
    """A reporter that records every update, and can stop the job at a frame count."""

    def __init__(self, cancel_at: int | None = None) -> None:
        self.updates: list[tuple[int, str, bool]] = []
        self.cancel_at = cancel_at

    def update(self, frames: int, state: str = "running", force: bool = False) -> None:
        self.updates.append((frames, state, force))
        if frames == self.cancel_at:
            raise JobCancelledError()


# ---- a complete segment ---------------------------------------------------------------------


def test_a_segment_file_holds_exactly_its_frames(info: VideoInfo, middle: Segment, folder: JobFolder) -> None:
    job = job_for(info, middle, folder)
    result = render_segment(job)
    out = Path(job.output)
    assert out == folder.segment_file(1)
    assert frame_indices(out) == list(range(30, 60))
    assert decode_frames(out)[0].shape == (120, 160)
    assert result == SegmentResult(
        index=1,
        frames=30,
        seconds=result.seconds,
        output=str(out),
        bytes=out.stat().st_size,
        worker_pid=os.getpid(),
        worker=socket.gethostname(),
        pts=info.frame_pts[30:60],
        damaged=0,
        concealed=0,
        quality=result.quality,
        crf=23,
    )
    assert result.seconds > 0 and not result.reused and result.data is None
    # measured against the encoder's input (tests/unit/media/test_quality.py checks the figures)
    assert result.quality is not None and result.quality["frames"] == 4 and 30 < result.quality["psnr"] < 100
    # the file is encoded at a constant rate; its real times are kept beside it
    assert read_timestamps(out) == info.frame_pts[30:60]
    assert sorted(p.name for p in folder.path.iterdir()) == [out.name, timestamps_path(out).name]


def test_progress_counts_every_frame_and_ends_done(info: VideoInfo, middle: Segment, folder: JobFolder) -> None:
    reporter = Recorder()
    render_segment(job_for(info, middle, folder, reporter=reporter))
    assert reporter.updates[0] == (0, "running", True)
    assert reporter.updates[-1] == (30, DONE, True)
    assert [frames for frames, _, _ in reporter.updates[1:-1]] == list(range(1, 31))


def test_a_yuv_chain_filters_the_planes(info: VideoInfo, middle: Segment, folder: JobFolder) -> None:
    job = job_for(info, middle, folder, "grayscale")
    assert job.chain.pixel_format == "yuv420p"
    render_segment(job)
    planes = decode_frames(Path(job.output), "yuv420p")
    chroma = np.concatenate([p[120:].ravel() for p in planes]).astype(int)
    assert len(planes) == 30 and np.abs(chroma - 128).max() <= 2
    assert [read_frame_index(p[:120]) for p in planes] == list(range(30, 60))


def test_a_bgr_chain_gets_upright_frames_in_order(
    info: VideoInfo, middle: Segment, folder: JobFolder, registry: FilterRegistry
) -> None:
    seen: list[tuple[int, tuple[int, ...]]] = []

    @registry.register("mark_corner")
    def mark_corner(frame: np.ndarray) -> np.ndarray:
        seen.append((read_frame_index(frame[..., 1]), frame.shape))
        frame[-16:, -16:] = 255
        return frame

    job = job_for(info, middle, folder, "mark_corner")
    assert job.chain.pixel_format == "bgr24"
    render_segment(job)
    assert seen == [(i, (120, 160, 3)) for i in range(30, 60)]
    assert all(luma[-14:, -14:].min() > 220 for luma in decode_frames(Path(job.output)))


# ---- taking a finished segment over -----------------------------------------------------------


def test_a_finished_segment_can_be_taken_over_from_its_files(
    info: VideoInfo, middle: Segment, folder: JobFolder
) -> None:
    rendered = render_segment(job_for(info, middle, folder))
    file = folder.segment_file(middle.index)
    # what a resumed job checks and reads back
    assert count_video_packets(file) == len(read_timestamps(file)) == 30
    taken = reused_result(middle, folder)
    assert taken.reused and (taken.index, taken.frames, taken.pts, taken.bytes, taken.output) == (
        rendered.index,
        rendered.frames,
        rendered.pts,
        rendered.bytes,
        rendered.output,
    )


def test_a_failed_render_leaves_a_finished_segment_as_it_was(
    info: VideoInfo, middle: Segment, folder: JobFolder, registry: FilterRegistry
) -> None:
    job = job_for(info, middle, folder)
    render_segment(job)
    file = Path(job.output)
    before = (file.read_bytes(), timestamps_path(file).read_bytes())

    @registry.register("fail_late")
    def fail_late(frame: np.ndarray) -> np.ndarray:
        if read_frame_index(frame[..., 1]) == 50:
            raise RuntimeError("out of paint")
        return frame

    with pytest.raises(SegmentError):
        render_segment(replace(job, chain=FilterChain.parse("fail_late")))
    assert (file.read_bytes(), timestamps_path(file).read_bytes()) == before
    assert sorted(p.name for p in folder.path.iterdir()) == [file.name, timestamps_path(file).name]


def test_timestamps_are_kept_beside_the_segment_file(tmp_path: Path) -> None:
    file = tmp_path / "segment-00003.mp4"
    assert timestamps_path(file) == tmp_path / "segment-00003.pts.json"
    write_timestamps(file, [0, 512, 1536])
    assert read_timestamps(file) == (0, 512, 1536)
    assert os.listdir(tmp_path) == ["segment-00003.pts.json"]


# ---- failures and cancellation ----------------------------------------------------------------


def test_a_failing_filter_names_the_segment_and_frame(
    info: VideoInfo, middle: Segment, folder: JobFolder, registry: FilterRegistry
) -> None:
    @registry.register("explode")
    def explode(frame: np.ndarray) -> np.ndarray:
        if read_frame_index(frame[..., 1]) == 34:
            raise ValueError("boom")
        return frame

    with pytest.raises(SegmentError) as caught:
        render_segment(job_for(info, middle, folder, "explode"))
    assert caught.value.index == 1
    assert str(caught.value) == "segment 1 failed: filters 'explode' failed on frame 34: ValueError: boom"
    assert_nothing_written(folder)


def test_a_filter_returning_the_wrong_shape_is_named_without_a_class(
    info: VideoInfo, middle: Segment, folder: JobFolder, registry: FilterRegistry
) -> None:
    @registry.register("shrink")
    def shrink(frame: np.ndarray) -> np.ndarray:
        return frame[::2, ::2]

    with pytest.raises(SegmentError) as caught:
        render_segment(job_for(info, middle, folder, "shrink"))
    assert caught.value.reason == (
        "filters 'shrink' failed on frame 30: filter 'shrink' returned uint8 (60, 80, 3); it must return uint8 (120, 160, 3)"
    )
    assert_nothing_written(folder)


def test_cancelling_mid_segment_stops_it_and_leaves_nothing(
    info: VideoInfo, middle: Segment, folder: JobFolder
) -> None:
    reporter = Recorder(cancel_at=5)
    with pytest.raises(JobCancelledError):
        render_segment(job_for(info, middle, folder, reporter=reporter))
    assert reporter.updates[-1][0] == 5  # nothing ran after the stop
    assert_nothing_written(folder)


def test_a_job_cancelled_before_the_segment_starts_writes_nothing(
    info: VideoInfo, middle: Segment, folder: JobFolder
) -> None:
    cancel_marker(folder.path).touch()
    job = job_for(info, middle, folder, reporter=FileReporter(progress_path(folder.path, middle.index)))
    with pytest.raises(JobCancelledError):
        render_segment(job)
    assert sorted(p.name for p in folder.path.iterdir()) == [cancel_marker(folder.path).name]


def test_an_encoder_that_cannot_open_its_file_is_named(info: VideoInfo, middle: Segment, folder: JobFolder) -> None:
    job = job_for(info, middle, folder, output=str(folder.path / "missing" / "segment-00001.mp4"))
    with pytest.raises(SegmentError, match=r"^segment 1 failed: encoder: No such file or directory"):
        render_segment(job)
    assert_nothing_written(folder)


def test_an_encoder_failing_mid_segment_is_named(
    info: VideoInfo, middle: Segment, folder: JobFolder, monkeypatch: pytest.MonkeyPatch
) -> None:
    class FullDisk(SegmentWriter):
        def write(self, frame: av.VideoFrame) -> None:
            if self._written == 5:
                raise OSError(28, "No space left on device")
            super().write(frame)

    monkeypatch.setattr(quality_module, "SegmentWriter", FullDisk)
    with pytest.raises(SegmentError) as caught:
        render_segment(job_for(info, middle, folder))
    assert str(caught.value) == "segment 1 failed: encoder: [Errno 28] No space left on device"
    assert_nothing_written(folder)


def test_a_listing_that_does_not_match_the_file_is_a_timeline_error(
    info: VideoInfo, middle: Segment, folder: JobFolder
) -> None:
    # the segment lists frames 30-41, but the file's time range for it holds only 30-39
    segment = Segment(1, 30, 42)
    job = job_for(info, segment, folder)
    job = replace(job, source=replace(job.source, end_pts=info.frame_pts[40]))
    with pytest.raises(TimelineError) as caught:
        render_segment(job)
    assert str(caught.value) == "segment 1 failed: decoded 10 frames where the file lists 12"
    assert_nothing_written(folder)


def _frames_then(
    monkeypatch: pytest.MonkeyPatch, count: int, error: BaseException | None = None, drop: tuple[int, ...] = ()
) -> None:
    """The segment's reader gets its first `count` real frames, then `error`; frames at the
    positions in `drop` are missing, as the decoder's rejected packets are (and are counted)."""
    real = segment_module.segment_frames

    def frames(source: Any, threads: int, damaged: list[int]) -> Iterator[tuple[av.VideoFrame, int]]:
        for position, (frame, pts) in enumerate(real(source, threads, damaged)):
            if position == count:
                break
            if position in drop:
                damaged.append(pts)
                continue
            yield frame, pts
        if error is not None:
            raise error

    monkeypatch.setattr(segment_module, "segment_frames", frames)


def test_a_decoder_timeline_error_names_the_segment(
    info: VideoInfo, middle: Segment, folder: JobFolder, monkeypatch: pytest.MonkeyPatch
) -> None:
    _frames_then(monkeypatch, 3, TimelineError(-1, "decoded frame times go back from 9 to 8 after frame 30"))
    with pytest.raises(TimelineError) as caught:
        render_segment(job_for(info, middle, folder))
    assert (caught.value.index, caught.value.reason) == (1, "decoded frame times go back from 9 to 8 after frame 30")
    assert_nothing_written(folder)


def test_a_decoder_error_names_the_frames_it_got(
    info: VideoInfo, middle: Segment, folder: JobFolder, monkeypatch: pytest.MonkeyPatch
) -> None:
    _frames_then(monkeypatch, 3, av.error.InvalidDataError(22, "Invalid data found when processing input"))
    with pytest.raises(SegmentError) as caught:
        render_segment(job_for(info, middle, folder))
    assert not isinstance(caught.value, TimelineError)
    assert caught.value.reason == (
        "decoded 3 of 30 frames from frame 30 (Invalid data found when processing input); "
        "the input may be corrupt or truncated there"
    )
    assert_nothing_written(folder)


def test_damaged_packets_shorten_the_segment_and_are_counted(
    info: VideoInfo, middle: Segment, folder: JobFolder, monkeypatch: pytest.MonkeyPatch
) -> None:
    _frames_then(monkeypatch, 30, drop=(4, 5))
    job = job_for(info, middle, folder)
    result = render_segment(job)
    kept = [i for i in range(30, 60) if i not in (34, 35)]
    assert (result.frames, result.damaged) == (28, 2)
    assert result.pts == tuple(info.frame_pts[i] for i in kept)
    assert frame_indices(Path(job.output)) == kept


def test_a_segment_with_no_decodable_frame_fails(
    info: VideoInfo, middle: Segment, folder: JobFolder, monkeypatch: pytest.MonkeyPatch
) -> None:
    _frames_then(monkeypatch, 30, drop=tuple(range(30)))
    with pytest.raises(SegmentError) as caught:
        render_segment(job_for(info, middle, folder))
    assert caught.value.reason == (
        "decoded 0 of 30 frames from frame 30 (no frame of it could be decoded); "
        "the input may be corrupt or truncated there"
    )
    assert_nothing_written(folder)
