"""One row per night: what `twitchwatch nights` shows and the nightly summary CSV holds.

:func:`nights_table` turns a list of :class:`~twitchwatch.review.catalog.NightView` into a
DataFrame with the columns of :data:`COLUMNS` (units in the names: ``_h`` hours, ``_s``
seconds, ``_mg`` milli-g, ``_per_h_sleep`` per hour of usable sleep).  Times are ISO 8601
in the night's own zone, with its UTC offset.  Counts are of accelerometer-detected
movement events, in the sleep window unless the name says ``_total``.

No device address, serial number, device name or file path is in the table unless
``include_identifiers`` is set (then :data:`IDENTIFIER_COLUMNS` are added at the end).
"""
from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pandas as pd

#: Columns of the nightly table, in order, with their meaning (README "Review and export").
COLUMNS: dict[str, str] = {
    "night": "night name: local date of the evening (noon-to-noon rule), plus the device label",
    "date": "local date of the evening, YYYY-MM-DD",
    "label": "device label ('' when the night has one device)",
    "device_kind": "device type as recorded (e.g. polar-h10, simulated); no serial or address",
    "placement": "where the device was worn ('' when not recorded)",
    "timezone": "IANA zone the night is shown in",
    "recording_start_local": "first sample, ISO 8601 with offset",
    "recording_end_local": "last sample, ISO 8601 with offset",
    "recording_h": "first to last sample, hours",
    "wear_h": "recording minus gaps and non-wear, hours",
    "sleep_window_start_local": "sleep window start (HDCZA), ISO 8601 with offset; empty if none found",
    "sleep_window_end_local": "sleep window end, ISO 8601 with offset; empty if none found",
    "sleep_h": "usable sleep: the sleep window minus gaps and non-wear, hours",
    "jerks": "jerks in the sleep window",
    "jerks_per_h_sleep": "jerks in the sleep window per hour of usable sleep; empty without sleep",
    "jerks_total": "jerks in the whole recording",
    "limb_movements": "limb movements (0.5-10 s) in the sleep window",
    "plm_series": "periodic limb movement series (WASM 2016) starting in the sleep window",
    "plm_index_per_h_sleep": "limb movements in PLM series per hour of usable sleep",
    "posture_changes": "posture changes in the sleep window",
    "other_movements": "other movements in the sleep window",
    "gaps": "number of gaps in the data (device off, link lost, ...)",
    "gaps_s": "total time in gaps, seconds",
    "nonwear_h": "time detected as not worn, hours",
    "calibration_error_before_mg": "auto-calibration error before fitting, milli-g",
    "calibration_error_after_mg": "auto-calibration error after fitting, milli-g",
    "calibration_applied": "whether the calibration fit was applied",
    "noise_floor_mg": "noise floor of the worn night (RMS), milli-g",
    "sample_rate_hz": "nominal sample rate, Hz",
    "notes": "the night's notes, '[tag] text', joined by ' | '",
    "note_tags": "the notes' tags, joined by ','",
    "detector_version": "version of the detector that made the analysis",
}

#: Added with include_identifiers=True only.
IDENTIFIER_COLUMNS: dict[str, str] = {
    "device_name": "device name as advertised (may contain a serial number)",
    "device_address": "Bluetooth address",
    "device_serial": "serial number",
    "night_file": "path of the night file",
}


def _local(iso_utc: str | None, zone: ZoneInfo) -> str | None:
    if not iso_utc:
        return None
    return dt.datetime.fromisoformat(iso_utc).astimezone(zone).isoformat(timespec="seconds")


def _local_t(t: float, zone: ZoneInfo) -> str:
    return dt.datetime.fromtimestamp(t, tz=zone).isoformat(timespec="seconds")


def notes_text(notes: list[dict]) -> str:
    """'[medication] new dose ... | [flare] ...' (untagged notes without brackets)."""
    return " | ".join((f"[{n['tag']}] " if n.get("tag") else "") + n["text"] for n in notes)


