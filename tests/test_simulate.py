"""Tests of the night simulator (twitchwatch.simulate): short nights, a few seconds in all."""
from __future__ import annotations

import dataclasses
import json
import os
import stat

import numpy as np
import pandas as pd
import pytest
from scipy.signal import butter, sosfiltfilt

from twitchwatch.simulate import (SENSOR_PRESETS, TRUTH_COLUMNS, NightSettings,
                                  simulate_night, write_night)

SHORT = dict(sleep_hours=1.5, awake_before_min=10.0, awake_after_min=5.0)
# still: no events, no heart, no breathing; the sleep period is then sensor noise only
STILL = dict(SHORT, jerk_rate_per_hour=0.0, cluster_rate_per_hour=0.0, hypnic_count_range=(0, 0),
             posture_shifts_per_hour=0.0, posture_shifts_sd_per_hour=0.0,
             limb_repositions_per_hour=0.0, scratch_per_hour=0.0, partner_per_hour=0.0,
             cardiac_amp_g=(0.0, 0.0), breathing_tilt_deg=(0.0, 0.0), ble_gap_count_range=(0, 0))


@pytest.fixture(scope="module")
def night():
    return simulate_night(NightSettings(seed=12, jerk_rate_per_hour=20.0,
                                        cluster_rate_per_hour=2.0, **SHORT))


def _xyz(df):
    return df[["ax_g", "ay_g", "az_g"]].to_numpy()


def _sleep(n):
    t = n.samples["time_s"].to_numpy()
    return (t >= n.meta["sleep_start_s"]) & (t < n.meta["sleep_end_s"])


def test_same_seed_same_night_other_seed_other_night():
    s = NightSettings(seed=3, sleep_hours=0.5, awake_before_min=5, awake_after_min=5)
    a, b = simulate_night(s), simulate_night(s)
    pd.testing.assert_frame_equal(a.samples, b.samples)
    pd.testing.assert_frame_equal(a.truth, b.truth)
    assert json.dumps(a.meta) == json.dumps(b.meta)
    c = simulate_night(dataclasses.replace(s, seed=4))
    assert not np.array_equal(_xyz(a.samples)[:1000], _xyz(c.samples)[:1000])


def test_layout(night):
    assert list(night.samples.columns) == ["time_s", "ax_g", "ay_g", "az_g"]
    assert (night.samples.dtypes == np.float64).all()
    assert list(night.truth.columns) == TRUTH_COLUMNS
    assert night.truth["onset_s"].is_monotonic_increasing
    assert set(night.truth["kind"]) <= {"jerk", "hypnic_jerk", "limb_movement", "plm",
                                        "posture_shift", "scratch", "tremor", "partner"}
    for k in ("sleep_start_s", "sleep_end_s", "recording_start_s", "recording_end_s"):
        assert isinstance(night.meta[k], float)
    json.dumps(night.meta)  # serialisable


@pytest.mark.parametrize("rate,jitter", [(100.0, 0.0005), (416.0, 0.01), (50.0, 0.0)])
def test_timestamps_strictly_increasing(rate, jitter):
    n = simulate_night(NightSettings(seed=2, sample_rate_hz=rate, timestamp_jitter_s=jitter,
                                     sleep_hours=0.25, awake_before_min=2, awake_after_min=2))
    assert np.all(np.diff(n.samples["time_s"].to_numpy()) > 0)


def test_gaps_are_timestamp_jumps_without_samples():
    s = NightSettings(seed=5, ble_gap_count_range=(4, 4), ble_gap_duration_s=(2.0, 30.0),
                      clock_drift_ppm=0.0, **SHORT)
    n = simulate_night(s)
    t = n.samples["time_s"].to_numpy()
    period, jit = 1 / s.sample_rate_hz, s.timestamp_jitter_s
    gaps = n.meta["gaps"]
    assert 1 <= len(gaps) <= 4
    jumps = np.flatnonzero(np.diff(t) > 1.0)
    assert len(jumps) == len(gaps)
    for (a, b), j in zip(gaps, jumps):
        assert not np.any((t > a + jit) & (t < b - jit))
        # last sample before within one period of a, first after within one period of b
        assert b - a - 2 * jit - 1e-6 <= t[j + 1] - t[j] <= b - a + 2 * (period + jit) + 1e-6
        tr = n.truth
        hit = (tr.onset_s < b) & (tr.onset_s + tr.duration_s > a)
        assert (hit == tr.in_gap).all()
        assert not (hit & tr.kind.isin(["jerk", "hypnic_jerk"])).any()


