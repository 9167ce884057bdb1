"""Turn the kernel's candidate movements into typed events.

Two steps, both pure Python over a few thousand rows a night:

1. :func:`base_kind` looks at one candidate alone (its span, energy-weighted duration,
   oscillation and orientation change).
2. :func:`apply_context` demotes a brief candidate that sits within ``context_s`` of a
   larger movement: a posture shift is often several bursts, and its short pieces are
   not jerks (domain.md section 3: most false alarms of seizure wearables are ordinary
   voluntary movements).
"""
from __future__ import annotations

import math

import numpy as np

from . import layout as K
from .config import DetectorConfig

JERK = "jerk"
LIMB = "limb_movement"
POSTURE = "posture_change"
OTHER = "other_movement"
KINDS = (JERK, LIMB, POSTURE, OTHER)

_FLAG_NAMES = {
    K.F_CUT_BY_GAP: "cut_by_gap",
    K.F_CUT_BY_MAXDUR: "cut_by_max_duration",
    K.F_CUT_BY_END: "cut_by_end_of_data",
    K.F_UNSETTLED: "next_movement_before_settling",
}


def flag_text(flags: int) -> str:
    """'+'-joined names of the F_* bits (empty when none)."""
    return "+".join(name for bit, name in _FLAG_NAMES.items() if flags & bit)


def span_s(row: np.ndarray, cfg: DetectorConfig) -> float:
    """Onset to last supra-threshold sample, plus one sample period (s)."""
    return float(row[K.E_END_T] - row[K.E_ONSET_T]) + 1.0 / cfg.sample_rate_hz


def orientation_change_deg(row: np.ndarray) -> float:
    """Angle between the gravity estimates before and after the movement (degrees)."""
    b = row[K.E_GBX:K.E_GBZ + 1]
    a = row[K.E_GAX:K.E_GAZ + 1]
    nb = math.sqrt(float(b @ b))
    na = math.sqrt(float(a @ a))
    if nb == 0.0 or na == 0.0:
        return 0.0
    c = float(b @ a) / (nb * na)
    return math.degrees(math.acos(max(-1.0, min(1.0, c))))


def base_kind(row: np.ndarray, cfg: DetectorConfig) -> str | None:
    """Kind of one candidate on its own features; None for a glitch shorter than min_event_s."""
    span = span_s(row, cfg)
    if span < cfg.min_event_s:
        return None
    turn = orientation_change_deg(row)
    if turn >= cfg.posture_change_deg:
        return POSTURE
    if (span <= cfg.jerk_max_span_s and row[K.E_EFF_DUR] <= cfg.jerk_max_effective_s
            and turn < cfg.jerk_max_turn_deg and row[K.E_PRE_DEV] < cfg.jerk_max_turn_deg
            and row[K.E_PEAK_G] >= max(cfg.jerk_min_snr * row[K.E_NOISE_G], cfg.jerk_min_peak_g)):
        return JERK
    osc_hz = row[K.E_OSC] / (2.0 * span)
    if span >= cfg.osc_min_s and osc_hz >= cfg.osc_min_hz:
        return OTHER  # scratching or tremor: sustained 3-8 Hz oscillation
    if cfg.limb_min_s <= span <= cfg.limb_max_s:
        return LIMB
    return OTHER


def separation_s(a: np.ndarray, b: np.ndarray) -> float:
    """Time between two candidates (0 when they touch)."""
    return max(0.0, float(b[K.E_ONSET_T] - a[K.E_END_T]), float(a[K.E_ONSET_T] - b[K.E_END_T]))


def apply_context(kinds: list[str], rows: list[np.ndarray], k: int, cfg: DetectorConfig) -> str:
    """Final kind of candidate ``k`` given its neighbours (rows ordered by onset)."""
    kind = kinds[k]
    if kind != JERK:
        return kind
    reach = max(cfg.context_s, cfg.posture_context_s)
    for step in (-1, 1):
        j = k + step
        while 0 <= j < len(rows) and (sep := separation_s(rows[k], rows[j])) <= reach:
            if kinds[j] == POSTURE or (kinds[j] not in (JERK, None) and sep <= cfg.context_s):
                return OTHER
            j += step
    return kind


def confidence(row: np.ndarray, kind: str) -> float:
    """0-1: how far the peak stood above the threshold, halved when the event was cut.

    1 - exp(-(snr - 1)): 0 at the threshold, 0.63 at twice it, 0.95 at four times.
    """
    snr = float(row[K.E_PEAK_G] / row[K.E_THR_G]) if row[K.E_THR_G] > 0 else 1.0
    c = 1.0 - math.exp(-max(0.0, snr - 1.0))
    if int(row[K.E_FLAGS]) & (K.F_CUT_BY_GAP | K.F_CUT_BY_END):
        c *= 0.5
    return round(c, 3)
