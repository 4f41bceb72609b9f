"""Unit tests of `renderrush.media.stitch`: `join_video` copies the segments' packets (no
re-encode) into one video with every frame at its listed time, decode times increasing
across joins and durations from the next frame's time; `stitch` muxes that video with the
source's other streams into the output, and renames it into place only once its frame count
is checked, so a failure, a wrong count or a cancel leaves an earlier output as it was and no
temporary file. `output_streams` decides what of the source is copied, encoded or dropped."""

from __future__ import annotations

from dataclasses import replace
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from renderrush import plan_segments, probe
from renderrush.backends.base import segment_job
from renderrush.core.errors import JobCancelledError, StitchError
from renderrush.core.layout import cancel_marker
from renderrush.media import stitch as stitch_module
from renderrush.media.encode import EncodeSettings
from renderrush.media.filters import FilterChain
from renderrush.media.probe import VideoInfo
from renderrush.media.stitch import Part, count_video_packets, join_video, output_streams, stitch
from renderrush.media.streams import StreamInfo
from renderrush.segments.jobfolder import JobFolder
from renderrush.segments.render import render_segment

from ...support.frames import frame_indices, stream_codecs


@pytest.fixture(scope="module")
def info(clip: Path) -> VideoInfo:
    return probe(clip)


@pytest.fixture(scope="module")
def parts(info: VideoInfo, tmp_path_factory: pytest.TempPathFactory) -> list[Part]:
    """The 90-frame clip rendered as three 30-frame segments (x264 with B-frames)."""
    folder = JobFolder(tmp_path_factory.mktemp("stitch") / "out.mp4")
    folder.path.mkdir()
    found = []
    for segment in plan_segments(info, 1):
        job = replace(segment_job(info, segment, FilterChain.parse(None), EncodeSettings(), 1, folder), reporter=None)
        result = render_segment(job)
        found.append(Part(Path(result.output), result.pts))
    assert [len(p.pts) for p in found] == [30, 30, 30]
    return found


@pytest.fixture
def work(tmp_path: Path) -> Path:
    path = tmp_path / "work"
    path.mkdir()
    return path


@pytest.fixture
def outdir(tmp_path: Path) -> Path:
    path = tmp_path / "out"
    path.mkdir()
    return path


