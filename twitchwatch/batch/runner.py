"""Where the tasks run: a local process pool, or a Dask distributed cluster.

Both runners have the same shape::

    with make_runner(scheduler, workers) as r:     # starts the engine, warms numba
        for spec, result in r.run(analyze_input, specs):   # results in completion order
            ...

A worker that dies (killed, out of memory, a crash in native code) costs at most the
inputs it held: the pool is restarted and those inputs are tried once more; an input that
was in flight during two deaths is reported as failed.  Dask does the same by itself
(``distributed.scheduler.allowed-failures``, then ``KilledWorker``).
"""
from __future__ import annotations

import logging
import os
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Callable, Iterable, Iterator

from ..errors import TwitchwatchError
from .task import warm_numba

log = logging.getLogger(__name__)

#: Tries per input when a pool worker dies under it.
MAX_TRIES = 2

WORKER_DIED = ("the worker process died while analysing it (killed, out of memory, or a crash); "
               "it was tried {n} times")


class ClusterError(TwitchwatchError):
    """The Dask cluster cannot be reached or cannot run the analysis."""


def default_workers() -> int:
    """CPUs this process may use (the affinity mask, not the machine's total)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _ready(hold_s: float) -> int:
    """A pool worker's pid once it is up (its initializer has run); held briefly so that
    each of the start-up probes lands on a different worker."""
    import time

    time.sleep(hold_s)
    return os.getpid()


def died(spec: dict, tries) -> dict:
    return {"source": spec["source"], "status": "failed", "error": WORKER_DIED.format(n=tries),
            "error_kind": "internal", "nights": [], "samples": 0, "seconds": 0.0, "worker": None}


class PoolRunner:
    """A local process pool (``concurrent.futures``, spawned processes: no inherited
    threads or locks).  At most one input per worker is in flight, so a worker death
    touches at most ``workers`` inputs."""

    def __init__(self, workers: int):
        self.workers = max(1, int(workers))
        self.name = "process pool"
        self._pool = None

    def _start(self) -> None:
        import multiprocessing

        self._pool = ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"),
                                         initializer=warm_numba)
        # The pool spawns its processes on demand: start them all now (each warms numba in
        # its initializer), so that start-up is not charged to the first nights.
        seen: set[int] = set()
        for _ in range(3):
            seen.update(f.result() for f in [self._pool.submit(_ready, 0.05) for _ in range(self.workers)])
            if len(seen) >= self.workers:
                break

    def __enter__(self):
        # Compile (or load) the kernels here first: with a cold cache the workers then load
        # them instead of each compiling the same code at once.
        warm_numba()
        self._start()
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def check_paths(self, out_dir: str, probe: str) -> None:
        """The pool's workers run on this machine and see what it sees."""

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def run(self, fn: Callable[[dict], dict], specs: Iterable[dict]) -> Iterator[tuple[dict, dict]]:
        todo = list(specs)[::-1]  # pop() from the end keeps the given order
        tries: dict[int, int] = {}
        running: dict = {}

        def retry_or_give_up(spec: dict):
            """An input whose worker died: queue it again, or report it after MAX_TRIES."""
            k = id(spec)
            tries[k] = tries.get(k, 0) + 1
            if tries[k] >= MAX_TRIES:
                yield spec, died(spec, tries[k])
            else:
                todo.append(spec)

        while todo or running:
            while todo and len(running) < self.workers:
                spec = todo.pop()
                running[self._pool.submit(fn, spec)] = spec
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            broken = False
            for fut in done:
                spec = running.pop(fut)
                try:
                    yield spec, fut.result()
                except BrokenProcessPool:
                    broken = True
                    yield from retry_or_give_up(spec)
            if broken:
                # every other in-flight input died with the pool as well
                for spec in list(running.values()):
                    yield from retry_or_give_up(spec)
                running.clear()
                log.warning("a worker process died; restarting the pool")
                self._pool.shutdown(wait=True, cancel_futures=True)
                self._start()


def make_runner(scheduler: str | None, workers: int | None):
    """A PoolRunner without a scheduler, else a DaskRunner ('local' or an address)."""
    n = workers or default_workers()
    if scheduler:
        from .dask_runner import DaskRunner  # imports distributed only when asked for

        return DaskRunner(scheduler, n)
    return PoolRunner(n)
