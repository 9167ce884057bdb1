"""What the virtual band replays: (n, 3) int mG samples at a nominal rate.

The band replays the content sample after sample; the content's own timestamps are not
used (the band stamps with its own clock, as a device does).  A simulated night's BLE gaps
(NightSettings.ble_gap_count_range) have no samples, so they replay as if absent: the
band makes its own gaps through faults.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

INT16_MIN, INT16_MAX = -32768, 32767


@dataclass(frozen=True, eq=False)
class SampleSource:
    """``samples_mg`` (n, 3) int32 mG, replayed at ``rate_hz`` nominal."""

    samples_mg: np.ndarray
    rate_hz: float
    description: str

    def __post_init__(self) -> None:
        a = np.asarray(self.samples_mg)
        if a.ndim != 2 or a.shape[1] != 3 or a.shape[0] < 1:
            raise ValueError(f"samples_mg must have shape (n, 3) with n >= 1, got {a.shape}")
        if not (np.isfinite(self.rate_hz) and self.rate_hz > 0):
            raise ValueError(f"rate_hz must be positive, got {self.rate_hz}")
        a = np.clip(a, INT16_MIN, INT16_MAX).astype(np.int32)
        a.flags.writeable = False
        object.__setattr__(self, "samples_mg", a)

    def __len__(self) -> int:
        return int(self.samples_mg.shape[0])


def g_to_mg(acc_g) -> np.ndarray:
    """Accelerations in g -> int32 mG (rounded half to even, clipped to int16)."""
    a = np.asarray(acc_g, dtype=np.float64)
    return np.clip(np.round(a * 1000.0), INT16_MIN, INT16_MAX).astype(np.int32)


def night_source(night_settings) -> SampleSource:
    """Simulate a night (twitchwatch.simulate) and replay its samples."""
    from twitchwatch.simulate import simulate_night

    night = simulate_night(night_settings)
    acc = night.samples[["ax_g", "ay_g", "az_g"]].to_numpy()
    return SampleSource(g_to_mg(acc), float(night_settings.sample_rate_hz),
                        f"simulated night seed={night_settings.seed}")


def csv_source(path, rate_hz: float | None = None) -> SampleSource:
    """A canonical CSV (time_s, ax_g, ay_g, az_g); the rate is from the median spacing unless
    given (rounded to whole Hz when within 0.5 %)."""
    from twitchwatch.readers import read_canonical_csv

    rec = read_canonical_csv(path)
    if rate_hz is None:
        if len(rec.t) < 2:
            raise ValueError(f"{path}: one sample only; give the rate")
        measured = 1.0 / float(np.median(np.diff(rec.t)))
        # The nominal rate: the nearest whole Hz when within 0.5 % (timestamps are rounded
        # and clocks drift), else as measured to the mHz.
        rate_hz = float(round(measured)) if abs(measured - round(measured)) <= 0.005 * measured \
            else round(measured, 3)
    return SampleSource(g_to_mg(rec.acc), float(rate_hz), f"csv {rec.source}")


def default_night_settings(seed: int = 0):
    """A short simulated night (about 20 minutes, no BLE gaps) at 100 Hz."""
    from twitchwatch.simulate import NightSettings

    return NightSettings(seed=seed, sample_rate_hz=100.0, awake_before_min=2.0,
                         sleep_hours=0.25, awake_after_min=2.0, ble_gap_count_range=(0, 0))


__all__ = ["SampleSource", "g_to_mg", "night_source", "csv_source", "default_night_settings"]