def _row(v, include_identifiers: bool) -> dict:
    s = v.summary
    zone = ZoneInfo(v.timezone)
    in_sw = s.get("counts_in_sleep_window", {})
    cal = s.get("calibration_error_mg") or {}
    sw = v.sleep_window_utc
    start, end = (v.span_utc if v.span_utc else (None, None))
    row = {
        "night": v.night_id,
        "date": v.date.isoformat(),
        "label": v.label or "",
        "device_kind": v.device.get("kind") or "",
        "placement": v.device.get("placement") or "",
        "timezone": v.timezone,
        "recording_start_local": _local_t(start, zone) if start is not None else None,
        "recording_end_local": _local_t(end, zone) if end is not None else None,
        "recording_h": round((end - start) / 3600.0, 3) if start is not None else 0.0,
        "wear_h": round(float(s.get("wear_s") or 0.0) / 3600.0, 3),
        "sleep_window_start_local": _local_t(sw[0], zone) if sw else None,
        "sleep_window_end_local": _local_t(sw[1], zone) if sw else None,
        "sleep_h": round(v.sleep_hours, 3),
        "jerks": int(in_sw.get("jerk", 0)),
        "jerks_per_h_sleep": s.get("jerks_per_hour_sleep"),
        "jerks_total": int(s.get("counts", {}).get("jerk", 0)),
        "limb_movements": int(in_sw.get("limb_movement", 0)),
        "plm_series": sum(1 for p in s.get("plm_series", []) if p.get("in_sleep_window")),
        "plm_index_per_h_sleep": s.get("plm_index"),
        "posture_changes": int(in_sw.get("posture_change", 0)),
        "other_movements": int(in_sw.get("other_movement", 0)),
        "gaps": len(s.get("gaps", [])),
        "gaps_s": round(float(s.get("gaps_s") or 0.0), 3),
        "nonwear_h": round(float(s.get("nonwear_s") or 0.0) / 3600.0, 3),
        "calibration_error_before_mg": cal.get("before"),
        "calibration_error_after_mg": cal.get("after"),
        "calibration_applied": bool(cal.get("applied", False)),
        "noise_floor_mg": s.get("noise_floor_mg"),
        "sample_rate_hz": s.get("sample_rate_hz"),
        "notes": notes_text(v.notes),
        "note_tags": ",".join(n["tag"] for n in v.notes if n.get("tag")),
        "detector_version": s.get("detector_version", ""),
    }
    if include_identifiers:
        row.update(device_name=v.device.get("name") or "", device_address=v.device.get("address") or "",
                   device_serial=v.device.get("serial") or "", night_file=str(v.path))
    return row


def nights_table(views, *, include_identifiers: bool = False) -> pd.DataFrame:
    """One row per night, columns :data:`COLUMNS` (+ :data:`IDENTIFIER_COLUMNS` if asked).

    Missing values (no sleep window, no calibration fit) are NaN / None; integer columns
    stay integers.  Row order is the order of ``views`` (list_nights: oldest first).
    """
    cols = list(COLUMNS) + (list(IDENTIFIER_COLUMNS) if include_identifiers else [])
    df = pd.DataFrame([_row(v, include_identifiers) for v in views], columns=cols)
    for c in ("jerks_per_h_sleep", "plm_index_per_h_sleep", "calibration_error_before_mg",
              "calibration_error_after_mg", "noise_floor_mg", "sample_rate_hz"):
        df[c] = pd.to_numeric(df[c], errors="coerce").astype("float64")
    return df


# ---------------------------------------------------------------- terminal text

def _num(x, fmt: str) -> str:
    return "-" if x is None or pd.isna(x) else format(x, fmt)


def _hhmm(iso: str | None) -> str:
    return iso[11:16] if isinstance(iso, str) and len(iso) >= 16 else ""


def _gaps(n: int, seconds: float) -> str:
    if not n:
        return "0"
    amount = f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.0f} min"
    return f"{n} ({amount})"


def _abbrev(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


def format_table(df: pd.DataFrame, *, notes_width: int = 36) -> str:
    """The table `twitchwatch nights` prints: one line per night, plain text.

    Sleep window as local HH:MM-HH:MM in the night's zone; /h per hour of usable sleep;
    cal = calibration error after fitting (mg); notes abbreviated to ``notes_width``.
    """
    head = ["night", "device", "rec h", "wear h", "sleep", "jerks", "/h", "PLM ser", "PLM /h",
            "gaps", "cal mg", "notes"]
    rows = []
    for r in df.itertuples(index=False):
        device = "/".join(x for x in (r.device_kind, r.placement) if x) or "-"
        sleep = (f"{_hhmm(r.sleep_window_start_local)}-{_hhmm(r.sleep_window_end_local)}"
                 if r.sleep_window_start_local else "none found")
        rows.append([r.night, device, f"{r.recording_h:.1f}", f"{r.wear_h:.1f}", sleep, str(r.jerks),
                     _num(r.jerks_per_h_sleep, ".1f"), str(r.plm_series), _num(r.plm_index_per_h_sleep, ".1f"),
                     _gaps(r.gaps, r.gaps_s), _num(r.calibration_error_after_mg, ".1f"),
                     _abbrev(r.notes, notes_width)])
    numeric = {2, 3, 5, 6, 7, 8, 10}
    widths = [max(len(h), *(len(row[i]) for row in rows)) if rows else len(h) for i, h in enumerate(head)]

    def line(cells):
        out = [c.rjust(w) if i in numeric else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths))]
        return "  ".join(out).rstrip()

    return "\n".join([line(head), line(["-" * w for w in widths])] + [line(r) for r in rows])


def table_records(df: pd.DataFrame) -> list[dict]:
    """The table as JSON-ready dicts (NaN -> None), keys in column order."""
    out = []
    for rec in df.to_dict("records"):
        out.append({k: (None if (isinstance(v, float) and v != v) else (v.item() if hasattr(v, "item") else v))
                    for k, v in rec.items()})
    return out