@pytest.mark.parametrize("sensor", ["bmi270", "adxl355", "lsm6dso_lowpower", "cheap_12bit"])
def test_noise_rms_of_still_segment(sensor):
    n = simulate_night(NightSettings(seed=7, sensor=sensor, sample_rate_hz=100.0,
                                     **dict(STILL, sleep_hours=0.3)))
    a = _xyz(n.samples)[_sleep(n)]
    expect = np.hypot(n.meta["noise_rms_mg"], n.meta["lsb_g"] * 1e3 / np.sqrt(12))
    sd = a.std(axis=0) * 1e3
    np.testing.assert_allclose(sd, expect, rtol=0.3)
    np.testing.assert_allclose(n.meta["noise_rms_mg"][0],
                               SENSOR_PRESETS[sensor].noise_rms_mg(100.0))


def test_noise_with_background_by_second_differences(night):
    # breathing and heart are slow: second differences see the white noise only
    a = _xyz(night.samples)[_sleep(night)][:200_000]
    d2 = np.diff(a, 2, axis=0)
    est = np.median(np.abs(d2), axis=0) / 0.6745 / np.sqrt(6) * 1e3  # robust to events
    np.testing.assert_allclose(est, night.meta["noise_rms_mg"], rtol=0.3)


@pytest.mark.parametrize("sensor", sorted(SENSOR_PRESETS))
def test_quantization_step_and_range(sensor):
    n = simulate_night(NightSettings(seed=1, sensor=sensor, sleep_hours=0.2,
                                     awake_before_min=2, awake_after_min=1,
                                     posture_impact_prob=1.0, posture_shifts_per_hour=20))
    lsb = SENSOR_PRESETS[sensor].lsb_mg * 1e-3
    assert n.meta["lsb_g"] == pytest.approx(lsb)
    q = _xyz(n.samples) / lsb
    np.testing.assert_allclose(q, np.rint(q), atol=1e-6)
    assert np.abs(_xyz(n.samples)).max() <= SENSOR_PRESETS[sensor].range_g + lsb


def test_magnitude_is_one_g_when_still(night):
    s, m = night.settings, night.meta
    a = _xyz(night.samples)[_sleep(night)]
    tol = np.sqrt(3) * s.calib_offset_max_g + s.calib_gain_error_max
    assert abs(np.median(np.linalg.norm(a, axis=1)) - 1) < tol
    true = (a - np.array(m["calib_offset_g"])) / np.array(m["calib_gain"])
    assert abs(np.median(np.linalg.norm(true, axis=1)) - 1) < 0.003


def _highpass(n):
    sos = butter(2, 1.0, "highpass", fs=n.meta["actual_sample_rate_hz"], output="sos")
    return np.linalg.norm(sosfiltfilt(sos, _xyz(n.samples), axis=0), axis=1)


def test_jerk_truth_amplitude_and_location(night):
    s, tr = night.settings, night.truth
    jerks = tr[tr.kind == "jerk"]
    assert len(jerks) >= 20 and jerks.in_sleep.all()
    lo, hi = s.jerk_amp_range_g
    assert jerks.peak_g.between(lo, hi).all()
    assert (jerks.peak_sampled_g <= jerks.peak_g * (1 + 1e-6)).all()
    t, hp = night.samples["time_s"].to_numpy(), _highpass(night)
    fs = night.meta["actual_sample_rate_hz"]
    for j in jerks[jerks.peak_sampled_g > 0.1].itertuples():
        w = (t > j.onset_s - 0.5) & (t < j.onset_s + j.duration_s + 0.5)
        k = np.flatnonzero(w)[np.argmax(hp[w])]
        assert j.onset_s - 1 / fs <= t[k] <= j.onset_s + j.duration_s + 1 / fs
        assert hp[k] == pytest.approx(j.peak_sampled_g, rel=0.25, abs=0.03)


def test_every_large_transient_is_in_the_truth(night):
    t, hp = night.samples["time_s"].to_numpy(), _highpass(night)
    tr = night.truth
    big = t[hp > 0.1]
    inside = np.zeros(len(big), bool)
    for e in tr.itertuples():
        inside |= (big >= e.onset_s - 0.5) & (big <= e.onset_s + e.duration_s + 0.5)
    gaps = night.meta["gaps"]  # filter edge effects at gaps and jerks dropped in gaps
    near_gap = np.array([any(a - 3 < x < b + 3 for a, b in gaps) for x in big[~inside]], bool)
    assert near_gap.all() if len(near_gap) else True


