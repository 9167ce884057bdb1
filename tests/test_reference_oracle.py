"""The numba kernel against the slow reference of tests/reference.py.

Decisions (which events exist, their onset/end samples, flags, gaps, epoch membership,
classification) must agree exactly; float features to rounding (the reference filters
whole segments with scipy and sums in a different order).
"""
from __future__ import annotations

import functools

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from detect import Detector, DetectorConfig
from detect import layout as L
from detect.classify import apply_context, base_kind
from detect.stream import kernel_params, snapshot_count, snapshot_samples

from . import reference as R
from .signals import T0, pulse

RTOL, ATOL = 1e-9, 1e-12
PRE_DEV_ATOL = 1e-5  # degrees
EXACT_EVENT_COLS = [L.E_ONSET_T, L.E_END_T, L.E_NABOVE, L.E_OSC, L.E_FLAGS, L.E_ONSET_IDX]
EXACT_EPOCH_COLS = [L.EP_IDX, L.EP_N, L.EP_MINX, L.EP_MAXX, L.EP_MINY, L.EP_MAXY,
                    L.EP_MINZ, L.EP_MAXZ, L.EP_T0, L.EP_T1]


# ----------------------------------------------------------------------------- kernel runner
def run_kernel(t, x, y, z, cfg, *, chunks=None, ev_rows=8, ep_rows=8, gap_rows=2):
    """process()/flush() with the state built as Detector.__init__ builds it.

    Small output buffers on purpose: the early-return-and-resume path runs many times.
    Returns (events, epochs, gaps, istate).
    """
    from detect.stream import KernelRunner

    kr = KernelRunner(cfg, event_rows=ev_rows, epoch_rows=ep_rows, gap_rows=gap_rows)
    evs, eps, gaps = [np.zeros((0, L.N_EVENT_COLS))], [np.zeros((0, L.N_EPOCH_COLS))], [np.zeros((0, 2))]
    n = t.size
    bounds = [0, n] if chunks is None else sorted({0, n, *[c for c in chunks if 0 < c < n]})
    for a, b in zip(bounds[:-1], bounds[1:]):
        e, p_, g = kr.run(*[np.ascontiguousarray(v[a:b], dtype=np.float64) for v in (t, x, y, z)])
        evs += e
        eps += p_
        gaps += g
    e, p_ = kr.flush()
    evs.append(e)
    eps.append(p_)
    ist = kr.ist
    return np.concatenate(evs), np.concatenate(eps), np.concatenate(gaps), ist


def kernel_kinds(rows, cfg):
    """What Detector does with the kernel rows: base_kind, then apply_context."""
    rows = list(rows)
    kinds = [base_kind(r, cfg) for r in rows]
    return [None if k is None else apply_context(kinds, rows, i, cfg) for i, k in enumerate(kinds)]


def describe(ev):
    return [(int(r[L.E_ONSET_IDX]), r[L.E_ONSET_T], r[L.E_END_T], int(r[L.E_FLAGS])) for r in ev]


def assert_match(t, x, y, z, cfg, **kw):
    """Kernel == reference; returns (events, epochs, gaps, kinds) of the kernel."""
    kev, kep, kgap, ist = run_kernel(t, x, y, z, cfg, **kw)
    rev, rep, rgap = R.reference_detect(t, x, y, z, cfg)

    np.testing.assert_array_equal(kgap, rgap)
    assert describe(kev) == describe(rev)
    np.testing.assert_array_equal(kev[:, EXACT_EVENT_COLS], rev[:, EXACT_EVENT_COLS])
    close = [c for c in range(L.N_EVENT_COLS) if c != L.E_PRE_DEV]
    np.testing.assert_allclose(kev[:, close], rev[:, close], rtol=RTOL, atol=ATOL)
    # the kernel takes acos of a cosine: ~1e-6 degree of rounding near 0 (harmless)
    np.testing.assert_allclose(kev[:, L.E_PRE_DEV], rev[:, L.E_PRE_DEV], rtol=RTOL, atol=PRE_DEV_ATOL)

    assert kep.shape == rep.shape
    np.testing.assert_array_equal(kep[:, EXACT_EPOCH_COLS], rep[:, EXACT_EPOCH_COLS])
    np.testing.assert_allclose(kep, rep, rtol=1e-9, atol=1e-9)

    kk = kernel_kinds(kev, cfg)
    assert kk == R.reference_classify(rev, cfg)
    assert int(ist[L.I_CLIPPED]) == R.reference_clipped(x, y, z, cfg)
    return kev, kep, kgap, kk


