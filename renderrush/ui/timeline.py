"""The segment timeline as a chart: one bar per segment on a lane per worker, live while a job
runs and redrawn from the job's record when it ends; a comparison's two runs share one time axis."""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import Any

import ipywidgets as w
import plotly.graph_objects as go

from ..segments.progress import SEGMENT_FINISHED, SEGMENT_STARTED, ProgressEvent
from ..segments.timeline import assign_lanes, idle_tail
from ._common import Component, fmt_seconds, message_html, sync_figure
from .figure import Figure

RUN_COLOURS = {"render": "#1f77b4", "sequential": "#7f7f7f", "parallel": "#1f77b4", "": "#1f77b4"}
RUN_GAP = 0.2
"""Seconds drawn between a comparison's runs while they run live (their real gap is not known yet)."""


PULSE_COLOUR = "#d62728"
QUALITY_COLOURS = ((95.0, 45.0, "#2ca02c"), (90.0, 38.0, "#9acd32"), (80.0, 32.0, "#ffbf00"), (0.0, 0.0, "#d62728"))
"""(lowest VMAF, lowest PSNR dB, colour): green where the encode is transparent, amber to red as it degrades."""


def quality_colour(entry: Mapping[str, Any]) -> str | None:
    """A finished segment's colour by its measured quality (VMAF when measured, else luma
    PSNR); None before it is measured (the run's colour)."""
    vmaf, psnr = entry.get("vmaf"), entry.get("psnr")
    if vmaf is None and psnr is None:
        return None
    for lowest_vmaf, lowest_psnr, colour in QUALITY_COLOURS:
        if (vmaf is not None and vmaf >= lowest_vmaf) or (vmaf is None and psnr is not None and psnr >= lowest_psnr):
            return colour
    return QUALITY_COLOURS[-1][2]


def quality_text(entry: Mapping[str, Any]) -> str:
    """The hover lines of a segment's quality, CRF, pulse and scene cut ("" before measured)."""
    parts = []
    if entry.get("psnr") is not None:
        parts.append(f"PSNR {entry['psnr']:.1f} dB, SSIM {entry['ssim']:.3f}")
    if entry.get("vmaf") is not None:
        parts.append(f"VMAF {entry['vmaf']:.1f}")
    if entry.get("crf") is not None:
        parts.append(f"CRF {entry['crf']:g}")
    if entry.get("pulse"):
        parts.append("the join before it pulses")
    if entry.get("cut"):
        parts.append("starts on a scene cut")
    return "<br>" + " · ".join(parts) if parts else ""


def _run_label(label: str) -> str:
    return label or "render"


def _lane_name(run: str, lane: int, runs: int) -> str:
    worker = f"worker {lane + 1}"
    return worker if runs == 1 else f"{run} · {worker}"


