"""The source's streams besides the main video (renderrush/streams.py): `other_streams`
sorts them into audio the output can keep (with channel count), subtitles (text or
bitmap) and the rest (data, attachments, other video such as cover art, audio with nothing
to decode), each with its index, codec, language (never "und") and title; `describe()`
names a stream in a warning."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import av
import pytest

from renderrush.media.streams import StreamInfo, other_streams

from ...support.media import SUBTITLES, X264, _spu_packet, ffmpeg

VIDEO = ["-f", "lavfi", "-i", "color=s=64x48:r=15:d=1"]


def tone(hz: int) -> list[str]:
    return ["-f", "lavfi", "-i", f"sine=frequency={hz}:sample_rate=8000:duration=1"]


def streams_of(path: Path, main: int = 0) -> tuple[list[StreamInfo], list[StreamInfo], list[StreamInfo]]:
    with av.open(str(path)) as container:
        return other_streams(container, main)


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("streams")


@pytest.fixture(scope="module")
def multi_track(folder: Path) -> Path:
    """Matroska: #0 H.264, #1 AAC mono 'eng' titled, #2 AAC stereo 'und', #3 SubRip 'fra'
    titled, #4 a text attachment."""
    (folder / "cues.srt").write_text(SUBTITLES)
    (folder / "notes.txt").write_text("credits\n")
    path = folder / "multi.mkv"
    ffmpeg(
        *VIDEO,
        *tone(440),
        *tone(880),
        "-i",
        folder / "cues.srt",
        *["-map", "0", "-map", "1", "-map", "2", "-map", "3"],
        *X264,
        "-c:a",
        "aac",
        "-ac:a:1",
        2,
        "-c:s",
        "srt",
        *["-metadata:s:a:0", "language=eng", "-metadata:s:a:0", "title=Commentary"],
        *["-metadata:s:a:1", "language=und"],
        *["-metadata:s:s:0", "language=fra", "-metadata:s:s:0", "title=Forced"],
        "-attach",
        folder / "notes.txt",
        *["-metadata:s:t", "mimetype=text/plain"],
        "-y",
        path,
    )
    return path


def test_describe_names_kind_index_codec_and_details() -> None:
    assert StreamInfo(1, "audio", "aac", "eng", "Commentary", 2).describe() == "audio stream #1 (aac, eng, Commentary)"
    assert StreamInfo(3, "subtitle", "dvdsub", title="Director").describe() == "subtitle stream #3 (dvdsub, Director)"
    assert StreamInfo(4, "data", "unknown").describe() == "data stream #4 (unknown)"
    assert (
        StreamInfo(2, "audio", "opus", "fra", problem="no decodable audio").describe()
        == "audio stream #2 (opus, fra): no decodable audio"
    )


def test_matroska_tracks_are_sorted_with_language_title_and_channels(multi_track: Path) -> None:
    audio, subtitles, other = streams_of(multi_track)
    assert audio == [
        StreamInfo(1, "audio", "aac", "eng", "Commentary", channels=1),
        StreamInfo(2, "audio", "aac", None, None, channels=2),  # "und" is no language
    ]
    assert subtitles == [StreamInfo(3, "subtitle", "srt", "fra", "Forced", text=True)]
    assert [(s.index, s.kind, s.title) for s in other] == [(4, "attachment", "notes.txt")]  # named by its file name


def test_the_main_stream_is_left_out_and_any_other_video_goes_with_the_rest(multi_track: Path) -> None:
    audio, subtitles, other = streams_of(multi_track, main=1)
    assert [s.index for s in audio] == [2]
    assert [s.index for s in subtitles] == [3]
    assert [(s.index, s.kind) for s in other] == [(0, "video"), (4, "attachment")]
    assert other[0].codec == "h264"


def test_mp4_text_subtitle_is_named_by_its_handler_and_timecode_is_data(folder: Path) -> None:
    (folder / "cues.srt").write_text(SUBTITLES)
    path = folder / "subtitled.mp4"
    ffmpeg(
        *VIDEO,
        "-i",
        folder / "cues.srt",
        "-map",
        "0",
        "-map",
        "1",
        *X264,
        "-c:s",
        "mov_text",
        "-timecode",
        "01:00:00:00",
        "-y",
        path,
    )
    audio, subtitles, other = streams_of(path)
    assert audio == []
    assert subtitles == [StreamInfo(1, "subtitle", "mov_text", None, "SubtitleHandler", text=True)]
    assert [(s.index, s.kind, s.codec) for s in other] == [(2, "data", "TimeCodeHandler")]
    assert other[0].describe() == "data stream #2 (TimeCodeHandler, eng)"


