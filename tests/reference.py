"""A slow, plainly written reference of the detector, used as a test oracle.

It computes what :func:`detect.kernels_numba.process` + :func:`~detect.kernels_numba.flush`
compute, but formulated differently wherever that is natural:

* the stream is split into contiguous segments at the gaps, and every filter runs over a
  whole segment with scipy (``sosfilt`` for the high-pass, ``lfilter`` for the gravity
  and the slow-orientation low-passes), started at the steady state of the segment's
  first sample;
* the noise floor is computed from block means obtained by reshaping each segment (a
  partial block before a gap is dropped) and ``np.sort`` of the last ``W`` block means;
* the per-event features are computed with numpy over the event's samples once it is
  closed; only the on/off state machine itself is a plain Python loop;
* the epochs are a pandas ``groupby`` on ``floor(t / epoch_s)``.

Nothing here imports the kernel; only the column/flag numbering of :mod:`detect.layout`
(the output contract) is shared.  Float results agree with the kernel to rounding; the
decisions (which samples are on/off, which events exist) agree exactly, because every
comparison is made on the same float expression the specification names (``t_i - t_last
> merge_gap_s`` etc.).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import signal

from detect import layout as L
from detect.config import DetectorConfig

JERK = "jerk"
LIMB = "limb_movement"
POSTURE = "posture_change"
OTHER = "other_movement"


# ----------------------------------------------------------------------------- parameters
def highpass_sos(cfg: DetectorConfig) -> np.ndarray:
    """2nd-order Butterworth high-pass, one section, shape (1, 6).

    The design is a parameter of the algorithm, not part of it: the coefficients are the
    kernel's (detect.filters, itself checked against scipy.signal.butter in
    tests/test_filters.py), so that both sides filter with the very same numbers.
    """
    from detect.filters import butter2_highpass

    b0, b1, b2, a1, a2 = butter2_highpass(cfg.highpass_hz, cfg.sample_rate_hz)
    return np.array([[b0, b1, b2, 1.0, a1, a2]])


def one_pole_alpha(corner_hz: float, cfg: DetectorConfig) -> float:
    """Coefficient of a one-pole low-pass y += alpha * (x - y) with this corner."""
    return 1.0 - math.exp(-2.0 * math.pi * corner_hz / cfg.sample_rate_hz)


def gravity_alpha(cfg: DetectorConfig) -> float:
    """The gravity (orientation) estimate of the events."""
    return one_pole_alpha(cfg.gravity_lowpass_hz, cfg)


def angle_alpha(cfg: DetectorConfig) -> float:
    """The slow orientation whose epoch means feed the sleep window."""
    return one_pole_alpha(cfg.angle_lowpass_hz, cfg)


def noise_block_len(cfg: DetectorConfig) -> int:
    return max(1, int(round(cfg.noise_block_s * cfg.sample_rate_hz)))


def snapshot_every(cfg: DetectorConfig) -> int:
    """Samples between two snapshots of the gravity estimate."""
    return max(1, int(round(cfg.snapshot_s * cfg.sample_rate_hz)))


def snapshots_kept(cfg: DetectorConfig) -> int:
    """Snapshots kept before an onset: enough to span pre_onset_s."""
    return max(1, int(math.ceil(cfg.pre_onset_s / cfg.snapshot_s)))


def angle_deg(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Angle between rows of a and b (degrees), 0 where either is the zero vector.

    atan2(|a x b|, a . b): accurate at small angles too (acos of a cosine is not)."""
    a, b = np.atleast_2d(a), np.atleast_2d(b)
    ang = np.degrees(np.arctan2(np.linalg.norm(np.cross(a, b), axis=1), np.sum(a * b, axis=1)))
    zero = (np.linalg.norm(a, axis=1) == 0) | (np.linalg.norm(b, axis=1) == 0)
    return np.where(zero, 0.0, ang)


# ----------------------------------------------------------------------------- segments
def segments(t: np.ndarray, cfg: DetectorConfig) -> tuple[np.ndarray, np.ndarray]:
    """(starts, ends) of the contiguous runs: a step longer than max_contiguous_dt_s cuts."""
    cuts = np.flatnonzero(np.diff(t) > cfg.max_contiguous_dt_s) + 1
    starts = np.concatenate([[0], cuts]).astype(np.int64)
    ends = np.concatenate([cuts, [t.size]]).astype(np.int64)
    return starts, ends