# ----------------------------------------------------------------------------- signals
def make_signal(fs: float, seconds: float, seed: int):
    """Still wrist with noise, pulses of many sizes (some near threshold), pulse pairs that
    merge or arrive before the first settled, a 5 Hz burst, a 1.5 Hz swing, a 90-degree
    turn, a long movement, an event open at a gap, a pending event at a gap, a pulse at the very end."""
    rng = np.random.default_rng(seed)
    n = int(seconds * fs)
    t = T0 + np.arange(n) / fs
    acc = rng.normal(0, 0.002, (n, 3))

    def add(at_s, width_s, amp, axis):
        i, m = int(at_s * fs), max(4, int(width_s * fs))
        acc[i:i + m, axis] += amp * pulse(m)[: n - i]

    for k, amp in enumerate([0.006, 0.01, 0.015, 0.03, 0.08, 0.3, 1.2, 0.05, 0.5, 0.012, 0.02]):
        add(8 + 9.5 * k, rng.uniform(0.04, 0.25), amp * rng.choice([-1, 1]), k % 3)
    add(115.0, 0.1, 0.2, 0)                 # a pair that merges
    add(115.25, 0.1, 0.2, 1)
    add(120.0, 0.1, 0.2, 2)                 # a pair whose second starts before settling
    add(120.8, 0.1, 0.2, 0)
    i, m = int(60 * fs), int(4 * fs)        # 4 s of 5 Hz oscillation (scratching-like)
    acc[i:i + m, 0] += 0.15 * np.sin(2 * np.pi * 5 * np.arange(m) / fs)
    i, m = int(127 * fs), int(7 * fs)       # 7 s of irregular movement (max-duration cut)
    acc[i:i + m] += rng.normal(0, 0.05, (m, 3))
    i, m = int(140 * fs), int(2.5 * fs)     # 2.5 s of slow 1.5 Hz swing (limb movement)
    acc[i:i + m, 1] += 0.1 * np.sin(2 * np.pi * 1.5 * np.arange(m) / fs)
    add(149.95, 0.2, 0.3, 1)                # open when the 1st gap starts at 150 s
    add(163.0, 0.1, 0.4, 2)                 # pending when the 2nd gap starts at 163.5 s
    add(seconds - 0.1, 0.2, 0.3, 0)         # open at the end of data

    # gravity: 90-degree turn about x over 3 s at 100 s
    ang = np.interp(t - T0, [0, 100, 103, seconds], [0, 0, np.pi / 2, np.pi / 2])
    acc[:, 1] += np.sin(ang)
    acc[:, 2] += np.cos(ang)
    keep = ~(((t - T0 >= 150.0) & (t - T0 < 152.0)) | ((t - T0 >= 163.5) & (t - T0 < 170.5)))
    return t[keep], acc[keep, 0], acc[keep, 1], acc[keep, 2]


CONFIGS = {
    "default": {},
    "short": dict(max_event_s=3.0, noise_window_blocks=25, noise_block_s=0.5, settle_s=1.5,
                  epoch_s=3.0, clip_g=1.0),
}


CASES = [(fs, seed, variant) for fs, seed in [(50.0, 1), (100.0, 2), (416.0, 3)] for variant in CONFIGS]


@functools.lru_cache(maxsize=None)
def compared_case(fs, seed, variant):
    """Run and compare one deterministic case once per session; (events, kinds)."""
    cfg = DetectorConfig(sample_rate_hz=fs, **CONFIGS[variant])
    t, x, y, z = make_signal(fs, 180.0, seed)
    ev, ep, gaps, kinds = assert_match(t, x, y, z, cfg)
    return ev, kinds, gaps


@pytest.mark.parametrize("fs,seed,variant", CASES)
def test_kernel_matches_reference(fs, seed, variant):
    ev, kinds, gaps = compared_case(fs, seed, variant)
    assert len(gaps) == 2 and ev.shape[0] >= 15


def test_chunked_kernel_with_tiny_buffers_matches_reference():
    cfg = DetectorConfig(sample_rate_hz=100.0, **CONFIGS["short"])
    t, x, y, z = make_signal(100.0, 180.0, 7)
    cuts = np.random.default_rng(0).integers(1, t.size, 200)
    assert_match(t, x, y, z, cfg, chunks=cuts, ev_rows=2, ep_rows=1, gap_rows=1)


