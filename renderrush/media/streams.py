"""The source's streams other than the main video (audio, subtitles, data, attachments,
other video such as cover art), described for the output: what it keeps and what it names
in a warning."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import av


@dataclass(frozen=True)
class StreamInfo:
    """A non-main stream of the source (audio, subtitle, data, attachment, other video)."""

    index: int
    kind: str
    codec: str
    language: str | None = None
    title: str | None = None
    channels: int = 0
    text: bool = False
    """For subtitles: text based (an MP4 can hold it as mov_text); bitmaps cannot."""
    problem: str = ""
    """Why the stream cannot be kept, where that is not plain from its kind."""

    def describe(self) -> str:
        detail = ", ".join(part for part in (self.language, self.title) if part)
        problem = f": {self.problem}" if self.problem else ""
        return f"{self.kind} stream #{self.index} ({self.codec}{', ' + detail if detail else ''}){problem}"


def other_streams(
    container: av.container.InputContainer, main: int
) -> tuple[list[StreamInfo], list[StreamInfo], list[StreamInfo]]:
    """The streams besides stream `main`: (audio the output can keep, subtitles, the rest).
    Audio without a channel count or sample rate has nothing to decode and goes with the rest."""
    audio, subtitles, other = [], [], []
    for stream in container.streams:
        if stream.index == main:
            continue
        ctx: Any = stream.codec_context
        codec = ctx.name if ctx is not None else (getattr(stream, "codec_tag", "") or "unknown")
        meta = stream.metadata or {}
        language = meta.get("language") if meta.get("language") not in (None, "und") else None
        title = meta.get("title") or meta.get("handler_name") if stream.type == "subtitle" else meta.get("title")
        if stream.type == "audio" and ctx is not None and ctx.channels and ctx.sample_rate:
            audio.append(StreamInfo(stream.index, "audio", codec, language, meta.get("title"), ctx.channels))
        elif stream.type == "audio":
            problem = "no decodable audio in the file (no channel count or sample rate)"
            other.append(StreamInfo(stream.index, "audio", codec, language, meta.get("title"), problem=problem))
        elif stream.type == "subtitle":
            text = bool(ctx is not None and ctx.codec.text_sub)
            subtitles.append(StreamInfo(stream.index, "subtitle", codec, language, title, text=text))
        else:
            kind = {"video": "video", "data": "data", "attachment": "attachment"}.get(stream.type, stream.type)
            if codec == "unknown":  # a data track's handler says what it is ("TimeCodeHandler", "GoPro MET")
                codec = meta.get("handler_name") or codec
            other.append(StreamInfo(stream.index, kind, codec, language, meta.get("title") or meta.get("filename")))
    return audio, subtitles, other
