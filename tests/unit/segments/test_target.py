"""The CRF search for a VMAF target: which frames are probed, where the next probe goes,
which CRF is chosen, how many probes it takes, and cached probes cost no encode."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from renderrush.segments.target import (
    MAX_PROBES,
    PROBE_FRAMES,
    PROBE_RUNS,
    TOLERANCE,
    choose,
    next_crf,
    predict,
    probe_indices,
    search_crf,
)


def curve(at_23: float, slope: float, top: float = 99.0, bottom: float = 0.0) -> Callable[[int], float]:
    """A VMAF(crf) curve falling `slope` points per CRF step through `at_23`, clipped."""
    return lambda crf: max(bottom, min(top, at_23 - slope * (crf - 23)))


class Counting:
    def __init__(self, measure: Callable[[int], float]) -> None:
        self.measure, self.asked = measure, []  # type: ignore[var-annotated]

    def __call__(self, crf: int) -> float:
        self.asked.append(crf)
        return self.measure(crf)


def test_a_short_segment_is_probed_whole_and_a_long_one_in_runs_of_consecutive_frames() -> None:
    assert probe_indices(45, 320 * 180 * 3 // 2) == list(range(45))
    picked = probe_indices(300, 640 * 360 * 3 // 2)
    assert len(picked) == PROBE_FRAMES
    runs = [[picked[0]]]
    for a, b in zip(picked, picked[1:]):
        runs[-1].append(b) if b == a + 1 else runs.append([b])
    assert len(runs) == PROBE_RUNS and all(len(run) == PROBE_FRAMES // PROBE_RUNS for run in runs)
    assert runs[0][0] > 0 and runs[-1][-1] < 299  # spread over the segment, one run per third
    assert [run[len(run) // 2] // 100 for run in runs] == [0, 1, 2]
    # a large picture gets fewer frames (memory), never fewer than 4 per run
    assert len(probe_indices(300, 3840 * 2160 * 3 // 2)) == PROBE_RUNS * 4


@pytest.mark.parametrize(
    ("at_23", "slope", "target"),
    [(96, 1.0, 92), (87, 1.7, 92), (92.2, 1.2, 92), (97, 0.5, 88), (60, 2.5, 92), (97, 3.0, 70)],
)
def test_the_search_lands_within_tolerance_in_a_few_probes(at_23: float, slope: float, target: float) -> None:
    measure = Counting(curve(at_23, slope))
    found = search_crf(measure, target, 23)
    assert len(measure.asked) <= MAX_PROBES and found.encoded == len(measure.asked)
    assert len(set(measure.asked)) == len(measure.asked)  # never the same CRF twice
    assert abs(measure.measure(found.crf) - target) <= max(slope / 2, 0.5) + 1e-9  # the nearest whole CRF
    assert found.reachable and abs(found.predicted - target) <= TOLERANCE
    assert measure.asked[0] == 23  # the job's crf is the first guess


def test_an_unreachable_target_ends_at_the_nearest_end_of_the_crf_range() -> None:
    flat = search_crf(curve(99.5, 0.01), 92, 23)  # a still, flat picture: VMAF near 100 at any CRF
    assert flat.crf == 51 and not flat.reachable
    hopeless = search_crf(curve(40, 1.0, top=60), 95, 23)  # even CRF 0 stays far below
    assert hopeless.crf == 0 and not hopeless.reachable
    assert len(flat.points) <= MAX_PROBES and len(hopeless.points) <= MAX_PROBES


def test_known_probes_are_not_encoded_again_and_give_the_same_choice() -> None:
    first = search_crf(curve(87, 1.7), 92, 23)
    measure = Counting(curve(87, 1.7))
    again = search_crf(measure, 92, 23, known=first.points)
    assert measure.asked == [] and again.encoded == 0
    assert (again.crf, again.points) == (first.crf, first.points)


def test_next_crf_interpolates_between_the_probes_either_side() -> None:
    assert next_crf({}, 92, 23) == 23
    assert next_crf({20: 96.0, 30: 86.0}, 92, 23) == 24
    assert next_crf({20: 96.0, 21: 90.0}, 92, 23) is None  # neighbours bracket it
    assert next_crf({23: 92.3}, 92, 23) is None  # close enough
    assert next_crf({23: 96.0}, 92, 23) == 26  # one probe: the assumed slope, -1.2 per step
    assert next_crf({23: 96.0, 25: 95.0}, 92, 23) == 31  # two on one side: their slope
    assert next_crf({23: 80.0}, 92, 23) == 13
    assert next_crf({51: 96.0}, 92, 23) is None and next_crf({0: 80.0}, 92, 23) is None


def test_choose_takes_the_whole_crf_predicted_nearest() -> None:
    points = {20: 96.0, 24: 90.0}
    assert predict(points, 22) == pytest.approx(93.0) and predict(points, 30) == 90.0
    assert choose(points, 92.0) == (23, pytest.approx(91.5))  # 22 gives 93.0, 23 gives 91.5
    assert choose({20: 94.0, 22: 92.0}, 93.0) == (21, 93.0)
