"""Join rendered segments into the final MP4 without re-encoding video, adding the
source's audio (copied when it is AAC, else encoded to AAC). The result is written
under a temporary name and renamed into place only once its frame count is checked."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import av

from .errors import StitchError
from .ffmpeg import run_ffmpeg
from .outputs import partial_path


def concat_list(paths: Sequence[str | Path]) -> str:
    """ffconcat text listing `paths` in order, quoted for the concat demuxer."""
    quoted = ("file '" + str(Path(p).absolute()).replace("'", "'\\''") + "'" for p in paths)
    return "ffconcat version 1.0\n" + "\n".join(quoted) + "\n"


def count_video_packets(path: Path) -> int:
    """Video frames in a file we wrote (one packet per frame for H.264)."""
    with av.open(os.fspath(path)) as container:
        return sum(1 for packet in container.demux(video=0) if packet.size)


def stitch(
    segment_files: Sequence[str | Path],
    output: Path,
    expected_frames: int,
    audio_source: Path | None = None,
    audio_codec: str | None = None,
) -> Path:
    """Concatenate `segment_files` (+ audio from `audio_source`) into `output`."""
    output = Path(output)
    listing = output.with_name(f".{output.stem}.segments-{os.getpid()}.ffconcat")
    tmp = partial_path(output)
    args: list[str | Path] = ["-f", "concat", "-safe", "0", "-i", listing]
    if audio_source is not None:
        audio = ["-c:a", "copy"] if audio_codec == "aac" else ["-c:a", "aac", "-b:a", "192k"]
        args += ["-i", audio_source, "-map", "0:v:0", "-map", "1:a:0", *audio]
    else:
        args += ["-map", "0:v:0", "-an"]
    args += ["-c:v", "copy", "-movflags", "+faststart", "-f", "mp4", "-y", tmp]
    try:
        listing.write_text(concat_list(segment_files))
        run_ffmpeg(args, what=f"joining {len(segment_files)} segments into {output.name}", error=StitchError)
        frames = count_video_packets(tmp)
        if frames != expected_frames:
            raise StitchError(f"joined file has {frames} frames, expected {expected_frames}; nothing was written")
        os.replace(tmp, output)
    finally:
        tmp.unlink(missing_ok=True)
        listing.unlink(missing_ok=True)
    return output
