"""Per-segment pieces cut by stream copy (renderrush/cutting.py): a piece, decoded as a
worker decodes it, gives exactly its segment's frames at the source's times."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from renderrush import make_sample_video, probe
from renderrush.backends.base import segment_job
from renderrush.jobs.plan import plan_gop_segments, plan_segments
from renderrush.media.cutting import CutError, Cutter, check_piece, cuttable
from renderrush.media.decode import Source, segment_frames
from renderrush.media.encode import EncodeSettings
from renderrush.media.filters import FilterChain
from renderrush.media.probe import VideoInfo
from renderrush.media.samples import read_frame_index
from renderrush.segments.jobfolder import JobFolder
from renderrush.segments.render import SegmentJob

from ...support.gops import gop_clip
from ...support.media import ffmpeg


def jobs_for(info: VideoInfo, seconds: float, tmp_path: Path) -> list[SegmentJob]:
    folder = JobFolder(tmp_path / "out.mp4")
    return [
        segment_job(info, s, FilterChain.parse(None), EncodeSettings(), 1, folder) for s in plan_segments(info, seconds)
    ]


def decoded(source: Source) -> list[tuple[int, int]]:
    """(frame index from the stripe, output timestamp) of each frame a segment's source gives."""
    return [(read_frame_index(frame.to_ndarray(format="gray")), pts) for frame, pts in segment_frames(source, 1, [])]


@pytest.fixture(scope="module")
def open_gop(videos: Path) -> Path:
    """Matroska, open GOPs with B-frames before each keyframe in display order, keyframes every 25 frames."""
    base = make_sample_video(videos / "cut-base.mp4", seconds=4, size=(160, 120), audio=False)
    out = videos / "open-gop.mkv"
    ffmpeg(
        "-i",
        base,
        "-c:v",
        "libx264",
        "-preset",
        "veryfast",
        "-x264-params",
        "open-gop=1:keyint=25:min-keyint=25:bframes=3",
        "-y",
        out,
    )
    return out


@pytest.mark.parametrize("suffix", [".mp4", ".mov", ".mkv"])
def test_pieces_decode_to_their_segments_frames(videos: Path, tmp_path: Path, suffix: str) -> None:
    info = probe(make_sample_video(videos / f"cut{suffix}", seconds=5, size=(160, 120), fps=30))
    jobs = jobs_for(info, 0.7, tmp_path)  # boundaries inside GOPs: pieces start at an earlier keyframe
    assert len(jobs) == 7 and cuttable(info)
    pieces = list(Cutter(info).pieces((j.segment.index, j.source) for j in jobs))
    for job, piece in zip(jobs, pieces):
        path = tmp_path / f"piece-{piece.index}{piece.suffix}"
        path.write_bytes(piece.data)
        frames = decoded(piece.source(job.source, str(path)))
        assert [i for i, _ in frames] == list(range(job.segment.start, job.segment.stop))
        assert [pts for _, pts in frames] == list(info.frame_pts[job.segment.start : job.segment.stop])
    whole = info.path.stat().st_size
    assert (
        sum(len(p.data) for p in pieces) < 1.6 * whole
    )  # each piece carries at most one GOP (2 s) before its first frame


def test_gop_aligned_pieces_add_almost_nothing(videos: Path, tmp_path: Path) -> None:
    info = probe(make_sample_video(videos / "cut-aligned.mp4", seconds=8, size=(160, 120), fps=30, audio=False))
    jobs = jobs_for(info, 2, tmp_path)
    total = sum(len(p.data) for p in Cutter(info).pieces((j.segment.index, j.source) for j in jobs))
    assert len(jobs) == 4 and total <= 1.05 * info.path.stat().st_size


def test_open_gop_pieces_keep_the_frames_shown_before_the_next_keyframe(open_gop: Path, tmp_path: Path) -> None:
    info = probe(open_gop)
    assert cuttable(info) and len(info.keyframes) >= 4
    jobs = jobs_for(info, 25 / 30, tmp_path)  # every segment ends right where the next open GOP's keyframe is shown
    for job, piece in zip(jobs, Cutter(info).pieces((j.segment.index, j.source) for j in jobs)):
        path = tmp_path / f"piece-{piece.index}.mkv"
        path.write_bytes(piece.data)
        frames = decoded(piece.source(job.source, str(path)))
        assert [i for i, _ in frames] == list(range(job.segment.start, job.segment.stop)), (
            f"segment {job.segment.index}"
        )


