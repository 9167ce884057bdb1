"""Pure parts of the BLE session: backoff policy and the device-clock mapping."""
from __future__ import annotations

import random

import numpy as np
from hypothesis import given, strategies as st

from sensor.backoff import Backoff
from sensor.clock import ClockMap


@given(st.integers(0, 10_000), st.integers(0, 2**32))
def test_backoff_is_bounded_and_grows(attempt, seed):
    b = Backoff()
    d = b.delay_s(attempt, random.Random(seed))
    assert 0 < d <= b.bound_s
    assert b.delay_s(attempt) <= b.delay_s(attempt + 1)


def test_backoff_sequence():
    b = Backoff(first_s=0.5, factor=2, max_s=15, jitter=0)
    assert [b.delay_s(k) for k in range(7)] == [0.5, 1, 2, 4, 8, 15, 15]


def simulate_link(ppm=40.0, hours=1.0, seed=0, burst_p=0.2):
    """Notifications every 0.1 s of device time; delivery late by 5-60 ms, sometimes held
    back for a burst of up to 1.5 s."""
    rng = np.random.default_rng(seed)
    dev = np.arange(0, hours * 3600, 0.1) + 12345.0            # device seconds
    true = 1.7e9 + (dev - dev[0]) * (1 + ppm * 1e-6)          # true UTC of each frame's last sample
    lat = rng.uniform(0.005, 0.06, dev.size)
    burst = rng.random(dev.size) < burst_p
    lat[burst] += rng.uniform(0, 1.5, burst.sum())
    return dev, true, true + lat


def test_clock_map_follows_drift_and_ignores_bursts():
    dev, true, host = simulate_link()
    cm = ClockMap()
    errs = []
    for k in range(dev.size):
        cm.observe(int(dev[k] * 1e9), host[k])
        if k > 6000:  # after 10 min
            errs.append(cm.to_utc(np.array([int(dev[k] * 1e9)]))[0] - true[k])
    errs = np.abs(np.asarray(errs))
    # the envelope sits at the smallest latency (5 ms); bursts of 1.5 s do not move it
    assert errs.max() < 0.02, errs.max()
    assert abs(cm.drift - 40e-6) < 5e-6


def test_clock_jump_restarts_the_fit_and_output_stays_increasing():
    dev, true, host = simulate_link(hours=0.2, burst_p=0.0)
    cm = ClockMap()
    out = []
    for k in range(dev.size):
        d = dev[k] + (1000.0 if k >= 3000 else 0.0)  # the device clock leaps 1000 s
        j = cm.observe(int(d * 1e9), host[k])
        if k == 3000:
            assert j
        out.append(cm.to_utc(np.array([int(d * 1e9)]))[0])
    out = np.asarray(out)
    assert np.all(np.diff(out) > 0)
    assert abs(out[-1] - true[-1]) < 0.1
    assert cm.jumps == 1
