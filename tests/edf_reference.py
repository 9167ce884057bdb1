"""The EDF+ writer as it was before the numba kernels: the oracle of tests/test_edf.py.

A frozen copy of twitchwatch/edf.py's write_edf and its helpers (numpy only, one step per
array), returning the file's bytes and the report's fields instead of writing a file.  The
fast writer must produce exactly these bytes for the same input.  Do not "fix" this copy:
if the file format is meant to change, change the expected bytes on purpose (and say why).
"""
from __future__ import annotations

import datetime as dt
import math
import re
from decimal import Decimal

import numpy as np

from twitchwatch.errors import InputFileError
from twitchwatch.readers import Recording

UTC = dt.timezone.utc
DIGITAL_MIN, DIGITAL_MAX = -32768, 32767
_ACC_RANGES_G = (2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0)
_GYRO_RANGES_DPS = (125.0, 250.0, 500.0, 1000.0, 2000.0, 4000.0, 8000.0)
_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
#: Project-wide gap rule (detect.config): a step longer than max(0.1 s, 5 sample periods).
GAP_MIN_S, GAP_SAMPLES = 0.1, 5.0


def nominal_rate(rec: Recording) -> float:
    """The rate written to EDF: the stated nominal rate, else the median step, rounded.

    The estimate is rounded to a whole hertz when within 2 % of it (phones report e.g.
    99.7 Hz for a requested 100 Hz), otherwise to 0.1 Hz.
    """
    if rec.sample_rate_hz:
        return float(rec.sample_rate_hz)
    if len(rec.t) < 2:
        raise InputFileError(f"{rec.source}: fewer than two samples; no sample rate to write")
    est = 1.0 / float(np.median(np.diff(rec.t)))
    whole = round(est)
    return float(whole) if whole > 0 and abs(est - whole) <= 0.02 * est else round(est, 1)


def _record_layout(fs: float, record_s: float) -> tuple[float, int]:
    """Smallest multiple of ``record_s`` that holds a whole number of samples."""
    for k in range(1, 101):
        d = record_s * k
        n = fs * d
        if abs(n - round(n)) < 1e-6 and round(n) >= 1:
            return d, int(round(n))
    raise ValueError(f"no data record of up to {100 * record_s:g} s holds a whole number of "
                     f"samples at {fs:g} Hz; pass sample_rate_hz= or record_duration_s=")


def _field(text: str, width: int) -> bytes:
    raw = text.encode("ascii")
    if len(raw) > width:
        raise ValueError(f"EDF header field {text!r} is longer than {width} characters")
    return raw.ljust(width, b" ")


def _num(x: float, width: int = 8) -> str:
    """A number in at most ``width`` characters (EDF header numbers are ASCII)."""
    if float(x).is_integer() and len(str(int(x))) <= width:
        return str(int(x))
    for decimals in range(6, -1, -1):
        s = f"{x:.{decimals}f}".rstrip("0").rstrip(".")
        if len(s) <= width:
            return s
    raise ValueError(f"{x} does not fit an EDF header field")


def _decimal_text(d: Decimal) -> str:
    s = format(d, "f")
    if "." in s:
        s = s.rstrip("0").rstrip(".")
    return s


def _onset_text(seconds: Decimal) -> str:
    s = _decimal_text(seconds)
    return s if s.startswith("-") else "+" + s


def _clean(text: str) -> str:
    """ASCII without spaces, for one EDF+ header subfield."""
    text = re.sub(r"\s+", "_", str(text).strip())
    text = text.encode("ascii", "replace").decode("ascii").replace("?", "_")
    return text or "X"


def _range(values: np.ndarray, ladder: tuple[float, ...], stated: float | None) -> float:
    """Symmetric physical range: the device's range, widened to the data when they exceed it."""
    peak = float(np.max(np.abs(values))) if values.size else 0.0
    floor = float(stated) if stated else 0.0
    for r in ladder:
        if r >= floor and r >= peak:
            return r
    return float(math.ceil(max(peak, floor)))


