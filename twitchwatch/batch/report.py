"""The batch report, ``DIR/batch-report.json``: what succeeded, what failed and why.

It names the inputs (as INPUTS spelled them) so that an operator can find a failed file;
the per-night folders and the cohort table do not.  Keys:

started_utc, finished_utc, seconds, engine, workers, detector_version, settings (tz,
units, person_from, resume, force), totals, failed (source, reason, kind for each failed
input), inputs (every input: source, status 'done' | 'skipped' | 'failed', reason, nights
with their folder and status, seconds of work, worker).
"""
from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from detect.config import DETECTOR_VERSION

from ..atomic import write_bytes

REPORT_NAME = "batch-report.json"


def _iso(t: float) -> str:
    return dt.datetime.fromtimestamp(t, tz=dt.timezone.utc).isoformat(timespec="seconds")


def totals(entries: list[dict]) -> dict:
    nights = [n for e in entries for n in e["nights"]]
    by = lambda s: sum(1 for n in nights if n["status"] == s)  # noqa: E731
    return {
        "inputs": len(entries),
        "inputs_done": sum(1 for e in entries if e["status"] == "done"),
        "inputs_skipped": sum(1 for e in entries if e["status"] == "skipped"),
        "inputs_failed": sum(1 for e in entries if e["status"] == "failed"),
        "nights_analysed": sum(1 for e in entries if e["status"] != "skipped" for n in e["nights"]
                               if n["status"] == "done"),
        "nights_skipped": sum(1 for e in entries if e["status"] == "skipped" for n in e["nights"]
                              if n["status"] == "done"),
        "nights_failed": by("failed"),
        "nights_too_short": by("short"),
    }


def build_report(entries: list[dict], *, started: float, finished: float, engine: str, workers: int,
                 settings: dict) -> dict:
    t = totals(entries)
    run_s = finished - started
    t["nights_per_minute"] = round(t["nights_analysed"] / (run_s / 60.0), 2) if run_s > 0 else None
    return {
        "started_utc": _iso(started),
        "finished_utc": _iso(finished),
        "seconds": round(run_s, 2),
        "engine": engine,
        "workers": workers,
        "detector_version": DETECTOR_VERSION,
        "settings": settings,
        "totals": t,
        "failed": [{"source": e["source"], "reason": e["reason"], "kind": e.get("error_kind")}
                   for e in entries if e["status"] == "failed"],
        "inputs": entries,
    }


def write_report(report: dict, out_dir: Path) -> Path:
    path = Path(out_dir) / REPORT_NAME
    write_bytes(path, (json.dumps(report, indent=2) + "\n").encode(), force=True)
    return path


def summary_line(report: dict, out_dir: Path) -> str:
    t = report["totals"]
    parts = [f"{t['nights_analysed']} nights analysed"]
    if t["nights_skipped"]:
        parts.append(f"{t['nights_skipped']} already done")
    if t["nights_too_short"]:
        parts.append(f"{t['nights_too_short']} too short")
    parts.append(f"{t['inputs_failed']} of {t['inputs']} inputs failed")
    rate = t.get("nights_per_minute")
    if report["workers"]:
        how = (f" ({rate:.1f} nights/min, " if rate and t["nights_analysed"] else " (") + \
              f"{report['seconds']:.0f} s on {report['workers']} workers, {report['engine']})"
    else:
        how = " (nothing left to analyse)"
    return f"{', '.join(parts)}{how}; cohort and report in {out_dir}"
