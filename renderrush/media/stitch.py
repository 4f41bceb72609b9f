"""Join rendered segments into the output: the video without re-encoding, with every frame
at its source's time, and the source's other streams (every audio track, text subtitles,
chapters, metadata) muxed in. The result is written under a temporary name and renamed
into place only once its frame count is checked.

The output's container follows its suffix (`codecs.CONTAINERS`: MP4, MOV, Matroska, WebM),
and so does what it keeps of the audio: copied where the container holds the codec, else
encoded once, here (AAC; Opus for WebM), never per segment. HEVC in MP4/MOV is tagged
`hvc1`, which Apple's players need.

Segments are encoded at a constant rate (the encoder sees no timing), so their packets are given
their real times here: each frame's presentation time is the source frame's, and decode
times are the presentation times shifted by the encoder's reorder depth, which keeps them
increasing across every segment join, for variable frame rates and gaps too.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av

from ..core.atomic import atomic_path
from ..core.errors import JobCancelledError, StitchError, translate_av_errors
from ..core.layout import cancel_marker
from .codecs import CONTAINERS, Container, container_for
from .ffmpeg import run_ffmpeg
from .paramsets import differ, parameter_sets, with_parameter_sets
from .probe import VideoInfo
from .streams import StreamInfo

BITMAP_SUBTITLES_MKV = ("dvd_subtitle", "hdmv_pgs_subtitle", "dvb_subtitle")
"""Bitmap subtitles Matroska holds as they are."""


@dataclass(frozen=True)
class Part:
    """One rendered segment: its file and the output timestamp of each frame."""

    path: Path
    pts: tuple[int, ...]


def count_video_packets(path: Path) -> int:
    """Video frames in a file we wrote (one packet per frame for H.264)."""
    with av.open(os.fspath(path)) as container:
        return sum(1 for packet in container.demux(video=0) if packet.size)


def _packet_pts(path: Path) -> list[int]:
    with av.open(os.fspath(path)) as container:
        return [p.pts for p in container.demux(video=0) if p.size and p.pts is not None]


def _parameter_sets(path: Path) -> tuple[bytes, int] | None:
    with av.open(os.fspath(path)) as container:
        context = container.streams.video[0].codec_context
        return parameter_sets(context.name, context.extradata)


def join_video(parts: Sequence[Part], target: Path, time_base: Fraction, last_duration: int) -> int:
    """Copy the segments' packets into one video-only file at `target` (the segments'
    container: MP4, or MOV for ProRes) with their real timestamps; returns the frame count."""
    orders: list[list[int]] = []
    times: list[int] = []
    for part in parts:
        coded = _packet_pts(part.path)
        if len(coded) != len(part.pts):
            raise StitchError(f"segment file {part.path.name} has {len(coded)} frames, its timestamps {len(part.pts)}")
        rank = {value: offset for offset, value in enumerate(sorted(coded))}
        orders.append([len(times) + rank[value] for value in coded])
        times.extend(part.pts)
    if any(b <= a for a, b in zip(times, times[1:])):
        raise StitchError("segment timestamps do not increase: segments overlap")
    flat = [p for order in orders for p in order]
    reorder = max(0, *(i - p for i, p in enumerate(flat)))
    first_step = (times[1] - times[0]) if len(times) > 1 else last_duration

    def decode_time(i: int) -> int:
        return times[i - reorder] if i >= reorder else times[0] - (reorder - i) * max(1, first_step)

    sets = [_parameter_sets(part.path) for part in parts]
    inband = differ(sets)  # segments at different CRFs: each keyframe carries its own (paramsets.py)
    with av.open(os.fspath(parts[0].path)) as first:
        out = av.open(os.fspath(target), "w", format="mov" if target.suffix == ".mov" else "mp4")
        try:
            # opaque: the codec parameters as they are (no encoder looked up: AV1 decodes with libdav1d)
            stream = out.add_stream_from_template(first.streams.video[0], opaque=True)
            stream.codec_tag = first.streams.video[0].codec_tag  # ProRes: the tag names the profile (apcn, apch)
            stream.time_base = time_base
            i = 0
            for part, order, part_sets in zip(parts, orders, sets):
                with av.open(os.fspath(part.path)) as container:
                    demuxed = (p for p in container.demux(video=0) if p.size)
                    packets = with_parameter_sets(demuxed, part_sets if inband else None)
                    for packet, presented in zip(packets, order):
                        packet.stream = stream
                        packet.time_base = time_base
                        packet.pts = times[presented]
                        packet.dts = decode_time(i)
                        following = presented + 1
                        packet.duration = (
                            (times[following] - times[presented]) if following < len(times) else last_duration
                        )
                        out.mux(packet)
                        i += 1
        finally:
            out.close()
    return len(times)


def _audio_codec(stream: StreamInfo, k: int, container: Container) -> list[str]:
    if container.audio_copy is None or stream.codec.startswith(container.audio_copy):
        return [f"-c:a:{k}", "copy"]
    bitrate = min(512, (64 if container.audio_encoder == "libopus" else 96) * max(1, stream.channels))
    return [f"-c:a:{k}", container.audio_encoder, f"-b:a:{k}", f"{bitrate}k"]


def _subtitle_codec(stream: StreamInfo, container: Container) -> str | None:
    """What a subtitle stream becomes in `container` (None: it cannot be kept)."""
    if not stream.text:
        return "copy" if container.bitmap_subtitles and stream.codec in BITMAP_SUBTITLES_MKV else None
    if container.subtitles != "copy":
        return container.subtitles
    return "srt" if stream.codec == "mov_text" else "copy"  # Matroska has no mov_text


def output_streams(info: VideoInfo, container: Container | str) -> tuple[list[str], list[str]]:
    """ffmpeg arguments that map and encode the source's streams other than the video
    (source = input 1), and a description of each stream that cannot be kept."""
    if isinstance(container, str):
        container = CONTAINERS[container]
    args: list[str] = []
    dropped: list[str] = []
    # naming any stream's metadata turns ffmpeg's copying of the others off: name them all
    for k, audio in enumerate(info.audio_streams):
        args += ["-map", f"1:{audio.index}", *_audio_codec(audio, k, container)]
        args += [f"-map_metadata:s:a:{k}", f"1:s:{audio.index}"]
    kept = [(s, codec) for s in info.subtitle_streams if (codec := _subtitle_codec(s, container))]
    for k, (subtitle, codec) in enumerate(kept):
        args += [
            "-map",
            f"1:{subtitle.index}",
            f"-c:s:{k}",
            codec,
            f"-map_metadata:s:s:{k}",
            f"1:s:{subtitle.index}",
        ]
    name = container.name.upper()
    dropped += [
        f"{s.describe()}: a bitmap subtitle {'an' if name[0] in 'AEIMO' else 'a'} {name} cannot hold"
        for s in info.subtitle_streams
        if not _subtitle_codec(s, container)
    ]
    dropped += [s.describe() for s in info.other_streams]
    return args, dropped


def _video_codec(path: Path) -> str:
    with av.open(os.fspath(path)) as container:
        return container.streams.video[0].codec_context.name


def stitch(parts: Sequence[Part], output: Path, *, info: VideoInfo, work_dir: Path) -> list[str]:
    """Join `parts` (in order) with the source's other streams into `output`; returns
    descriptions of the source streams that could not be kept."""
    output = Path(output)
    video = work_dir / f"video-{os.getpid()}{parts[0].path.suffix if parts else '.mp4'}"
    container = container_for(output.suffix)
    streams, dropped = output_streams(info, container)
    args: list[str | Path] = [
        "-copyts",
        "-i",
        video,
        "-itsoffset",
        f"{-info.origin:.6f}",
        "-i",
        info.path,
        "-map",
        "0:v:0",
        *streams,
        "-c:v",
        "copy",
        "-map_metadata",
        "1",
        "-map_metadata:s:v:0",
        f"1:s:{info.stream_index}",
        "-map_chapters",
        "1",
        *(["-movflags", "+faststart"] if container.faststart else []),
        "-f",
        container.muxer,
        "-y",
    ]
    failed = "joining segments into {name} failed: {reason}"
    try:
        with translate_av_errors(StitchError, failed, name=output.name):
            expected = join_video(parts, video, info.time_base, info.last_frame_duration)
            if container.name in ("mp4", "mov") and _video_codec(video) == "hevc":
                args[-3:-3] = ["-tag:v", "hvc1"]  # Apple's players refuse hev1
            with atomic_path(output) as partial:
                run_ffmpeg(
                    [*args, partial], what=f"joining {len(parts)} segments into {output.name}", error=StitchError
                )
                frames = count_video_packets(partial)
                if frames != expected:
                    raise StitchError(f"joined file has {frames} frames, expected {expected}; nothing was written")
                if cancel_marker(work_dir).exists():  # the job was stopped while it stitched: write nothing
                    raise JobCancelledError()
    finally:
        video.unlink(missing_ok=True)
    return dropped
