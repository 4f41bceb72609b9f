"""What finished jobs report: a render's output, timings, segments and what of the
source it could not keep (`JobResult`); a comparison's two runs side by side (`Comparison`)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..media.codecs import CODECS
from ..media.encode import EncodeSettings
from ..media.filters import FilterChain
from ..media.probe import VideoInfo
from ..segments.render import SegmentResult


@dataclass
class JobResult:
    """Outcome and timings of one render job."""

    input: Path
    output: Path
    filters: str
    scheduler: str
    workers: int
    threads_per_worker: int
    segment_seconds: float
    encode: EncodeSettings
    info: VideoInfo
    segments: list[SegmentResult]
    frames: int
    wall_seconds: float
    stitch_seconds: float
    cpu_percent: float
    """Average utilisation of all local cores while the job ran, 0–100."""
    started_at: float = field(default_factory=time.time)
    worker_metrics: list[dict[str, Any]] = field(default_factory=list)
    """Per-worker CPU and memory samples from a cluster's scheduler (empty for local jobs)."""
    recommendation: dict[str, Any] | None = None
    """The advisor's recommendation, when workers were not given."""
    timeline: list[dict[str, Any]] = field(default_factory=list)
    """Monitor samples (machine and job processes) taken while the job ran."""
    job_id: int | None = None
    """Id of this job in the history (None when not recorded)."""
    warnings: list[str] = field(default_factory=list)
    """What of the source the output could not keep (streams, transparency, damaged frames)."""
    segment_timeline: list[dict[str, Any]] = field(default_factory=list)
    """When and on which worker each segment ran (`renderrush.segments.timeline`); "timeline" in `to_dict()`."""
    input_bytes_to_workers: int = 0
    """Input bytes sent to cluster workers, summed over workers (0 for local jobs)."""
    output_bytes_from_workers: int = 0
    """Segment bytes cluster workers sent back (0 for local jobs and shared storage)."""
    input_bytes_by_worker: dict[str, int] = field(default_factory=dict)
    """Input bytes each cluster worker received, by its address (empty for local jobs)."""
    joins: list[dict[str, Any]] = field(default_factory=list)
    """Quality either side of each segment join against the segments' middles (`joins.join_report`)."""

    @property
    def fps(self) -> float:
        """Frames per second of the whole job, stitching included."""
        return self.frames / self.wall_seconds if self.wall_seconds > 0 else 0.0

    @property
    def quality(self) -> dict[str, Any]:
        """The worst segment's figures (`worst_psnr`, `worst_ssim`, `worst_vmaf`, None where
        no segment has one) and the VMAF model: the whole output is as good as its worst part."""
        measured = [s.quality for s in self.segments if s.quality]

        def worst(key: str) -> float | None:
            values = [q[key] for q in measured if q.get(key) is not None]
            return min(values) if values else None

        models = {q.get("vmaf_model") for q in measured} - {None}
        return {
            "worst_psnr": worst("psnr"),
            "worst_ssim": worst("ssim"),
            "worst_vmaf": worst("vmaf"),
            "vmaf_model": models.pop() if len(models) == 1 else None,
        }

    @property
    def frames_reused(self) -> int:
        """Frames taken over from an interrupted earlier run (resume)."""
        return sum(s.frames for s in self.segments if s.reused)

    def to_dict(self) -> dict[str, Any]:
        return {
            "input": str(self.input),
            "output": str(self.output),
            "filters": self.filters,
            "scheduler": self.scheduler,
            "workers": self.workers,
            "threads_per_worker": self.threads_per_worker,
            "segment_seconds": self.segment_seconds,
            "preset": self.encode.preset,
            "crf": self.encode.crf,
            "encoder_threads": self.encode.threads,
            "codec": self.encode.codec,
            "bit_depth": self.encode.depth,
            "tonemap": self.encode.tonemap,
            "video": self.info.to_dict(),
            "segments": [{k: v for k, v in vars(s).items() if k != "data"} for s in self.segments],
            "quality": self.quality,
            "frames": self.frames,
            "frames_reused": self.frames_reused,
            "wall_seconds": self.wall_seconds,
            "stitch_seconds": self.stitch_seconds,
            "fps": self.fps,
            "cpu_percent": self.cpu_percent,
            "started_at": self.started_at,
            "worker_metrics": self.worker_metrics,
            "recommendation": self.recommendation,
            "job_id": self.job_id,
            "warnings": self.warnings,
            "timeline": self.segment_timeline,
            "input_bytes_to_workers": self.input_bytes_to_workers,
            "output_bytes_from_workers": self.output_bytes_from_workers,
            "input_bytes_by_worker": self.input_bytes_by_worker,
            "joins": self.joins,
        }