def test_the_cases_cover_every_flag_and_kind():
    """The deterministic cases exercise every flag and every kind (else they prove little)."""
    flags, kinds = 0, set()
    for case in CASES:
        ev, k, _ = compared_case(*case)
        flags |= int(np.bitwise_or.reduce(ev[:, L.E_FLAGS].astype(np.int64)))
        kinds |= set(k)
    assert flags == L.F_CUT_BY_GAP | L.F_CUT_BY_MAXDUR | L.F_CUT_BY_END | L.F_UNSETTLED
    assert {R.JERK, R.LIMB, R.POSTURE, R.OTHER, None} <= kinds


def _edge_streams():
    fs = 100.0
    rng = np.random.default_rng(5)
    t = T0 + np.arange(3000) / fs
    one = np.ones(3000)
    loud = rng.normal(0, 0.002, (3000, 3)) + [0, 0, 1]
    loud[2000:] += rng.normal(0, 0.3, (1000, 3))     # 10 s of movement after 20 s of rest
    late = np.zeros((3000, 3)) + [0, 0, 1]
    late[-1, 0] = 0.5                                  # onset on the very last sample
    gappy = rng.normal(0, 0.002, (3000, 3)) + [0, 0, 1]
    gappy[1000:1010, 1] += 0.4 * pulse(10)
    tg = t.copy()
    tg[1003:] += 5.0                                   # a gap inside the pulse
    tg[1004:] += 1.0                                   # and a 1-sample segment after it
    tg[2999] += 3.0                                    # the last sample alone after a gap
    cfg = dict(max_event_s=0.5, settle_s=0.2, noise_block_s=0.2, noise_window_blocks=4)
    cfg_loud = dict(max_event_s=0.5, settle_s=0.2)
    return {
        "one_sample": (t[:1], one[:1], one[:1] * 0, one[:1] * 0, {}),
        "two_samples_gap": (np.array([T0, T0 + 1.0]), one[:2], one[:2], one[:2], {}),
        "constant": (t, one * 0.1, one * 0.2, one, {}),
        "loud_back_to_back": (t, *loud.T, cfg_loud),
        "onset_at_last_sample": (t, *late.T, {}),
        "gaps_in_pulse": (tg, *gappy.T, cfg),
    }


@pytest.mark.parametrize("name", list(_edge_streams()))
def test_edge_cases_match_reference(name):
    t, x, y, z, kw = _edge_streams()[name]
    assert_match(t, x, y, z, DetectorConfig(sample_rate_hz=100.0, **kw), ev_rows=2, ep_rows=1, gap_rows=1)


def test_detector_end_to_end_matches_reference():
    """The public Detector (Python glue included) reports the reference's events."""
    cfg = DetectorConfig(sample_rate_hz=100.0)
    t, x, y, z = make_signal(100.0, 180.0, 2)
    det = Detector(cfg)
    for a in range(0, t.size, 7001):
        det.feed(t[a:a + 7001], x[a:a + 7001], y[a:a + 7001], z[a:a + 7001])
    res = det.finish()
    rev, rep, rgap = R.reference_detect(t, x, y, z, cfg)
    kinds = R.reference_classify(rev, cfg)
    keep = [k is not None for k in kinds]
    assert res.events["onset_t"].tolist() == rev[keep, L.E_ONSET_T].tolist()
    assert res.events["kind"].tolist() == [k for k in kinds if k is not None]
    np.testing.assert_allclose(res.epochs, rep, rtol=1e-9, atol=1e-9)


def test_reference_highpass_starts_at_steady_state():
    """sosfilt_zi * x0 is the kernel's steady-state start up to rounding: the reference
    outputs ~0 (not bit-exact 0) on the first sample of a segment."""
    for fs in (50.0, 100.0, 416.0):
        cfg = DetectorConfig(sample_rate_hz=fs)
        sos = R.highpass_sos(cfg)[0]
        p = kernel_params(cfg)
        np.testing.assert_array_equal(p[[L.P_B0, L.P_B1, L.P_B2, L.P_A1, L.P_A2]], sos[[0, 1, 2, 4, 5]])
        assert p[L.P_GALPHA] == R.gravity_alpha(cfg)
        assert p[L.P_AALPHA] == R.angle_alpha(cfg)
        assert p[L.P_NBLOCK] == R.noise_block_len(cfg)
        assert p[L.P_SNAP_N] == R.snapshot_every(cfg) == snapshot_samples(cfg)
        assert snapshot_count(cfg) == R.snapshots_kept(cfg)
        b0, b1 = sos[0], sos[1]
        for x0 in (1.0, -0.37, 0.9731):
            zi = R.signal.sosfilt_zi(R.highpass_sos(cfg))[0] * x0
            np.testing.assert_allclose(zi, [-b0 * x0, -(b0 + b1) * x0], rtol=0, atol=1e-13)
            h = R.highpass_segment(R.highpass_sos(cfg), np.full(50, x0))
            assert np.max(np.abs(h)) < 1e-13
            g = R.lowpass_segment(R.gravity_alpha(cfg), np.full(50, x0))
            np.testing.assert_allclose(g, x0, rtol=1e-15)


