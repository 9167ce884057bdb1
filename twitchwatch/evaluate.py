"""Compare detected jerks with ground truth: precision, recall, F1, false positives per hour.

Matching rule (stated in every report): a detected jerk matches a true jerk when their
onsets differ by at most ``tolerance_s`` (default 0.5 s); each is matched at most once,
in time order.  Only detected jerks inside the detected sleep window count (that is what
the product reports); every true jerk counts, so a jerk outside the detected window is
a miss.

    >>> r = compare_onsets([10.0, 20.02, 35.0], [10.05, 20.0, 30.0], tolerance_s=0.5)
    >>> (r["tp"], r["fp"], r["fn"], round(r["f1"], 3))
    (2, 1, 1, 0.667)
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import InputFileError

DEFAULT_TOLERANCE_S = 0.5
TRUE_JERK_KINDS = ("jerk", "hypnic_jerk")


def match_onsets(detected, truth, tolerance_s: float = DEFAULT_TOLERANCE_S) -> np.ndarray:
    """Indices into ``detected`` matched to each truth onset (-1 when unmatched)."""
    d = np.sort(np.asarray(detected, dtype=float))
    order = np.argsort(np.asarray(truth, dtype=float), kind="stable")
    tr = np.asarray(truth, dtype=float)[order]
    out = np.full(tr.size, -1, dtype=np.int64)
    j = 0
    for k, x in enumerate(tr):
        while j < d.size and d[j] < x - tolerance_s:
            j += 1
        if j < d.size and abs(d[j] - x) <= tolerance_s:
            out[k] = j
            j += 1
    res = np.full(tr.size, -1, dtype=np.int64)
    res[order] = out
    return res


def compare_onsets(detected, truth, tolerance_s: float = DEFAULT_TOLERANCE_S,
                   sleep_hours: float | None = None) -> dict:
    """Precision, recall and F1 of detected onsets against true onsets (seconds)."""
    m = match_onsets(detected, truth, tolerance_s)
    tp = int(np.sum(m >= 0))
    fp = int(len(detected) - tp)
    fn = int(len(truth) - tp)
    prec = tp / (tp + fp) if tp + fp else 1.0
    rec = tp / (tp + fn) if tp + fn else 1.0
    f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
    out = {"tp": tp, "fp": fp, "fn": fn, "precision": prec, "recall": rec, "f1": f1,
           "tolerance_s": tolerance_s}
    if sleep_hours:
        out["fp_per_hour_sleep"] = fp / sleep_hours
    return out


def evaluate_events(events: pd.DataFrame, summary: dict, truth: pd.DataFrame,
                    tolerance_s: float = DEFAULT_TOLERANCE_S, strong_g: float = 0.1) -> dict:
    """Score one analysed night against its truth table.

    events : events.csv as a DataFrame (needs onset_utc or onset_t, kind, in_sleep_window).
    truth : columns onset_s (Unix s), kind, peak_g.
    """
    if "onset_t" in events:
        on = events["onset_t"].to_numpy(dtype=float)
    else:
        # as_unit: pandas may parse to microseconds; the integer must be nanoseconds
        on = (pd.to_datetime(events["onset_utc"], utc=True, format="ISO8601")
              .dt.as_unit("ns").astype("int64").to_numpy() / 1e9)
    insw = events["in_sleep_window"].astype(str).str.lower().isin(["true", "1"]).to_numpy()
    det = on[(events["kind"].to_numpy() == "jerk") & insw]
    tj = truth[truth["kind"].isin(TRUE_JERK_KINDS)]
    hours = (summary.get("sleep_s") or 0.0) / 3600.0
    res = compare_onsets(det, tj["onset_s"].to_numpy(dtype=float), tolerance_s, hours or None)
    strong = tj[tj["peak_g"] >= strong_g]
    m = match_onsets(det, strong["onset_s"].to_numpy(dtype=float), tolerance_s)
    res["recall_strong"] = float(np.mean(m >= 0)) if m.size else 1.0
    res["strong_g"] = strong_g
    res["n_true"] = int(len(tj))
    res["n_detected"] = int(det.size)
    return res


def evaluate_dir(events_dir: Path, truth_path: Path, tolerance_s: float = DEFAULT_TOLERANCE_S) -> dict:
    events_dir = Path(events_dir)
    for p in (events_dir / "events.csv", events_dir / "summary.json", Path(truth_path)):
        if not p.exists():
            raise InputFileError(f"{p}: no such file (run `twitchwatch analyze` first / check the truth path)")
    events = pd.read_csv(events_dir / "events.csv")
    summary = json.loads((events_dir / "summary.json").read_text())
    truth = pd.read_csv(truth_path)
    for c in ("onset_s", "kind", "peak_g"):
        if c not in truth:
            raise InputFileError(f"{truth_path}: truth table lacks column {c}")
    return evaluate_events(events, summary, truth, tolerance_s)
