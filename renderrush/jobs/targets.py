"""A job's quality target around its backend run: each pending segment's `Target` with the
probes the cache already knows (`segment_targets`), the new probes kept afterwards
(`remember_probes`), and one warning line per segment that missed the target
(`target_warnings`). The search itself runs inside each segment's task (`segments.target`)."""

from __future__ import annotations

from collections.abc import Iterable

from ..core.segment import Segment
from ..media.encode import EncodeSettings
from ..segments.probecache import ProbeCache, probe_key
from ..segments.render import SegmentResult
from ..segments.target import CRF_LIMITS, TOLERANCE, Target


def segment_targets(
    vmaf: float,
    source: str,
    segments: Iterable[Segment],
    chain: str,
    encode: EncodeSettings,
    picture: object,
    cache: ProbeCache,
) -> tuple[dict[int, Target], dict[int, str]]:
    """Each segment's target with its cached probes, and each segment's cache key."""
    keys = {s.index: key for s in segments if (key := probe_key(source, s, chain, encode, picture)) is not None}
    known = cache.get(list(keys.values()))
    return {index: Target(vmaf, known.get(key, ())) for index, key in keys.items()} | {
        s.index: Target(vmaf) for s in segments if s.index not in keys
    }, keys


def remember_probes(cache: ProbeCache, keys: dict[int, str], results: Iterable[SegmentResult]) -> None:
    """Keep the probes each rendered segment used, for the next job over the same frames."""
    cache.put(
        {
            keys[r.index]: tuple((int(c), float(v)) for c, v in r.target["probes"])
            for r in results
            if r.target and r.target["probes"] and r.index in keys
        }
    )


def target_warnings(results: Iterable[SegmentResult], vmaf: float) -> list[str]:
    """One line for each segment whose measured VMAF is more than `TOLERANCE` from `vmaf`:
    the CRF range could not reach it (the nearest CRF was used), or the probes misjudged it."""
    notes = []
    for r in sorted(results, key=lambda r: r.index):
        measured = (r.quality or {}).get("vmaf")
        if r.reused or measured is None or abs(measured - vmaf) <= TOLERANCE:
            continue
        low, high = CRF_LIMITS
        edge = r.crf is not None and (r.crf <= low or r.crf >= high)
        reason = (
            f"the CRF range {low}-{high} cannot reach it, so the nearest CRF {r.crf:g} was used"
            if edge and r.crf is not None
            else f"the probes predicted {r.target['predicted_vmaf']:g} at CRF {r.crf:g}"
            if r.target is not None and r.crf is not None
            else "no probe was made"
        )
        notes.append(
            f"segment {r.index} reached VMAF {measured:.1f}, not the target {vmaf:g} ± {TOLERANCE:g}: {reason}"
        )
    return notes