# ----------------------------------------------------------------------------- property test
@st.composite
def small_streams(draw):
    fs = draw(st.sampled_from([25.0, 50.0, 100.0, 416.0]))
    n = draw(st.integers(200, 4000))
    seed = draw(st.integers(0, 2**32 - 1))
    noise = draw(st.sampled_from([0.0, 0.0005, 0.002, 0.01]))
    quantize = draw(st.booleans())
    jitter = draw(st.sampled_from([0.0, 0.0, 0.05, 0.3]))
    pulses = draw(st.lists(st.tuples(st.floats(0, 1), st.floats(-3.0, 0.3), st.floats(0.0, 1.5),
                                     st.integers(0, 2)), max_size=12))
    gaps = draw(st.lists(st.tuples(st.floats(0, 1), st.sampled_from([0.05, 0.09, 0.15, 0.5, 3.0, 12.0])),
                         max_size=3))
    cfg = DetectorConfig(
        sample_rate_hz=fs,
        noise_block_s=draw(st.sampled_from([0.05, 0.2, 0.5, 1.0])),
        noise_window_blocks=draw(st.integers(1, 12)),
        noise_quantile=draw(st.sampled_from([0.05, 0.2, 0.5, 0.9])),
        noise_initial_g=draw(st.sampled_from([0.0005, 0.003, 0.02])),
        k_on=draw(st.sampled_from([3.0, 5.0])),
        k_off=draw(st.sampled_from([2.0, 3.0])),
        min_threshold_g=draw(st.sampled_from([0.001, 0.008])),
        merge_gap_s=draw(st.sampled_from([0.05, 0.3, 1.0])),
        max_event_s=draw(st.sampled_from([0.5, 2.0, 120.0])),
        settle_s=draw(st.sampled_from([0.1, 1.0, 3.0])),
        epoch_s=draw(st.sampled_from([1.0, 5.0, 7.5])),
        context_s=draw(st.sampled_from([0.5, 2.0])),
        posture_context_s=draw(st.sampled_from([0.3, 5.0])),
        pre_onset_s=draw(st.sampled_from([0.05, 0.3, 1.5])),
        snapshot_s=draw(st.sampled_from([0.01, 0.1, 0.25])),
        angle_lowpass_hz=draw(st.sampled_from([0.1, 2.0])),
        jerk_min_snr=draw(st.sampled_from([3.0, 7.0])),
        jerk_max_effective_s=draw(st.sampled_from([0.15, 0.35])),
        clip_g=draw(st.sampled_from([0.0, 1.2])),
    )

    rng = np.random.default_rng(seed)
    dt = (1.0 + jitter * rng.uniform(-1, 1, n)) / fs
    t = T0 + 0.123 + np.cumsum(dt)
    acc = rng.normal(0, noise, (n, 3))
    u = rng.normal(size=3)
    acc += u / np.linalg.norm(u)
    for pos, log_amp, width_s, axis in pulses:
        i = int(pos * (n - 1))
        m = max(4, int(width_s * fs))
        acc[i:i + m, axis] += 10 ** log_amp * pulse(m)[: n - i]
    if quantize:
        acc = np.round(acc * 1024) / 1024
    for pos, length in gaps:
        i = int(pos * (n - 1))
        t[i:] += length
    kernel_kw = dict(
        chunks=draw(st.lists(st.integers(1, n - 1), max_size=8)),
        ev_rows=draw(st.sampled_from([2, 3, 64])),
        ep_rows=draw(st.sampled_from([1, 64])),
        gap_rows=draw(st.sampled_from([1, 64])),
    )
    return t, acc[:, 0].copy(), acc[:, 1].copy(), acc[:, 2].copy(), cfg, kernel_kw


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(small_streams())
def test_random_streams_match_reference(stream):
    t, x, y, z, cfg, kernel_kw = stream
    assert_match(t, x, y, z, cfg, **kernel_kw)
