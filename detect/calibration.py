"""Auto-calibration against gravity (van Hees et al. 2014, as GGIR runs it).

Still 10-s windows (every axis SD below ``still_sd_g``) should all have a mean vector of
length 1 g.  An affine correction per axis (offset + scale x value) is fitted so that
they do, by iteratively re-weighted least squares towards the closest point on the unit
sphere.  It is applied only when the still windows cover the sphere well enough on every
axis (otherwise offset and scale are not identifiable) and when it brings the error
under 10 mg, as in GGIR.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import layout as K
from .config import DetectorConfig

#: GGIR's rule: each axis needs still windows beyond +-0.3 g on both sides.
SPHERE_COVERAGE_G = 0.3
MIN_POINTS = 10
MAX_ITERATIONS = 1000
#: GGIR accepts a calibration whose remaining error is below 10 mg.
ACCEPT_ERROR_G = 0.01


@dataclass(frozen=True)
class Calibration:
    """Affine correction: calibrated = offset_g + scale * raw (per axis)."""

    offset_g: tuple = (0.0, 0.0, 0.0)
    scale: tuple = (1.0, 1.0, 1.0)
    applied: bool = False
    n_points: int = 0
    error_before_mg: float | None = None
    error_after_mg: float | None = None
    reason: str = ""

    def apply(self, xyz: np.ndarray) -> np.ndarray:
        """(n, 3) g -> (n, 3) g."""
        if not self.applied:
            return xyz
        return np.asarray(self.offset_g) + xyz * np.asarray(self.scale)


def still_points(epochs: np.ndarray, cfg: DetectorConfig) -> np.ndarray:
    """Mean vectors (n, 3) of the still 10-s windows: pairs of whole consecutive epochs.

    epochs : (m, N_EPOCH_COLS) kernel epoch rows.
    """
    if len(epochs) < 2:
        return np.zeros((0, 3))
    per_epoch = cfg.epoch_s * cfg.sample_rate_hz
    full = epochs[:, K.EP_N] >= 0.9 * per_epoch
    sd = epochs[:, K.EP_SDX:K.EP_SDZ + 1]
    still = full & np.all(sd < cfg.still_sd_g, axis=1)
    idx = epochs[:, K.EP_IDX].astype(np.int64)
    # a 10-s window is an even epoch followed by the next one, both still
    a = np.flatnonzero(still[:-1] & still[1:] & (idx[1:] == idx[:-1] + 1) & (idx[:-1] % 2 == 0))
    if a.size == 0:
        return np.zeros((0, 3))
    n1 = epochs[a, K.EP_N][:, None]
    n2 = epochs[a + 1, K.EP_N][:, None]
    m1 = epochs[a, K.EP_MX:K.EP_MZ + 1]
    m2 = epochs[a + 1, K.EP_MX:K.EP_MZ + 1]
    # the pooled SD of the window must also be still (the two halves may differ)
    pooled = (n1 * (epochs[a, K.EP_SDX:K.EP_SDZ + 1] ** 2 + m1 ** 2)
              + n2 * (epochs[a + 1, K.EP_SDX:K.EP_SDZ + 1] ** 2 + m2 ** 2)) / (n1 + n2)
    mean = (n1 * m1 + n2 * m2) / (n1 + n2)
    sd_win = np.sqrt(np.maximum(pooled - mean ** 2, 0.0))
    keep = np.all(sd_win < cfg.still_sd_g, axis=1)
    return mean[keep]


def _error_mg(points: np.ndarray) -> float:
    return float(np.mean(np.abs(np.linalg.norm(points, axis=1) - 1.0)) * 1000.0)


def fit(points: np.ndarray) -> Calibration:
    """Fit offset and scale to still mean vectors (n, 3) in g."""
    n = len(points)
    if n == 0:
        return Calibration(reason="no still 10-s windows")
    before = _error_mg(points)
    if n < MIN_POINTS:
        return Calibration(n_points=n, error_before_mg=before, error_after_mg=before,
                           reason=f"only {n} still windows (need {MIN_POINTS})")
    covered = np.all((points.min(axis=0) < -SPHERE_COVERAGE_G) & (points.max(axis=0) > SPHERE_COVERAGE_G))
    if not covered:
        return Calibration(n_points=n, error_before_mg=before, error_after_mg=before,
                           reason="still windows do not cover the sphere on every axis")
    offset = np.zeros(3)
    scale = np.ones(3)
    weights = np.ones(n)
    last_res = np.inf
    for _ in range(MAX_ITERATIONS):
        cur = offset + points * scale
        closest = cur / np.linalg.norm(cur, axis=1, keepdims=True)
        for a in range(3):
            # weighted least squares closest[:, a] ~ offset[a] + scale[a] * points[:, a]
            A = np.column_stack([np.ones(n), points[:, a]]) * np.sqrt(weights)[:, None]
            b = closest[:, a] * np.sqrt(weights)
            (offset[a], scale[a]), *_ = np.linalg.lstsq(A, b, rcond=None)
        cur = offset + points * scale
        resid = np.abs(np.linalg.norm(cur, axis=1) - 1.0)
        weights = np.minimum(1.0 / np.maximum(resid, 1e-12), 100.0)  # GGIR caps weights at 100
        res = float(np.mean(resid))
        if abs(last_res - res) < 1e-9:
            break
        last_res = res
    after = _error_mg(offset + points * scale)
    applied = after < before and after < ACCEPT_ERROR_G * 1000.0
    return Calibration(
        offset_g=tuple(float(v) for v in offset) if applied else (0.0, 0.0, 0.0),
        scale=tuple(float(v) for v in scale) if applied else (1.0, 1.0, 1.0),
        applied=applied,
        n_points=n,
        error_before_mg=before,
        error_after_mg=after if applied else before,
        reason="" if applied else f"fit left {after:.1f} mg (not applied)",
    )
