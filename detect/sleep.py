"""Sleep period time window by HDCZA (van Hees et al. 2018), step for step as GGIR's
``HASPT.R`` runs it, on 5-s epochs.

1. angle-z per epoch from the epoch mean of the calibrated, 0.1-Hz low-passed
   acceleration (GGIR takes a 5-s rolling median of the raw axes first; the low-pass is
   our documented deviation, see DetectorConfig.angle_lowpass_hz);
2. x = rolling (centred, 5 min) median of |diff(angle-z)|, 0 at the edges as zoo fills;
3. threshold = 10th percentile of x times 15, clamped to [0.13, 0.50] degrees;
4. no-movement where x < threshold, computed over the angle as recorded whether or not
   the epoch was judged non-wear (GGIR's default HASPT.ignore.invalid = FALSE; GGIR
   would impute non-wear from other days, which one night does not have).  Still sleep
   for an hour can meet the non-wear rule, so letting non-wear break the window would
   cut real nights in two.  An epoch without data (a gap) takes the verdict of the
   5-min window around it; a gap longer than the window is not no-movement;
5. no-movement blocks longer than 30 min are sleep blocks; gaps shorter than 60 min
   between them are filled; the longest result is the sleep period.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .config import DetectorConfig


@dataclass(frozen=True)
class SleepWindow:
    start_epoch: int | None      # epoch index (floor(t / epoch_s)), inclusive
    end_epoch: int | None        # inclusive
    threshold_deg: float | None

    @property
    def found(self) -> bool:
        return self.start_epoch is not None


def angle_z_deg(mean_xyz: np.ndarray) -> np.ndarray:
    """(n, 3) g -> (n,) degrees: angle of the z axis above the horizontal plane."""
    x, y, z = mean_xyz[:, 0], mean_xyz[:, 1], mean_xyz[:, 2]
    return np.degrees(np.arctan2(z, np.hypot(x, y)))


def _runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start (inclusive) and end (exclusive) indices of the True runs."""
    d = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return np.flatnonzero(d == 1), np.flatnonzero(d == -1)


def rolling_median_absdiff(angle: np.ndarray, width: int) -> np.ndarray:
    """zoo::rollapply(angle, width, median(abs(diff(.))), fill = 0), centred.

    NaN angles (epochs without data) are ignored inside a window; a window with no valid
    difference gives NaN.
    """
    n = angle.size
    out = np.zeros(n)
    if n < width:
        return out
    ad = np.abs(np.diff(angle))
    # window starting at s covers angle[s:s+width] -> diffs ad[s:s+width-1]
    win = np.lib.stride_tricks.sliding_window_view(ad, width - 1)
    with np.errstate(all="ignore"):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            med = np.nanmedian(win, axis=1)
    left = (width - 1) // 2  # zoo centres an even window one to the left
    out[left:left + med.size] = med
    return out


def hdcza(epoch_idx: np.ndarray, angle: np.ndarray, cfg: DetectorConfig) -> SleepWindow:
    """Find the sleep period.

    epoch_idx : (m,) int, increasing epoch indices that have data.
    angle : (m,) angle-z (degrees) of those epochs.
    """
    if epoch_idx.size == 0:
        return SleepWindow(None, None, None)
    per_min = 60.0 / cfg.epoch_s
    first = int(epoch_idx[0])
    grid_n = int(epoch_idx[-1]) - first + 1
    a = np.full(grid_n, np.nan)
    pos = epoch_idx.astype(np.int64) - first
    a[pos] = angle
    width = int(round(cfg.hdcza_window_min * per_min))
    x = rolling_median_absdiff(a, width)
    has_data = np.zeros(grid_n, dtype=bool)
    has_data[pos] = True
    valid_x = x[np.isfinite(x) & has_data]
    if valid_x.size == 0:
        return SleepWindow(None, None, None)
    thr = float(np.percentile(valid_x, cfg.hdcza_percentile) * cfg.hdcza_multiplier)
    thr = min(max(thr, cfg.hdcza_threshold_min_deg), cfg.hdcza_threshold_max_deg)
    # a short gap inside a still period takes the verdict of the 5-min window around it
    # (x ignores missing epochs); only a gap as long as the whole window leaves x = NaN
    nomov = np.isfinite(x) & (x < thr)
    s1, e1 = _runs(nomov)
    long_ = (e1 - s1) > per_min * cfg.hdcza_block_min
    if not np.any(long_):
        return SleepWindow(None, None, thr)
    inspt = np.zeros(grid_n, dtype=bool)
    for s, e in zip(s1[long_], e1[long_]):
        inspt[s:e] = True
    # fill the holes between sleep blocks that are shorter than the maximum gap
    s3, e3 = _runs(~inspt)
    for s, e in zip(s3, e3):
        if s == 0 or e == grid_n:
            continue  # the time before the first and after the last block stays out
        if (e - s) < per_min * cfg.hdcza_max_gap_min:
            inspt[s:e] = True
    s5, e5 = _runs(inspt)
    dur = e5 - s5
    best = np.flatnonzero(dur == dur.max())
    k = best[int(np.ceil(best.size / 2.0)) - 1]  # GGIR takes the middle one of ties
    return SleepWindow(first + int(s5[k]), first + int(e5[k]) - 1, thr)