def source_warnings(
    info: VideoInfo,
    results: list[SegmentResult],
    dropped: list[str],
    encode: EncodeSettings | None = None,
    chain: FilterChain | None = None,
) -> list[str]:
    """One description for each thing of the source the output does not keep as it was."""
    encode = encode or EncodeSettings()
    label = CODECS[encode.codec].label
    notes = [f"not kept: {item}" for item in dropped]
    if info.has_alpha:
        notes.append(f"transparency composited on black ({label} has no alpha)")
    if info.bit_depth > encode.depth and not encode.tonemap:
        notes.append(f"{info.bit_depth}-bit video written as {encode.depth}-bit {label}")
    if info.hdr and info.hdr.dolby_vision and not encode.tonemap:
        notes.append(f"Dolby Vision {info.hdr.dolby_vision} RPU dropped: its HLG/HDR10 base layer is rendered")
    if info.hdr and info.hdr.hdr10_plus and not encode.tonemap:
        notes.append("HDR10+ dynamic metadata dropped: the static HDR10 metadata is kept")
    eight_bit = chain.eight_bit_filters() if chain is not None and encode.depth > 8 and info.bit_depth > 8 else []
    if eight_bit:
        notes.append(
            f"filters {', '.join(eight_bit)} get 8-bit BGR: the {info.bit_depth}-bit source loses precision "
            "through them; register them with depth=16 to get 16-bit BGR"
        )
    damaged = sum(r.damaged for r in results) or info.damaged_frames
    frames = sum(r.frames for r in results)
    concealed = sum(r.concealed for r in results)
    if concealed:
        notes.append(f"{concealed} damaged frames were shown as the decoder concealed them")
    if damaged:
        notes.append(f"{damaged} damaged packets could not be decoded; their frames are missing")
    elif frames != info.frame_count:
        notes.append(f"the decoder gave {frames} frames where the file lists {info.frame_count}")
    return notes


@dataclass
class Comparison:
    """Sequential and parallel runs of one job side by side."""

    sequential: JobResult
    parallel: JobResult
    identical: bool
    """Both outputs decode to exactly the same frames."""
    job_id: int | None = None
    """Id of this comparison in the history (None when not recorded)."""
    startup_seconds: float = 0.0
    """Starting the parallel run's worker processes, done before it is timed (a one-off
    cost per session: later jobs find them warm); reported, not hidden."""
    sequential_cpu_seconds: float | None = None
    """CPU seconds the sequential run used (this process and the children it waited for:
    the whole run, which renders in this process); None when not measured."""
    cores: int = 0
    """Cores this process could use when the comparison ran (0: not known)."""

    @property
    def workers(self) -> int:
        return self.parallel.workers

    @property
    def speedup(self) -> float:
        return self.sequential.wall_seconds / self.parallel.wall_seconds

    @property
    def efficiency(self) -> float:
        """Speedup per worker: 1.0 means every worker added its full share."""
        return self.speedup / self.workers

    @property
    def ceiling(self) -> float | None:
        """The most speedup this machine's cores allow the job: the sequential run spent
        `sequential_cpu_seconds` in its wall time, and a parallel run that kept every core
        busy at the same CPU per frame would take CPU / cores, so speedup <= cores x wall /
        CPU (and <= workers). A run whose one pipeline already keeps the cores busy (x264
        uses them all) has a ceiling near 1; a filter that holds one core, near the cores.
        The parallel run costs some more CPU (seeks, encoder starts), so it stays below."""
        if not self.sequential_cpu_seconds or not self.cores:
            return None
        return min(float(self.workers), self.cores * self.sequential.wall_seconds / self.sequential_cpu_seconds)

    def summary(self) -> str:
        """A few lines that explain the numbers, including why speedup may be below N."""
        seq, par = self.sequential, self.parallel
        return (
            f"sequential: {seq.wall_seconds:.2f} s, {seq.fps:.0f} fps, CPU {seq.cpu_percent:.0f}% of all cores\n"
            f"parallel ({par.workers} workers, {par.scheduler}): {par.wall_seconds:.2f} s, {par.fps:.0f} fps, "
            f"CPU {par.cpu_percent:.0f}%\n"
            f"speedup {self.speedup:.2f}x, efficiency {self.efficiency:.0%} per worker, "
            f"frames {seq.frames}/{par.frames}, outputs {'identical' if self.identical else 'DIFFER'}"
            + self._ceiling_line()
            + (
                f"\n(starting the worker processes took {self.startup_seconds:.2f} s before the timed run)"
                if self.startup_seconds >= 0.05
                else ""
            )
        )

    def _ceiling_line(self) -> str:
        ceiling = self.ceiling
        if ceiling is None or self.sequential_cpu_seconds is None:
            return ""
        busy = self.sequential_cpu_seconds / self.sequential.wall_seconds
        return (
            f"\nceiling {ceiling:.2f}x on {self.cores} cores (cores x wall / CPU): the sequential run "
            f"already kept {busy:.1f} of {self.cores} cores busy"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "input": str(self.sequential.input),
            "filters": self.sequential.filters,
            "workers": self.workers,
            "segments": len(self.parallel.segments),
            "segment_seconds": self.parallel.segment_seconds,
            "sequential_seconds": self.sequential.wall_seconds,
            "parallel_seconds": self.parallel.wall_seconds,
            "speedup": self.speedup,
            "efficiency": self.efficiency,
            "sequential_frames": self.sequential.frames,
            "parallel_frames": self.parallel.frames,
            "sequential_cpu_percent": self.sequential.cpu_percent,
            "parallel_cpu_percent": self.parallel.cpu_percent,
            "identical": self.identical,
            "startup_seconds": self.startup_seconds,
            "sequential_cpu_seconds": self.sequential_cpu_seconds,
            "cores": self.cores,
            "ceiling": self.ceiling,
            "job_id": self.job_id,
            "sequential": self.sequential.to_dict(),
            "parallel": self.parallel.to_dict(),
        }
