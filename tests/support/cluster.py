"""A real dask cluster on loopback for tests: `dask scheduler` plus worker processes,
each worker with its own local directory (nothing shared but the network)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from . import ROOT

DASK = [sys.executable, "-m", "dask"]


@dataclass
class LoopbackCluster:
    folder: Path
    scheduler: subprocess.Popen | None = None
    workers: dict[str, subprocess.Popen] = field(default_factory=dict)

    @property
    def address(self) -> str:
        return json.loads((self.folder / "scheduler.json").read_text())["address"]

    def _env(self) -> dict[str, str]:
        return {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}

    def start(self, worker_names: tuple[str, ...] = ("a", "b"), timeout: float = 60) -> LoopbackCluster:
        file = self.folder / "scheduler.json"
        self.scheduler = subprocess.Popen(
            [*DASK, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard", "--scheduler-file", str(file)],
            cwd=self.folder,
            env=self._env(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout
        while not file.exists():
            if time.monotonic() > deadline or self.scheduler.poll() is not None:
                raise RuntimeError("dask scheduler did not start")
            time.sleep(0.1)
        for name in worker_names:
            local = self.folder / f"worker-{name}"
            local.mkdir()
            self.workers[name] = subprocess.Popen(
                [
                    *DASK,
                    "worker",
                    self.address,
                    "--name",
                    name,
                    "--nthreads",
                    "1",
                    "--no-nanny",
                    "--no-dashboard",
                    "--local-directory",
                    str(local),
                ],
                cwd=local,
                env=self._env(),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        from distributed import Client

        with Client(self.address, timeout=timeout) as client:
            client.wait_for_workers(len(worker_names), timeout=timeout)
        return self

    def worker_address(self, client: object, name: str) -> str:
        return next(a for a, w in client.scheduler_info(n_workers=-1)["workers"].items() if w["name"] == name)

    def stop(self) -> None:
        for proc in [*self.workers.values(), self.scheduler]:
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait()
