"""`make bench` section: the PDF report of 60 realistic nights, cold and warm page cache.

60 simulated nights of 7 h of sleep (7.5 h recorded) at 50 Hz, analysed beforehand: the
same data directory as bench/review.py (built once, ~5 min, kept under the system temp
dir; delete it to rebuild).  write_report runs in this process, with a page cache in a
fresh temporary folder (``cache_dir``), so the data directory is never written:

* cold: the cache empty, every night page drawn (in up to 2 worker processes) and stored;
* warm: the cache full, as on a second export with the analysis done: page 1 drawn,
  night pages merged from the cache.

Reference measured in the same run: drawing one night page and saving it as PDF, serially
in this process (the old report's cost per page).  Target: warm under 10 s; the ratio
is time / target (below 1 meets it).

    python bench/report.py [--nights N] [--repeat R]
"""
from __future__ import annotations

import argparse
import io
import logging
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.review import HOURS, RATE_HZ, TARGET_S, data_dir  # noqa: E402  (the same 60 nights)
#: Night pages drawn serially for the per-page reference.
REFERENCE_PAGES = 6


def time_per_page(views) -> float:
    """Mean seconds to draw one night page and save it as a one-page PDF (this process)."""
    from twitchwatch.review.pages import draw_night_page

    draw_night_page(views[0]).savefig(io.BytesIO(), format="pdf")        # imports, font cache
    t0 = time.perf_counter()
    for v in views[:REFERENCE_PAGES]:
        draw_night_page(v).savefig(io.BytesIO(), format="pdf")
    return (time.perf_counter() - t0) / min(REFERENCE_PAGES, len(views))


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nights", type=int, default=60)
    ap.add_argument("--repeat", type=int, default=2, help="runs of each measurement; the best is shown")
    a = ap.parse_args(argv)
    logging.getLogger("twitchwatch").setLevel(logging.WARNING)

    from twitchwatch.review.catalog import list_nights
    from twitchwatch.review.report import write_report

    data = data_dir(a.nights)
    t0 = time.perf_counter()
    views, skipped = list_nights(data, progress=False)
    t_list = time.perf_counter() - t0
    if skipped or len(views) != a.nights:
        raise RuntimeError(f"{data}: {len(views)} nights read, {len(skipped)} skipped; delete it to rebuild")
    per_page = time_per_page(views)

    work = Path(tempfile.mkdtemp(prefix="twitchwatch-bench-report-"))
    cold, warm = float("inf"), float("inf")
    try:
        for r in range(a.repeat):
            cache = work / f"pages-{r}"
            t0 = time.perf_counter()
            write_report(views, work / f"cold-{r}.pdf", pseudonym="P-017", cache_dir=cache)
            cold = min(cold, time.perf_counter() - t0)
            t0 = time.perf_counter()
            write_report(views, work / f"warm-{r}.pdf", pseudonym="P-017", cache_dir=cache)
            warm = min(warm, time.perf_counter() - t0)
        size_mb = (work / "warm-0.pdf").stat().st_size / 1e6
    finally:
        shutil.rmtree(work, ignore_errors=True)

    n = len(views)
    serial = per_page * n
    print(f"### PDF report: {n} simulated nights of {HOURS + 0.5:g} h at {RATE_HZ:g} Hz "
          f"(analysis stored; {size_mb:.1f} MB report; {os.cpu_count()} CPUs)\n")
    print(f"write_report in this process, best of {a.repeat}; reading the nights (list_nights, "
          f"{t_list:.2f} s) not included. Reference: one night page drawn and saved as PDF, "
          f"{per_page:.3f} s (mean of {min(REFERENCE_PAGES, n)}), so {serial:.1f} s for {n} pages drawn "
          f"serially. Target: warm < {TARGET_S:g} s.\n")
    print("| step | time (s) | per night page (s) | ratio to target | ratio to drawing every page serially |")
    print("|---|---|---|---|---|")
    print(f"| draw one night page (reference) | {per_page:.3f} | {per_page:.3f} | | |")
    print(f"| write_report, cold page cache | {cold:.2f} | {cold / n:.3f} | {cold / TARGET_S:.2f} "
          f"| {cold / serial:.2f} |")
    print(f"| write_report, warm page cache | {warm:.2f} | {warm / n:.3f} | {warm / TARGET_S:.2f} "
          f"| {warm / serial:.2f} |")


if __name__ == "__main__":
    main()