def test_a_piece_missing_a_frame_is_refused(videos: Path, tmp_path: Path) -> None:
    info = probe(make_sample_video(videos / "cut-check.mp4", seconds=2, size=(160, 120), audio=False))
    [job] = jobs_for(info, 2, tmp_path)
    [piece] = Cutter(info).pieces([(0, job.source)])
    check_piece(piece.data, info, job.source)
    # a frame the piece does not hold, as if the cut had stopped one packet early
    later = replace(info, frame_pts=(*info.frame_pts, info.frame_pts[-1] + 512))
    with pytest.raises(CutError, match="misses 1 frames and adds 0"):
        check_piece(piece.data, later, replace(job.source, stop=job.source.stop + 1))
    with pytest.raises(CutError, match="misses 0 frames and adds 1"):
        check_piece(piece.data, info, replace(job.source, start=1, first_pts=info.frame_pts[0]))


def test_sources_without_reliable_packet_times_are_not_cut(videos: Path, tmp_path: Path) -> None:
    base = make_sample_video(videos / "cut-raw-base.mp4", seconds=1, size=(160, 120), audio=False)
    raw, ts = tmp_path / "clip.h264", tmp_path / "clip.ts"
    ffmpeg("-i", base, "-c", "copy", "-bsf:v", "h264_mp4toannexb", "-f", "h264", "-y", raw)
    ffmpeg("-i", base, "-c", "copy", "-y", ts)
    assert probe(raw).seek_mode == "count" and not cuttable(probe(raw))
    assert not cuttable(probe(ts)), "MPEG-TS tables come from a decode pass: shipped whole"
    with pytest.raises(CutError):
        Cutter(probe(raw))


def test_lenient_cutter_gives_none_for_a_bad_piece_and_goes_on(
    videos: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from renderrush.media import cutting

    info = probe(make_sample_video(videos / "cut-lenient.mp4", seconds=4, size=(160, 120), audio=False))
    jobs = jobs_for(info, 1, tmp_path)
    real = cutting.check_piece

    def refuse_second(data: bytes, info: VideoInfo, source: Source) -> None:
        if source.start == jobs[1].segment.start:
            raise CutError("refused for the test")
        real(data, info, source)

    monkeypatch.setattr(cutting, "check_piece", refuse_second)
    pieces = list(Cutter(info, lenient=True).pieces((j.segment.index, j.source) for j in jobs))
    assert [p is None for p in pieces] == [False, True, False, False]
    with pytest.raises(CutError, match="refused for the test"):
        list(Cutter(info).pieces((j.segment.index, j.source) for j in jobs))


def test_a_piece_starting_between_milliseconds_keeps_its_exact_start(videos: Path, tmp_path: Path) -> None:
    """x264's default GOP: the second piece starts at frame 250, 8.333... s, 128000 ticks of
    1/15360. With the MOV muxer's default movie timescale (1000) its start came back 5 ticks
    early and the check sent the whole input instead."""
    clip = gop_clip(videos, "long")
    info = probe(clip)
    jobs = [
        segment_job(info, s, FilterChain.parse(None), EncodeSettings(), 1, JobFolder(tmp_path / "out.mp4"))
        for s in plan_gop_segments(info, 5)[0]
    ]
    pieces = list(Cutter(info).pieces((j.segment.index, j.source) for j in jobs))  # strict: raises CutError
    assert [p.packets for p in pieces if p is not None] == [250, 110]
    path = tmp_path / "piece-1.mov"
    path.write_bytes(pieces[1].data if pieces[1] else b"")
    frames = decoded(pieces[1].source(jobs[1].source, str(path)) if pieces[1] else jobs[1].source)
    assert [index for index, _ in frames] == list(range(250, 360))
    assert [pts for _, pts in frames] == list(info.frame_pts[250:360])
