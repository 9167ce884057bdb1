"""Small synthetic signals for unit tests (the full night simulator lives in
twitchwatch.simulate).  Shapes: t (n,) Unix s, acc (n, 3) g."""
from __future__ import annotations

import numpy as np

T0 = 1_764_000_000.0  # 2025-11-24T16:00:00Z, an arbitrary fixed start


def pulse(n_samples: int) -> np.ndarray:
    """A biphasic bump of unit peak: the second derivative of a smooth displacement."""
    w = np.linspace(0, 1, n_samples)
    p = np.sin(2 * np.pi * w) * np.sin(np.pi * w)
    return p / np.max(np.abs(p))


def quiet_with_events(fs: float = 100.0, minutes: float = 6.0, seed: int = 0,
                      gaps=((130.0, 2.0), (250.0, 0.5))) -> tuple[np.ndarray, np.ndarray]:
    """Still wrist, 2 mg noise, jerks of several sizes, one oscillating burst, one turn, gaps.

    gaps : (start_s, length_s) pairs of missing data.
    """
    rng = np.random.default_rng(seed)
    n = int(minutes * 60 * fs)
    t = T0 + np.arange(n) / fs
    acc = rng.normal(0, 0.002, (n, 3))
    acc[:, 2] += 1.0
    for k, amp in enumerate([0.03, 0.08, 0.3, 1.2, 0.05, 0.5]):
        i = int((20 + 37 * k) * fs)
        m = int(0.12 * fs)
        acc[i:i + m, k % 3] += amp * pulse(m)
    # 4 s of 5 Hz oscillation (scratching-like)
    i = int(60 * fs)
    m = int(4 * fs)
    acc[i:i + m, 0] += 0.15 * np.sin(2 * np.pi * 5 * np.arange(m) / fs)
    # a 3-s turn: gravity rotates 90 degrees about x
    i = int(200 * fs)
    m = int(3 * fs)
    ang = np.concatenate([np.zeros(i), np.linspace(0, np.pi / 2, m), np.full(n - i - m, np.pi / 2)])
    g = np.stack([np.zeros(n), np.sin(ang), np.cos(ang)], axis=1)
    acc += g - np.array([0, 0, 1.0])
    keep = np.ones(n, dtype=bool)
    for s, length in gaps:
        keep &= ~((t - T0 >= s) & (t - T0 < s + length))
    return t[keep], acc[keep]
