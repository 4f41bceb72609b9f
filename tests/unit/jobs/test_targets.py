"""A job's quality target around its run: cached probes handed to segments, new ones kept,
one warning line per segment that missed."""

from __future__ import annotations

from pathlib import Path

from renderrush.core.segment import Segment
from renderrush.jobs.targets import remember_probes, segment_targets, target_warnings
from renderrush.media.encode import EncodeSettings
from renderrush.segments.probecache import ProbeCache
from renderrush.segments.render import SegmentResult
from renderrush.segments.target import Target


def result(index: int, crf: float, vmaf: float, predicted: float, probes: list[list[float]]) -> SegmentResult:
    search = {"vmaf": 92.0, "crf": crf, "predicted_vmaf": predicted, "probes": probes, "probe_encodes": len(probes)}
    return SegmentResult(index, 30, 1.0, f"s{index}.mp4", 1000, 1, quality={"vmaf": vmaf}, crf=crf, target=search)


def test_cached_probes_reach_their_segments_and_new_ones_are_kept(tmp_path: Path) -> None:
    source = tmp_path / "in.mp4"
    source.write_bytes(b"video")
    cache, segments = ProbeCache(tmp_path / "cache.sqlite3"), [Segment(0, 0, 30), Segment(1, 30, 60)]
    targets, keys = segment_targets(92, str(source), segments, "none", EncodeSettings(), (320, 180), cache)
    assert targets == {0: Target(92), 1: Target(92)} and len(set(keys.values())) == 2
    remember_probes(cache, keys, [result(0, 26, 92.1, 92.2, [[23, 94.6], [26, 92.2]])])
    targets, _ = segment_targets(92, str(source), segments, "none", EncodeSettings(), (320, 180), cache)
    assert targets == {0: Target(92, ((23, 94.6), (26, 92.2))), 1: Target(92)}


def test_one_warning_for_each_segment_that_missed() -> None:
    results = [
        result(0, 26, 92.4, 92.2, [[23, 94.6], [26, 92.2]]),  # met
        result(1, 22, 89.9, 92.3, [[21, 95.2], [22, 92.3]]),  # the probes misjudged it
        result(2, 51, 97.0, 97.0, [[23, 97.5], [51, 97.0]]),  # a flat picture: out of reach
        SegmentResult(3, 30, 0.0, "s3.mp4", 1000, 0, reused=True),  # taken over: not measured
    ]
    notes = target_warnings(results, 92)
    assert notes == [
        "segment 1 reached VMAF 89.9, not the target 92 ± 1.5: the probes predicted 92.3 at CRF 22",
        "segment 2 reached VMAF 97.0, not the target 92 ± 1.5: the CRF range 0-51 cannot reach it, "
        "so the nearest CRF 51 was used",
    ]
