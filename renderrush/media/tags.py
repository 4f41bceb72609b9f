"""The colour description an output's video stream carries (`VideoTags`): pixel aspect,
range, matrix, primaries, transfer and HDR metadata, taken from the source."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import av

from .hdr import HdrInfo
from .picture import Picture
from .probe import VideoInfo

MATRIX_TAGS = {"itu709": 1, "fcc": 4, "itu601": 5, "smpte170m": 6, "smpte240m": 7, "bt2020": 9}
"""swscale matrix -> AVColorSpace tag."""


@dataclass(frozen=True)
class VideoTags:
    """What the output's video stream says about its pictures, taken from the source:
    pixel aspect (turned with the picture) and colour description."""

    sample_aspect: Fraction = Fraction(1)
    color_range: int = 1
    colorspace: int = 2
    color_primaries: int = 2
    color_trc: int = 2
    hdr: HdrInfo | None = None
    """HDR metadata the encoder writes into the bitstream (x265, SVT-AV1)."""

    @classmethod
    def of(cls, info: VideoInfo, picture: Picture) -> VideoTags:
        """The source's tags; an RGB source is tagged with the matrix its YUV was made with."""
        turned = info.rotation in (90, 270)
        rgb = info.is_rgb
        return cls(
            sample_aspect=1 / info.sample_aspect if turned else info.sample_aspect,
            color_range=info.color_range,
            colorspace=MATRIX_TAGS.get(picture.matrix, 2) if rgb else info.colorspace,
            color_primaries=2 if rgb else info.color_primaries,
            color_trc=2 if rgb else info.color_trc,
            hdr=info.hdr,
        )

    def for_output(self, tonemap: bool) -> VideoTags:
        """The tags the output gets: tone-mapped output is limited-range BT.709 SDR."""
        if tonemap and self.hdr is not None:
            return VideoTags(self.sample_aspect, 1, 1, 1, 1, None)
        return self

    def encoder_params(self, codec: str) -> str:
        """x265 / SVT-AV1 parameters that carry the HDR metadata in the bitstream."""
        if self.hdr is None:
            return ""
        return self.hdr.x265_params() if codec == "hevc" else self.hdr.svtav1_params() if codec == "av1" else ""

    def mark(self, frame: av.VideoFrame) -> None:
        frame.color_range = self.color_range
        frame.colorspace = self.colorspace
        frame.color_primaries = self.color_primaries
        frame.color_trc = self.color_trc

    def apply(self, context: av.video.codeccontext.VideoCodecContext) -> None:
        context.sample_aspect_ratio = self.sample_aspect
        context.color_range = self.color_range
        context.colorspace = self.colorspace
        context.color_primaries = self.color_primaries
        context.color_trc = self.color_trc
