"""The two CSV exports: every event of the chosen nights, and one summary row per night.

``events.csv``: one row per accelerometer-detected movement event, all nights, oldest
first; the columns are :data:`EVENT_EXPORT_COLUMNS` (times ISO 8601 with their UTC offset,
units in the names).  ``nights.csv``: :func:`twitchwatch.review.table.nights_table`.
Both are UTF-8, comma-separated, with a header row, and read back with ``pandas.read_csv``.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..atomic import write_bytes
from .table import nights_table

#: Columns of the exported events.csv, in order, with their meaning.
EVENT_EXPORT_COLUMNS: dict[str, str] = {
    "night": "night name (as in nights.csv)",
    "onset_local": "onset in the night's zone, ISO 8601 with offset, millisecond",
    "onset_utc": "onset, ISO 8601, +00:00",
    "end_utc": "end (last sample above the off-threshold), ISO 8601, +00:00",
    "onset_s": "seconds from the night's first sample to the onset",
    "duration_s": "onset to the last sample above the off-threshold, plus one sample period, s",
    "kind": "jerk, limb_movement, posture_change or other_movement",
    "in_sleep_window": "true / false",
    "series_id": "P1, P2 ... periodic limb movement series; C1 ... jerk cluster; empty otherwise",
    "peak_accel_g": "peak gravity-free acceleration magnitude, g",
    "peak_jerk_g_per_s": "peak sample-to-sample derivative magnitude, g/s",
    "confidence": "0-1 (README, events.csv)",
    "effective_duration_s": "2 sigma of the event's energy over time, s",
    "orientation_change_deg": "angle between gravity before and after the event, degrees",
    "threshold_g": "adaptive on-threshold at the onset, g",
    "noise_floor_g": "noise floor (RMS) at the onset, g",
    "flags": "cut_by_gap, cut_by_max_duration, cut_by_end_of_data, next_movement_before_settling",
}


def events_table(views) -> pd.DataFrame:
    """All events of ``views`` as one DataFrame with :data:`EVENT_EXPORT_COLUMNS`."""
    cols = list(EVENT_EXPORT_COLUMNS)
    parts = []
    for v in views:
        if len(v.events) == 0:
            continue
        ev = v.events.copy()
        ev["night"] = v.night_id
        parts.append(ev[cols])
    if not parts:
        return pd.DataFrame(columns=cols)
    out = pd.concat(parts, ignore_index=True)
    out["in_sleep_window"] = out["in_sleep_window"].astype(bool)
    for c in ("series_id", "flags"):
        out[c] = out[c].fillna("").astype(str)
    return out


def _csv_bytes(df: pd.DataFrame) -> bytes:
    """CSV text as `analyze` writes events.csv: booleans as true/false, the event
    measures rounded as there (analyze._ROUNDING)."""
    from ..analyze import _ROUNDING

    df = df.copy()
    for col, nd in _ROUNDING.items():
        if col in df.columns:
            df[col] = df[col].astype(float).round(nd)
    for col in df.columns:
        if df[col].dtype == bool:
            df[col] = df[col].map({True: "true", False: "false"})
    return df.to_csv(index=False, lineterminator="\n").encode("utf-8")


def write_events_csv(views, path: Path, *, force: bool = False) -> int:
    """Write events.csv atomically (0600); returns the number of event rows."""
    df = events_table(views)
    write_bytes(Path(path), _csv_bytes(df), force=force)
    return len(df)


def write_nights_csv(views, path: Path, *, include_identifiers: bool = False, force: bool = False) -> int:
    """Write the nightly summary CSV atomically (0600); returns the number of nights."""
    df = nights_table(views, include_identifiers=include_identifiers)
    write_bytes(Path(path), _csv_bytes(df), force=force)
    return len(df)
