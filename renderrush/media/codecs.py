"""What each output codec and container is, in one table: the PyAV encoder, the pixel
formats, how `crf` and `preset` (x264's scale and names, one meaning for every codec)
map onto the encoder's own, which containers hold it, and what audio each container
keeps. Every check of a codec, container, CRF or preset happens here, before any work.
Imports nothing heavy: the CLI's parser and the job options read it (PyAV is imported
only to ask whether an encoder is in its FFmpeg build).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..core.errors import SettingsError

PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow")
"""x264 presets, fastest first: the speed scale every codec's `preset` is given on."""

CRF_RANGE = (0, 51)
"""`crf` is on x264's scale for every codec (0 best, 23 default, 51 worst): mapped per codec."""


@dataclass(frozen=True)
class Codec:
    """One output codec: the encoder in PyAV's FFmpeg and how job options map onto it."""

    name: str
    """The `codec` option's value."""
    label: str
    encoder: str
    """PyAV (FFmpeg) encoder name."""
    formats: dict[int, str]
    """Encoder pixel format by output bit depth."""
    crf_points: tuple[tuple[float, float], ...]
    """Piecewise-linear map from x264's CRF scale to the encoder's own (0, 23, 51 anchor it)."""
    presets: tuple[str, ...]
    """The encoder's own preset names for `PRESETS`, in the same order (fastest first)."""
    own_presets: tuple[str, ...]
    """Every preset name the encoder itself takes (accepted as they are)."""
    containers: tuple[str, ...]
    """Output containers (`CONTAINERS` keys) that can hold it."""
    segment_format: str = "mp4"
    """Container of the segment files and of the joined video (the one that holds it exactly)."""
    segment_suffix: str = ".mp4"
    note: str = ""

    @property
    def suffix(self) -> str:
        """The output suffix of the codec's first container."""
        return CONTAINER_SUFFIXES[self.containers[0]]

    @property
    def max_depth(self) -> int:
        return max(self.formats)

    @property
    def own_scale(self) -> tuple[float, float]:
        return self.crf_points[0][1], self.crf_points[-1][1]

    def crf(self, crf: float) -> float:
        """`crf` (x264's scale) on the encoder's own scale, rounded to a whole step."""
        points = self.crf_points
        for (x0, y0), (x1, y1) in zip(points, points[1:]):
            if crf <= x1:
                return float(round(y0 + (crf - x0) * (y1 - y0) / (x1 - x0)))
        return float(points[-1][1])

    def preset(self, preset: str) -> str:
        """The encoder's own preset for `preset` (an x264 name, or one of the encoder's own)."""
        if preset in self.own_presets:
            return preset
        if preset in PRESETS:
            return self.presets[PRESETS.index(preset)]
        own = f" or {self.label}'s own {', '.join(self.own_presets)}" if self.own_presets != PRESETS else ""
        raise SettingsError(f"unknown {self.label} preset '{preset}'; use one of {', '.join(PRESETS)}{own}")


CONTAINER_SUFFIXES = {"mp4": ".mp4", "mov": ".mov", "mkv": ".mkv", "webm": ".webm"}

PRORES_PROFILES = ("proxy", "lt", "standard", "hq")
"""prores_ks profiles 0-3, lowest quality first."""

