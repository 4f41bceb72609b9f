"""Where the video comes from: a generated sample or an uploaded file."""

from __future__ import annotations

import os
import re
import time
import unicodedata
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import ipywidgets as w

from ..core.atomic import atomic_write_bytes
from ..core.errors import RenderRushError, UploadError
from ..core.periodic import Periodic
from ..media.probe import VideoInfo, probe
from ..media.samples import make_sample_video
from ._common import Component, error_sentence, fmt_bytes, fmt_seconds, message_html

MAX_UPLOAD_BYTES = 200 * 1000 * 1000
"""Largest upload accepted (200 MB)."""
UPLOAD_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv")
RESOLUTIONS = {"640x360": (640, 360), "854x480": (854, 480), "1280x720": (1280, 720), "1920x1080": (1920, 1080)}
MAX_NAME_LENGTH = 80
SAMPLE_FPS_ESTIMATE = 400_000_000
"""Pixels per second a sample is written at on a small machine, to fill the progress bar
(the bar says how long it has run; it never claims to be done before it is)."""


def sanitize_filename(name: str, allowed_suffixes: tuple[str, ...] = UPLOAD_SUFFIXES) -> str:
    """A safe file name for an uploaded `name`: folders dropped (no path traversal), accents
    folded to ASCII, anything but letters, digits, '-' and '_' replaced by '_', no leading
    dot, at most 80 characters before the lower-cased suffix, which must be allowed."""
    base = re.split(r"[\\/]", str(name))[-1]
    base = unicodedata.normalize("NFKD", base).encode("ascii", "ignore").decode("ascii")
    stem, dot, suffix = base.rpartition(".")
    suffix = f".{suffix.lower()}" if dot else ""
    if suffix not in allowed_suffixes:
        shown = suffix or "no extension"
        raise UploadError(f"'{name}' has {shown}: upload a video ending in {', '.join(allowed_suffixes)}")
    stem = re.sub(r"[^A-Za-z0-9_-]+", "_", stem).strip("._-")[:MAX_NAME_LENGTH].strip("._-")
    return f"{stem or 'upload'}{suffix}"


def _unique(path: Path) -> Path:
    """`path`, or `name-1.ext`, `name-2.ext`... if it exists already."""
    candidate, n = path, 0
    while candidate.exists():
        n += 1
        candidate = path.with_name(f"{path.stem}-{n}{path.suffix}")
    return candidate


