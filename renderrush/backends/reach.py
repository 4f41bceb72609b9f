"""Check a dask scheduler before a job starts: that it answers, has workers, and that its
workers can render (RenderRush importable there, PyAV with libx264 and the input's decoder);
report how many workers and cores it has and its dashboard link. Every failure is one
sentence (`ClusterError`), for the notebook panel and the web app."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from ..core.errors import ClusterError

CHECK_TIMEOUT = "5s"
ENCODER = "libx264"


@dataclass(frozen=True)
class ClusterReport:
    """What a scheduler offers a job."""

    address: str
    workers: int
    cores: int
    """Worker threads summed over workers (one per core in RenderRush's recommended setup)."""
    dashboard: str | None
    """The Dask dashboard's address, or None when the scheduler serves none."""

    def summary(self) -> str:
        board = f"dashboard {self.dashboard}" if self.dashboard else "no dashboard (the scheduler needs bokeh)"
        return f"{self.workers} worker{'s' if self.workers != 1 else ''}, {self.cores} cores at {self.address}; {board}"


def worker_can_render(decoder: str | None) -> list[str]:
    """Run on each worker: the codecs a job needs that its PyAV lacks (empty when it can render)."""
    import av

    missing = []
    wanted: tuple[tuple[str | None, Literal["r", "w"]], ...] = ((ENCODER, "w"), (decoder, "r"))
    for name, mode in wanted:
        if name is None:
            continue
        try:
            av.codec.Codec(name, mode)
        except Exception:  # UnknownCodecError, or a codec that only exists the other way
            missing.append(f"{name} {'encoder' if mode == 'w' else 'decoder'}")
    return missing


def first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0].rstrip(".") if text else type(error).__name__


def check_client(client: Any, decoder: str | None = None) -> ClusterReport:
    """`ClusterReport` of a connected client's cluster, or `ClusterError` in one sentence
    when it has no workers or its workers cannot render the job."""
    from .cluster import dashboard_link

    address = getattr(client.scheduler, "address", "") or "the scheduler"
    workers = client.scheduler_info(n_workers=-1)["workers"]
    if not workers:
        raise ClusterError(f"the scheduler at {address} has no workers; start some with `dask worker {address}`")
    answers = client.run(worker_can_render, decoder, on_error="return")
    broken = {w: a for w, a in answers.items() if isinstance(a, BaseException)}
    if broken:
        worker, error = next(iter(broken.items()))
        raise ClusterError(
            f"{len(broken)} of {len(workers)} workers cannot run RenderRush ({worker}: {first_line(error)}); "
            "install renderrush in the workers' Python environment"
        )
    lacking = {w: a for w, a in answers.items() if a}
    if lacking:
        worker, missing = next(iter(lacking.items()))
        raise ClusterError(
            f"{len(lacking)} of {len(workers)} workers lack the {' and '.join(missing)} this job needs ({worker}); "
            "install a PyAV with those codecs there"
        )
    cores = sum(int(info.get("nthreads", 1)) for info in workers.values())
    return ClusterReport(address, len(workers), cores, dashboard_link(client))


def check_scheduler(address: str, decoder: str | None = None, timeout: str = CHECK_TIMEOUT) -> ClusterReport:
    """Connect to `address`, check it (`check_client`) and disconnect."""
    from distributed import Client

    address = address.strip()
    if not address:
        raise ClusterError("type a scheduler address first, e.g. tcp://10.0.0.5:8786")
    try:
        client = Client(address, timeout=timeout)
    except (OSError, TimeoutError, ValueError, TypeError) as exc:
        raise ClusterError(
            f"cannot reach a dask scheduler at '{address}' ({first_line(exc)}); check the address and that "
            "`dask scheduler` runs there"
        ) from None
    with client:
        return check_client(client, decoder)