# ----------------------------------------------------------------------------- signals
@dataclass
class Signals:
    """Per-sample quantities, each computed over whole segments."""

    h: np.ndarray          # (n, 3) high-passed acceleration
    m2: np.ndarray         # (n,)   squared gravity-free magnitude
    g_after: np.ndarray    # (n, 3) gravity estimate after sample i
    g_before: np.ndarray   # (n, 3) gravity estimate before sample i (reset value at a start)
    slow: np.ndarray       # (n, 3) slow orientation low-pass after sample i
    j2: np.ndarray         # (n,)   squared jerk (0 on the first sample of a segment)
    noise_ms: np.ndarray   # (n,)   noise mean square in force at sample i
    thr_on2: np.ndarray    # (n,)
    thr_off2: np.ndarray   # (n,)
    starts: np.ndarray
    ends: np.ndarray
    block_means: np.ndarray = field(repr=False)


def highpass_segment(sos: np.ndarray, seg: np.ndarray) -> np.ndarray:
    """High-pass one contiguous axis, starting at the steady state of its first sample."""
    zi = signal.sosfilt_zi(sos) * seg[0]
    out, _ = signal.sosfilt(sos, seg, zi=zi)
    return out


def lowpass_segment(alpha: float, seg: np.ndarray) -> np.ndarray:
    """One-pole low-pass y_n = alpha x_n + (1 - alpha) y_{n-1}, with y_{-1} = x_0."""
    b = np.array([alpha])
    a = np.array([1.0, alpha - 1.0])
    zi = signal.lfilter_zi(b, a) * seg[0]
    out, _ = signal.lfilter(b, a, seg, zi=zi)
    return out


def noise_floor(m2: np.ndarray, starts, ends, cfg: DetectorConfig):
    """Noise mean square in force at each sample, and all block means in arrival order.

    Blocks of nblock samples restart at every segment start; a trailing partial block of
    a segment is dropped.  After block k completes (on its last sample, and in force for
    that sample already) the noise is the floor(q * (fill - 1))-th smallest of the last
    min(k + 1, W) block means.  Before the first block: noise_initial_g ** 2.
    """
    nb_len = noise_block_len(cfg)
    means, done_at = [], []
    for s, e in zip(starts, ends):
        nb = (e - s) // nb_len
        if nb == 0:
            continue
        blocks = m2[s:s + nb * nb_len].reshape(nb, nb_len)
        means.append(blocks.mean(axis=1))
        done_at.append(s + nb_len * np.arange(1, nb + 1) - 1)
    means = np.concatenate(means) if means else np.zeros(0)
    done_at = np.concatenate(done_at) if done_at else np.zeros(0, dtype=np.int64)
    W = cfg.noise_window_blocks
    ms_after = np.empty(means.size)
    for k in range(means.size):
        window = np.sort(means[max(0, k + 1 - W):k + 1])
        ms_after[k] = window[int(math.floor(cfg.noise_quantile * (window.size - 1)))]
    n_done = np.searchsorted(done_at, np.arange(m2.size), side="right")
    ms = np.where(n_done == 0, cfg.noise_initial_g ** 2,
                  ms_after[np.maximum(n_done - 1, 0)] if means.size else 0.0)
    return ms, means


def compute_signals(t, x, y, z, cfg: DetectorConfig) -> Signals:
    X = np.column_stack([x, y, z]).astype(np.float64)
    n = X.shape[0]
    sos = highpass_sos(cfg)
    alpha, aalpha = gravity_alpha(cfg), angle_alpha(cfg)
    starts, ends = segments(t, cfg)
    slow = np.empty_like(X)
    h = np.empty_like(X)
    g_after = np.empty_like(X)
    g_before = np.empty_like(X)
    d = np.zeros_like(X)
    for s, e in zip(starts, ends):
        for a in range(3):
            h[s:e, a] = highpass_segment(sos, X[s:e, a])
            g_after[s:e, a] = lowpass_segment(alpha, X[s:e, a])
            slow[s:e, a] = lowpass_segment(aalpha, X[s:e, a])
        g_before[s] = X[s]
        g_before[s + 1:e] = g_after[s:e - 1]
        d[s + 1:e] = np.diff(X[s:e], axis=0)
    m2 = np.sum(h * h, axis=1)
    j2 = np.sum(d * d, axis=1) * cfg.sample_rate_hz ** 2
    ms, means = noise_floor(m2, starts, ends, cfg)
    kon2, koff2 = cfg.k_on ** 2, cfg.k_off ** 2
    minon2 = cfg.min_threshold_g ** 2
    minoff2 = (cfg.min_threshold_g * cfg.k_off / cfg.k_on) ** 2
    thr_on2 = np.maximum(kon2 * ms, minon2)
    thr_off2 = np.maximum(koff2 * ms, minoff2)
    assert n == m2.size
    return Signals(h, m2, g_after, g_before, slow, j2, ms, thr_on2, thr_off2, starts, ends, means)


