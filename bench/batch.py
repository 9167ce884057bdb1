"""`make bench`: batch throughput against the number of workers, the cost of scheduling,
and the memory one worker needs per night.

Nights are synthetic 100-Hz nights (bench/run.py's generator), stored as night files (the
format `import` and `record` write) plus one canonical CSV for the memory figure.

* **Reference**: the same task function (twitchwatch.batch.task.analyze_input) called one
  input after another in this process, kernels warm.  Per-night time without any engine.
* **Engines**: the local process pool and a local Dask cluster, with 1 and 2 workers.
  "start" is the engine's start-up (processes, numba warm-up); nights/min counts from the
  first submitted task to the last result.  Overhead per night = (1-worker time - reference
  time) / nights: what shipping a task and its result costs.
* **Memory per worker**: one night in a fresh pool worker; the growth of the worker's peak
  resident set (ru_maxrss) over its size before the task, against the night's raw arrays
  (t + 3 axes, float64: 32 bytes per sample), the measure bench/run.py's 2.5x bound uses.

    python bench/batch.py [--quick]
"""
from __future__ import annotations

import argparse
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

RAW_BYTES_PER_SAMPLE = 32  # t (8) + x, y, z (3 x 8)
DAY = 86400.0


def _peak_rss_bytes() -> int:
    """Peak resident set of this process's own memory (VmHWM).  Not ru_maxrss: Linux keeps
    that across exec, so a worker spawned by a large parent (bench/run.py has held 8-h
    416-Hz nights by then) would report the parent's peak."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def measured_task(spec: dict) -> dict:
    """In a fresh worker: analyze_input plus its resident-memory growth (bytes).

    A short night of the same format goes first, so that the lazy imports and the
    allocator's first arenas (a fixed cost per worker, not per night) are not counted."""
    import psutil

    from twitchwatch.batch.task import analyze_input

    warm = analyze_input({**spec, "path": spec["warmup_path"], "out_dir": spec["out_dir"] + "-warm"})
    assert warm["status"] == "done", warm
    before = psutil.Process().memory_info().rss
    result = analyze_input(spec)
    peak = _peak_rss_bytes()
    result["rss_growth"] = max(peak - before, 0)
    return result


def make_nights(folder: Path, n: int, hours: float) -> tuple[list[Path], int]:
    """n night files (one person each, consecutive dates); returns the paths and samples per night."""
    from bench.run import T0, synthetic_night
    from twitchwatch.readers import Recording
    from twitchwatch.store import write_recording

    paths, samples = [], 0
    for i in range(n):
        t, acc = synthetic_night(100.0, hours, seed=i)
        person = folder / f"P{i + 1:02d}"
        person.mkdir(parents=True)
        path = person / "night.night"
        write_recording(path, Recording(t=t + i * DAY - T0 + 1_795_557_600.0, acc=acc, source="bench",
                                        sample_rate_hz=100.0), timezone="Europe/London")
        paths.append(path)
        samples = t.size
    return paths, samples


def _spec(path: Path, out: Path) -> dict:
    return {"path": str(path), "source": path.name, "person": path.parent.name, "person_from": "folder",
            "out_dir": str(out), "tz": "Europe/London", "units": "g", "replace": True, "run_started": time.time()}


def reference_seconds(paths: list[Path], out: Path) -> float:
    from twitchwatch.batch.task import analyze_input, warm_numba

    warm_numba()
    out.mkdir(mode=0o700)
    t0 = time.perf_counter()
    for p in paths:
        r = analyze_input(_spec(p, out))
        assert r["status"] == "done", r
    return time.perf_counter() - t0


def engine_run(folder: Path, out: Path, workers: int, scheduler: str | None, repeat: int = 2):
    """(start s, work s, sum of the tasks' own seconds) of the best of ``repeat`` batches."""
    from twitchwatch.batch.driver import run_batch

    best = None
    for _ in range(repeat):
        o = run_batch([str(folder)], out, tz="Europe/London", workers=workers, scheduler=scheduler, force=True)
        assert o.report["totals"]["inputs_failed"] == 0, o.report["failed"]
        run = (o.engine_s, o.work_s, sum(e["seconds"] for e in o.report["inputs"]))
        best = run if best is None or run[1] < best[1] else best
    return best


