"""split="scenes": boundaries land on hard cuts that have no keyframe, and the frames stay exact."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from renderrush import probe, render
from renderrush.jobs.options import RenderOptions
from renderrush.jobs.plan import plan_job
from renderrush.media.scenes import scene_cuts

from ..support.media import ffmpeg

CUTS = [39, 90, 123]
"""Where the generated clip's shots change (1.3 s, 1.7 s, 1.1 s and 1.9 s at 30 fps)."""


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Four different shots, one keyframe (x264's own scene-cut detection off)."""
    path = tmp_path_factory.mktemp("scenes") / "shots.mp4"
    sources = [
        "testsrc2=size=320x180:rate=30:duration=1.3",
        "mandelbrot=size=320x180:rate=30,trim=duration=1.7",
        "smptebars=size=320x180:rate=30:duration=1.1",
        "testsrc=size=320x180:rate=30:duration=1.9",
    ]
    inputs = [arg for source in sources for arg in ("-f", "lavfi", "-i", source)]
    graph = "".join(f"[{i}:v]setsar=1,format=yuv420p,setpts=PTS-STARTPTS[v{i}];" for i in range(4))
    graph += "[v0][v1][v2][v3]concat=n=4:v=1:a=0"
    ffmpeg(*inputs, "-filter_complex", graph, "-c:v", "libx264", "-x264-params", "scenecut=0:keyint=1000", "-y", path)
    return path


def luma(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [frame.to_ndarray(format="gray").astype(np.float64) for frame in container.decode(video=0)]


def test_boundaries_land_on_the_cuts_and_every_frame_is_the_sources(shots: Path, tmp_path: Path) -> None:
    info = probe(shots)
    assert info.frame_count == 180 and info.keyframes in ((), (0,))  # no keyframe at any cut
    assert scene_cuts(shots, info.stream_index) == CUTS
    fixed = plan_job(shots, RenderOptions(workers=2, segment_seconds=1.5))
    assert [s.start for s in fixed.segments] == [0, 45, 90, 135]  # even lengths: two boundaries inside shots

    out = tmp_path / "out.mp4"
    result = render(shots, out, workers=2, segment_seconds=1.5, split="scenes", scheduler="threads", crf=18)
    starts = [sum(s.frames for s in result.segments[:k]) for k in range(len(result.segments))]
    assert starts == [0, *CUTS]
    source, output = luma(shots), luma(out)
    assert len(output) == len(source) == 180
    psnr = [10 * np.log10(255**2 / max(np.mean((a - b) ** 2), 1e-9)) for a, b in zip(source, output)]
    assert min(psnr) > 30  # a frame out of place at a cut would be another shot: under 15 dB


def test_snap_to_keyframes_is_split_keyframes() -> None:
    assert RenderOptions(snap_to_keyframes=True).split == "keyframes"
    assert RenderOptions(snap_to_keyframes=True, split="scenes").split == "scenes"
    assert RenderOptions().split == "fixed"
