"""`make bench`: speed and memory of the detection engine, with ratios measured in the same run.

Prints one table.  Every ratio is against a reference measured here and now, on the same
data, so a busy machine slows both sides alike.  Nothing here is a test: no limit makes
it fail; the targets are printed beside the figures.

    python bench/run.py [--quick]
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from detect import DetectorConfig  # noqa: E402

T0 = 1_764_021_600.0  # 2025-11-24T22:00Z


def synthetic_night(fs: float, hours: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Noise + gravity + a jerk every ~20 s + a posture change every ~20 min.

    Cheap to make for long nights; the accuracy of the detector is measured elsewhere
    (tests/test_accuracy.py) on the physical simulator.
    """
    rng = np.random.default_rng(seed)
    n = int(fs * hours * 3600)
    t = T0 + np.arange(n) / fs
    acc = rng.normal(0.0, 0.002, (n, 3))
    acc[:, 2] += 1.0
    m = max(4, int(0.12 * fs))
    w = np.linspace(0, 1, m)
    shape = np.sin(2 * np.pi * w) * np.sin(np.pi * w)
    for i in rng.integers(0, n - m, size=int(hours * 180)):
        acc[i:i + m, rng.integers(0, 3)] += rng.uniform(0.03, 1.0) * shape
    for i in rng.integers(0, n - int(5 * fs), size=int(hours * 3)):
        acc[i:, :] = acc[i:, [1, 2, 0]]  # a 120-degree turn of the frame
    return t, acc


def best_of(fn, repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def kernel_seconds(t, acc, fs) -> tuple[float, float]:
    """Seconds of the event kernel and of the epoch kernel over the whole night (best of 3)."""
    from detect.stream import KernelRunner

    cfg = DetectorConfig(sample_rate_hz=fs)
    x, y, z = (np.ascontiguousarray(acc[:, k]) for k in range(3))
    n = t.size
    KernelRunner(cfg).run(t[:1000], x[:1000], y[:1000], z[:1000])  # compile / load cache
    best_a = best_b = float("inf")
    for _ in range(3):
        kr = KernelRunner(cfg)
        K = kr.K
        m2 = np.empty(n)
        t0 = time.perf_counter()
        i = 0
        while i < n:
            i, _, _ = K.process(t, x, y, z, m2, i, kr.p, kr.fs, kr.ist, kr.ring, kr.srt,
                                kr.ev_buf, 0, kr.gap_buf, 0)
        t1 = time.perf_counter()
        b = 0
        while b < n:
            b, _ = K.epochs(t, x, y, z, m2, b, n, kr.p, kr.fs, kr.ist, kr.ep_buf, 0)
        t2 = time.perf_counter()
        best_a = min(best_a, t1 - t0)
        best_b = min(best_b, t2 - t1)
    return best_a, best_b


def reference_seconds(t, acc, fs, max_samples: int) -> tuple[float, int]:
    """Time of the slow reference (tests/reference.py) on the first max_samples."""
    from tests.reference import reference_detect

    n = min(t.size, max_samples)
    cfg = DetectorConfig(sample_rate_hz=fs)
    t0 = time.perf_counter()
    reference_detect(t[:n], acc[:n, 0], acc[:n, 1], acc[:n, 2], cfg)
    return time.perf_counter() - t0, n


def peak_memory_ratio(t, acc, fs) -> float:
    """Peak traced allocation of analyze_arrays over the raw array size (t + 3 axes)."""
    from twitchwatch.analyze import analyze_arrays

    raw = t.nbytes + acc.nbytes
    tracemalloc.start()
    tracemalloc.reset_peak()
    analyze_arrays(t, acc, timezone="Europe/London")
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / raw


def compile_times() -> tuple[float, float]:
    """Seconds to the first result in a new process: cold numba cache, then warm."""
    code = (
        "import time, numpy as np; t0 = time.perf_counter();"
        "from detect import Detector, DetectorConfig;"
        "d = Detector(DetectorConfig(sample_rate_hz=100)); t = 1e9 + np.arange(2000) / 100;"
        "z = np.zeros(2000); d.feed(t, z, z, z + 1); d.finish();"
        "print(time.perf_counter() - t0)"
    )
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache)
        out = []
        for _ in range(2):
            r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                               text=True, check=True, cwd=ROOT)
            out.append(float(r.stdout.strip()))
    return out[0], out[1]