class SegmentTimeline(Component):
    """Where a job's time went: a horizontal bar per segment from its start to its end, on a
    lane per worker, so start-up, stragglers and the idle tail are visible at a glance.

    Parameters
    ----------
    width:
        Figure width in pixels (None: Plotly's default).

    Feed it live with `update_progress(event)` (bars grow while segments render; lanes are
    the first free ones), then `show_result(result)`, `show_comparison(comparison)` or
    `show_record(record)` draw what the job recorded: the worker each segment ran on and
    its exact start and end (`JobResult.segment_timeline`). `runs` holds what is drawn:
    {run label: entries with "lane"}; `summary` says how busy the workers were.
    """

    def __init__(self, width: int | None = None) -> None:
        super().__init__()
        self.runs: dict[str, list[dict[str, Any]]] = {}
        self._offsets: dict[str, float] = {}
        self._live_now = 0.0
        self.figure = Figure(
            layout=go.Layout(
                height=230,
                width=width,
                margin={"l": 110, "r": 10, "t": 35, "b": 40},
                barmode="overlay",
                title={"text": "Segment timeline"},
                xaxis={"title": {"text": "seconds since the job started"}, "rangemode": "tozero"},
                yaxis={"autorange": "reversed", "type": "category"},
                legend={"orientation": "h", "x": 1, "xanchor": "right", "y": 1.0, "yanchor": "bottom"},
                showlegend=False,
            ),
        )
        self.summary = w.HTML(message_html("No segments yet: render or compare a video."))
        self.widget = w.VBox([self.figure, self.summary])
        self.widget.add_class("rr-timeline")
        self.figure.add_class("rr-timeline-chart")
        self.summary.add_class("rr-timeline-summary")
        sync_figure(self.figure)

    def __repr__(self) -> str:
        bars = sum(len(entries) for entries in self.runs.values())
        return f"<SegmentTimeline: {bars} segments>"

    @property
    def bars(self) -> int:
        """Segments drawn."""
        return sum(len(entries) for entries in self.runs.values())

    # ---- live -----------------------------------------------------------------------------
    def reset(self) -> None:
        """Clear the chart for a new job."""
        with self._lock:
            self.runs, self._offsets, self._live_now = {}, {}, 0.0
            self.summary.value = message_html("Waiting for the first segment…")
            self._draw()

    def update_progress(self, event: ProgressEvent) -> None:
        """Draw one progress event: a segment starts (a bar on the first free lane), grows, ends."""
        with self._lock:
            run = _run_label(event.job)
            if run not in self.runs:
                ends = [e["end"] + self._offsets[r] for r, entries in self.runs.items() for e in entries if e["end"]]
                self._offsets[run] = max(ends) + RUN_GAP if ends else 0.0
                self.runs[run] = []
            entries = self.runs[run]
            self._live_now = event.elapsed
            if event.kind == SEGMENT_STARTED and event.segment is not None:
                entries[:] = [e for e in entries if e["index"] != event.segment]  # re-run after a worker died
                busy = {e["lane"] for e in entries if e["end"] is None}
                lane = next(n for n in range(len(entries) + 1) if n not in busy)
                entries.append(
                    {"index": event.segment, "start": event.elapsed, "end": None, "lane": lane, "worker": None}
                )
            elif event.kind == SEGMENT_FINISHED and event.segment is not None:
                for entry in entries:
                    if entry["index"] == event.segment and entry["end"] is None:
                        entry["end"] = event.elapsed
            running = sum(e["end"] is None for e in entries)
            self.summary.value = message_html(
                f"{len(entries)} segments started, {running} rendering on {len({e['lane'] for e in entries})} lanes · "
                f"{fmt_seconds(event.elapsed)} since the {'run' if event.job else 'job'}'s segments began"
            )
            self._draw()

    # ---- recorded -------------------------------------------------------------------------
    def show_runs(self, runs: Sequence[tuple[str, float, Sequence[Mapping[str, Any]]]]) -> None:
        """Draw recorded runs: (label, started_at, timeline entries) each, the first run's start
        at 0 and later runs where they started (`started_at` is `time.time()`)."""
        with self._lock:
            first = min((started for _, started, _ in runs), default=0.0)
            self.runs, self._offsets = {}, {}
            for label, started, entries in runs:
                lanes = assign_lanes(entries)
                self.runs[label] = [
                    {**entry, "lane": lane} for entry, lane in zip(entries, lanes) if entry.get("start") is not None
                ]
                self._offsets[label] = started - first
            self.summary.value = self._summary(runs)
            self._draw()

    def show_result(self, result: Any) -> None:
        """Draw a finished render (`JobResult`)."""
        self.show_runs([("render", result.started_at, result.segment_timeline)])

    def show_comparison(self, comparison: Any) -> None:
        """Draw both runs of a comparison on one time axis."""
        seq, par = comparison.sequential, comparison.parallel
        self.show_runs(
            [("sequential", seq.started_at, seq.segment_timeline), ("parallel", par.started_at, par.segment_timeline)]
        )

    def show_details(self, kind: str, details: Mapping[str, Any]) -> bool:
        """Draw a job from its history details (`JobRecord.details`); False when it has no
        timeline (recorded before timelines existed, or failed before its segments ran)."""
        if kind == "compare":
            runs = [
                (label, details.get(label, {}).get("started_at", 0.0), details.get(label, {}).get("timeline"))
                for label in ("sequential", "parallel")
            ]
        else:
            runs = [("render", details.get("started_at", 0.0), details.get("timeline"))]
        if not all(entries for _, _, entries in runs):
            return False
        self.show_runs(runs)
        return True

    def show_record(self, record: Any) -> bool:
        """Draw a job of the history (`JobRecord`); False when it has no timeline."""
        return self.show_details(record.kind, record.details or {})

    def _summary(self, runs: Sequence[tuple[str, float, Sequence[Mapping[str, Any]]]]) -> str:
        parts = []
        for label, _, entries in runs:
            timed = [e for e in entries if e.get("start") is not None]
            if not timed:
                parts.append(f"{label}: {len(entries)} segments, times not known")
                continue
            workers = len({e.get("worker") for e in timed})
            first, last = min(e["start"] for e in timed), max(e["end"] for e in timed)
            busy = sum(e["end"] - e["start"] for e in timed) / (workers * (last - first)) if last > first else 1.0
            tail = idle_tail(timed) or 0.0
            parts.append(
                f"<b>{html.escape(label)}</b>: {len(entries)} segment{'s' if len(entries) != 1 else ''} on {workers} "
                f"worker{'s' if workers != 1 else ''}, first began at {first:.2f} s, workers busy {busy:.0%} of "
                f"{last - first:.2f} s, idle tail {tail:.2f} s" + _marks(entries)
            )
        return "<small>" + "<br>".join(parts) + "</small>"

    # ---- drawing --------------------------------------------------------------------------
    def _draw(self) -> None:
        count = len(self.runs)
        traces = []
        for run, entries in self.runs.items():
            offset = self._offsets.get(run, 0.0)
            ends = [e["end"] if e["end"] is not None else max(self._live_now, e["start"]) for e in entries]
            traces.append(
                go.Bar(
                    orientation="h",
                    name=run,
                    base=[round(e["start"] + offset, 3) for e in entries],
                    x=[round(end - e["start"], 3) for e, end in zip(entries, ends)],
                    y=[_lane_name(run, e["lane"], count) for e in entries],
                    text=[("✂ " if e.get("cut") else "") + f"#{e['index']}" for e in entries],
                    textposition="inside",
                    insidetextanchor="middle",
                    marker={
                        "color": [quality_colour(e) or RUN_COLOURS.get(run, "#1f77b4") for e in entries],
                        "opacity": [1.0 if e["end"] is not None else 0.6 for e in entries],
                        # a join that pulses: the segment after it gets a red outline
                        "line": {
                            "color": [PULSE_COLOUR if e.get("pulse") else "white" for e in entries],
                            "width": [3 if e.get("pulse") else 1 for e in entries],
                        },
                    },
                    hovertext=[
                        f"segment {e['index']} · {e.get('worker') or 'live'} · {e['start'] + offset:.2f}–{end + offset:.2f} s"
                        + quality_text(e)
                        for e, end in zip(entries, ends)
                    ],
                    hoverinfo="text",
                )
            )
        lanes = sum(len({e["lane"] for e in entries}) for entries in self.runs.values())
        with self.figure.batch_update():
            self.figure.data = ()
            for trace in traces:
                self.figure.add_trace(trace)
            self.figure.layout.height = 120 + 28 * max(1, lanes)
            self.figure.layout.showlegend = count > 1
        sync_figure(self.figure)


def _marks(entries: Sequence[Mapping[str, Any]]) -> str:
    """The summary's tail: the worst segment's quality, joins that pulse, boundaries on scene cuts."""
    text = ""
    measured = [e for e in entries if e.get("psnr") is not None]
    if measured:
        worst = min(measured, key=lambda e: (e.get("vmaf") or 0.0, e["psnr"]))
        text += f"; worst segment #{worst['index']}" + html.escape(quality_text(worst).replace("<br>", ": "))
    pulses, cuts = sum(bool(e.get("pulse")) for e in entries), sum(bool(e.get("cut")) for e in entries)
    if pulses:
        text += f"; {pulses} join{' pulses' if pulses == 1 else 's pulse'} (red outline)"
    if cuts:
        text += f"; {cuts} boundar{'ies' if cuts != 1 else 'y'} on scene cuts (✂)"
    return text
