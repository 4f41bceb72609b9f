"""The options of a render or comparison job, validated in one place.

`RenderOptions` is the one list of job options: `render()`, `compare()`, the CLI's flags
(`cli_arguments`), the notebook control panel and the history's request record are all
derived from its fields, so a new option is one field here plus the code that uses it.

This module imports nothing heavy (no NumPy, PyAV or dask): the CLI builds its parser
from it, and `renderrush --help` should answer in a tenth of a second.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import MISSING, dataclass, field, fields, replace
from typing import TYPE_CHECKING, Any, TypeGuard, Union, cast

from ..core.errors import SchedulerError, SettingsError, did_you_mean
from ..media.codecs import CODECS, check_codec, check_crf, check_preset

if TYPE_CHECKING:
    from distributed import Client

    from ..backends.base import Backend
    from ..media.filters import FilterChain
    from ..recording.history import History

Scheduler = Union[str, "Client", "Backend"]
"""A local scheduler name, "local" (a LocalCluster), a scheduler address, a
`distributed.Client`, or an object that runs segments itself (`backend.Backend`)."""

LOCAL_SCHEDULERS = ("sync", "threads", "processes")
SPLITS = ("fixed", "keyframes", "scenes")
"""Where segment boundaries go (`RenderOptions.split`)."""
SCHEDULER_ALIASES = {
    "synchronous": "sync",
    "single-threaded": "sync",
    "sequential": "sync",
    "multiprocessing": "processes",
}


def check_workers(workers: object) -> int:
    """`workers` as given; raises `SettingsError` unless it is a whole number >= 1."""
    if not isinstance(workers, int) or isinstance(workers, bool) or workers < 1:
        raise SettingsError(f"workers must be a whole number of at least 1, got {workers!r}")
    return workers


def check_segment_seconds(seconds: object) -> float:
    if (
        isinstance(seconds, bool)
        or not isinstance(seconds, (int, float))
        or not (math.isfinite(seconds) and seconds > 0)
    ):
        raise SettingsError(f"segment length must be a positive number of seconds, got {seconds!r}")
    return float(seconds)


def check_target_quality(target: object) -> float:
    """A VMAF target between 0 and 100."""
    if isinstance(target, bool) or not isinstance(target, (int, float)) or not (0 <= target <= 100):
        raise SettingsError(f"target quality is a VMAF score between 0 and 100 (e.g. 92), got {target!r}")
    return float(target)


def is_cluster(scheduler: object) -> bool:
    """True for a distributed Client, "local" (a LocalCluster) or a scheduler address."""
    if hasattr(scheduler, "submit") and hasattr(scheduler, "scheduler_info"):
        return True
    return isinstance(scheduler, str) and (scheduler == "local" or "://" in scheduler or ":" in scheduler)


def is_backend(scheduler: object) -> TypeGuard[Backend]:
    """True for an object that runs segments itself (`backend.Backend`): tests pass fakes."""
    return callable(getattr(scheduler, "run", None)) and not is_cluster(scheduler)


def check_scheduler(scheduler: object) -> Scheduler:
    """The canonical form of a scheduler: a local name, a cluster (address, "local" or a
    Client) or a backend object; raises `SchedulerError` for anything else."""
    if is_backend(scheduler):
        return scheduler
    if is_cluster(scheduler):
        return cast(Scheduler, scheduler)
    name = SCHEDULER_ALIASES.get(scheduler, scheduler) if isinstance(scheduler, str) else scheduler
    if not isinstance(name, str) or name not in LOCAL_SCHEDULERS:
        choices = f"unknown scheduler '{scheduler}'; use one of {', '.join(LOCAL_SCHEDULERS)}, 'local' (a LocalCluster)"
        raise SchedulerError(
            f"{choices}, a scheduler address such as tcp://host:8786, or a distributed.Client"
        ).in_cli_terms(f"{choices} or a scheduler address such as tcp://host:8786")
    return name


def _option(default: Any, help: str, *, flag: bool = True, commands: tuple[str, ...] = ("render", "compare")) -> Any:
    """A RenderOptions field; `help` is its CLI help, `flag=False` keeps it off the CLI."""
    return field(default=default, metadata={"help": help, "flag": flag, "commands": commands})


@dataclass(frozen=True, kw_only=True)
class RenderOptions:
    """Every option of a job. Values are checked when the object is made (`SettingsError`,
    a `ValueError`); `filters` is kept as a parsed `FilterChain`, `scheduler` in its
    canonical form. Use `RenderOptions.build()` to merge keyword values into defaults."""

    filters: FilterChain | str | None = _option(
        None, 'filter chain such as "grayscale,blur:5,contrast:1.3" (see `renderrush filters`)'
    )
    """A chain string, a `FilterChain` or None for no filters."""
    workers: int | None = _option(None, "parallel workers (render: the advisor's choice; compare: every usable core)")
    segment_seconds: float | None = _option(
        None, "segment length in seconds (default: up to 2 segments per worker, at least 2 s)"
    )
    scheduler: Scheduler = _option(
        "processes",
        f"{', '.join(LOCAL_SCHEDULERS)}, 'local' for a dask LocalCluster, or a dask scheduler address "
        "such as tcp://10.0.0.5:8786 (default: threads for built-in filters, processes otherwise)",
    )
    """A local scheduler name, "local", a scheduler address, a `distributed.Client`, or a backend."""
    codec: str | None = _option(
        None,
        f"{', '.join(CODECS)} (default: H.264 for 8-bit SDR, HEVC Main 10 for 10-bit and HDR sources, "
        "VP9 for .webm); the container follows the output's suffix",
    )
    """An output codec (`codecs.CODECS`), or None to choose from the source and the container."""
    preset: str = _option(
        "veryfast",
        "speed on x264's scale, ultrafast..veryslow, for every codec, or the encoder's own (default veryfast)",
    )
    crf: float = _option(23, "quality on x264's scale, 0-51, lower is better, mapped to each codec's own (default 23)")
    tonemap: bool = _option(False, "tone-map HDR (PQ, HLG) to 8-bit SDR BT.709 with the Hable curve")
    split: str = _option(
        "fixed",
        "where segment boundaries go: fixed (even lengths, onto a keyframe a tenth of a segment away), keyframes "
        "(onto a keyframe up to half a segment away) or scenes (onto a scene cut up to half a segment away, else "
        "a keyframe)",
    )
    snap_to_keyframes: bool = _option(False, "the same as --split keyframes")
    vmaf: bool = _option(
        False, "measure each segment's VMAF too (every frame, libvmaf's vmaf_v0.6.1 model; PSNR and SSIM always)"
    )
    target_quality: float | None = _option(
        None,
        "search each segment's CRF for this VMAF (0-100; e.g. 92), from a few probe encodes; VMAF is then measured",
    )
    """A VMAF target: each segment's CRF is searched for it (`segments.target`); `crf` is the first guess."""
    resume: bool = _option(
        False, "reuse the segments an interrupted run of the same job left behind", commands=("render",)
    )
    shared_storage: bool = _option(
        False, "cluster workers can read the input path and write beside the output (else the input is sent to them)"
    )
    force: bool = _option(False, "start even when the free disk space looks too small")
    keep_segments: bool = _option(
        False, "keep the encoded segments beside the output, so one can be re-rendered later", commands=("render",)
    )
    history: History | str | os.PathLike[str] | bool | None = _option(None, "", flag=False)
    """A `History`, a database path, None or True for the default database, False for none."""
    label: str = _option("", "", flag=False)
    """Carried by every progress event (the comparison labels its runs "sequential"/"parallel")."""

    def __post_init__(self) -> None:
        from ..media.filters import FilterChain  # NumPy and OpenCV: only when a job is made, not for --help
        from ..recording.history import History

        set_ = object.__setattr__  # frozen: normalise once, here
        set_(self, "filters", FilterChain.parse(self.filters))
        if self.workers is not None:
            check_workers(self.workers)
        if self.segment_seconds is not None:
            set_(self, "segment_seconds", check_segment_seconds(self.segment_seconds))
        set_(self, "scheduler", check_scheduler(self.scheduler))
        check_codec(self.codec)
        check_preset(self.preset, self.codec)
        check_crf(self.crf)
        if self.split not in SPLITS:
            raise SettingsError(f"unknown split '{self.split}'; use one of {', '.join(SPLITS)}")
        if self.target_quality is not None:
            set_(self, "target_quality", check_target_quality(self.target_quality))
        for name in ("snap_to_keyframes", "vmaf", "resume", "shared_storage", "force", "tonemap", "keep_segments"):
            if not isinstance(getattr(self, name), bool):
                raise SettingsError(f"{name} must be True or False, got {getattr(self, name)!r}")
        if self.snap_to_keyframes and self.split == "fixed":
            set_(self, "split", "keyframes")  # the older name of split="keyframes"
        if not isinstance(self.label, str):
            raise SettingsError(f"label must be a string, got {self.label!r}")
        if not (self.history is None or isinstance(self.history, (bool, str, os.PathLike, History))):
            raise SettingsError(f"history must be a History, a database path, True/None or False, got {self.history!r}")

    @classmethod
    def build(cls, options: RenderOptions | None = None, /, **values: Any) -> RenderOptions:
        """`options` (or the defaults) with `values` replacing fields; an unknown name is
        a `SettingsError` that suggests the closest option."""
        names = [f.name for f in fields(cls)]
        for name in values:
            if name not in names:
                hint = did_you_mean(name, names) or f"; options are {', '.join(names)}"
                raise SettingsError(f"unknown option '{name}'{hint}")
        return replace(options, **values) if options is not None else cls(**values)

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> RenderOptions:
        """Options from a mapping that may hold other keys (CLI arguments, widget state)."""
        names = {f.name for f in fields(cls)}
        return cls.build(**{k: v for k, v in values.items() if k in names})

    def __repr__(self) -> str:
        shown = {**self.to_dict(), "history": self.history}
        return f"RenderOptions({', '.join(f'{k}={v!r}' for k, v in shown.items())})"

    def replace(self, **values: Any) -> RenderOptions:
        return type(self).build(self, **values)

    @property
    def chain(self) -> FilterChain:
        return cast("FilterChain", self.filters)  # parsed in __post_init__

    @property
    def scheduler_text(self) -> str:
        """The scheduler as the history records it (a Client or backend by its class name)."""
        return self.scheduler if isinstance(self.scheduler, str) else type(self.scheduler).__name__

    def request(self, input: str | os.PathLike, output: str | os.PathLike | None = None) -> dict[str, Any]:
        """What was asked for, as the history records it."""
        return job_request(input, output, self)

    def to_dict(self) -> dict[str, Any]:
        """The options as plain values (filters as text, scheduler as `scheduler_text`, history left out)."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        values.update(filters=str(self.filters), scheduler=self.scheduler_text)
        values.pop("history")
        return values


def cli_options(command: str) -> list[tuple[str, Any, str]]:
    """(name, default, help) of every option the CLI's `command` takes as a flag."""
    return [
        (f.name, f.default if f.default is not MISSING else None, f.metadata["help"])
        for f in fields(RenderOptions)
        if f.metadata.get("flag") and command in f.metadata["commands"]
    ]


def job_request(
    input: str | os.PathLike,
    output: str | os.PathLike | None,
    options: RenderOptions | None,
    values: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """What a job was asked to do, as the history records it, from `options` amended by
    `values` (not yet validated: a job refused for a bad option is recorded too)."""
    given = {f.name: f.default for f in fields(RenderOptions)}
    if options is not None:
        given.update((f.name, getattr(options, f.name)) for f in fields(options))
    given.update(values or {})
    filters, scheduler = given["filters"], given["scheduler"]
    return {
        "input": str(input),
        **({"output": str(output)} if output is not None else {}),
        "filters": "none"
        if filters is None
        else str(filters)
        if not isinstance(filters, (list, tuple))
        else ",".join(filters),
        "workers": given["workers"],
        "segment_seconds": given["segment_seconds"],
        "scheduler": scheduler if isinstance(scheduler, str) else type(scheduler).__name__,
        "preset": given["preset"],
        "crf": given["crf"],
    }
