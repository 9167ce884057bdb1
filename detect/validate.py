"""Checks of a whole recording before analysis, with messages that name the fix.

The streaming ``Detector`` checks each chunk as it comes (finite, strictly increasing);
this module adds what can only be judged on a whole night: units, sample rate, length and
clipping.  Every failure raises :class:`~detect.errors.InputError`.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .config import MIN_SAMPLE_RATE_HZ
from .errors import InputError

G = 9.80665
#: Less than this cannot hold a noise floor, a sleep window or a useful count.
MIN_DURATION_S = 300.0
#: Standard accelerometer full-scale ranges (g), used to guess the clipping level.
STANDARD_RANGES_G = (2.0, 4.0, 8.0, 16.0, 32.0)


@dataclass(frozen=True)
class RecordingInfo:
    sample_rate_hz: float    # from the median step, rounded to 0.01 Hz
    duration_s: float
    n_samples: int
    range_g: float | None    # guessed full scale, None when the data never reach one
    clipped_samples: int


def check_recording(t: np.ndarray, acc: np.ndarray, *, min_duration_s: float = MIN_DURATION_S) -> RecordingInfo:
    """Validate a recording.

    t : (n,) Unix seconds.  acc : (n, 3) acceleration in g (gravity included).
    """
    n = t.shape[0]
    if acc.shape != (n, 3):
        raise InputError(f"need an (n, 3) acceleration array for {n} timestamps; got shape {acc.shape}")
    if n < 2:
        raise InputError(f"only {n} sample(s); need at least {min_duration_s / 60:g} minutes of data")
    bad_t = ~np.isfinite(t)
    if bad_t.any():
        k = int(np.flatnonzero(bad_t)[0])
        raise InputError(f"time_s is not a number at data row {k + 1}; remove that row")
    bad = ~np.isfinite(acc)
    if bad.any():
        k, a = (int(v) for v in np.argwhere(bad)[0])
        raise InputError(
            f"acceleration is NaN or infinite at data row {k + 1} (t={t[k]:.3f}, axis {'xyz'[a]}); "
            f"remove such rows: the gap they leave is handled as a gap"
        )
    d = np.diff(t)
    if (d == 0).any():
        k = int(np.flatnonzero(d == 0)[0])
        raise InputError(
            f"duplicate timestamp {t[k]:.6f} at data rows {k + 1} and {k + 2}; drop the duplicate rows"
        )
    if (d < 0).any():
        k = int(np.flatnonzero(d < 0)[0])
        raise InputError(
            f"timestamps go backwards at data row {k + 2} ({t[k + 1]:.6f} after {t[k]:.6f}); "
            f"sort the file by time_s"
        )
    duration = float(t[-1] - t[0])
    if duration < min_duration_s:
        raise InputError(
            f"only {duration:.0f} s of data; need at least {min_duration_s / 60:g} minutes to estimate "
            f"the noise floor"
        )
    fs = 1.0 / float(np.median(d))
    if fs < MIN_SAMPLE_RATE_HZ:
        raise InputError(
            f"sample rate is {fs:.1f} Hz; jerks last tens of milliseconds and cannot be seen below "
            f"{MIN_SAMPLE_RATE_HZ:g} Hz: record at 50 Hz or more (100 Hz where the device allows)"
        )
    mag = np.sqrt(np.median(np.sum(acc[:: max(1, n // 100_000)] ** 2, axis=1)))
    if 0.5 * G < mag < 1.5 * G:
        raise InputError(
            f"the acceleration magnitude is about {mag:.1f}: the values look like m/s^2, not g; "
            f"divide by 9.80665 or pass --units m/s2"
        )
    if mag < 0.5:
        raise InputError(
            f"the acceleration magnitude is about {mag:.2f} g, far below 1 g: the data look like "
            f"gravity-free 'user acceleration'; record or export the raw accelerometer (with gravity)"
        )
    if mag > 1.5:
        raise InputError(
            f"the acceleration magnitude is about {mag:.2f} g at rest, far from 1 g: check the units "
            f"(mg? raw counts?) and convert to g"
        )
    peak = float(np.max(np.abs(acc)))
    range_g = next((r for r in STANDARD_RANGES_G if peak <= r * 1.001), None)
    clipped = 0
    if range_g is not None and peak >= range_g * 0.99:
        clipped = int(np.sum(np.any(np.abs(acc) >= range_g * 0.99, axis=1)))
    return RecordingInfo(
        sample_rate_hz=round(fs, 2), duration_s=duration, n_samples=n,
        range_g=range_g if clipped else None, clipped_samples=clipped,
    )