class VideoSource(Component):
    """Picks the input video: "Generate sample" (length and resolution) or "Upload"
    (MP4, AVI, MOV or MKV up to `max_upload_bytes`, 200 MB by default).

    Parameters
    ----------
    work_dir:
        Folder for generated samples (`work_dir/samples`) and uploads (`work_dir/uploads`).
    seconds, size:
        Initial sample length and resolution (one of 640x360, 854x480, 1280x720, 1920x1080).
    max_upload_bytes:
        Uploads above this size are refused with a message.
    on_change:
        Called with this component after a new video was chosen and probed.

    After `generate()`, `use_file(path)` or an upload, `path` and `info` (a `VideoInfo`)
    describe the video; `message` shows what happened, including why an upload was refused.
    """

    def __init__(
        self,
        work_dir: str | os.PathLike = "renderrush-output",
        seconds: int = 6,
        size: tuple[int, int] = (640, 360),
        max_upload_bytes: int = MAX_UPLOAD_BYTES,
        on_change: Callable[[VideoSource], Any] | None = None,
    ) -> None:
        super().__init__()
        self.work_dir = Path(work_dir)
        self.max_upload_bytes = max_upload_bytes
        self.on_change = on_change
        self.path: Path | None = None
        self.info: VideoInfo | None = None
        resolution = f"{size[0]}x{size[1]}"
        if resolution not in RESOLUTIONS:
            raise UploadError(f"sample size {resolution} is not offered: use one of {', '.join(RESOLUTIONS)}")

        self.mode = w.ToggleButtons(options=["Generate sample", "Upload"], value="Generate sample")
        self.seconds = w.IntSlider(value=seconds, min=2, max=60, step=1, description="Length (s)")
        self.resolution = w.Dropdown(options=list(RESOLUTIONS), value=resolution, description="Resolution")
        self.generate_button = w.Button(
            description="Generate sample", icon="film", button_style="primary", layout=w.Layout(width="auto")
        )
        self.generate_button.on_click(lambda _: self.generate())
        limit = fmt_bytes(max_upload_bytes)
        self.upload_note = w.HTML(
            f"Upload an <b>MP4, AVI, MOV or MKV</b> video of at most <b>{limit}</b>. "
            "Larger files are refused: trim them first, or render them from Python with "
            "<code>renderrush.render(path, ...)</code> or the <code>renderrush</code> command. "
            "<small>(A Jupyter server left at its default settings drops uploads above 10 MiB without a word: "
            "start JupyterLab with <code>--config=binder/jupyter_server_config.json</code>, as the README shows.)</small>"
        )
        self.upload = w.FileUpload(accept=",".join(UPLOAD_SUFFIXES), multiple=False, description="Upload video")
        self.upload.observe(self._on_upload, names="value")
        self.message = w.HTML()
        self.busy = w.FloatProgress(
            value=0.0, min=0.0, max=1.0, bar_style="info", layout=w.Layout(width="98%", display="none")
        )
        self.busy.add_class("rr-source-busy")
        self.details = w.HTML(message_html("No video yet.", "info"))
        self._sample_box = w.VBox([self.seconds, self.resolution, self.generate_button])
        self._upload_box = w.VBox([self.upload_note, self.upload])
        self._body = w.VBox([self._sample_box])
        self.mode.observe(self._on_mode, names="value")
        self.widget = w.VBox([self.mode, self._body, self.busy, self.message, self.details])
        # Stable CSS classes (for page styling and the browser tests).
        self.widget.add_class("rr-video-source")
        self.message.add_class("rr-source-message")

    def __repr__(self) -> str:
        return f"<VideoSource: {self.path.name if self.path else 'no video yet'}>"

    def _on_mode(self, change: dict[str, Any]) -> None:
        self._body.children = [self._sample_box if change["new"] == "Generate sample" else self._upload_box]

    def _set_message(self, text: str, kind: str = "info") -> None:
        self.message.value = message_html(text, kind) if text else ""

    @contextmanager
    def _working(self, text: str, estimate: float) -> Iterator[None]:
        """Show `text` with the seconds it has taken and a bar that fills over about
        `estimate` seconds (stopping short of full until the work is done)."""
        started = time.monotonic()

        def tick() -> None:
            elapsed = time.monotonic() - started
            self.busy.value = min(0.95, elapsed / max(estimate, 0.1))
            self._set_message(f"{text}… {elapsed:.1f} s")

        self.busy.value, self.busy.bar_style, self.busy.layout.display = 0.0, "info", None
        self._set_message(f"{text}…")
        try:
            with Periodic(0.25, tick, name="renderrush-ui-busy"):  # stopped before the end state is shown
                yield
            self.busy.value, self.busy.bar_style = 1.0, "success"
        except BaseException:
            self.busy.bar_style = "danger"
            raise

    def generate(self) -> Path | None:
        """Write a sample with the chosen length and resolution (reused if it exists).
        Returns its path, or None when it could not be made (the message says why)."""
        width, height = RESOLUTIONS[self.resolution.value]
        folder = self.work_dir / "samples"
        path = folder / f"sample-{self.seconds.value}s-{width}x{height}.mp4"
        self.generate_button.disabled = True
        try:
            folder.mkdir(parents=True, exist_ok=True)
            if not path.exists():
                estimate = 0.5 + self.seconds.value * 30 * width * height / SAMPLE_FPS_ESTIMATE
                with self._working(f"Generating {path.name}", estimate):
                    make_sample_video(path, seconds=self.seconds.value, size=(width, height), fps=30, audio=True)
            self.use_file(path)
        except Exception as exc:  # noqa: BLE001 — shown in the page as one sentence, not raised into a button
            self._set_message(f"could not make the sample: {error_sentence(exc)}", "error")
            return None
        finally:
            self.generate_button.disabled = False
        self._set_message(f"Sample ready: {path.name}", "ok")
        return path

    def use_file(self, path: str | os.PathLike) -> VideoInfo:
        """Use a video that is already on disk (probed first: errors say what is wrong)."""
        path = Path(path)
        try:
            with self._working(f"Checking {path.name}", 0.5 + (path.stat().st_size if path.is_file() else 0) / 50e6):
                info = probe(path)
        except RenderRushError as exc:
            self._set_message(str(exc), "error")
            raise
        self.path, self.info = path, info
        self.details.value = self.describe()
        self._call(self.on_change, self)
        return info

    def describe(self) -> str:
        """HTML summary of the current video."""
        if self.info is None or self.path is None:
            return message_html("No video yet.", "info")
        i = self.info
        audio = "with audio" if i.has_audio else "no audio"
        return (
            f"<b>{self.path.name}</b>: {i.width}×{i.height}, {float(i.fps):.3g} fps, {i.frame_count} frames, "
            f"{fmt_seconds(i.duration)}, {audio}"
        )

    def accept_upload(self, name: str, content: bytes | memoryview, size: int | None = None) -> Path:
        """Check, store and probe one uploaded file; returns where it was saved.

        Refuses files over the size limit, with another extension, or that are not
        readable videos (the stored copy is removed again). The name is sanitised."""
        size = len(content) if size is None else size
        if size > self.max_upload_bytes:
            raise UploadError(
                f"'{name}' is {fmt_bytes(size)}, over the {fmt_bytes(self.max_upload_bytes)} upload limit: "
                "trim it first, or render it from Python with renderrush.render(path, ...)"
            )
        safe = sanitize_filename(name)
        folder = (self.work_dir / "uploads").resolve()
        folder.mkdir(parents=True, exist_ok=True)
        target = _unique(folder / safe)
        if target.parent != folder:  # belt and braces: sanitize_filename keeps no folders
            raise UploadError(f"refusing to write '{name}' outside the upload folder")
        atomic_write_bytes(target, content)
        try:
            self.use_file(target)
        except RenderRushError:
            target.unlink(missing_ok=True)
            raise
        return target

    def _on_upload(self, change: dict[str, Any]) -> None:
        files = change["new"]
        if not files:
            return
        item = files[0]
        try:
            target = self.accept_upload(item["name"], item["content"], item.get("size"))
        except Exception as exc:  # noqa: BLE001 — a refused or unreadable upload is one sentence in the page
            self._set_message(error_sentence(exc), "error")
        else:
            note = "" if target.name == item["name"] else f" (saved as {target.name})"
            self._set_message(f"Uploaded {item['name']}{note}", "ok")
        finally:
            self.upload.value = ()  # free the upload's memory; the file is on disk now
