"""Filter design without importing scipy.signal (its import alone costs ~0.6 s, more than
analysing an hour of data).

Only what the kernel needs: a 2nd-order Butterworth high-pass as one biquad in scipy's
``sos`` layout, by the bilinear transform with frequency pre-warping (the same design
as ``scipy.signal.butter(2, fc, 'highpass', fs=fs, output='sos')``; a test compares the
two).
"""
from __future__ import annotations

import math


def butter2_highpass(fc_hz: float, fs_hz: float) -> tuple[float, float, float, float, float]:
    """(b0, b1, b2, a1, a2) of a 2nd-order Butterworth high-pass, a0 = 1.

    fc_hz : corner frequency (Hz), 0 < fc < fs / 2.
    """
    k = math.tan(math.pi * fc_hz / fs_hz)
    r2 = math.sqrt(2.0)
    norm = 1.0 / (1.0 + r2 * k + k * k)
    b0 = norm
    return b0, -2.0 * b0, b0, 2.0 * (k * k - 1.0) * norm, (1.0 - r2 * k + k * k) * norm
