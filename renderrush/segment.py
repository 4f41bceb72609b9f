"""Render one segment: an ffmpeg decoder process streams raw frames from the exact start
frame, Python filters them in a single reused buffer, and an ffmpeg/libx264 encoder
process writes the segment file. Decode and encode run beside the filter on other cores;
memory stays at a few frames whatever the segment length."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from .errors import RenderRushError, SegmentError, SettingsError
from .ffmpeg import ffmpeg_command, error_reason
from .filters import FilterChain
from .outputs import partial_path
from .plan import Segment
from .progress import DONE, Reporter

X264_PARAMS = "sliced-threads=1:sync-lookahead=0"
"""x264 threads split each frame into slices encoded in lockstep, with no asynchronous
lookahead thread: the output depends only on the input and the thread count (threaded
lookahead made equal runs differ now and then), and it encoded 720p about 20% faster here
than frame threads without lookahead (152 vs 125 fps), for ~0.7% larger files at equal PSNR."""

PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow")


@dataclass(frozen=True)
class EncodeSettings:
    """x264 settings of every segment; `threads` is fixed per job so output never
    depends on the worker count (x264's output changes with its thread count); see
    `X264_PARAMS` for why equal runs give equal output."""

    preset: str = "veryfast"
    crf: float = 23
    threads: int = 2

    def __post_init__(self) -> None:
        if self.preset not in PRESETS:
            raise SettingsError(f"unknown x264 preset '{self.preset}'; use one of {', '.join(PRESETS)}")
        if isinstance(self.crf, bool) or not isinstance(self.crf, (int, float)) or not 0 <= self.crf <= 51:
            raise SettingsError(f"CRF must be between 0 (lossless) and 51 (worst), got {self.crf}")
        if self.threads < 1:
            raise SettingsError(f"encoder threads must be at least 1, got {self.threads}")


@dataclass(frozen=True)
class SegmentJob:
    """Everything a worker needs to render one segment (small and picklable)."""

    source: str
    segment: Segment
    width: int
    height: int
    fps: Fraction
    chain: FilterChain
    encode: EncodeSettings
    threads: int
    """Decoder and OpenCV threads of this worker."""
    output: str
    """Segment file to write; it appears only once the segment is complete."""
    crop: bool = False
    """The source has an odd side: the decoder crops it to `width` x `height`."""
    reporter: Reporter | None = None


@dataclass(frozen=True)
class SegmentResult:
    """What a segment task returns: small, so it travels cheaply back to the caller."""

    index: int
    frames: int
    seconds: float
    output: str
    bytes: int
    worker_pid: int
    worker: str = ""
    """Host (and dask worker address on a cluster) that rendered the segment."""
    data: bytes | None = None
    """The segment file's bytes, when it travels back from a cluster worker."""
    reused: bool = False
    """Taken over from an interrupted earlier run instead of rendered again."""


def even_size(width: int, height: int) -> tuple[int, int]:
    """Frame size RenderRush outputs: H.264 4:2:0 needs even sides, so an odd last
    column or row is cropped off."""
    return width - width % 2, height - height % 2


def decoder_args(job: SegmentJob) -> list[str]:
    """ffmpeg arguments that decode exactly the segment's frames as raw video on stdout."""
    seek = ["-ss", f"{job.segment.seek_time:.6f}"] if job.segment.index and job.segment.seek_time > 0 else []
    crop = ["-vf", f"crop={job.width}:{job.height}:0:0"] if job.crop else []
    return ffmpeg_command(
        "-threads", str(job.threads), "-filter_threads", str(job.threads),
        *seek, "-i", job.source,
        "-map", "0:v:0", "-frames:v", str(job.segment.frames),
        *crop, "-fps_mode", "passthrough",
        "-f", "rawvideo", "-pix_fmt", job.chain.pixel_format, "pipe:1",
    )  # fmt: skip


def encoder_args(job: SegmentJob) -> list[str]:
    """ffmpeg arguments that encode raw frames from stdin to an H.264 segment file."""
    return ffmpeg_command(
        "-f", "rawvideo", "-pix_fmt", job.chain.pixel_format, "-s", f"{job.width}x{job.height}",
        "-framerate", str(job.fps), "-i", "pipe:0",
        "-c:v", "libx264", "-preset", job.encode.preset, "-crf", f"{job.encode.crf:g}",
        "-threads", str(job.encode.threads), "-x264-params", X264_PARAMS, "-pix_fmt", "yuv420p", "-an", "-f", "mp4", "-y", partial_path(Path(job.output)),
    )  # fmt: skip


def _set_opencv_threads(threads: int) -> None:
    import cv2

    cv2.setNumThreads(threads)


def _stderr_reason(path: Path) -> str:
    try:
        return error_reason(path.read_text(errors="replace"))
    except OSError:
        return "no message from ffmpeg"


def _filtered(job: SegmentJob, buffer: np.ndarray, offset: int) -> np.ndarray:
    """Apply the chain, turning any failure (user filters included) into a SegmentError."""
    try:
        return job.chain.apply(buffer, job.width, job.height)
    except Exception as exc:
        frame = job.segment.start + offset
        detail = str(exc) if isinstance(exc, RenderRushError) else f"{type(exc).__name__}: {exc}"
        raise SegmentError(job.segment.index, f"filters '{job.chain}' failed on frame {frame}: {detail}") from None


def render_segment(job: SegmentJob) -> SegmentResult:
    """Decode, filter and encode one segment; raises `SegmentError` naming the segment."""
    started = time.perf_counter()
    _set_opencv_threads(job.threads)
    progress = job.reporter or _SilentReporter()
    progress.update(0, force=True)
    out = Path(job.output)
    dec_log, enc_log = out.with_suffix(".decoder.log"), out.with_suffix(".encoder.log")
    frame_bytes = job.chain.frame_bytes(job.width, job.height)
    buffer = np.empty(frame_bytes, dtype=np.uint8)
    view = memoryview(buffer)
    written = 0
    with open(dec_log, "wb") as dec_err, open(enc_log, "wb") as enc_err:
        decoder = subprocess.Popen(decoder_args(job), stdout=subprocess.PIPE, stderr=dec_err, bufsize=frame_bytes)
        encoder = subprocess.Popen(encoder_args(job), stdin=subprocess.PIPE, stderr=enc_err, bufsize=0)
        try:
            while written < job.segment.frames and decoder.stdout.readinto(view) == frame_bytes:
                encoder.stdin.write(_filtered(job, buffer, written))
                written += 1
                progress.update(written)
            encoder.stdin.close()
            encoder.wait()
        except BrokenPipeError:
            encoder.wait()
        finally:
            for proc in (decoder, encoder):
                if proc.poll() is None:
                    proc.kill()
                proc.wait()
            decoder.stdout.close()
    if encoder.returncode != 0:
        raise SegmentError(job.segment.index, f"encoder: {_stderr_reason(enc_log)}")
    if written < job.segment.frames:
        reason = _stderr_reason(dec_log).replace("no message from ffmpeg", "the input ended early")
        raise SegmentError(
            job.segment.index,
            f"decoded {written} of {job.segment.frames} frames from frame {job.segment.start} "
            f"({reason}); the input may be corrupt or truncated there",
        )
    dec_log.unlink(missing_ok=True)
    enc_log.unlink(missing_ok=True)
    os.replace(partial_path(out), out)
    progress.update(written, DONE, force=True)
    return SegmentResult(
        index=job.segment.index,
        frames=written,
        seconds=time.perf_counter() - started,
        output=str(out),
        bytes=out.stat().st_size,
        worker_pid=os.getpid(),
        worker=socket.gethostname(),
    )


class _SilentReporter:
    """Reporter for segments rendered without progress reporting."""

    def update(self, frames: int, state: str = "", force: bool = False) -> None:
        pass
