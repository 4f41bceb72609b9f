"""Measure what an encoder made of its input, while it encodes: luma PSNR and SSIM, VMAF
on request. `measured_writer` picks the meter.

`EncoderMeter` reads the figures x264 computes itself on every frame as it encodes: no
decoding, 0.56 ms per 720p frame against 2.97 for `QualityMeter` (one thread, veryfast).
It is used where they are exact enough (x264 on one thread, no VMAF; see its docstring).

`QualityMeter` sits beside a segment's encoder. It keeps a copy of the luma plane of each
sampled input frame (`keep`), decodes the encoder's packets as they come out (`packets`),
and compares each decoded frame with the input it came from, then forgets both: memory is
the encoder's delay in frames, whatever the segment length. The sample (`sampled_frames`)
is the segment's first and last frame and every `SAMPLE_EVERY`-th between; frames outside
it are not decoded at all where the codec lets a decoder skip them (non-reference frames).

The figures are computed as ffmpeg's own `psnr` and `ssim` filters compute them, so the two
agree: PSNR from the mean squared error of the segment's frames (`-10 log10(mse / 255^2)`,
capped at `PSNR_CAP` for identical pictures), SSIM as the mean over frames of x264's SSIM
(8x8 windows on a 4-pixel grid, the constants of Wang et al.). Both means are estimated
from the sample as `segment_mean` weighs it.

VMAF needs every frame in order (its motion feature compares neighbours), and PyAV's
FFmpeg has no libvmaf: with `vmaf=True` each input luma plane is kept until its decoded
frame arrives and both are piped, stacked in one picture, to the ffmpeg binary's
`libvmaf` filter (model `VMAF_MODEL`, built into that binary), which runs on another core.
"""

from __future__ import annotations

import gc
import math
import re
import struct
from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, cast

import av
import cv2
import numpy as np

from ..core.errors import FFmpegError
from .avlog import closing_report
from .decode import Picture
from .encode import EncodeSettings, SegmentWriter
from .tags import VideoTags
from .vmaf import VMAF_MODEL, VmafPipe

SAMPLE_EVERY = 11
"""Every 11th frame of a segment is measured, with its first and last (`sampled_frames`).
A prime: no encoder's frame-type pattern (mini-GOPs of 2 to 8 or 16 frames) repeats with
it, so the sample meets every kind of frame. Every 10th frame met x265's period-5 anchor
frames only: its estimate of a segment's PSNR was 1.0 dB high on HEVC (0.2-1.5 dB on the
other codecs, with the keyframe counted as a tenth of the frames); every 11th, within 0.1 dB
at 60 and 150 frames and 0.2 dB at 25 (x264, x265, SVT-AV1, libvpx; docs/design.md)."""
PSNR_CAP = 100.0
"""PSNR reported for identical pictures (ffmpeg says inf, which JSON cannot hold)."""
DECODERS = {"av1": "libdav1d"}
"""Decoders to use for a codec whose FFmpeg-native decoder cannot decode in software."""