def video_times(path: Path) -> tuple[Fraction, list[tuple[int, int]]]:
    """The video stream's time base and (pts, dts) of each of its packets, in file order."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        assert stream.time_base is not None
        packets = [p for p in container.demux(stream) if p.size]
        assert all(p.pts is not None and p.dts is not None for p in packets)
        return Fraction(stream.time_base), [(int(p.pts or 0), int(p.dts or 0)) for p in packets]


def audio_packets(path: Path) -> list[bytes]:
    with av.open(str(path)) as container:
        return [bytes(p) for p in container.demux(audio=0) if p.size]


def names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


# ---- join_video ------------------------------------------------------------------------------


def test_join_gives_every_frame_its_listed_time(parts: list[Part], info: VideoInfo, tmp_path: Path) -> None:
    # variable timing across the joins: the middle part at half rate, then a 2 s gap
    step = info.frame_pts[1]
    times = [i * step for i in range(30)]
    times += [times[-1] + 2 * step * (i + 1) for i in range(30)]
    gap = int(2 / info.time_base)
    times += [times[-1] + gap + step * i for i in range(30)]
    retimed = [Part(p.path, tuple(times[30 * k : 30 * k + 30])) for k, p in enumerate(parts)]
    target = tmp_path / "video.mp4"

    assert join_video(retimed, target, info.time_base, info.last_frame_duration) == 90

    time_base, packets = video_times(target)
    assert time_base == info.time_base
    assert sorted(pts for pts, _ in packets) == times
    decode_times = [dts for _, dts in packets]
    assert all(b > a for a, b in zip(decode_times, decode_times[1:])), "decode times must increase across joins"
    assert all(dts <= pts for pts, dts in packets)
    assert frame_indices(target) == list(range(90))  # copied in order, not re-encoded out of it


def decoded(path: Path) -> list[bytes]:
    with av.open(str(path)) as container:
        return [bytes(f.to_ndarray(format="gray")) for f in container.decode(video=0)]


@pytest.mark.parametrize("codec", ["libx264", "libx265"])
def test_segments_at_different_crfs_decode_as_they_were_encoded(info: VideoInfo, tmp_path: Path, codec: str) -> None:
    # x264 writes the CRF into its PPS: without each segment's parameter sets in-band, the
    # segments after the first decoded as noise with the first one's
    parts = []
    for k, crf in enumerate((18, 40, 18)):
        path = tmp_path / f"part{k}.mp4"
        with av.open(str(path), "w") as out:
            stream = out.add_stream(codec, rate=30)
            stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
            stream.options = {"crf": str(crf), "preset": "ultrafast", "x265-params": "log-level=error:keyint=10"}
            if codec == "libx264":
                stream.options = {"crf": str(crf), "preset": "ultrafast", "g": "10"}  # a keyframe mid-part too
            for i in range(20):
                picture = np.full((48, 64, 3), (37 * (i + 7 * k)) % 256, np.uint8)
                picture[::4, ::3] = 255 - picture[::4, ::3]
                frame = av.VideoFrame.from_ndarray(picture, format="rgb24").reformat(format="yuv420p")
                frame.pts = i
                out.mux(stream.encode(frame))
            out.mux(stream.encode(None))
        parts.append(Part(path, tuple(range(20 * k, 20 * k + 20))))
    sets = [stitch_module._parameter_sets(p.path) for p in parts]
    if codec == "libx264":
        assert sets[0] == sets[2] != sets[1]
    else:
        assert sets[0] == sets[1] == sets[2]  # x265 keeps the CRF out of them (only in an SEI)
    target = tmp_path / "joined.mp4"
    assert join_video(parts, target, Fraction(1, 30), 1) == 60
    assert decoded(target) == [frame for p in parts for frame in decoded(p.path)]


def test_join_refuses_a_part_whose_timestamps_do_not_match_its_frames(
    parts: list[Part], info: VideoInfo, tmp_path: Path
) -> None:
    short = Part(parts[1].path, parts[1].pts[:-1])
    with pytest.raises(StitchError, match="segment file segment-00001.mp4 has 30 frames, its timestamps 29"):
        join_video([parts[0], short, parts[2]], tmp_path / "video.mp4", info.time_base, info.last_frame_duration)
    assert not (tmp_path / "video.mp4").exists()


def test_join_refuses_parts_out_of_order(parts: list[Part], info: VideoInfo, tmp_path: Path) -> None:
    with pytest.raises(StitchError, match="segment timestamps do not increase: segments overlap"):
        join_video(parts[::-1], tmp_path / "video.mp4", info.time_base, info.last_frame_duration)
    assert not (tmp_path / "video.mp4").exists()


def test_count_video_packets_counts_frames(parts: list[Part]) -> None:
    assert [count_video_packets(p.path) for p in parts] == [30, 30, 30]


# ---- stitch ------------------------------------------------------------------------------------


def test_stitch_writes_the_frames_with_the_sources_audio(
    parts: list[Part], info: VideoInfo, outdir: Path, work: Path
) -> None:
    output = outdir / "out.mp4"
    assert stitch(parts, output, info=info, work_dir=work) == []
    assert frame_indices(output) == list(range(90))
    time_base, packets = video_times(output)
    assert sorted(pts * time_base for pts, _ in packets) == [pts * info.time_base for pts in info.frame_pts]
    assert stream_codecs(output) == {"video": "h264", "audio": "aac"}
    assert audio_packets(output) == audio_packets(info.path)  # copied, not re-encoded
    assert output.read_bytes()[4:12] == b"ftypisom"
    assert names(outdir) == ["out.mp4"] and names(work) == []  # no temporary left beside it


def test_a_mov_output_is_quicktime(parts: list[Part], info: VideoInfo, outdir: Path, work: Path) -> None:
    output = outdir / "out.MOV"
    stitch(parts, output, info=info, work_dir=work)
    assert output.read_bytes()[4:12] == b"ftypqt  "
    assert count_video_packets(output) == 90


@pytest.fixture
def earlier(outdir: Path) -> Path:
    """An output an earlier job wrote: a failed stitch must leave it as it was."""
    output = outdir / "out.mp4"
    output.write_bytes(b"the earlier render")
    return output


def assert_untouched(earlier: Path, work: Path) -> None:
    assert earlier.read_bytes() == b"the earlier render"
    assert names(earlier.parent) == [earlier.name], "a temporary output was left behind"
    assert names(work) == [] or names(work) == [cancel_marker(work).name], "the joined video was left behind"


def test_a_wrong_frame_count_is_caught_before_the_rename(
    parts: list[Part], info: VideoInfo, earlier: Path, work: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = stitch_module.count_video_packets
    # as if ffmpeg had dropped a frame while muxing: only the check sees it
    monkeypatch.setattr(stitch_module, "count_video_packets", lambda path: real(path) - 1)
    with pytest.raises(StitchError, match="^joined file has 89 frames, expected 90; nothing was written$"):
        stitch(parts, earlier, info=info, work_dir=work)
    assert_untouched(earlier, work)


def test_a_cancel_during_the_stitch_writes_nothing(
    parts: list[Part], info: VideoInfo, earlier: Path, work: Path
) -> None:
    cancel_marker(work).touch()
    with pytest.raises(JobCancelledError):
        stitch(parts, earlier, info=info, work_dir=work)
    assert_untouched(earlier, work)


def test_ffmpeg_failing_is_a_stitch_error(parts: list[Part], info: VideoInfo, earlier: Path, work: Path) -> None:
    gone = replace(info, path=work.parent / "source-deleted-meanwhile.mp4")
    with pytest.raises(StitchError, match="^joining 3 segments into out.mp4 failed: "):
        stitch(parts, earlier, info=gone, work_dir=work)
    assert_untouched(earlier, work)


def test_an_unreadable_segment_file_is_a_stitch_error(
    parts: list[Part], info: VideoInfo, earlier: Path, work: Path
) -> None:
    broken = work.parent / "segment-00001.mp4"
    broken.write_bytes(b"\x00" * 1000)
    with pytest.raises(StitchError, match="^joining segments into out.mp4 failed: "):
        stitch([parts[0], Part(broken, parts[1].pts), parts[2]], earlier, info=info, work_dir=work)
    assert_untouched(earlier, work)


# ---- output_streams -------------------------------------------------------------------------------

AAC = StreamInfo(1, "audio", "aac", language="eng", channels=2)
PCM = StreamInfo(2, "audio", "pcm_s16le", channels=6)
SRT = StreamInfo(3, "subtitle", "subrip", language="fra", text=True)
DVD = StreamInfo(4, "subtitle", "dvd_subtitle", language="deu")
FONT = StreamInfo(5, "attachment", "ttf", problem="an MP4 cannot hold attachments")


def test_output_streams_copy_encode_and_drop(info: VideoInfo) -> None:
    full = replace(info, audio_streams=(AAC, PCM), subtitle_streams=(SRT, DVD), other_streams=(FONT,))
    args, dropped = output_streams(full, "mp4")
    assert args == [
        *["-map", "1:1", "-c:a:0", "copy", "-map_metadata:s:a:0", "1:s:1"],
        *["-map", "1:2", "-c:a:1", "aac", "-b:a:1", "512k", "-map_metadata:s:a:1", "1:s:2"],
        *["-map", "1:3", "-c:s:0", "mov_text", "-map_metadata:s:s:0", "1:s:3"],
    ]
    assert dropped == [
        "subtitle stream #4 (dvd_subtitle, deu): a bitmap subtitle an MP4 cannot hold",
        "attachment stream #5 (ttf): an MP4 cannot hold attachments",
    ]


def test_quicktime_keeps_pcm_and_stereo_gets_less_bitrate(info: VideoInfo) -> None:
    stereo = replace(PCM, channels=2)
    assert output_streams(replace(info, audio_streams=(stereo,)), "mov")[0][:4] == ["-map", "1:2", "-c:a:0", "copy"]
    assert output_streams(replace(info, audio_streams=(stereo,)), "mp4")[0][2:6] == ["-c:a:0", "aac", "-b:a:0", "192k"]


def test_a_source_without_other_streams_adds_nothing(info: VideoInfo) -> None:
    assert output_streams(replace(info, audio_streams=()), "mp4") == ([], [])