def _to_digital(x: np.ndarray, pmin: float, pmax: float) -> np.ndarray:
    scale = (DIGITAL_MAX - DIGITAL_MIN) / (pmax - pmin)
    d = np.rint((x - pmin) * scale + DIGITAL_MIN)
    return np.clip(d, DIGITAL_MIN, DIGITAL_MAX).astype("<i2")


def _events_table(events) -> list[tuple[float, float | None, str]]:
    """(onset Unix s, duration s, text) for each event row."""
    if events is None or len(events) == 0:
        return []
    cols = set(events.columns)
    if "onset_t" in cols:
        onsets = events["onset_t"].astype(float).to_numpy()
    elif "onset_utc" in cols:
        import pandas as pd
        stamps = pd.to_datetime(events["onset_utc"], utc=True, format="ISO8601")
        onsets = np.array([ts.timestamp() for ts in stamps], dtype=np.float64)
    else:
        raise ValueError("events need an 'onset_t' (Unix s) or 'onset_utc' column")
    out = []
    for i, onset in enumerate(onsets):
        row = events.iloc[i]
        kind = str(row["kind"]) if "kind" in cols else "event"
        text = kind
        peak = row["peak_accel_g"] if "peak_accel_g" in cols else None
        if peak is not None and np.isfinite(float(peak)):
            text = f"{kind} peak {float(peak):.2f} g"
        dur = row["duration_s"] if "duration_s" in cols else None
        dur = float(dur) if dur is not None and np.isfinite(float(dur)) and float(dur) >= 0 else None
        out.append((float(onset), dur, text))
    return out


def _record_tals(sub: Decimal, record_s: Decimal, rec_ids: np.ndarray) -> list[bytes]:
    """The time-keeping TAL of each data record ("+<onset>\\x14\\x14\\x00"), onset =
    sub + id x record_s in seconds, written exactly (as _onset_text does) but without a
    Decimal per record: a night has tens of thousands of records."""
    scale = 10 ** 6
    sub_u, rec_u = int(sub * scale), int(record_s * scale)
    if Decimal(sub_u) != sub * scale or Decimal(rec_u) != record_s * scale:
        return [(_onset_text(sub + int(r) * record_s) + "\x14\x14\x00").encode() for r in rec_ids]
    out = []
    for u in (sub_u + rec_ids.astype(np.int64) * rec_u).tolist():
        whole, frac = divmod(u, scale)
        text = f"+{whole}.{frac:06d}".rstrip("0").rstrip(".") if frac else f"+{whole}"
        out.append((text + "\x14\x14\x00").encode())
    return out


def _unique_sorted(x: np.ndarray) -> np.ndarray:
    """np.unique for an already non-decreasing array, in one pass (numpy 2's hash-based
    np.unique took over a second on a night's 1.3 M sample indices)."""
    if x.size == 0:
        return x
    return x[np.concatenate(([True], x[1:] != x[:-1]))]


