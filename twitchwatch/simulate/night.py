"""Simulate one night: plan events, render the signal, apply the device, report the truth.

Time bases: the simulation runs on *true* time (s since recording start). The device samples
at (1 + ppm*1e-6) * nominal rate; its reported timestamps (time_s, Unix s) are the true
sample instants plus a small jitter, rounded to microseconds, with BLE gaps removed.
Truth onsets are start_utc + true onset, i.e. the same base as time_s.
"""
from __future__ import annotations

import gzip
import json
import math
import os
import secrets
from dataclasses import dataclass

import numpy as np
import pandas as pd

from . import physics as ph
from .sensors import SENSOR_PRESETS
from .settings import NightSettings

TRUTH_COLUMNS = ["onset_s", "duration_s", "kind", "peak_g", "peak_sampled_g", "in_sleep",
                 "cluster_id", "series_id", "in_gap"]
JERK_KINDS = ("jerk", "hypnic_jerk")


@dataclass(frozen=True)
class SimulatedNight:
    """samples: DataFrame (n rows) time_s [Unix s], ax_g, ay_g, az_g [g, as the device reports].
    truth: DataFrame, one row per event, columns TRUTH_COLUMNS, sorted by onset_s.
    meta: dict, see simulate_night."""
    samples: pd.DataFrame
    truth: pd.DataFrame
    meta: dict
    settings: NightSettings


class _Placer:
    """Occupied time intervals. An event may not come closer to another than
    max(its own margin, the other's pad): 0 s between ordinary events (they never overlap,
    which keeps orientation and truth simple), jerk_min_gap_s around jerks."""

    def __init__(self):
        self.s, self.e, self.p = np.empty(0), np.empty(0), np.empty(0)

    def fits(self, a, b, margin):
        g = np.maximum(self.p, margin)
        return not np.any((self.s < b + g) & (self.e > a - g))

    def add(self, a, b, pad):
        self.s, self.e, self.p = np.r_[self.s, a], np.r_[self.e, b], np.r_[self.p, pad]


def _place(rng, placer, events, lo, hi, margin, tries=200):
    """Move a group of events (offsets relative to the first) to a random start in [lo, hi)
    such that all of them end before hi and fit; re-draw up to `tries` times (reject-and-
    redraw). Returns False when no place was found (the group is dropped)."""
    offs = [e.onset for e in events]
    span = max(o + e.duration for o, e in zip(offs, events))
    if hi - lo < span:
        return False
    for _ in range(tries):
        t0 = rng.uniform(lo, hi - span)
        if all(placer.fits(t0 + o, t0 + o + e.duration, margin) for o, e in zip(offs, events)):
            for o, e in zip(offs, events):
                e.onset = t0 + o
                placer.add(e.onset, e.onset + e.duration, margin)
            return True
    return False