def test_jerk_placement_rules(night):
    s, tr = night.settings, night.truth
    hyp = tr[tr.kind == "hypnic_jerk"]
    assert ((hyp.onset_s >= night.meta["sleep_start_s"])
            & (hyp.onset_s < night.meta["sleep_start_s"] + s.hypnic_window_s)).all()
    start, end = tr.onset_s.to_numpy(), (tr.onset_s + tr.duration_s).to_numpy()
    for i in np.flatnonzero(tr.kind.isin(["jerk", "hypnic_jerk"])):
        others = np.arange(len(tr)) != i
        gap = np.maximum(start[others] - end[i], start[i] - end[others])
        assert gap.min() >= s.jerk_min_gap_s - 1e-6 or tr.cluster_id.iloc[i]
    clusters = tr[tr.cluster_id != ""].groupby("cluster_id")
    assert clusters.ngroups >= 1
    for _, c in clusters:
        d = np.diff(c.onset_s.to_numpy())
        assert len(c) <= s.cluster_size_range[1]
        assert (d >= s.cluster_interval_s[0] - 1e-6).all() and (d <= 10.5).all()


def test_plm_series_at_the_ankle():
    n = simulate_night(NightSettings(seed=8, placement="ankle", plm_series_range=(2, 2),
                                     ble_gap_count_range=(0, 0), **SHORT))
    plm = n.truth[n.truth.kind == "plm"]
    assert plm.series_id.nunique() == 2 and (plm.series_id != "").all()
    for _, ser in plm.groupby("series_id"):
        d = np.diff(ser.onset_s.to_numpy())
        assert len(ser) >= 4 and ((d >= 10 - 1e-6) & (d <= 90 + 1e-6)).all()
        assert ser.duration_s.between(0.5, 5.0).all()


def test_zero_jerk_night():
    n = simulate_night(NightSettings(seed=9, jerk_rate_per_hour=0, cluster_rate_per_hour=0,
                                     hypnic_count_range=(0, 0), **SHORT))
    assert not n.truth.kind.isin(["jerk", "hypnic_jerk"]).any()
    assert len(n.truth) > 0  # the confounders are still there


@pytest.mark.parametrize("ppm", [-20000.0, 0.0, 15000.0])
def test_clock_drift_sets_the_effective_rate(ppm):
    s = NightSettings(seed=4, clock_drift_ppm=ppm, timestamp_jitter_s=0.0, sleep_hours=0.2,
                      awake_before_min=1, awake_after_min=1, ble_gap_count_range=(0, 0))
    n = simulate_night(s)
    t = n.samples["time_s"].to_numpy()
    rate = (len(t) - 1) / (t[-1] - t[0])
    assert rate == pytest.approx(s.sample_rate_hz * (1 + ppm * 1e-6), rel=1e-6)
    assert n.meta["actual_sample_rate_hz"] == pytest.approx(rate, rel=1e-6)


def test_write_night_round_trip(tmp_path, night):
    csv, truth, meta = tmp_path / "n.csv.gz", tmp_path / "t.csv", tmp_path / "m.json"
    small = dataclasses.replace(night, samples=night.samples.iloc[:5000])
    write_night(small, csv, truth, meta)
    for p in (csv, truth, meta):
        assert stat.S_IMODE(os.stat(p).st_mode) == 0o600
    assert sorted(os.listdir(tmp_path)) == ["m.json", "n.csv.gz", "t.csv"]
    back = pd.read_csv(csv)
    assert list(back.columns) == ["time_s", "ax_g", "ay_g", "az_g"]
    np.testing.assert_allclose(back.time_s, small.samples.time_s, rtol=0, atol=1e-6)
    lsb = night.meta["lsb_g"]
    np.testing.assert_array_equal(np.rint(_xyz(back) / lsb), np.rint(_xyz(small.samples) / lsb))
    tb = pd.read_csv(truth, keep_default_na=False)
    assert list(tb.columns) == TRUTH_COLUMNS and len(tb) == len(night.truth)
    assert json.loads(meta.read_text())["sleep_start_s"] == night.meta["sleep_start_s"]


def test_invalid_settings_are_refused():
    for bad in (dict(sample_rate_hz=20.0), dict(placement="chest"), dict(sensor="nope"),
                dict(jerk_amp_range_g=(2.0, 0.03)), dict(jerk_rate_per_hour=-1.0)):
        with pytest.raises(ValueError):
            NightSettings(**bad)
