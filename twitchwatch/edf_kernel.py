"""The per-sample loops of the EDF+ writer (twitchwatch/edf.py), compiled by numba.

A night is ~1.35 M samples at 50 Hz; done with one numpy step per array, the slot
mapping, the gather of each channel and its digital conversion, the concatenation of the
data records and the time-keeping annotations made the writer cost ~0.3 s of CPU per
night.  These kernels do the same arithmetic, value for value and in the same order of
floating-point operations, in a few passes and write the int16 samples straight into
their final place in the file image.  tests/test_edf.py compares the file bytes
with the former numpy writer (tests/edf_reference.py).

Style as detect/kernels_numba.py: explicit inputs and caller-owned outputs, no
allocation and no Python objects inside the loops, no validation (the caller checks).
Times are Unix seconds (float64); ``rel`` below means ``t[i] - t[0]``, recomputed where
needed (one subtraction, the same value numpy's ``t - t0`` gives) instead of stored.
Signals may be float32 or float64 (numba compiles one version per dtype); a float32
value becomes float64 exactly, so both give the same digital samples.
"""
from __future__ import annotations

import numpy as np

from detect._numba import jit

DIGITAL_MIN_F, DIGITAL_MAX_F = -32768.0, 32767.0

# check_samples return codes
OK, TIME_NOT_FINITE, NOT_INCREASING, ACC_NOT_FINITE, GYRO_NOT_FINITE = 0, 1, 2, 3, 4


@jit
def check_samples(t, acc, gyro, peaks):
    """Validate one recording and find each signal's largest magnitude.

    t (N,) float64 Unix s; acc (N, 3) g; gyro (N, 3) deg/s or (0, 3) when absent.
    peaks (2,) float64 out: max |acc|, max |gyro| (0 when empty).
    Returns OK, or the first failing check in this order: TIME_NOT_FINITE (first or last
    time; with every step > 0 that covers all), NOT_INCREASING (a step <= 0 or NaN),
    ACC_NOT_FINITE, GYRO_NOT_FINITE.
    """
    n = t.shape[0]
    if n and not (np.isfinite(t[0]) and np.isfinite(t[n - 1])):
        return TIME_NOT_FINITE
    for i in range(1, n):
        if not t[i] - t[i - 1] > 0.0:          # also catches NaN
            return NOT_INCREASING
    if not _peak(acc, peaks, 0):
        return ACC_NOT_FINITE
    if not _peak(gyro, peaks, 1):
        return GYRO_NOT_FINITE
    return OK


@jit
def _peak(arr, peaks, k):
    """peaks[k] = max |arr| (0 when empty); False when a value is not finite."""
    peak = 0.0
    for i in range(arr.shape[0]):
        for c in range(arr.shape[1]):
            x = arr[i, c]
            if not np.isfinite(x):
                return False
            a = abs(np.float64(x))
            if a > peak:
                peak = a
    peaks[k] = peak
    return True


@jit
def record_ids_and_gaps(t, fs, n, gap, rec_out, gap_out, counts):
    """Data records that hold a sample, and the gaps.

    A sample belongs to slot ``rint(rel x fs)`` and so to record ``slot // n`` (n slots
    per record).  rec_out (N,) int64 out: the distinct record indices, ascending;
    gap_out (N,) int64 out: each i with ``rel[i+1] - rel[i] > gap`` (s).
    counts (2,) int64 out: number of records, number of gaps.
    """
    t0 = t[0]
    m = 0
    last = -1
    g = 0
    prev = 0.0
    for i in range(t.shape[0]):
        rel = t[i] - t0
        r = np.int64(np.rint(rel * fs)) // n
        if r != last:
            rec_out[m] = r
            m += 1
            last = r
        if i > 0 and rel - prev > gap:
            gap_out[g] = i - 1
            g += 1
        prev = rel
    counts[0] = m
    counts[1] = g


