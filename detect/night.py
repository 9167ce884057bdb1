"""Night-level results: sleep window, calibration, non-wear, series and hourly summaries.

Everything here runs once, in ``Detector.finish()``, on the events and the 5-s epoch
statistics the kernel produced; no raw sample is needed any more.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from . import layout as K
from .calibration import Calibration, fit, still_points
from .classify import JERK, KINDS, LIMB
from .config import DETECTOR_VERSION, DetectorConfig
from .nonwear import nonwear_epochs
from .series import find_series
from .sleep import SleepWindow, angle_z_deg, hdcza

UTC = dt.timezone.utc

#: Columns of the event log, in order (the first nine are the documented contract).
EVENT_COLUMNS = [
    "onset_utc", "onset_s", "duration_s", "kind", "peak_accel_g", "peak_jerk_g_per_s",
    "in_sleep_window", "series_id", "confidence",
    "end_utc", "onset_local", "effective_duration_s", "orientation_change_deg",
    "threshold_g", "noise_floor_g", "flags",
]


def iso_utc(t: float | None) -> str | None:
    """Unix seconds -> ISO 8601 with millisecond precision and +00:00 offset."""
    if t is None:
        return None
    return dt.datetime.fromtimestamp(t, tz=UTC).isoformat(timespec="milliseconds")


def iso_local(t: float, tz: ZoneInfo) -> str:
    return dt.datetime.fromtimestamp(t, tz=tz).isoformat(timespec="milliseconds")


@dataclass
class NightResult:
    """What one night yields.

    events : DataFrame, one row per event, columns EVENT_COLUMNS plus ``onset_t`` (Unix s).
    summary : JSON-ready dict (see README, "summary.json").
    epochs : (m, N_EPOCH_COLS) kernel epoch rows, for plots.
    """

    events: pd.DataFrame
    summary: dict
    epochs: np.ndarray = field(repr=False)
    calibration: Calibration = field(repr=False, default_factory=Calibration)
    sleep: SleepWindow = field(repr=False, default=SleepWindow(None, None, None))


def _sleep_seconds(t0: float, t1: float, gaps: np.ndarray, nonwear_spans: list) -> float:
    """Seconds of [t0, t1) not inside a gap or a non-wear span."""
    total = t1 - t0
    for a, b in list(map(tuple, gaps)) + nonwear_spans:
        total -= max(0.0, min(b, t1) - max(a, t0))
    return max(total, 0.0)


def _nonwear_spans(epochs: np.ndarray, nw: np.ndarray, epoch_s: float) -> list[tuple[float, float]]:
    spans = []
    for i in np.flatnonzero(nw):
        a = epochs[i, K.EP_IDX] * epoch_s
        if spans and abs(spans[-1][1] - a) < 1e-9:
            spans[-1] = (spans[-1][0], a + epoch_s)
        else:
            spans.append((a, a + epoch_s))
    return spans


def _hourly(jerk_onsets: np.ndarray, t0: float, t1: float, gaps, nonwear_spans, tz) -> list[dict]:
    """Jerks per local clock hour over [t0, t1) with the usable seconds of each hour."""
    out = []
    if t1 <= t0:
        return out
    local = dt.datetime.fromtimestamp(t0, tz=tz).replace(minute=0, second=0, microsecond=0)
    h = local.astimezone(UTC).timestamp()
    while h < t1:
        h_next = h + 3600.0
        a, b = max(h, t0), min(h_next, t1)
        n = int(np.sum((jerk_onsets >= a) & (jerk_onsets < b)))
        secs = _sleep_seconds(a, b, gaps, nonwear_spans)
        out.append({
            "hour_start_local": iso_local(h, tz),
            "jerks": n,
            "sleep_s": round(secs, 1),
            "jerks_per_hour": round(n / (secs / 3600.0), 3) if secs > 60 else None,
        })
        h = h_next
    return out


def build_result(*, config: DetectorConfig, events, epochs: np.ndarray, gaps: np.ndarray,
                 first_t: float, last_t: float, n_samples: int, timezone: str,
                 clipped_samples: int) -> NightResult:
    cfg = config
    tz = ZoneInfo(timezone)
    # ---- calibration, non-wear, sleep window from the epochs
    cal = fit(still_points(epochs, cfg))
    nw = nonwear_epochs(epochs, cfg, np.array([e.onset_t for e in events]))
    means = cal.apply(epochs[:, K.EP_AX:K.EP_AZ + 1]) if len(epochs) else np.zeros((0, 3))
    sw = hdcza(epochs[:, K.EP_IDX].astype(np.int64), angle_z_deg(means), cfg)
    nw_spans = _nonwear_spans(epochs, nw, cfg.epoch_s)
    if sw.found:
        sw_start = max(first_t, sw.start_epoch * cfg.epoch_s - 60.0 * cfg.sleep_onset_margin_min)
        sw_end = min(last_t, (sw.end_epoch + 1) * cfg.epoch_s)
    else:
        sw_start = sw_end = None

    # ---- the event table
    rows = []
    for e in events:
        rows.append({
            "onset_t": e.onset_t,
            "onset_utc": iso_utc(e.onset_t),
            "onset_s": e.onset_t - first_t,
            "duration_s": e.duration_s,
            "kind": e.kind,
            "peak_accel_g": e.peak_accel_g,
            "peak_jerk_g_per_s": e.peak_jerk_g_per_s,
            "in_sleep_window": bool(sw_start is not None and sw_start <= e.onset_t < sw_end),
            "series_id": "",
            "confidence": e.confidence,
            "end_utc": iso_utc(e.end_t),
            "onset_local": iso_local(e.onset_t, tz),
            "effective_duration_s": e.effective_duration_s,
            "orientation_change_deg": e.orientation_change_deg,
            "threshold_g": e.threshold_g,
            "noise_floor_g": e.noise_floor_g,
            "flags": e.flags,
        })
    ev = pd.DataFrame(rows, columns=["onset_t"] + EVENT_COLUMNS)

    # ---- series: PLM (limb movements) and jerk clusters
    plm_series = []
    series_col = ev["series_id"].to_numpy(dtype=object)
    for kind, prefix, lo, hi, mn in (
        (LIMB, "P", cfg.plm_min_interval_s, cfg.plm_max_interval_s, cfg.plm_min_count),
        (JERK, "C", 0.0, cfg.cluster_max_interval_s, cfg.cluster_min_count),
    ):
        idx = np.flatnonzero(ev["kind"].to_numpy() == kind)
        on = ev["onset_t"].to_numpy()[idx]
        for n_series, (i, j) in enumerate(find_series(on, lo, hi, mn), start=1):
            sid = f"{prefix}{n_series}"
            series_col[idx[i:j]] = sid
            if kind == LIMB:
                members = on[i:j]
                plm_series.append({
                    "series_id": sid,
                    "start_utc": iso_utc(float(members[0])),
                    "end_utc": iso_utc(float(members[-1])),
                    "movements": int(j - i),
                    "median_interval_s": round(float(np.median(np.diff(members))), 2),
                    "in_sleep_window": bool(sw_start is not None and sw_start <= members[0] < sw_end),
                })
    ev["series_id"] = series_col

    # ---- rates per hour of sleep
    gaps_s = float(np.sum(gaps[:, 1] - gaps[:, 0])) if len(gaps) else 0.0
    nonwear_s = float(len(nw_spans) and sum(b - a for a, b in nw_spans))
    in_sw = ev["in_sleep_window"].to_numpy(dtype=bool)
    kinds = ev["kind"].to_numpy()
    if sw_start is not None:
        sleep_s = _sleep_seconds(sw_start, sw_end, gaps, nw_spans)
        hours = sleep_s / 3600.0
        n_jerk_sleep = int(np.sum(in_sw & (kinds == JERK)))
        jph = round(n_jerk_sleep / hours, 3) if hours > 0 else None
        n_plm = int(np.sum(in_sw & (kinds == LIMB) & (ev["series_id"].str.startswith("P").to_numpy())))
        plm_index = round(n_plm / hours, 3) if hours > 0 else None
        hourly = _hourly(ev["onset_t"].to_numpy()[in_sw & (kinds == JERK)], sw_start, sw_end,
                         gaps, nw_spans, tz)
    else:
        sleep_s, jph, plm_index, hourly = 0.0, None, None, []

    # the night's noise floor: a low quantile of the 5-s mean squares of the worn epochs
    # (all epochs when none was worn, e.g. a short test on a table)
    quiet = epochs[~nw, K.EP_MS] if np.any(~nw) else epochs[:, K.EP_MS] if len(epochs) else np.zeros(0)
    noise_mg = round(float(np.sqrt(np.percentile(quiet, 20))) * 1000.0, 3) if quiet.size else None
    duration = last_t - first_t
    summary = {
        "recording_start_utc": iso_utc(first_t),
        "recording_end_utc": iso_utc(last_t),
        "sleep_window_start_utc": iso_utc(sw_start),
        "sleep_window_end_utc": iso_utc(sw_end),
        "sleep_window_local": (
            [iso_local(sw_start, tz), iso_local(sw_end, tz)] if sw_start is not None else None
        ),
        "sleep_s": round(sleep_s, 1),
        "wear_s": round(max(duration - gaps_s - nonwear_s, 0.0), 1),
        "nonwear_s": round(nonwear_s, 1),
        "nonwear": [
            {"start_utc": iso_utc(float(a)), "end_utc": iso_utc(float(b)), "duration_s": round(float(b - a), 1)}
            for a, b in nw_spans
        ],
        "gaps_s": round(gaps_s, 3),
        "gaps": [
            {"start_utc": iso_utc(float(a)), "end_utc": iso_utc(float(b)), "duration_s": round(float(b - a), 3)}
            for a, b in gaps
        ],
        "counts": {k: int(np.sum(kinds == k)) for k in KINDS},
        "counts_in_sleep_window": {k: int(np.sum((kinds == k) & in_sw)) for k in KINDS},
        "jerks_per_hour_sleep": jph,
        "hourly_jerks": hourly,
        "plm_series": plm_series,
        "plm_index": plm_index,
        "noise_floor_mg": noise_mg,
        "calibration_error_mg": {
            "before": None if cal.error_before_mg is None else round(cal.error_before_mg, 2),
            "after": None if cal.error_after_mg is None else round(cal.error_after_mg, 2),
            "applied": cal.applied,
            "still_windows": cal.n_points,
            "offset_g": [round(v, 5) for v in cal.offset_g],
            "scale": [round(v, 5) for v in cal.scale],
            "note": cal.reason,
        },
        "hdcza_threshold_deg": None if sw.threshold_deg is None else round(sw.threshold_deg, 4),
        "samples": int(n_samples),
        "sample_rate_hz": cfg.sample_rate_hz,
        "clipped_samples": int(clipped_samples),
        "detector_version": DETECTOR_VERSION,
        "config": cfg.to_dict(),
        "config_hash": cfg.config_hash(),
        "timezone": timezone,
    }
    return NightResult(events=ev, summary=summary, epochs=epochs, calibration=cal, sleep=sw)