def csv_comparison(hours: float) -> tuple[float, float]:
    """analyze of a canonical CSV vs a minimal pandas + scipy detector on the same file."""
    t, acc = synthetic_night(100.0, hours, seed=1)
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "night.csv"
        with open(path, "w") as f:
            f.write("time_s,ax_g,ay_g,az_g\n")
            np.savetxt(f, np.column_stack([t, acc]), fmt=["%.6f", "%.5f", "%.5f", "%.5f"], delimiter=",")
        env = dict(os.environ)
        tw = best_of(lambda: subprocess.run(
            [sys.executable, "-m", "twitchwatch", "analyze", str(path), "--out", str(Path(d) / "o"),
             "--force", "--tz", "UTC"], check=True, capture_output=True, env=env, cwd=ROOT), 2)
        base = best_of(lambda: subprocess.run(
            [sys.executable, "-c", f"from bench.baseline import main; main({str(path)!r})"],
            check=True, capture_output=True, env=env, cwd=ROOT), 2)
    return tw, base


def store_figures(hours: float) -> list[tuple]:
    """Night-file write throughput (1-s appends, as the recorder makes them), read time,
    and the whole `analyze` command on an 8-hour night file."""
    from twitchwatch.store import ChannelSpec, NightReader, NightWriter

    rows = []
    with tempfile.TemporaryDirectory() as d:
        for fs in (100.0, 416.0):
            t, acc = synthetic_night(fs, hours)
            path = Path(d) / f"n{int(fs)}.night"
            step = int(fs)
            t0 = time.perf_counter()
            with NightWriter.create(path, timezone="Europe/London", channels=(ChannelSpec("acc", fs),)) as w:
                for a in range(0, t.size, step):
                    w.append(t[a:a + step], acc[a:a + step])
            write_s = time.perf_counter() - t0

            def read():
                with NightReader(path) as r:
                    r.read()

            read_s = best_of(read)
            cmd = [sys.executable, "-m", "twitchwatch", "analyze", str(path), "--out", str(Path(d) / "o"),
                   "--force", "--tz", "UTC"]
            subprocess.run(cmd, check=True, capture_output=True, cwd=ROOT)  # warm the numba cache
            analyze_s = best_of(lambda: subprocess.run(cmd, check=True, capture_output=True, cwd=ROOT), 2)
            rows.append((fs, t.size, t.size / write_s, read_s, analyze_s, path.stat().st_size))
    return rows


def largest_device_file() -> Path | None:
    """The largest device recording in ../shared/data/formats that twitchwatch reads."""
    folder = ROOT.parent / "shared" / "data" / "formats"
    files = [p for ext in ("*.cwa", "*.gt3x", "*.bin") for p in folder.glob(f"*/{ext}")
             if not p.name.lower().startswith(("mtx", "genea_"))]
    return max(files, key=lambda p: p.stat().st_size) if files else None