CODECS: dict[str, Codec] = {
    c.name: c
    for c in (
        Codec(
            "h264",
            "H.264",
            "libx264",
            {8: "yuv420p"},
            ((0, 0), (51, 51)),
            PRESETS,
            PRESETS,
            ("mp4", "mov", "mkv"),
            note="8-bit 4:2:0 (High 10 plays almost nowhere)",
        ),
        Codec(
            "hevc",
            "HEVC",
            "libx265",
            {8: "yuv420p", 10: "yuv420p10le"},
            ((0, 0), (23, 28), (51, 51)),  # x265's CRF 28 looks like x264's 23 (x265's documentation)
            PRESETS,
            (*PRESETS, "placebo"),
            ("mp4", "mov", "mkv"),
            note="Main or Main 10, tagged hvc1 in MP4/MOV",
        ),
        Codec(
            "av1",
            "AV1",
            "libsvtav1",
            {8: "yuv420p", 10: "yuv420p10le"},
            ((0, 1), (23, 35), (51, 63)),  # SVT-AV1's CRF 1-63, its default 35 for x264's 23
            ("12", "11", "10", "9", "8", "7", "6", "5", "4"),
            tuple(str(n) for n in range(14)),
            ("mp4", "mkv", "webm"),
            note="SVT-AV1, 8 or 10-bit 4:2:0",
        ),
        Codec(
            "vp9",
            "VP9",
            "libvpx-vp9",
            {8: "yuv420p"},
            ((0, 0), (23, 32), (51, 63)),  # libvpx's constant quality 0-63, 32 for x264's 23
            ("8", "8", "7", "6", "5", "4", "3", "2", "1"),  # cpu-used, with the "good" deadline
            tuple(str(n) for n in range(9)),
            ("webm", "mkv", "mp4"),
            note="8-bit 4:2:0 (this libvpx build has no 10-bit)",
        ),
        Codec(
            "prores",
            "ProRes",
            "prores_ks",
            {10: "yuv422p10le"},
            ((0, 3), (17, 3), (18, 2), (25, 2), (26, 1), (33, 1), (34, 0), (51, 0)),  # profile: 3 hq .. 0 proxy
            ("hq",) * 9,
            PRORES_PROFILES,
            ("mov", "mkv"),
            segment_format="mov",
            segment_suffix=".mov",
            note="ProRes 422 (10-bit 4:2:2, intra only): CRF or a profile name picks proxy, lt, standard or hq",
        ),
    )
}


@dataclass(frozen=True)
class Container:
    """One output container: the muxer and what it keeps of the source's other streams."""

    name: str
    muxer: str
    suffixes: tuple[str, ...]
    audio_copy: tuple[str, ...] | None
    """Audio codecs copied as they are (prefix match); None: any."""
    audio_encoder: str
    """What other audio becomes, encoded once when the segments are stitched."""
    subtitles: str
    """Text subtitles become this codec ("copy": kept as they are)."""
    bitmap_subtitles: bool = False
    faststart: bool = True
    default_codec: str = "h264"


MP4_AUDIO = ("aac", "mp3", "ac3", "eac3", "opus", "flac", "alac")
CONTAINERS: dict[str, Container] = {
    c.name: c
    for c in (
        Container("mp4", "mp4", (".mp4", ".m4v"), MP4_AUDIO, "aac", "mov_text"),
        Container("mov", "mov", (".mov",), (*MP4_AUDIO, "pcm_"), "aac", "mov_text"),
        Container("mkv", "matroska", (".mkv",), None, "aac", "copy", bitmap_subtitles=True, faststart=False),
        Container(
            "webm", "webm", (".webm",), ("opus", "vorbis"), "libopus", "webvtt", faststart=False, default_codec="vp9"
        ),
    )
}
OUTPUT_SUFFIXES = tuple(s for c in CONTAINERS.values() for s in c.suffixes)


def container_for(suffix: str) -> Container:
    suffix = suffix.lower()
    for container in CONTAINERS.values():
        if suffix in container.suffixes:
            return container
    raise SettingsError(f"no container for '{suffix}'; use one of {', '.join(OUTPUT_SUFFIXES)}")


def check_codec(codec: object) -> str | None:
    """`codec` as given (None: chosen from the source and the container)."""
    if codec is None or codec in CODECS:
        return codec
    raise SettingsError(f"unknown codec '{codec}'; use one of {', '.join(CODECS)}")


def check_preset(preset: object, codec: str | None = None) -> str:
    """A preset valid for `codec`, or for any codec when it is not chosen yet."""
    if not isinstance(preset, str):
        raise SettingsError(f"preset must be a name such as veryfast, got {preset!r}")
    if codec is not None:
        CODECS[codec].preset(preset)
        return preset
    if preset in PRESETS or any(preset in c.own_presets for c in CODECS.values()):
        return preset
    raise SettingsError(f"unknown preset '{preset}'; use one of {', '.join(PRESETS)} (or an encoder's own)")


def check_crf(crf: object) -> float:
    low, high = CRF_RANGE
    if isinstance(crf, bool) or not isinstance(crf, (int, float)) or not low <= crf <= high:
        raise SettingsError(f"CRF must be between {low} (lossless) and {high} (worst), got {crf}")
    return crf