# ----------------------------------------------------------------------------- events
def half_cycles(h: np.ndarray, c: np.ndarray) -> int:
    """Hysteresis half-cycles of one axis: sign changes of the sequence of samples that
    leave the band [-c, c] (samples inside the band keep the previous sign)."""
    s = np.where(h > c, 1, np.where(h < -c, -1, 0))
    s = s[s != 0]
    return int(np.count_nonzero(np.diff(s)))


def event_row(t, S: Signals, cfg: DetectorConfig, onset: int, above: list[int], last: int,
              flags: int) -> np.ndarray:
    """The row of an event with onset sample ``onset``, supra-off-threshold samples
    ``above`` (onset included) and last processed sample ``last``; gravity after = 0."""
    row = np.zeros(L.N_EVENT_COLS)
    ab = np.asarray(above)
    w = S.m2[ab]
    tau = t[ab] - t[onset]
    k = ab[np.argmax(w)]                   # first sample of the largest magnitude
    W = w.sum()
    mean = np.sum(w * tau) / W
    var = np.sum(w * (tau - mean) ** 2) / W
    span = slice(onset, last + 1)
    c = 0.5 * np.sqrt(S.thr_off2[span])
    row[L.E_ONSET_T] = t[onset]
    row[L.E_END_T] = t[ab[-1]]
    row[L.E_PEAK_G] = np.sqrt(S.m2[k])
    row[L.E_PEAK_T] = t[k]
    row[L.E_PEAK_JERK] = np.sqrt(np.max(S.j2[span]))
    row[L.E_EFF_DUR] = 2.0 * np.sqrt(var)
    row[L.E_NABOVE] = ab.size
    row[L.E_OSC] = max(half_cycles(S.h[span, a], c) for a in range(3))
    row[L.E_GBX:L.E_GBZ + 1] = S.g_before[onset]
    row[L.E_THR_G] = np.sqrt(S.thr_on2[onset])
    row[L.E_NOISE_G] = np.sqrt(S.noise_ms[onset])
    row[L.E_FLAGS] = flags
    row[L.E_ONSET_IDX] = onset
    row[L.E_PRE_DEV] = pre_onset_turn(S, onset, cfg)
    return row


def pre_onset_turn(S: Signals, onset: int, cfg: DetectorConfig) -> float:
    """Largest angle between the gravity before the onset and the gravity snapshots.

    A snapshot is the gravity estimate after every snapshot_every-th sample of the
    segment (counted from its start, the onset sample included); the last snapshots_kept
    of them before the onset count.  0 when there is none (e.g. just after a gap).
    """
    seg = S.starts[np.searchsorted(S.starts, onset, side="right") - 1]
    every = snapshot_every(cfg)
    taken = np.arange(seg + every - 1, onset + 1, every)[-snapshots_kept(cfg):]
    if taken.size == 0:
        return 0.0
    return float(np.max(angle_deg(S.g_after[taken], S.g_before[onset][None, :])))


def emit(out: list, row: np.ndarray, gravity_after: np.ndarray, extra_flags: int) -> None:
    row = row.copy()
    row[L.E_GAX:L.E_GAZ + 1] = gravity_after
    row[L.E_FLAGS] = int(row[L.E_FLAGS]) | extra_flags
    out.append(row)


