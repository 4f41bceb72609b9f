"""Reading rendered outputs back: decoded frames, the frame-index stripe, stream codecs."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np

from renderrush.media.samples import read_frame_index

SMALL = (160, 120)


def decode_frames(path: Path, fmt: str = "gray") -> list[np.ndarray]:
    """Every video frame of `path` as arrays (small clips only)."""
    with av.open(str(path)) as container:
        return [frame.to_ndarray(format=fmt) for frame in container.decode(video=0)]


def frame_indices(path: Path) -> list[int]:
    """The index stripe read from every frame of a rendered sample."""
    return [read_frame_index(luma) for luma in decode_frames(path)]


def stream_codecs(path: Path) -> dict[str, str]:
    """{"video": codec, "audio": codec} of the first streams present."""
    with av.open(str(path)) as container:
        return {s.type: s.codec_context.name for s in container.streams if s.type in ("video", "audio")}