def test_bitmap_subtitle_is_not_text(folder: Path) -> None:
    """A DVD sub-picture track, as a DVD rip has (ffmpeg cannot make one from text, so two
    hand-built sub-picture units are muxed by PyAV)."""
    source, path = folder / "plain.mp4", folder / "dvdsub.mkv"
    ffmpeg(*VIDEO, *X264, "-y", source)
    with av.open(str(source)) as original, av.open(str(path), "w") as out:
        video = out.add_stream_from_template(original.streams.video[0])
        subtitle = out.add_stream("dvdsub")
        subtitle.time_base = Fraction(1, 1000)
        subtitle.metadata["language"] = "eng"
        for start in (100, 500):
            cue = av.Packet(_spu_packet())
            cue.stream, cue.time_base, cue.duration = subtitle, subtitle.time_base, 300
            cue.pts = cue.dts = start
            out.mux(cue)
        for packet in original.demux(original.streams.video[0]):
            if packet.size:
                packet.stream = video
                out.mux(packet)
    assert streams_of(path) == ([], [StreamInfo(1, "subtitle", "dvdsub", "eng", text=False)], [])


# ---- streams a real file rarely shows: built from stand-ins ------------------------------


def fake(index: int, kind: str, ctx: Any = None, **metadata: str) -> SimpleNamespace:
    return SimpleNamespace(index=index, type=kind, codec_context=ctx, metadata=metadata)


def test_audio_without_channels_or_rate_goes_with_the_rest() -> None:
    container = SimpleNamespace(
        streams=[
            fake(0, "video", SimpleNamespace(name="h264")),
            fake(1, "audio", SimpleNamespace(name="aac", channels=0, sample_rate=48000), language="deu"),
            fake(2, "audio", SimpleNamespace(name="opus", channels=2, sample_rate=0), title="Dub"),
            fake(3, "audio", None),
        ]
    )
    audio, subtitles, other = other_streams(container, 0)  # type: ignore[arg-type]
    assert audio == subtitles == []
    problem = "no decodable audio in the file (no channel count or sample rate)"
    assert other == [
        StreamInfo(1, "audio", "aac", "deu", None, problem=problem),
        StreamInfo(2, "audio", "opus", None, "Dub", problem=problem),
        StreamInfo(3, "audio", "unknown", problem=problem),
    ]


def test_a_stream_without_codec_is_named_by_its_tag_or_its_handler() -> None:
    tagged = fake(1, "data", None, title="Timecode")
    tagged.codec_tag = "tmcd"
    handled = fake(3, "data", None, handler_name="GoPro MET")
    streams = [fake(0, "video", SimpleNamespace(name="h264")), tagged, fake(2, "data"), handled]
    _, _, other = other_streams(SimpleNamespace(streams=streams), 0)  # type: ignore[arg-type]
    assert other == [
        StreamInfo(1, "data", "tmcd", None, "Timecode"),
        StreamInfo(2, "data", "unknown"),
        StreamInfo(3, "data", "GoPro MET"),
    ]


def test_subtitle_without_decoder_is_not_text_and_falls_back_to_its_handler_name() -> None:
    container = SimpleNamespace(
        streams=[
            fake(0, "video", SimpleNamespace(name="h264")),
            fake(1, "subtitle", None, language="jpn", handler_name="Closed captions"),
            fake(2, "subtitle", SimpleNamespace(name="ass", codec=SimpleNamespace(text_sub=True)), title="Signs"),
        ]
    )
    _, subtitles, _ = other_streams(container, 0)  # type: ignore[arg-type]
    assert subtitles == [
        StreamInfo(1, "subtitle", "unknown", "jpn", "Closed captions", text=False),
        StreamInfo(2, "subtitle", "ass", None, "Signs", text=True),
    ]
