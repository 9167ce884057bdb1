"""The cohort table: one row per analysed night, as ``cohort.csv`` and ``cohort.parquet``.

Built from each night's own ``summary.json`` (the per-night outputs stay the truth; the
table is a view of them), so a resumed batch gets the same table as a single run.  It
holds no file names, paths or device serials (unless ``--person-from device`` made the
serial the person id).

Columns (times ISO 8601; durations in hours unless named ``_s``):

person, night (the night's name, e.g. 2026-11-24), date (the noon-to-noon date),
timezone, source_format, recording_start_utc, recording_end_utc, recording_h, samples,
sample_rate_hz; sleep_window_start_utc, sleep_window_end_utc, sleep_window_start_local,
sleep_window_end_local, sleep_h; counts by kind (jerks, limb_movements, posture_changes,
other_movements) over the whole recording and ``*_in_sleep`` inside the sleep window;
jerks_per_hour_sleep, plm_index (PLM movements per hour of sleep), plm_series,
hourly_jerks_per_hour (JSON list: the jerks-per-hour index of each local clock hour of the
sleep window, null for hours with under a minute of usable data), peak_hourly_jerks_per_hour;
quality: wear_h, nonwear_h, gaps_s, gap_count, clipped_samples, noise_floor_mg,
calibration_error_before_mg, calibration_error_after_mg, calibration_applied,
reader_damage (samples/blocks the reader had to skip); detector_version, config_hash.
"""
from __future__ import annotations

import io
import json
from pathlib import Path

import pandas as pd

from ..atomic import write_bytes

CSV_NAME = "cohort.csv"
PARQUET_NAME = "cohort.parquet"

_KINDS = (("jerk", "jerks"), ("limb_movement", "limb_movements"), ("posture_change", "posture_changes"),
          ("other_movement", "other_movements"))


def _hours(seconds) -> float | None:
    return None if seconds is None else round(float(seconds) / 3600.0, 4)


def _span_h(a: str | None, b: str | None) -> float | None:
    if not a or not b:
        return None
    return round((pd.Timestamp(b) - pd.Timestamp(a)).total_seconds() / 3600.0, 4)


def night_row(night: dict, summary: dict) -> dict:
    """One table row from a night record (task.py) and its summary.json."""
    s = summary
    local = s.get("sleep_window_local") or [None, None]
    hourly = [h["jerks_per_hour"] for h in s.get("hourly_jerks", [])]
    rated = [v for v in hourly if v is not None]
    cal = s.get("calibration_error_mg") or {}
    row = {
        "person": night["person"],
        "night": night["night"],
        "date": night["night"][:10],
        "timezone": s["timezone"],
        "source_format": night.get("source_format", ""),
        "recording_start_utc": s["recording_start_utc"],
        "recording_end_utc": s["recording_end_utc"],
        "recording_h": _span_h(s["recording_start_utc"], s["recording_end_utc"]),
        "samples": s.get("samples"),
        "sample_rate_hz": s.get("sample_rate_hz"),
        "sleep_window_start_utc": s["sleep_window_start_utc"],
        "sleep_window_end_utc": s["sleep_window_end_utc"],
        "sleep_window_start_local": local[0],
        "sleep_window_end_local": local[1],
        "sleep_h": _hours(s.get("sleep_s")),
    }
    for kind, col in _KINDS:
        row[col] = s["counts"].get(kind, 0)
    for kind, col in _KINDS:
        row[f"{col}_in_sleep"] = s.get("counts_in_sleep_window", {}).get(kind, 0)
    row.update({
        "jerks_per_hour_sleep": s.get("jerks_per_hour_sleep"),
        "plm_index": s.get("plm_index"),
        "plm_series": len(s.get("plm_series") or []),
        "hourly_jerks_per_hour": json.dumps(hourly),
        "peak_hourly_jerks_per_hour": max(rated) if rated else None,
        "wear_h": _hours(s.get("wear_s")),
        "nonwear_h": _hours(s.get("nonwear_s")),
        "gaps_s": s.get("gaps_s"),
        "gap_count": len(s.get("gaps") or []),
        "clipped_samples": s.get("clipped_samples"),
        "noise_floor_mg": s.get("noise_floor_mg"),
        "calibration_error_before_mg": cal.get("before"),
        "calibration_error_after_mg": cal.get("after"),
        "calibration_applied": cal.get("applied"),
        "reader_damage": night.get("damage", 0),
        "detector_version": s["detector_version"],
        "config_hash": s.get("config_hash"),
    })
    return row


#: Column dtypes, so that an all-null column (no sleep window in any night) keeps its type.
_FLOAT = ("recording_h", "sample_rate_hz", "sleep_h", "jerks_per_hour_sleep", "plm_index",
          "peak_hourly_jerks_per_hour", "wear_h", "nonwear_h", "gaps_s", "noise_floor_mg",
          "calibration_error_before_mg", "calibration_error_after_mg")


def cohort_table(nights: list[dict], out_dir: Path) -> pd.DataFrame:
    """Rows for the nights (records with person, night, folder, ...) in person, night order."""
    rows = []
    for n in nights:
        summary = json.loads((Path(out_dir) / n["folder"] / "summary.json").read_text())
        rows.append(night_row(n, summary))
    df = pd.DataFrame(rows)
    if df.empty:
        df = pd.DataFrame(columns=list(night_row(
            {"person": "", "night": "", "folder": ""}, _EMPTY_SUMMARY)))
    for c in _FLOAT:
        df[c] = pd.to_numeric(df[c], errors="coerce").astype("float64")
    for c in ("samples", "clipped_samples", "reader_damage", "plm_series", "gap_count"):
        df[c] = df[c].astype("Int64")
    df["calibration_applied"] = df["calibration_applied"].astype("boolean")
    return df.sort_values(["person", "night"], kind="stable").reset_index(drop=True)


_EMPTY_SUMMARY = {"timezone": None, "recording_start_utc": None, "recording_end_utc": None,
                  "sleep_window_start_utc": None, "sleep_window_end_utc": None, "counts": {},
                  "detector_version": None}


def write_cohort(df: pd.DataFrame, out_dir: Path) -> tuple[Path, Path]:
    """cohort.csv and cohort.parquet, each written whole then renamed (0600)."""
    csv_path, pq_path = Path(out_dir) / CSV_NAME, Path(out_dir) / PARQUET_NAME
    write_bytes(csv_path, df.to_csv(index=False, lineterminator="\n").encode(), force=True)
    buf = io.BytesIO()
    df.to_parquet(buf, index=False, engine="pyarrow")
    write_bytes(pq_path, buf.getvalue(), force=True)
    return csv_path, pq_path