def events_from_signals(t: np.ndarray, S: Signals, cfg: DetectorConfig) -> np.ndarray:
    """The hysteresis state machine, one sample at a time (the only sequential part).

    States: idle, or an open event (its onset and its supra-off samples).  A closed event
    waits in ``pending`` until ``settle_s`` after its end, when the gravity estimate is
    taken as its orientation after; a gap, the next onset or the end of data emit it early.
    """
    n = t.size
    tl = t.tolist()
    m2 = S.m2.tolist()
    on2 = S.thr_on2.tolist()
    off2 = S.thr_off2.tolist()
    seg_start = np.zeros(n, dtype=bool)
    seg_start[S.starts] = True
    seg_start = seg_start.tolist()
    out: list[np.ndarray] = []
    pending = None          # closed event row waiting for its orientation after
    onset = None            # onset sample of the open event, None when idle
    above: list[int] = []

    for i in range(n):
        if seg_start[i] and i > 0:                     # a gap just before sample i
            g = S.g_after[i - 1]
            if pending is not None:
                emit(out, pending, g, L.F_CUT_BY_GAP)
                pending = None
            if onset is not None:
                emit(out, event_row(t, S, cfg, onset, above, i - 1, L.F_CUT_BY_GAP), g, 0)
                onset = None
        if pending is not None and tl[i] >= pending[L.E_END_T] + cfg.settle_s:
            emit(out, pending, S.g_after[i], 0)
            pending = None
        if onset is None:
            if m2[i] >= on2[i]:
                if pending is not None:
                    emit(out, pending, S.g_before[i], L.F_UNSETTLED)
                    pending = None
                onset, above = i, [i]
        else:
            if m2[i] >= off2[i]:
                above.append(i)
            if tl[i] - tl[above[-1]] > cfg.merge_gap_s:
                pending = event_row(t, S, cfg, onset, above, i, 0)
                onset = None
            elif tl[i] - tl[onset] >= cfg.max_event_s:
                pending = event_row(t, S, cfg, onset, above, i, L.F_CUT_BY_MAXDUR)
                onset = None

    if n:                                              # end of data
        g = S.g_after[n - 1]
        if pending is not None:
            emit(out, pending, g, L.F_CUT_BY_END)
        if onset is not None:
            emit(out, event_row(t, S, cfg, onset, above, n - 1, L.F_CUT_BY_END), g, 0)
    return np.array(out).reshape(-1, L.N_EVENT_COLS)


# ----------------------------------------------------------------------------- epochs
def epochs_from_signals(t, x, y, z, S: Signals, cfg: DetectorConfig) -> np.ndarray:
    """Per-axis statistics of each epoch_s window aligned to Unix time (pandas groupby)."""
    df = pd.DataFrame({"e": np.floor(t / cfg.epoch_s).astype(np.int64),
                       "x": x, "y": y, "z": z, "m2": S.m2, "t": t,
                       "ax": S.slow[:, 0], "ay": S.slow[:, 1], "az": S.slow[:, 2]})
    g = df.groupby("e", sort=True)
    out = np.zeros((g.ngroups, L.N_EPOCH_COLS))
    out[:, L.EP_IDX] = g.size().index.to_numpy()
    out[:, L.EP_N] = g.size().to_numpy()
    mean, sd = g[["x", "y", "z"]].mean(), g[["x", "y", "z"]].std(ddof=0)
    lo, hi = g[["x", "y", "z"]].min(), g[["x", "y", "z"]].max()
    for a, col in enumerate("xyz"):
        out[:, L.EP_MX + a] = mean[col].to_numpy()
        out[:, L.EP_SDX + a] = sd[col].to_numpy()
    out[:, L.EP_MINX], out[:, L.EP_MAXX] = lo["x"].to_numpy(), hi["x"].to_numpy()
    out[:, L.EP_MINY], out[:, L.EP_MAXY] = lo["y"].to_numpy(), hi["y"].to_numpy()
    out[:, L.EP_MINZ], out[:, L.EP_MAXZ] = lo["z"].to_numpy(), hi["z"].to_numpy()
    out[:, L.EP_MS] = g["m2"].mean().to_numpy()
    out[:, L.EP_T0] = g["t"].min().to_numpy()
    out[:, L.EP_T1] = g["t"].max().to_numpy()
    slow = g[["ax", "ay", "az"]].mean()
    out[:, L.EP_AX], out[:, L.EP_AY], out[:, L.EP_AZ] = (slow[c].to_numpy() for c in ("ax", "ay", "az"))
    return out


