"""Tasks on a Dask distributed cluster (see runner.py for the common shape).

Imported only when ``--scheduler`` is given, so the process pool never loads distributed.
"""
from __future__ import annotations

import logging
import uuid
from typing import Callable, Iterable, Iterator

import dask
from distributed import Client, KilledWorker, LocalCluster, as_completed
from distributed.diagnostics.plugin import WorkerPlugin

from .runner import ClusterError, died
from .task import check_paths, warm_numba, worker_info

log = logging.getLogger(__name__)


class WarmNumba(WorkerPlugin):
    """Load the detection kernels when a worker starts (also on workers that join later),
    so that no night pays numba's compile or cache load."""

    name = "twitchwatch-warm-numba"

    def setup(self, worker):
        warm_numba()


class DaskRunner:
    """``address`` of a running scheduler (``tcp://host:8786``), or 'local' for a
    LocalCluster on this machine: ``workers`` processes with one thread each (one night's
    memory per process, the bound the engine's benchmark measures), listening on the
    loopback interface only, without a dashboard."""

    def __init__(self, address: str, workers: int, *, connect_timeout_s: float = 20.0,
                 wait_workers_s: float = 120.0):
        self.address = address
        self.requested = max(1, int(workers))
        self.connect_timeout_s = connect_timeout_s
        self.wait_workers_s = wait_workers_s
        self.cluster = None
        self.client = None
        self.name = "dask local cluster" if address == "local" else f"dask cluster at {address}"
        self.workers = 0

    def __enter__(self):
        try:
            self._start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def _start(self) -> None:
        # distributed logs every connection at INFO on its own handler; keep that for -v
        if not logging.getLogger().isEnabledFor(logging.INFO):
            logging.getLogger("distributed").setLevel(logging.ERROR)
        if self.address == "local":
            warm_numba()  # same machine, same on-disk cache: the workers then only load it
            self.cluster = LocalCluster(n_workers=self.requested, threads_per_worker=1, processes=True,
                                        host="127.0.0.1", dashboard_address=None, silence_logs=logging.ERROR)
            self.client = Client(self.cluster)
        else:
            try:
                self.client = Client(self.address, timeout=f"{self.connect_timeout_s}s")
            except (OSError, TimeoutError, ValueError) as exc:
                raise ClusterError(
                    f"cannot reach the Dask scheduler at {self.address} ({type(exc).__name__}); start one with "
                    f"`dask scheduler` and workers with `dask worker {self.address}`, or use --scheduler local"
                ) from None
            try:
                self.client.wait_for_workers(1, timeout=self.wait_workers_s)
            except TimeoutError:
                raise ClusterError(f"no worker joined the scheduler at {self.address} within "
                                   f"{self.wait_workers_s:g} s; start some with `dask worker {self.address}`"
                                   ) from None
        self._check_workers()
        self.client.register_plugin(WarmNumba())
        self.workers = len(self.client.scheduler_info(n_workers=-1)["workers"])

    def _check_workers(self) -> None:
        """Every worker must import twitchwatch and run this detector version."""
        from detect.config import DETECTOR_VERSION

        try:
            infos = self.client.run(worker_info)
        except ImportError as exc:
            raise ClusterError(f"a Dask worker cannot import twitchwatch ({exc}); install the same "
                               f"twitchwatch on every worker") from None
        bad = {a: i["detector_version"] for a, i in infos.items() if i["detector_version"] != DETECTOR_VERSION}
        if bad:
            a, v = next(iter(bad.items()))
            raise ClusterError(f"worker {a} runs detector {v}, this machine {DETECTOR_VERSION}; install the "
                               f"same twitchwatch on every worker")

    def check_paths(self, out_dir: str, probe: str) -> None:
        """Fail early when some worker does not see the inputs or cannot write the output."""
        if self.cluster is not None:
            return  # the same machine sees the same files
        problems = {a: p for a, p in self.client.run(check_paths, out_dir, probe).items() if p}
        if problems:
            a, p = next(iter(problems.items()))
            raise ClusterError(f"worker {a} {p}: the inputs and --out must be on storage every worker "
                               f"mounts at the same path")

    def close(self) -> None:
        if self.client is not None:
            self.client.close()
            self.client = None
        if self.cluster is not None:
            self.cluster.close()
            self.cluster = None

    def run(self, fn: Callable[[dict], dict], specs: Iterable[dict]) -> Iterator[tuple[dict, dict]]:
        """Submit every input at once (the scheduler queues them; results are small dicts)
        and yield them as they complete."""
        run_id = uuid.uuid4().hex[:8]
        futures = {}
        for i, spec in enumerate(specs):
            # pure=False and a unique key: a rerun is new work, never a cached result
            fut = self.client.submit(fn, spec, pure=False, key=f"twitchwatch-input-{run_id}-{i}")
            futures[fut] = spec
        for fut in as_completed(list(futures)):
            spec = futures.pop(fut)
            try:
                result = fut.result()
            except KilledWorker:
                allowed = dask.config.get("distributed.scheduler.allowed-failures")
                result = died(spec, allowed + 1)
            except Exception as exc:  # e.g. the task could not be deserialised on a worker
                result = {**died(spec, 1), "error": f"the cluster could not run it: {type(exc).__name__}: {exc}"}
            fut.release()
            yield spec, result

