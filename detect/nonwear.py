"""Non-wear detection by GGIR's published rule (van Hees 2013).

Windows of ``nonwear_window_min`` (60 min) stepped by ``nonwear_step_min`` (15 min): a
window is non-wear when at least 2 of the 3 axes have SD < 13 mg and range < 50 mg.  Each
15-min step takes the verdict of the 60-min window centred on it.  Computed from the
kernel's 5-s epoch statistics, so no raw samples are kept.

Our addition: a window in which the detector found any movement event is worn.  A still
sleeper can keep every axis within 13 mg SD for an hour (GGIR's known false non-wear
in sleep); a band lying on a table makes no movement events at all.
"""
from __future__ import annotations

import numpy as np

from . import layout as K
from .config import DetectorConfig


def nonwear_epochs(epochs: np.ndarray, cfg: DetectorConfig,
                   event_onsets: np.ndarray | None = None) -> np.ndarray:
    """Boolean (m,) per epoch row: True where the band was judged not worn.

    event_onsets : Unix times of the night's movement events (any kind).
    """
    ev = np.sort(event_onsets) if event_onsets is not None else np.zeros(0)
    m = len(epochs)
    out = np.zeros(m, dtype=bool)
    if m == 0:
        return out
    t_ep = epochs[:, K.EP_IDX] * cfg.epoch_s
    step = cfg.nonwear_step_min * 60.0
    half_extra = (cfg.nonwear_window_min * 60.0 - step) / 2.0
    block = np.floor(t_ep / step).astype(np.int64)
    n = epochs[:, K.EP_N]
    means = epochs[:, K.EP_MX:K.EP_MZ + 1]
    sds = epochs[:, K.EP_SDX:K.EP_SDZ + 1]
    mins = epochs[:, [K.EP_MINX, K.EP_MINY, K.EP_MINZ]]
    maxs = epochs[:, [K.EP_MAXX, K.EP_MAXY, K.EP_MAXZ]]
    # prefix sums let every window be pooled in O(1)
    sw = np.concatenate([[0.0], np.cumsum(n)])
    s1 = np.vstack([np.zeros(3), np.cumsum(n[:, None] * means, axis=0)])
    s2 = np.vstack([np.zeros(3), np.cumsum(n[:, None] * (sds ** 2 + means ** 2), axis=0)])
    for b in np.unique(block):
        w0 = b * step - half_extra
        w1 = (b + 1) * step + half_extra
        lo = int(np.searchsorted(t_ep, w0, side="left"))
        hi = int(np.searchsorted(t_ep, w1, side="left"))
        cnt = sw[hi] - sw[lo]
        if cnt <= 0:
            continue
        mean = (s1[hi] - s1[lo]) / cnt
        var = (s2[hi] - s2[lo]) / cnt - mean ** 2
        sd = np.sqrt(np.maximum(var, 0.0))
        rng = maxs[lo:hi].max(axis=0) - mins[lo:hi].min(axis=0)
        quiet_axes = int(np.sum((sd < cfg.nonwear_sd_g) & (rng < cfg.nonwear_range_g)))
        moved = np.searchsorted(ev, w1) > np.searchsorted(ev, w0)
        if quiet_axes >= 2 and not moved:
            out[block == b] = True
    return out