@dataclass(frozen=True)
class Quality:
    """Encoded quality of one segment against the frames that went into its encoder."""

    psnr: float
    """Luma PSNR in dB over the measured frames (from their mean squared error)."""
    ssim: float
    """Mean luma SSIM of the measured frames, 0..1."""
    vmaf: float | None = None
    """Mean VMAF over every frame, 0..100 (None unless asked for)."""
    vmaf_model: str | None = None
    frames: int = 0
    """Frames measured for PSNR and SSIM."""
    sample_every: int = SAMPLE_EVERY
    """1 when every frame was measured; n when the first, the last and every n-th were."""
    edges: tuple[float, float, float] | None = None
    """PSNR of the first frame, of the middle (the measured frames in the middle third) and
    of the last frame: a join whose sides differ from their middles pulses."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "psnr": round(self.psnr, 3),
            "ssim": round(self.ssim, 5),
            "vmaf": None if self.vmaf is None else round(self.vmaf, 3),
            "vmaf_model": self.vmaf_model,
            "frames": self.frames,
            "sample_every": self.sample_every,
            "edges": None if self.edges is None else dict(zip(("first", "middle", "last"), map(_dB, self.edges))),
        }


def _dB(value: float) -> float:
    return round(value, 3)


def edge_psnr(frame_mse: dict[int, float], frames: int, peak: int = 255) -> tuple[float, float, float] | None:
    """(first, middle, last) PSNR of a segment of `frames` frames from the squared error of
    its measured frames (the middle: those in its middle third, else the one nearest it)."""
    if 0 not in frame_mse or frames - 1 not in frame_mse:
        return None
    middle = [mse for index, mse in frame_mse.items() if frames / 3 <= index <= 2 * frames / 3]
    if not middle:
        middle = [frame_mse[min(frame_mse, key=lambda index: abs(index - frames / 2))]]
    first, last = frame_mse[0], frame_mse[frames - 1]
    return psnr_of(first, peak), psnr_of(sum(middle) / len(middle), peak), psnr_of(last, peak)


def psnr_of(mse: float, peak: int = 255) -> float:
    """Luma PSNR of pictures whose samples reach `peak` (255 at 8 bits, 1023 at 10) with mean
    squared error `mse`, as ffmpeg computes it."""
    return PSNR_CAP if mse <= 0 else min(PSNR_CAP, 10 * math.log10(float(peak) ** 2 / mse))


def peak_of(pix_fmt: str) -> int:
    """The largest sample value of a pixel format: 255 at 8 bits, 1023 at 10."""
    return (1 << av.VideoFormat(pix_fmt).components[0].bits) - 1


def mse_of(reference: np.ndarray, distorted: np.ndarray) -> float:
    diff = reference.astype(np.int32) - distorted
    return float(np.einsum("ij,ij->", diff, diff, dtype=np.int64)) / diff.size


def _block_sums(plane: np.ndarray) -> np.ndarray:
    """Sums over 4x4 blocks of a plane whose sides are multiples of 4: OpenCV's area resize
    at a whole factor is the block mean, exact for these integers (float32 at 8 bits,
    float64 above: 10-bit squares summed over a block pass float32's 2^24)."""
    rows, cols = plane.shape[0] // 4, plane.shape[1] // 4
    return cv2.resize(plane, (cols, rows), interpolation=cv2.INTER_AREA) * 16


def ssim_of(reference: np.ndarray, distorted: np.ndarray, peak: int = 255) -> float:
    """x264's SSIM of two luma planes whose samples reach `peak`, as ffmpeg's `ssim` filter
    computes it: sums over 4x4 blocks, combined into overlapping 8x8 windows on a 4-pixel
    grid (pixels past the last whole block are left out, as there), its constants scaled to
    the peak as in its 16-bit path."""
    rows, cols = reference.shape[0] // 4 * 4, reference.shape[1] // 4 * 4
    if rows < 8 or cols < 8:
        return 1.0 if np.array_equal(reference, distorted) else 0.0
    exact = np.dtype(np.float32 if peak <= 255 else np.float64)
    a: np.ndarray = reference[:rows, :cols].astype(exact)
    b: np.ndarray = distorted[:rows, :cols].astype(exact)
    sums = [_block_sums(x) for x in (a, b, a * a + b * b, a * b)]
    s1, s2, ss, s12 = ((x[:-1, :-1] + x[1:, :-1] + x[:-1, 1:] + x[1:, 1:]).astype(np.float64) for x in sums)
    c1 = math.floor(0.01 * 0.01 * peak * peak * 64 + 0.5)
    c2 = math.floor(0.03 * 0.03 * peak * peak * 64 * 63 + 0.5)
    variance = ss * 64 - s1 * s1 - s2 * s2
    covariance = s12 * 64 - s1 * s2
    ssim = (2 * s1 * s2 + c1) * (2 * covariance + c2) / ((s1 * s1 + s2 * s2 + c1) * (variance + c2))
    return float(ssim.mean())


def sampled_frames(frames: int, every: int = SAMPLE_EVERY) -> frozenset[int]:
    """The frames of a segment of `frames` frames that are measured: its first and last, every
    `every`-th between them, and its middle one where no other lies between."""
    inner = set(range(every, frames - 1, every)) or ({frames // 2} if frames > 2 else set())
    return frozenset({0, frames - 1} | inner) if frames > 0 else frozenset()


def segment_mean(values: dict[int, float], frames: int) -> float:
    """The mean over a segment's `frames` frames of a figure measured on some of them (by
    frame index). The first frame (a keyframe) and the last are coded unlike the rest and
    stand only for themselves; the measured frames between stand for all the frames between.
    With every frame measured, the plain mean."""
    ends = [value for index, value in values.items() if index in (0, frames - 1)]
    inner = [value for index, value in values.items() if 0 < index < frames - 1]
    if not inner:
        return sum(ends) / len(ends)
    return (sum(ends) + (frames - len(ends)) * sum(inner) / len(inner)) / frames


def luma(frame: av.VideoFrame, width: int, height: int) -> np.ndarray:
    """A copy of the visible luma plane of a YUV frame (uint16 samples above 8 bits)."""
    plane = frame.planes[0]
    dtype = np.dtype(np.uint8 if frame.format.components[0].bits <= 8 else np.uint16)
    rows = np.frombuffer(memoryview(plane), dtype).reshape(-1, plane.line_size // dtype.itemsize)
    return rows[:height, :width].copy()


def measured_writer(
    path: str | Path,
    fps: Fraction,
    encode: EncodeSettings,
    picture: Picture,
    tags: VideoTags,
    frames: int,
    *,
    vmaf: bool = False,
) -> tuple[SegmentWriter, EncoderMeter | QualityMeter]:
    """A segment writer for `frames` frames and the meter that measures what it encodes:
    the encoder's own figures where they are exact (x264 on one thread, without VMAF:
    `EncoderMeter`), else a `QualityMeter` decoding its packets. If the meter cannot start,
    the writer is abandoned (its file removed) and the error raised. Segments and the CRF
    search's probes (VMAF) both make their writers here."""
    writer = SegmentWriter(path, fps, encode, picture, tags, measure=not vmaf)
    if writer.measures:
        return writer, EncoderMeter(writer, frames)
    return writer, meter_beside(writer, frames, vmaf=vmaf)


def meter_beside(writer: SegmentWriter, frames: int, *, vmaf: bool = False) -> QualityMeter:
    """A meter that decodes every packet `writer` muxes, for a segment of `frames` frames;
    if it cannot start, the writer is abandoned (its file removed) and the error raised."""
    context = writer.stream.codec_context
    try:
        meter = QualityMeter(context, context.width, context.height, frames, fps=1 / context.time_base, vmaf=vmaf)
    except BaseException:
        writer.abandon()
        raise
    writer.on_packets = meter.packets
    return meter


SSIM_REPORT = re.compile(r"SSIM Mean Y:\s*([0-9.]+)")
"""x264's closing report line with the mean luma SSIM of every frame it encoded."""


def _ssim_in(report: Iterable[str]) -> list[float]:
    return [float(m.group(1)) for line in report if (m := SSIM_REPORT.search(line))]


class EncoderMeter:
    """The figures x264 computes while it encodes (`SegmentWriter(measure=True)`), for every
    frame and without decoding anything: each packet's side data carries its frame's luma
    squared error (PSNR as ffmpeg's `psnr` filter computes it), and x264's closing report
    the mean of every frame's luma SSIM (the algorithm ffmpeg's `ssim` filter took from x264).
    Against ffmpeg's filters on the decoded file, measured on grainy and clean clips at CRF
    18-51: keyframes and P-frames agree exactly; non-reference B-frames within 0.07 dB (x264
    measures its picture of a frame nothing refers to without the loop filter); a segment's
    PSNR within 0.02 dB; SSIM within 0.01 (x264 places its windows two pixels in from the
    frame's edge, ffmpeg at the edge: 0.005-0.008 apart at CRF 18-45, 0.010 at CRF 51 on heavy
    grain). It has `QualityMeter`'s calls, so a segment uses either."""

    def __init__(self, writer: SegmentWriter, frames: int) -> None:
        self.writer, self.frames = writer, frames
        context = writer.stream.codec_context
        self.pixels = context.width * context.height
        self.frame_mse: dict[int, float] = {}
        """Squared error of every frame, by index."""
        writer.on_packets = self.packets

    def keep(self, frame: av.VideoFrame) -> None:
        """Nothing to keep: the encoder compares its input itself."""

    def packets(self, packets: Iterable[av.Packet]) -> None:
        for packet in packets:
            stats = bytes(packet.get_sidedata("quality_stats"))
            # AVPacketSideData QUALITY_STATS: u32 quality, u8 picture type, u8 error count, 2 bytes, u64 errors
            if len(stats) >= 16 and stats[5] >= 1 and packet.pts is not None:
                (luma_sse,) = struct.unpack_from("<Q", stats, 8)
                self.frame_mse[int(packet.pts)] = luma_sse / self.pixels

    def finish(self) -> Quality:
        """The segment's figures, once the writer has finished (closed its encoder)."""
        found = _ssim_in(self.writer.report)
        if not found:
            # a reference cycle kept the encoder alive past the writer's end: free it here, where
            # its closing report is heard
            with closing_report() as late:
                gc.collect()
            found = _ssim_in(late)
        if not self.frame_mse or not found:
            raise FFmpegError("measuring quality failed: the encoder reported no figures")
        measured = len(self.frame_mse)
        return Quality(
            psnr=psnr_of(sum(self.frame_mse.values()) / measured),
            ssim=found[-1],
            frames=measured,
            sample_every=1,
            edges=edge_psnr(self.frame_mse, self.frames),
        )

    def close(self) -> None:
        """Nothing to release."""


class QualityMeter:
    """Compares an encoder's input frames with its decoded output as it encodes (see the
    module's docstring). Call `keep` with each input frame before encoding it, `packets`
    with each batch of packets the encoder returns (before they are muxed), `finish` once
    the encoder is flushed."""

    def __init__(
        self,
        codec: av.CodecContext,
        width: int,
        height: int,
        frames: int,
        *,
        fps: Fraction = Fraction(25),
        vmaf: bool = False,
        every: int = SAMPLE_EVERY,
    ) -> None:
        self.width, self.height, self.frames, self.every = width, height, frames, every
        name = codec.codec.canonical_name
        self.decoder: Any = av.CodecContext.create(DECODERS.get(name, name), "r")  # a video decoder
        self.decoder.extradata = codec.extradata
        self.decoder.thread_count = 1
        self.peak = peak_of(cast(av.VideoCodecContext, codec).pix_fmt or "yuv420p")
        """The largest sample value (1023 for a 10-bit encoder): PSNR and SSIM are on its scale."""
        self._skipping = False
        self._next = 0
        """Index of the next input frame."""
        self.sample = sampled_frames(frames, every)
        self._inputs: dict[int, np.ndarray] = {}
        self.frame_mse: dict[int, float] = {}
        """Squared error of each measured frame, by index (a few per segment)."""
        self.frame_ssim: dict[int, float] = {}
        self.vmaf = VmafPipe(width, height, fps, peak=self.peak) if vmaf else None

    def _wanted(self, index: int) -> bool:
        return self.vmaf is not None or index in self.sample

    def keep(self, frame: av.VideoFrame) -> None:
        """Note the next input frame (the encoder is about to take it)."""
        if self._wanted(self._next):
            self._inputs[self._next] = luma(frame, self.width, self.height)
        self._next += 1

    def packets(self, packets: Iterable[av.Packet]) -> None:
        """Decode the encoder's `packets`, measuring the frames that come out."""
        for packet in packets:
            # frames no one measures need not be decoded, unless later frames refer to them
            skip = packet.pts is not None and not self._wanted(int(packet.pts))
            if skip != self._skipping:
                self.decoder.skip_frame = "NONREF" if skip else "DEFAULT"
                self._skipping = skip
            self._measure(self.decoder.decode(packet))

    def _measure(self, decoded: Iterable[av.VideoFrame]) -> None:
        for frame in decoded:
            index = frame.pts
            reference = self._inputs.pop(index, None) if index is not None else None
            if index is None or reference is None:
                continue
            output = luma(frame, self.width, self.height)
            if index in self.sample:
                self.frame_mse[index] = mse_of(reference, output)
                self.frame_ssim[index] = ssim_of(reference, output, self.peak)
            if self.vmaf is not None:
                self.vmaf.add(reference, output)

    def finish(self) -> Quality:
        """Flush the decoder and return the segment's figures."""
        if self._skipping:
            self.decoder.skip_frame = "DEFAULT"
        self._measure(self.decoder.decode(None))
        vmaf = self.vmaf.finish() if self.vmaf is not None else None
        if not self.frame_mse:
            raise FFmpegError("measuring quality failed: no encoded frame could be decoded back")
        return Quality(
            psnr=psnr_of(segment_mean(self.frame_mse, self.frames), self.peak),
            ssim=segment_mean(self.frame_ssim, self.frames),
            vmaf=vmaf,
            vmaf_model=VMAF_MODEL if vmaf is not None else None,
            frames=len(self.frame_mse),
            sample_every=self.every,
            edges=edge_psnr(self.frame_mse, self.frames, self.peak),
        )

    def close(self) -> None:
        """Release the VMAF process of a segment that did not finish."""
        if self.vmaf is not None:
            self.vmaf.close()