def _plan(s: NightSettings, rng, fs, total, s0, s1):
    """All events (true s since recording start), counts of unplaced ones, posture rate.
    Order matters only for who yields: anchored and long events first, jerks last, so a jerk
    is re-drawn when it lands within jerk_min_gap_s of anything else."""
    placer, events, unplaced = _Placer(), [], {}
    hours = (s1 - s0) / 3600.0
    gap = s.jerk_min_gap_s

    def put(group, lo, hi, margin=0.0):
        if _place(rng, placer, group, lo, hi, margin):
            events.extend(group)
        else:
            unplaced[group[0].kind] = unplaced.get(group[0].kind, 0) + len(group)

    for _ in range(int(rng.integers(s.hypnic_count_range[0], s.hypnic_count_range[1] + 1))):
        put([ph.make_hypnic(rng, s, fs)], s0, min(s1, s0 + s.hypnic_window_s), gap)
    n_series = int(rng.integers(s.plm_series_range[0], s.plm_series_range[1] + 1))
    for k in range(n_series):
        m = int(rng.integers(s.plm_movements_range[0], s.plm_movements_range[1] + 1))
        group = [ph.make_plm(rng, s, s.placement) for _ in range(m)]
        onset = 0.0
        for e in group:  # onset-to-onset interval, never shorter than the movement itself
            e.onset, e.series_id = onset, f"p{k + 1}"
            onset += max(rng.uniform(*s.plm_interval_s), e.duration + 0.5)
        put(group, s0, s1)
    rate = max(0.0, rng.normal(s.posture_shifts_per_hour, s.posture_shifts_sd_per_hour))
    for _ in range(rng.poisson(rate * hours)):
        put([ph.make_posture(rng, s, fs)], s0, s1)
    for lo, hi in ((0.0, s0), (s1, total)):
        for _ in range(rng.poisson(s.awake_movements_per_min * (hi - lo) / 60.0)):
            put([ph.make_movement(rng, "limb_movement", rng.uniform(*s.awake_move_duration_s),
                                  ph.loguniform(rng, s.awake_move_accel_g),
                                  rng.uniform(*s.awake_move_angle_deg))], lo, hi)
    for _ in range(rng.poisson(s.limb_repositions_per_hour * hours)):
        put([ph.make_movement(rng, "limb_movement", rng.uniform(*s.limb_duration_s),
                              ph.loguniform(rng, s.limb_accel_g),
                              rng.uniform(*s.limb_angle_deg))], s0, s1)
    bursts = (("scratch", s.scratch_per_hour, s.scratch_duration_s, s.scratch_hz,
               s.scratch_accel_g, 0.3, 1, 0.1),
              ("tremor", s.tremor_per_hour, s.tremor_duration_s, s.tremor_hz,
               s.tremor_accel_g, 0.0, 1, 0.03),
              ("partner", s.partner_per_hour, s.partner_duration_s, s.partner_hz,
               s.partner_accel_g, 0.0, 3, 0.1))
    for kind, r, dur, hz, amp, harm, nc, wob in bursts:
        for _ in range(rng.poisson(r * hours)):
            put([ph.make_burst(rng, kind, rng.uniform(*dur), hz, ph.loguniform(rng, amp),
                               harm, nc, wob)], s0, s1)
    for k in range(rng.poisson(s.cluster_rate_per_hour * hours)):
        m = int(rng.integers(s.cluster_size_range[0], s.cluster_size_range[1] + 1))
        group = [ph.make_jerk(rng, s, fs) for _ in range(m)]
        onset = 0.0
        for e in group:
            e.onset, e.cluster_id = onset, f"c{k + 1}"
            onset += max(rng.uniform(*s.cluster_interval_s), e.duration + 0.1)
        put(group, s0, s1, gap)
    for _ in range(rng.poisson(s.jerk_rate_per_hour * hours)):
        put([ph.make_jerk(rng, s, fs)], s0, s1, gap)
    return [e.finalize() for e in sorted(events, key=lambda e: e.onset)], unplaced, rate


def _gaps(rng, s, total):
    """Merged BLE gaps [(start, end)] in true seconds, sorted."""
    n = int(rng.integers(s.ble_gap_count_range[0], s.ble_gap_count_range[1] + 1))
    d = ph.loguniform(rng, s.ble_gap_duration_s, n)
    st = rng.uniform(0, np.maximum(total - d, 0))
    merged = []
    for a, b in sorted(zip(st, st + d)):
        if merged and a <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], b)
        else:
            merged.append([float(a), float(b)])
    return [tuple(g) for g in merged]


