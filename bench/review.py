"""`make bench` section: the review commands on a data directory of 60 realistic nights.

60 simulated nights of 7 h of sleep (7.5 h recorded) at 50 Hz, analysed beforehand (built
once, ~5 min, and kept in a cache folder under the system temp dir; delete it to rebuild).
Each command runs as a whole new process (``python -m twitchwatch ...``), as a user runs
it, so interpreter start, imports and numba's cache load are included.  Target: each
under 10 s; the ratio is time / target (below 1 meets it).

    python bench/review.py [--nights N] [--repeat R]
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TARGET_S = 10.0
HOURS, RATE_HZ = 7.0, 50.0


def data_dir(n_nights: int) -> Path:
    """The cached data directory (built when missing: written under a temporary name,
    renamed when every night is written and analysed)."""
    from tests.nightdata import make_data_dir

    d = Path(tempfile.gettempdir()) / f"twitchwatch-bench-review-{n_nights}n-{HOURS:g}h-{RATE_HZ:g}hz"
    if (d / ".complete").exists():
        return d
    tmp = d.with_name(d.name + ".building")
    shutil.rmtree(tmp, ignore_errors=True)
    t0 = time.perf_counter()
    print(f"building {n_nights} simulated nights in {d} (once) ...", file=sys.stderr, flush=True)
    make_data_dir(tmp, n_nights, hours=HOURS, rate_hz=RATE_HZ)
    (tmp / ".complete").write_text("")
    shutil.rmtree(d, ignore_errors=True)
    os.replace(tmp, d)
    print(f"built in {time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)
    return d


def time_command(args: list[str], repeat: int, out_dir: Path | None = None) -> float:
    """Best wall time of ``repeat`` runs of ``twitchwatch args`` in a new process (s)."""
    best = float("inf")
    for _ in range(repeat):
        if out_dir is not None:
            shutil.rmtree(out_dir, ignore_errors=True)
        t0 = time.perf_counter()
        r = subprocess.run([sys.executable, "-m", "twitchwatch", *args], capture_output=True, text=True, cwd=ROOT)
        dt = time.perf_counter() - t0
        if r.returncode != 0:
            raise RuntimeError(f"twitchwatch {' '.join(args)} failed: {r.stderr.strip()}")
        best = min(best, dt)
    return best


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nights", type=int, default=60)
    ap.add_argument("--repeat", type=int, default=2, help="runs per command; the best is shown")
    a = ap.parse_args(argv)

    data = data_dir(a.nights)
    work = Path(tempfile.mkdtemp(prefix="twitchwatch-bench-export-"))
    out = work / "out"
    dd = ["--data-dir", str(data)]
    runs = [("`twitchwatch nights`", ["nights", *dd], None), ("`twitchwatch trend`", ["trend", *dd], None)]
    runs += [
        ("`twitchwatch export` (pdf, csv, edf, fhir)", ["export", *dd, "--to", str(out)], out),
        ("`export --format csv,fhir`", ["export", *dd, "--to", str(out), "--format", "csv,fhir"], out),
        ("`export --format pdf`", ["export", *dd, "--to", str(out), "--format", "pdf"], out),
        ("`export --format edf`", ["export", *dd, "--to", str(out), "--format", "edf"], out),
    ]
    try:
        # warm the page cache and numba's cache once, like a user's second command
        time_command(["nights", *dd], 1)
        rows = [(label, time_command(args, a.repeat, o)) for label, args, o in runs]
    finally:
        shutil.rmtree(work, ignore_errors=True)

    size_mb = sum(p.stat().st_size for p in data.glob("*.night")) / 1e6
    print(f"### Review and export: {a.nights} simulated nights of {HOURS + 0.5:g} h at {RATE_HZ:g} Hz "
          f"({size_mb:,.0f} MB of night files, analysis stored)\n")
    print("Each command is a whole new process (best of "
          f"{a.repeat}); target < {TARGET_S:g} s; ratio = time / target.\n")
    print("| command | time (s) | ratio to target |")
    print("|---|---|---|")
    for label, sec in rows:
        print(f"| {label} | {sec:.2f} | {sec / TARGET_S:.2f} |")


if __name__ == "__main__":
    main()
