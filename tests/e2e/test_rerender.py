"""Re-rendering one segment at a higher quality: the render kept its segments, the chosen one
is encoded again at its own CRF, every other one is reused as encoded, and the output is
written anew with every frame; without kept segments it is one clear error."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from renderrush import SettingsError, make_sample_video, probe, render, rerender
from renderrush.segments.jobfolder import JobFolder

from ..support.media import ffmpeg_frame_count


def luma_frames(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [f.to_ndarray(format="gray") for f in container.decode(video=0)]


def test_one_segment_is_rendered_again_at_a_better_crf_and_the_rest_reused(tmp_path: Path) -> None:
    source = make_sample_video(tmp_path / "clip.mp4", seconds=3, size=(320, 180))
    output = tmp_path / "out.mp4"
    first = render(source, output, "grayscale", workers=2, segment_seconds=1, scheduler="threads", crf=30,
                   keep_segments=True, history=False)  # fmt: skip
    assert len(first.segments) == 3 and JobFolder(output).path.is_dir()  # kept for a re-render
    before = luma_frames(output)
    again = rerender(first, 1, history=False)  # default: 4 below its CRF of 30
    after = luma_frames(output)
    assert again.frames == first.frames == len(after) == ffmpeg_frame_count(output) == probe(source).frame_count
    by_index = {s.index: s for s in again.segments}
    assert by_index[1].crf == 26 and not by_index[1].reused and by_index[0].reused and by_index[2].reused
    assert by_index[1].quality["psnr"] > first.segments[1].quality["psnr"]  # a better encode of the same frames
    frames = [(s.index, sum(x.frames for x in first.segments[: s.index]), s.frames) for s in first.segments]
    for index, start, count in frames:
        same = all(np.array_equal(before[k], after[k]) for k in range(start, start + count))
        assert same == (index != 1), f"segment {index}: reused segments are kept as encoded, the chosen one is not"


def test_without_kept_segments_or_with_a_wrong_segment_it_is_one_clear_error(tmp_path: Path) -> None:
    source = make_sample_video(tmp_path / "clip.mp4", seconds=2, size=(160, 90))
    result = render(source, tmp_path / "out.mp4", workers=2, segment_seconds=1, scheduler="threads", history=False)
    with pytest.raises(SettingsError, match=r"were not kept: render it with keep_segments=True \(--keep-segments\)"):
        rerender(result, 0, history=False)
    kept = render(source, tmp_path / "kept.mp4", workers=2, segment_seconds=1, scheduler="threads",
                  keep_segments=True, history=False)  # fmt: skip
    with pytest.raises(SettingsError, match="segment must be a whole number from 0 to 1, got 5"):
        rerender(kept, 5, history=False)
    with pytest.raises(SettingsError, match="CRF must be between"):
        rerender(kept, 0, crf=80, history=False)