@jit
def fill_records(t, acc, gyro, rec_ids, n, period, gap, pmin, scale, body, rec_bytes, stats):
    """Write every data record's signal samples in place; count the approximations.

    Slot ``s`` (record ``s // n``) lies at ``s x period`` after t[0] and takes the sample
    nearest in time (the earlier one on a tie).  A slot in a gap (the step around it is
    longer than ``gap``) or past the last sample that is more than half a period from its
    sample is *filled* (holds that sample's value).

    acc, gyro : (N, 3) physical values; gyro (0, 3) when absent.
    rec_ids : (R,) int64 ascending record indices; n slots per record.
    pmin, scale : (S,) float64 per signal (S = 3 or 6): digital = rint((x - pmin) x scale
        - 32768) clipped to int16.
    body : (R x rec_bytes,) uint8, the data records: per record the n samples of each
        signal in turn (int16 little-endian), then the annotation bytes (not touched here).
    stats (4,) float64 out: filled slots, data slots, distinct samples taken, largest
        |sample time - slot time| over data slots (-1 when none).
    """
    nt = t.shape[0]
    t0 = t[0]
    half = 0.5 * period
    n_gyro = gyro.shape[0]
    right = 0                              # first sample with rel >= slot time
    filled = 0
    data = 0
    distinct = 0
    last_taken = -1
    max_err = -1.0
    for ri in range(rec_ids.shape[0]):
        base = ri * rec_bytes
        first_slot = rec_ids[ri] * n
        for k in range(n):
            st = np.float64(first_slot + k) * period
            while right < nt and t[right] - t0 < st:
                right += 1
            left = right - 1
            if left < 0:
                left = 0
            elif left > nt - 1:
                left = nt - 1
            right_c = right if right < nt else nt - 1
            nearest = left
            if abs((t[right_c] - t0) - st) < abs(st - (t[left] - t0)):
                nearest = right_c
            dist = abs((t[nearest] - t0) - st)
            in_gap = False
            if right > 0 and right < nt:
                in_gap = (t[right] - t0) - (t[right - 1] - t0) > gap
            if (in_gap or right >= nt) and dist > half:
                filled += 1
            else:
                data += 1
                if nearest != last_taken:
                    distinct += 1
                    last_taken = nearest
                if dist > max_err:
                    max_err = dist
            for c in range(3):
                _put(body, base + 2 * (c * n + k), acc[nearest, c], pmin[c], scale[c])
            if n_gyro:
                for c in range(3):
                    _put(body, base + 2 * ((3 + c) * n + k), gyro[nearest, c], pmin[3 + c], scale[3 + c])
    stats[0] = filled
    stats[1] = data
    stats[2] = distinct
    stats[3] = max_err


@jit
def _put(body, at, x, pmin, scale):
    """Write one physical value as an EDF digital sample (numpy's rint, then clip to
    int16) at byte ``at`` of ``body``, little-endian whatever the machine."""
    d = np.rint((np.float64(x) - pmin) * scale + DIGITAL_MIN_F)
    if d < DIGITAL_MIN_F:
        d = DIGITAL_MIN_F
    elif d > DIGITAL_MAX_F:
        d = DIGITAL_MAX_F
    v = np.int64(d) & 0xFFFF
    body[at] = v & 0xFF
    body[at + 1] = v >> 8


@jit
def timekeeping_tals(rec_ids, sub_u, rec_u, out, lengths):
    """The EDF+ time-keeping TAL of each record: ``+<onset>\\x14\\x14\\x00``.

    onset = (sub_u + id x rec_u) microseconds, written in seconds with the fraction's
    trailing zeros (and a bare point) dropped, e.g. ``+12``, ``+12.25``.
    out (R, W) uint8, zeroed by the caller, W >= 30; lengths (R,) int64 out.
    """
    for ri in range(rec_ids.shape[0]):
        u = sub_u + rec_ids[ri] * rec_u
        whole = u // 1000000
        frac = u - whole * 1000000
        p = 0
        out[ri, p] = 43                    # '+'
        p += 1
        nd = 1                             # digits of whole
        x = whole
        while x >= 10:
            x //= 10
            nd += 1
        x = whole
        for j in range(nd - 1, -1, -1):
            out[ri, p + j] = 48 + x % 10
            x //= 10
        p += nd
        if frac:
            out[ri, p] = 46                # '.'
            p += 1
            digits = 6
            while frac % 10 == 0:
                frac //= 10
                digits -= 1
            for j in range(digits - 1, -1, -1):
                out[ri, p + j] = 48 + frac % 10
                frac //= 10
            p += digits
        out[ri, p] = 20
        out[ri, p + 1] = 20
        out[ri, p + 2] = 0
        lengths[ri] = p + 3