# ----------------------------------------------------------------------------- public
def reference_detect(t, x, y, z, cfg: DetectorConfig):
    """(events (k, N_EVENT_COLS), epochs (m, N_EPOCH_COLS), gaps (g, 2)) of a whole stream."""
    t = np.asarray(t, dtype=np.float64)
    x, y, z = (np.asarray(a, dtype=np.float64) for a in (x, y, z))
    if t.size == 0:
        return np.zeros((0, L.N_EVENT_COLS)), np.zeros((0, L.N_EPOCH_COLS)), np.zeros((0, 2))
    S = compute_signals(t, x, y, z, cfg)
    events = events_from_signals(t, S, cfg)
    epochs = epochs_from_signals(t, x, y, z, S, cfg)
    cut = S.starts[1:]
    gaps = np.column_stack([t[cut - 1], t[cut]]).reshape(-1, 2)
    return events, epochs, gaps


def reference_clipped(x, y, z, cfg: DetectorConfig) -> int:
    """Samples with any axis at or beyond the clipping level (0 when it is unknown)."""
    if cfg.clip_g <= 0:
        return 0
    A = np.abs(np.column_stack([x, y, z]))
    return int(np.count_nonzero(np.any(A >= cfg.clip_g, axis=1)))


def reference_classify(events: np.ndarray, cfg: DetectorConfig) -> list[str | None]:
    """Kind of every candidate row (None for a glitch shorter than min_event_s).

    On its own a candidate is, in this order:
      a glitch      span < min_event_s;
      a posture     gravity turned by >= posture_change_deg from before to after;
      a jerk        brief (span <= jerk_max_span_s, energy 2 sigma <= jerk_max_effective_s),
                    posture kept (turn and pre-onset turn < jerk_max_turn_deg) and strong
                    (peak >= jerk_min_snr x noise RMS and >= jerk_min_peak_g);
      other         sustained oscillation (span >= osc_min_s, half-cycles / 2 / span >=
                    osc_min_hz);
      a limb move   limb_min_s <= span <= limb_max_s;
      other         otherwise.
    Then a jerk becomes other when a posture change lies within max(context_s,
    posture_context_s) of it, or any other non-jerk, non-glitch candidate within context_s.
    """
    kinds: list[str | None] = []
    for r in events:
        span = float(r[L.E_END_T] - r[L.E_ONSET_T]) + 1.0 / cfg.sample_rate_hz
        turn = float(angle_deg(r[L.E_GBX:L.E_GBZ + 1], r[L.E_GAX:L.E_GAZ + 1])[0])
        brief = span <= cfg.jerk_max_span_s and r[L.E_EFF_DUR] <= cfg.jerk_max_effective_s
        steady = turn < cfg.jerk_max_turn_deg and r[L.E_PRE_DEV] < cfg.jerk_max_turn_deg
        strong = (r[L.E_PEAK_G] >= cfg.jerk_min_snr * r[L.E_NOISE_G]
                  and r[L.E_PEAK_G] >= cfg.jerk_min_peak_g)
        if span < cfg.min_event_s:
            kinds.append(None)
        elif turn >= cfg.posture_change_deg:
            kinds.append(POSTURE)
        elif brief and steady and strong:
            kinds.append(JERK)
        elif span >= cfg.osc_min_s and r[L.E_OSC] / (2.0 * span) >= cfg.osc_min_hz:
            kinds.append(OTHER)
        elif cfg.limb_min_s <= span <= cfg.limb_max_s:
            kinds.append(LIMB)
        else:
            kinds.append(OTHER)

    final = list(kinds)
    for k, kind in enumerate(kinds):
        if kind != JERK:
            continue
        for j, other in enumerate(kinds):
            if j == k or other in (JERK, None):
                continue
            a, b = events[k], events[j]
            sep = max(0.0, float(b[L.E_ONSET_T] - a[L.E_END_T]), float(a[L.E_ONSET_T] - b[L.E_END_T]))
            reach = max(cfg.context_s, cfg.posture_context_s) if other == POSTURE else cfg.context_s
            if sep <= reach:
                final[k] = OTHER
                break
    return final