def check_encoder(codec: Codec) -> None:
    """Refuse a codec whose encoder is missing from PyAV's FFmpeg build."""
    import av  # only when a job is planned: the CLI's --help never pays for it

    try:
        av.codec.Codec(codec.encoder, "w")
    except (ValueError, av.FFmpegError):
        others = [c.name for c in CODECS.values() if c is not codec and _has_encoder(c.encoder)]
        raise SettingsError(
            f"the FFmpeg inside PyAV has no {codec.encoder} encoder, so {codec.label} cannot be written here; "
            f"use --codec {' or '.join(others) or 'h264'}"
        ) from None


def _has_encoder(name: str) -> bool:
    import av

    try:
        av.codec.Codec(name, "w")
    except (ValueError, av.FFmpegError):
        return False
    return True


def choose_codec(
    codec: str | None, container: Container, *, bit_depth: int, hdr: str, tonemap: bool, source: str = "input"
) -> tuple[Codec, int]:
    """The output codec and bit depth for a source of `bit_depth` (HDR when `hdr` names a
    format) written to `container`; refuses what cannot go together, in one line."""
    deep = bit_depth > 8 or bool(hdr)
    if codec is None:
        if deep and not tonemap:
            codec = "av1" if container.name == "webm" else "hevc"  # this libvpx has no 10-bit VP9
        else:
            codec = container.default_codec
    chosen = CODECS[codec]
    if container.name not in chosen.containers:
        fits = [c.name for c in CODECS.values() if container.name in c.containers]
        holds = ", ".join(f".{name}" for name in chosen.containers)
        raise SettingsError(
            f"{chosen.label} cannot go in {container.name.upper()}: use --codec {' or '.join(fits)} "
            f"for {container.suffixes[0]}, or write {chosen.label} to {holds}"
        )
    if hdr and not tonemap and chosen.max_depth < 10:
        raise SettingsError(
            f"{source} is HDR ({hdr}) and {chosen.label} here is 8-bit SDR, which would wash it out: "
            f"add --tonemap for SDR {chosen.label}, or use --codec hevc or av1 to keep HDR"
        )
    check_encoder(chosen)
    depth = 10 if (deep and not tonemap and 10 in chosen.formats) else min(chosen.formats)
    return chosen, depth


OPTIONS_SCHEME = 2
"""The version of what `encoder_options` passes for given settings, bumped whenever that
changes, so that segments of an interrupted job and cached probes encoded under other options
are not reused: segments join by stream copy with one set of parameter sets (2: x265 at one
thread without a pool, which turns its wavefront rows off in the PPS)."""


def encoder_options(codec: Codec, preset: str, crf: float, threads: int, x_params: str = "") -> dict[str, str]:
    """The encoder's options for `preset` and `crf` (x264's names and scale) and a fixed
    thread count (the output must not depend on the worker count); `x_params` adds the
    HDR metadata parameters of x265 or SVT-AV1."""
    own_preset, own_crf = codec.preset(preset), codec.crf(crf)
    if codec.name == "h264":
        # sliced threads and no asynchronous lookahead: output depends only on the input and thread count
        return {"preset": own_preset, "crf": f"{crf:g}", "x264-params": "sliced-threads=1:sync-lookahead=0"}
    if codec.name == "hevc":
        # one thread: no pool at all (same CPU as a pool of one, 1.7 % fewer bytes without
        # wavefront rows, and no worker threads beside the caller's)
        pools = threads if threads > 1 else "none"
        params = f"log-level=error:pools={pools}:frame-threads=1{':' + x_params if x_params else ''}"
        return {"preset": own_preset, "crf": f"{own_crf:g}", "x265-params": params}
    if codec.name == "av1":
        options = {"preset": own_preset, "crf": f"{own_crf:g}"}
        return {**options, "svtav1-params": x_params} if x_params else options
    if codec.name == "vp9":
        return {
            "crf": f"{own_crf:g}",
            "b": "0",
            "deadline": "good",
            "cpu-used": own_preset,
            "row-mt": "1",
        }
    profile = own_preset if preset in PRORES_PROFILES else PRORES_PROFILES[int(own_crf)]
    return {"profile": str(PRORES_PROFILES.index(profile)), "vendor": "apl0"}


def describe_codecs() -> list[str]:
    """One line per codec: name, encoder, containers, and what CRF 23 is on its own scale."""
    return [
        f"{c.name}: {c.label} ({c.encoder}) in {', '.join(c.containers)}; CRF 23 -> {c.crf(23):g}; {c.note}"
        for c in CODECS.values()
    ]