def convert_file(path: Path) -> None:
    with tempfile.TemporaryDirectory() as d:
        subprocess.run([sys.executable, "-m", "twitchwatch", "convert", str(path), str(Path(d) / "x.night"),
                        "--tz", "UTC"], check=True, capture_output=True, cwd=ROOT)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="1-hour nights instead of 8 (smoke run)")
    args = ap.parse_args()
    hours = 1.0 if args.quick else 8.0
    rows = []
    for fs in (100.0, 416.0):
        t, acc = synthetic_night(fs, hours)
        n = t.size
        ka, kb = kernel_seconds(t, acc, fs)
        from twitchwatch.analyze import analyze_arrays

        full_s = best_of(lambda: analyze_arrays(t, acc, timezone="Europe/London"), 2)
        ref_s, ref_n = reference_seconds(t, acc, fs, max_samples=int(fs * 1800))
        ref_rate = ref_n / ref_s
        mem = peak_memory_ratio(t, acc, fs)
        rows.append((fs, n, ka, kb, full_s, ref_rate, mem))

    print(f"\nDetection on a {hours:g}-hour synthetic night (this machine, {os.cpu_count()} cores, one used)\n")
    print("| rate | samples | event kernel Msamples/s | epoch kernel Msamples/s | both kernels Msamples/s | "
          "both x reference | analyze from arrays (s) | Msamples/s | peak memory / raw array |")
    print("|---|---|---|---|---|---|---|---|---|")
    for fs, n, ka, kb, full_s, ref_rate, mem in rows:
        print(f"| {fs:g} Hz | {n:,} | {n / ka / 1e6:.0f} | {n / kb / 1e6:.0f} | {n / (ka + kb) / 1e6:.0f} | "
              f"{n / (ka + kb) / ref_rate:.0f}x | {full_s:.2f} | {n / full_s / 1e6:.1f} | {mem:.2f}x |")
    print("\ntargets: kernels >= 100 Msamples/s per core and >= 20x the reference; peak memory <= 2.5x;"
          " 8-h 100 Hz night analysed in <= 2 s (warm cache).")
    print(f"reference rate measured on the first 30 min of each night "
          f"({', '.join(f'{r[5] / 1e6:.2f}' for r in rows)} Msamples/s).")

    cold, warm = compile_times()
    print(f"\nnumba compile cost (new process to first result): cold cache {cold:.2f} s, warm cache {warm:.2f} s")

    print("\nNight files (SQLite, WAL; appends of 1 s of samples as the recorder makes them)\n")
    print("| rate | samples | write (samples/s) | read whole night (s) | `twitchwatch analyze NIGHT` (s) | file size |")
    print("|---|---|---|---|---|---|")
    for fs, n, wr, rd, an, size in store_figures(hours):
        print(f"| {fs:g} Hz | {n:,} | {wr:,.0f} | {rd:.2f} | {an:.2f} | {size / 1e6:.0f} MB |")
    print("targets: read an 8-h 100 Hz night in well under 1 s; analyze it in <= 2 s with a warm cache.")

    largest = largest_device_file()
    if largest is not None:
        conv_s = best_of(lambda: convert_file(largest), 2)
        print(f"\nconversion of the largest real device file in ../shared/data/formats ({largest.name}, "
              f"{largest.stat().st_size / 1e6:.1f} MB) to a night file: {conv_s:.2f} s (whole command)")

    from bench.recorder import measure

    print("\nRecorder: one hour of a scripted Polar-like band (session + detector + night file + the band itself)\n")
    print("| rate | samples | CPU per hour of data | share of one core | resident memory at 5 % -> 100 % of the hour |")
    print("|---|---|---|---|---|")
    for fs in (200.0, 416.0):
        m = measure(fs, hours=0.25 if args.quick else 1.0)
        print(f"| {fs:g} Hz | {m['samples']:,} | {m['cpu_s']:.1f} s | {100 * m['core_share']:.2f} % | "
              f"{m['rss_first']:.0f} -> {m['rss_last']:.0f} MB |")
    print("target: under 2 % of one core and flat memory.")

    csv_hours = 0.5 if args.quick else 3.0
    tw, base = csv_comparison(csv_hours)
    print(f"\ncanonical CSV, {csv_hours:g} h at 100 Hz, whole command incl. interpreter start: "
          f"twitchwatch analyze {tw:.2f} s, minimal pandas+scipy detector {base:.2f} s "
          f"(ratio {tw / base:.2f}; target <= 1)")

    # the sections of the other areas, each a module of bench/ with its own main()
    import importlib

    for name, quick_args in (("bench.batch", ["--quick"]), ("bench.review", ["--nights", "12"]),
                             ("bench.report", ["--nights", "12"])):
        print()
        importlib.import_module(name).main(quick_args if args.quick else [])


if __name__ == "__main__":
    main()