def reference_edf(rec: Recording, *, events=None, patient: str = "X",
                  sample_rate_hz: float | None = None, record_duration_s: float = 1.0,
                  gap_s: float | None = None, annotate_gaps: bool = True) -> tuple[bytes, dict]:
    """The EDF+ file of ``rec`` (and optionally the detected ``events``), as bytes.

    events : DataFrame with ``onset_t`` (Unix s; or ``onset_utc``), ``duration_s``,
        ``kind`` and ``peak_accel_g`` (as ``NightResult.events``); each becomes an
        annotation "<kind> peak <peak> g" with its onset and duration.
    patient : a pseudonym for the EDF+ patient code; 'X' (default) is anonymous.
    sample_rate_hz : the nominal rate to write; default ``nominal_rate(rec)``.
    record_duration_s : data record duration; lengthened to a multiple that holds a whole
        number of samples (e.g. 10 s at 85.7 Hz).
    gap_s : a step longer than this is a gap; default max(0.1 s, 5 sample periods).

    Returns (file bytes, the report's fields without ``path``).
    """
    t = np.asarray(rec.t, dtype=np.float64)
    acc = np.asarray(rec.acc, dtype=np.float64)
    gyro = None if rec.gyro is None else np.asarray(rec.gyro, dtype=np.float64)
    if t.size == 0:
        raise InputFileError(f"{rec.source}: no samples to write")
    if np.any(np.diff(t) <= 0):
        raise InputFileError(f"{rec.source}: timestamps must be strictly increasing")
    for name, arr in (("acceleration", acc), ("gyroscope", gyro)):
        if arr is not None and not np.all(np.isfinite(arr)):
            raise InputFileError(f"{rec.source}: {name} has non-finite values; EDF cannot hold them")

    fs = float(sample_rate_hz) if sample_rate_hz else nominal_rate(rec)
    record_s, n = _record_layout(fs, float(record_duration_s))
    period = 1.0 / fs
    gap = float(gap_s) if gap_s else max(GAP_MIN_S, GAP_SAMPLES * period)

    # ---- slots: a grid anchored at the first sample, records with data only
    t0 = float(t[0])
    rel = t - t0
    sample_slot = np.rint(rel * fs).astype(np.int64)
    rec_ids = _unique_sorted(sample_slot // n)
    slots = (rec_ids[:, None] * n + np.arange(n)[None, :]).ravel()
    slot_t = slots * period                                  # relative to t0
    right = np.searchsorted(rel, slot_t)                     # first sample at/after the slot
    left = np.clip(right - 1, 0, t.size - 1)
    right_c = np.clip(right, 0, t.size - 1)
    take_right = np.abs(rel[right_c] - slot_t) < np.abs(slot_t - rel[left])
    nearest = np.where(take_right, right_c, left)
    dist = np.abs(rel[nearest] - slot_t)
    steps = np.diff(rel)
    in_gap = np.zeros(slots.size, dtype=bool)
    inside = (right > 0) & (right < t.size)
    in_gap[inside] = steps[right[inside] - 1] > gap
    past_end = right >= t.size
    filled = (in_gap | past_end) & (dist > 0.5 * period)
    data_idx = nearest[~filled]
    unique_taken = _unique_sorted(data_idx)
    report_counts = dict(
        filled_slots=int(filled.sum()),
        repeated_samples=int(data_idx.size - unique_taken.size),
        skipped_samples=int(t.size - unique_taken.size),
        max_time_error_s=float(dist[~filled].max()) if data_idx.size else 0.0,
    )

    # ---- physical ranges (symmetric, from the device's range or the data)
    device = rec.device or {}
    acc_r = _range(acc, _ACC_RANGES_G, device.get("range_g"))
    signals = [(f"a{ax}", "accelerometer", "g", -acc_r, acc_r, acc[nearest, i])
               for i, ax in enumerate("xyz")]
    if gyro is not None:
        gyr_r = _range(gyro, _GYRO_RANGES_DPS, device.get("gyro_range_dps"))
        signals += [(f"g{ax}", "gyroscope", "deg/s", -gyr_r, gyr_r, gyro[nearest, i])
                    for i, ax in enumerate("xyz")]

    # ---- annotations: time keeping, events, gaps (onsets relative to the start second)
    start_second = math.floor(t0)
    sub = Decimal(f"{t0 - start_second:.6f}")
    tals: list[list[bytes]] = [[x] for x in _record_tals(sub, Decimal(_num(record_s)), rec_ids)]
    notes = []
    ev = _events_table(events)
    for onset, dur, text in ev:
        notes.append((onset, dur, text))
    gap_at = np.flatnonzero(steps > gap)
    if annotate_gaps:
        for i in gap_at:
            notes.append((float(t[i]), float(t[i + 1] - t[i]), "data gap"))
    rec_start_abs = t0 + rec_ids.astype(np.float64) * record_s
    for onset, dur, text in sorted(notes, key=lambda x: x[0]):
        text = text.replace("\x14", " ").replace("\x15", " ").replace("\x00", " ")
        r = max(int(np.searchsorted(rec_start_abs, onset, side="right")) - 1, 0)
        timing = _onset_text(Decimal(f"{onset - start_second:.6f}"))
        if dur is not None:
            timing += "\x15" + _decimal_text(Decimal(f"{dur:.6f}"))
        tals[r].append(f"{timing}\x14{text}\x14\x00".encode("utf-8"))
    tal_bytes = [b"".join(x) for x in tals]
    annot_n = (max(len(b) for b in tal_bytes) + 1) // 2

    # ---- data records
    n_rec = rec_ids.size
    ns = len(signals) + 1
    quanta = []
    blocks = []
    for label, _, _, pmin, pmax, values in signals:
        pmin_v, pmax_v = float(_num(pmin)), float(_num(pmax))
        quanta.append((pmax_v - pmin_v) / (DIGITAL_MAX - DIGITAL_MIN))
        blocks.append(_to_digital(values, pmin_v, pmax_v).reshape(n_rec, n).view(np.uint8))
    width = 2 * annot_n
    annot = np.frombuffer(b"".join(b.ljust(width, b"\0") for b in tal_bytes), dtype=np.uint8)
    blocks.append(annot.reshape(n_rec, width))
    body = np.concatenate(blocks, axis=1).tobytes()

    # ---- header
    start = dt.datetime.fromtimestamp(start_second, tz=UTC)
    equipment = _clean(device.get("type", "X"))[:24]
    pid = _clean(patient)
    if len(pid) > 60:
        raise ValueError("patient pseudonym is too long for the EDF+ patient field")
    patient_field = f"{pid} X X X"
    recording_field = (f"Startdate {start.day:02d}-{_MONTHS[start.month - 1]}-{start.year} X X "
                       f"{equipment} start_time_is_UTC")
    edf_type = "EDF+C" if n_rec == 1 or np.all(np.diff(rec_ids) == 1) else "EDF+D"
    head = b"".join([
        _field("0", 8), _field(patient_field, 80), _field(recording_field, 80),
        _field(f"{start.day:02d}.{start.month:02d}.{start.year % 100:02d}", 8),
        _field(f"{start.hour:02d}.{start.minute:02d}.{start.second:02d}", 8),
        _field(str(256 * (ns + 1)), 8), _field(edf_type, 44), _field(str(n_rec), 8),
        _field(_num(record_s), 8), _field(str(ns), 4),
    ])
    labels = [s[0] for s in signals] + ["EDF Annotations"]
    transducers = [f"{s[1]}" for s in signals] + [""]
    dims = [s[2] for s in signals] + [""]
    pmins = [_num(s[3]) for s in signals] + ["-1"]
    pmaxs = [_num(s[4]) for s in signals] + ["1"]
    per_rec = [n] * len(signals) + [annot_n]
    head += b"".join(_field(x, 16) for x in labels)
    head += b"".join(_field(x, 80) for x in transducers)
    head += b"".join(_field(x, 8) for x in dims)
    head += b"".join(_field(x, 8) for x in pmins)
    head += b"".join(_field(x, 8) for x in pmaxs)
    head += b"".join(_field(str(DIGITAL_MIN), 8) for _ in labels)
    head += b"".join(_field(str(DIGITAL_MAX), 8) for _ in labels)
    head += b"".join(_field("", 80) for _ in labels)
    head += b"".join(_field(str(x), 8) for x in per_rec)
    head += b"".join(_field("", 32) for _ in labels)
    assert len(head) == 256 * (ns + 1)

    return head + body, dict(sample_rate_hz=fs, record_duration_s=record_s, records=n_rec,
                             edf_type=edf_type, gaps=int(gap_at.size), events=len(ev),
                             quantization_g=quanta[0], **report_counts)