def worker_memory(path: Path, warmup: Path, out: Path, samples: int) -> tuple[float, float]:
    """(growth / raw arrays, growth in MB) for one input in a fresh pool worker."""
    from bench.batch import measured_task  # by module name, so spawned workers can import it
    from twitchwatch.batch.runner import PoolRunner

    out.mkdir(mode=0o700, exist_ok=True)
    Path(f"{out}-warm").mkdir(mode=0o700, exist_ok=True)
    with PoolRunner(1) as pool:
        (_, r), = list(pool.run(measured_task, [{**_spec(path, out), "warmup_path": str(warmup)}]))
    assert r["status"] == "done", r
    return r["rss_growth"] / (samples * RAW_BYTES_PER_SAMPLE), r["rss_growth"] / 1e6


def csv_night(path: Path, hours: float) -> int:
    from bench.run import synthetic_night
    from twitchwatch.convert import canonical_csv_bytes
    from twitchwatch.readers import Recording

    t, acc = synthetic_night(100.0, hours, seed=99)
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(canonical_csv_bytes(Recording(t=t, acc=acc, source="bench")))
    return t.size


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="1-hour nights, fewer of them (smoke run)")
    args = ap.parse_args(argv)
    hours, n = (1.0, 4) if args.quick else (8.0, 8)
    csv_hours = 0.5 if args.quick else 2.0
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        paths, samples = make_nights(d / "study", n, hours)
        ref_s = reference_seconds(paths, d / "ref")
        rows = []
        for scheduler, label in ((None, "process pool"), ("local", "Dask LocalCluster")):
            for w in (1, 2):
                out = d / f"out-{label[:4]}-{w}"
                rows.append((label, w, *engine_run(d / "study", out, w, scheduler)))
                shutil.rmtree(out)
        short, _ = make_nights(d / "short", 1, 0.25)
        mem_night, mb_night = worker_memory(paths[0], short[0], d / "mem", samples)
        csv_n = csv_night(d / "csv" / "night.csv", csv_hours)
        csv_night(d / "csv" / "short.csv", 0.25)
        mem_csv, mb_csv = worker_memory(d / "csv" / "night.csv", d / "csv" / "short.csv", d / "mem", csv_n)

    print("\n### Batch analysis (`twitchwatch batch`)\n")
    print(f"{n} nights of {hours:g} h at 100 Hz ({samples:,} samples each) as night files; this machine "
          f"has {os.cpu_count()} cores. Reference: the same task, one night after another in one process "
          f"(warm kernels): {ref_s:.2f} s, {ref_s / n:.2f} s per night, {n / ref_s * 60:.0f} nights/min.\n")
    print("| engine | workers | start (s) | work (s) | nights/min | × reference | × 1 worker | "
          "task time per night in the worker (s) | scheduling overhead per night (s) |")
    print("|---|---|---|---|---|---|---|---|---|")
    one = {}
    for label, w, start_s, work_s, task_s in rows:
        one.setdefault(label, work_s)
        # worker time not spent inside a task: dispatch, result, waiting at the end
        overhead = (work_s * w - task_s) / n
        print(f"| {label} | {w} | {start_s:.2f} | {work_s:.2f} | {n / work_s * 60:.0f} | {ref_s / work_s:.2f}x | "
              f"{one[label] / work_s:.2f}x | {task_s / n:.2f} | {overhead:.3f} |")
    print("\nstart: processes and numba warm-up, once per batch. work: first task submitted to last result "
          "(best of 2). Overhead: (work x workers - the tasks' own time) / nights.")
    print("\nMemory per worker (one night in a fresh worker; growth of its peak resident set / the raw "
          "arrays, target <= 2.5x as bench/run.py's):\n")
    print("| input | samples | growth | / raw arrays |")
    print("|---|---|---|---|")
    print(f"| night file, {hours:g} h | {samples:,} | {mb_night:.0f} MB | {mem_night:.2f}x |")
    print(f"| canonical CSV, {csv_hours:g} h | {csv_n:,} | {mb_csv:.0f} MB | {mem_csv:.2f}x |")


if __name__ == "__main__":
    main()