def simulate_night(settings: NightSettings) -> SimulatedNight:
    """Simulate a night from `settings` (deterministic in settings.seed).

    meta keys: recording_start_s, recording_end_s, sleep_start_s, sleep_end_s (Unix s, the
    time_s base); gaps [(start_s, end_s)] (Unix, no samples inside); clock_drift_ppm and
    actual_sample_rate_hz; noise_rms_mg [x, y, z] (white noise, without quantization);
    lsb_g, range_g; calib_offset_g, calib_gain (reading = gain * true + offset);
    posture_shifts_per_hour_drawn; dropped_in_gap and unplaced (counts by kind); settings.
    """
    s = settings
    preset = SENSOR_PRESETS[s.sensor]
    plan_rng, bg_rng, dev_rng, noise_rng = np.random.default_rng(s.seed).spawn(4)
    drift = s.clock_drift_ppm
    if drift is None:
        drift = float(dev_rng.uniform(-s.clock_drift_max_ppm, s.clock_drift_max_ppm))
    fs = s.sample_rate_hz * (1 + drift * 1e-6)
    s0 = s.awake_before_min * 60.0
    s1 = s0 + s.sleep_hours * 3600.0
    total = s1 + s.awake_after_min * 60.0
    t = np.arange(int(math.ceil(total * fs))) / fs

    events, unplaced, posture_rate = _plan(s, plan_rng, fs, total, s0, s1)
    acc = ph.render_orientation(t, ph.random_unit(bg_rng), events)
    ph.apply_tilt(acc, ph.tilt_field(bg_rng, t, s, s0, s1))
    for e in events:
        i0, i1 = np.searchsorted(t, (e.onset, e.onset + e.duration))
        a = e.accel(t[i0:i1])
        acc[i0:i1] += a
        e.peak_sampled_g = float(np.linalg.norm(a, axis=1).max()) if len(a) else 0.0
    card, cdir = ph.cardiac(bg_rng, t, s)
    for k in range(3):
        acc[:, k] += card * cdir[k]
    del card

    # device: calibration error, white noise, quantization and clipping
    offset = dev_rng.uniform(-s.calib_offset_max_g, s.calib_offset_max_g, 3)
    gain = 1 + dev_rng.uniform(-s.calib_gain_error_max, s.calib_gain_error_max, 3)
    sigma_g = preset.noise_rms_mg(s.sample_rate_hz) * 1e-3
    acc *= gain
    acc += offset
    for k in range(3):
        acc[:, k] += sigma_g * noise_rng.standard_normal(len(t))
    preset.quantize(acc)

    gaps = _gaps(dev_rng, s, total)
    keep = np.ones(len(t), bool)
    for a, b in gaps:
        keep[np.searchsorted(t, a):np.searchsorted(t, b)] = False
    jit = min(s.timestamp_jitter_s, 0.45 / fs)
    time_s = np.round(s.start_utc + t + dev_rng.uniform(-jit, jit, len(t)), 6)
    samples = pd.DataFrame({"time_s": time_s[keep], "ax_g": acc[keep, 0],
                            "ay_g": acc[keep, 1], "az_g": acc[keep, 2]}, copy=False)
    del acc, time_s

    # Jerks wholly or partly in a gap are dropped (they cannot be scored fairly); longer
    # events are dropped when wholly unseen and kept with in_gap=True when partly seen.
    rows, dropped = [], {}
    for e in events:
        seen = np.sum(keep[np.searchsorted(t, e.onset):np.searchsorted(t, e.onset + e.duration)])
        in_gap = any(e.onset < b and e.onset + e.duration > a for a, b in gaps)
        if in_gap and (e.kind in JERK_KINDS or seen == 0):
            dropped[e.kind] = dropped.get(e.kind, 0) + 1
            continue
        rows.append((round(s.start_utc + e.onset, 6), e.duration, e.kind, e.peak_g,
                     e.peak_sampled_g, bool(s0 <= e.onset < s1), e.cluster_id, e.series_id,
                     in_gap))
    truth = pd.DataFrame(rows, columns=TRUTH_COLUMNS).astype(
        {"onset_s": float, "duration_s": float, "peak_g": float, "peak_sampled_g": float,
         "in_sleep": bool, "kind": str, "cluster_id": str, "series_id": str, "in_gap": bool})
    meta = {
        "recording_start_s": s.start_utc, "recording_end_s": s.start_utc + total,
        "sleep_start_s": s.start_utc + s0, "sleep_end_s": s.start_utc + s1,
        "gaps": [(s.start_utc + a, s.start_utc + b) for a, b in gaps],
        "clock_drift_ppm": drift, "actual_sample_rate_hz": fs,
        "noise_rms_mg": [sigma_g * 1e3] * 3, "lsb_g": preset.lsb_mg * 1e-3,
        "range_g": preset.range_g, "sensor": preset.name, "sensor_source": preset.source,
        "calib_offset_g": offset.tolist(), "calib_gain": gain.tolist(),
        "posture_shifts_per_hour_drawn": posture_rate,
        "dropped_in_gap": dropped, "unplaced": unplaced, "n_samples": len(samples),
        "settings": s.to_dict(),
    }
    return SimulatedNight(samples, truth, meta, s)


def _atomic_write(path: str, data: bytes) -> None:
    """Write owner-only (0o600) to a temporary name in the same directory, then rename."""
    tmp = f"{path}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _csv_bytes(df: pd.DataFrame, path: str, float_format: str) -> bytes:
    text = df.to_csv(index=False, float_format=float_format, lineterminator="\n").encode()
    return gzip.compress(text, compresslevel=6, mtime=0) if path.endswith(".gz") else text


def write_night(night: SimulatedNight, csv_path, truth_path=None, meta_path=None) -> None:
    """Write the canonical CSV time_s,ax_g,ay_g,az_g (gzip when the name ends in .gz),
    optionally the truth CSV and the meta JSON; files are 0o600, written atomically.
    Time has 6 decimals (microseconds); accelerations have at least 6 and enough that
    round(value / lsb) recovers the counts (7 for the 3.9 ug LSB of the adxl355).
    Takes ~10-15 s for an 8-h 100-Hz night (pandas float formatting)."""
    dec = max(6, math.ceil(-math.log10(night.meta["lsb_g"] / 20)))
    smp = night.samples
    if dec > 6:  # time keeps exactly 6 decimals
        smp = smp.assign(time_s=np.char.mod("%.6f", smp["time_s"].to_numpy()))
    csv_path = os.fspath(csv_path)
    _atomic_write(csv_path, _csv_bytes(smp, csv_path, f"%.{dec}f"))
    if truth_path is not None:
        truth_path = os.fspath(truth_path)
        _atomic_write(truth_path, _csv_bytes(night.truth, truth_path, "%.6f"))
    if meta_path is not None:
        _atomic_write(os.fspath(meta_path), json.dumps(night.meta, indent=1).encode())
