"""Write a recording as EDF+ (European Data Format 'plus'), the interchange format of sleep medicine.

One file holds one ordinary signal per axis (``ax``, ``ay``, ``az`` in g; ``gx``, ``gy``,
``gz`` in deg/s when the recording has a gyroscope), 16-bit samples, data records of a fixed
duration, and one "EDF Annotations" signal that carries the start time of every data record
(the EDF+ time-keeping annotation) and the detected events.

Why this module writes the bytes itself
---------------------------------------
Gaps (the device off, Bluetooth lost, a sync hole) must stay gaps, which in EDF+ means an
**EDF+D** file: the header's reserved field says ``EDF+D`` and the first annotation of every
data record gives that record's own onset, so records after a gap carry a later onset than
their position implies.  Neither maintained Python library can write that:

* edfio (0.4) writes EDF and EDF+C only.  Its annotation signal derives every record onset
  from the record's index (``index x duration``) and its reserved field is either empty or
  ``EDF+C``; its README lists "discontiguous files (EDF+D) are treated as contiguous ones"
  under known limitations, and per-record onsets cannot be set through its API.
* pyedflib wraps EDFlib, whose writer produces EDF+C/BDF+C only; its maintainers state
  that EDF+D is not supported and that they are limited by the wrapped library
  (pyedflib issues #19 and #63).

Writing one EDF+C file per contiguous segment would split a night into many files and
lose the single time line, so it is not done.  EDF+ is a small fixed-width format (a
256-byte header, 256 bytes per signal, little-endian int16 data records), so the writer
below implements exactly the part of the specification it needs (sections 2.1 and 2.2 of
https://www.edfplus.info/specs/edfplus.html) and nothing more.  The tests read the files
back with independent readers and compare samples, start time, record onsets and
annotations: MNE-Python and edfio for EDF+D and EDF+C, pyedflib for EDF+C (EDFlib refuses
to read EDF+D: "The file is discontinuous and cannot be read").

How samples are placed (timestamps are the truth)
-------------------------------------------------
The EDF sample rate is the *nominal* rate ``fs`` (``rec.sample_rate_hz``, else estimated
from the median sample step).  Slots lie on a grid ``t[0] + k / fs``; data record ``r``
holds slots ``r*n ... r*n + n - 1`` (``n = fs x record duration``) and starts exactly at
``t[0] + r x duration``, so records never overlap and contiguous records are exactly
contiguous.  Each slot takes the recorded sample **nearest in time** to it: values are
never interpolated, and a value is shown at most half the local sample step (of the
device's actual rate) away from its timestamp, whatever the drift, because the grid is
anchored once and each slot looks up the true timestamps.  A record is written when at
least one sample falls into it (rounded to its nearest slot); records with no sample are
left out: that is the EDF+D discontinuity.  A gap shorter than a record can lie inside
written records; the file is then EDF+C and the gap shows only as filled slots and its
annotation (below).  Consequences, all counted in the returned report:

* a device faster than nominal has samples that no slot takes (``skipped_samples``);
  a slower one has samples shown in two neighbouring slots (``repeated_samples``);
* a record only partly covered by data (a gap or the end inside it) holds the nearest
  sample's value in its empty slots (``filled_slots``); every gap is also written as a
  ``data gap`` annotation with its duration, so a viewer that ignores EDF+D (MNE-Python
  concatenates the records) still shows where data is missing; it starts at the last
  sample before the gap and lasts until the first sample after it.

Times and privacy
-----------------
EDF stores a start date and time without a zone.  This module writes them in **UTC** and
says so in the header's recording field (``...start_time_is_UTC``); the first record's
time-keeping annotation carries the sub-second part of the start.  The patient field is
the EDF+ anonymous ``X X X X`` unless a pseudonym is given (never a name); no serial
number or device id is written.  The file is written atomically (temporary name, then
rename) with mode 0600 and an existing file is replaced only with ``force``.

Speed
-----
The per-sample work (checks, slot mapping, digital conversion straight into the file
image, time-keeping annotations) is in the numba kernels of :mod:`twitchwatch.edf_kernel`;
this module decides and describes.  A 7.5-h night at 50 Hz (1.35 M samples, 27 000
records) costs ~0.07 s of CPU including reading the night file (~0.2 s with one numpy
step per array).  ``tests/test_edf.py`` checks that the bytes are those of the former
numpy writer (kept as ``tests/edf_reference.py``).
"""
from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import numpy as np

from .atomic import write_bytes
from .edf_kernel import (ACC_NOT_FINITE, GYRO_NOT_FINITE, NOT_INCREASING, TIME_NOT_FINITE, check_samples,
                         fill_records, record_ids_and_gaps, timekeeping_tals)
from .errors import InputFileError, OutputExistsError
from .readers import Recording

UTC = dt.timezone.utc
DIGITAL_MIN, DIGITAL_MAX = -32768, 32767
_ACC_RANGES_G = (2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0)
_GYRO_RANGES_DPS = (125.0, 250.0, 500.0, 1000.0, 2000.0, 4000.0, 8000.0)
_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
#: Project-wide gap rule (detect.config): a step longer than max(0.1 s, 5 sample periods).
GAP_MIN_S, GAP_SAMPLES = 0.1, 5.0


@dataclass(frozen=True)
class EdfReport:
    """What ``write_edf`` wrote and every approximation it had to make."""

    path: Path
    sample_rate_hz: float
    record_duration_s: float
    records: int
    edf_type: str                # 'EDF+C' (no record left out) or 'EDF+D'
    gaps: int                    # sample steps longer than the gap rule
    events: int                  # event annotations written (gap annotations not counted)
    filled_slots: int            # slots in a gap or past the end: nearest value held
    repeated_samples: int        # a sample shown in more than one slot (device slower)
    skipped_samples: int         # samples no slot took (device faster than nominal)
    max_time_error_s: float      # largest |timestamp - slot time| over data slots
    quantization_g: float        # one digital step of the acceleration signals


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


def _range(peak: float, ladder: tuple[float, ...], stated: float | None) -> float:
    """Symmetric physical range: the device's range, widened to the data (largest
    magnitude ``peak``) when they exceed it."""
    floor = float(stated) if stated else 0.0
    for r in ladder:
        if r >= floor and r >= peak:
            return r
    return float(math.ceil(max(peak, floor)))


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
    # whole columns, not events.iloc[i] per row (pandas costs ~50 us a row); the same values
    n = len(onsets)
    kinds = events["kind"].to_numpy(dtype=object) if "kind" in cols else ["event"] * n
    peaks = events["peak_accel_g"].to_numpy() if "peak_accel_g" in cols else [None] * n
    durs = events["duration_s"].to_numpy() if "duration_s" in cols else [None] * n
    out = []
    for onset, kind, peak, dur in zip(onsets.tolist(), kinds, peaks, durs):
        kind = str(kind)
        text = kind
        if peak is not None and np.isfinite(float(peak)):
            text = f"{kind} peak {float(peak):.2f} g"
        dur = float(dur) if dur is not None and np.isfinite(float(dur)) and float(dur) >= 0 else None
        out.append((float(onset), dur, text))
    return out


#: Widest time-keeping TAL: '+', 19 digits, '.', 6 digits, 3 delimiters.
_TK_WIDTH = 30


def _timekeeping(sub: Decimal, record_s: Decimal, rec_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The time-keeping TAL of each data record ("+<onset>\x14\x14\x00"), onset =
    sub + id x record_s seconds, written exactly (as _onset_text does) without a Decimal
    per record (a night has tens of thousands of records).

    Returns (R, W) uint8 (each TAL, zero-padded) and (R,) int64 lengths.
    """
    scale = 10 ** 6
    sub_u, rec_u = int(sub * scale), int(record_s * scale)
    out = np.zeros((rec_ids.size, _TK_WIDTH), dtype=np.uint8)
    lengths = np.zeros(rec_ids.size, dtype=np.int64)
    exact = Decimal(sub_u) == sub * scale and Decimal(rec_u) == record_s * scale
    if exact and sub_u + int(rec_ids[-1]) * rec_u < 2 ** 63:       # int64 in the kernel
        timekeeping_tals(rec_ids, sub_u, rec_u, out, lengths)
        return out, lengths
    # not whole microseconds (the header's numbers always are; kept for safety): Decimal
    tals = [(_onset_text(sub + int(r) * record_s) + "\x14\x14\x00").encode() for r in rec_ids]
    out = np.zeros((rec_ids.size, max(len(x) for x in tals)), dtype=np.uint8)
    for i, x in enumerate(tals):
        out[i, :len(x)] = np.frombuffer(x, dtype=np.uint8)
        lengths[i] = len(x)
    return out, lengths


def _signal(x) -> np.ndarray:
    """A (N, 3) signal as a C-ordered float32 or float64 array (no copy when it is one)."""
    x = np.asarray(x)
    if x.dtype not in (np.float32, np.float64):
        x = x.astype(np.float64)
    return np.ascontiguousarray(x)


def write_edf(path: Path, rec: Recording, *, events=None, patient: str = "X", force: bool = False,
              sample_rate_hz: float | None = None, record_duration_s: float = 1.0,
              gap_s: float | None = None, annotate_gaps: bool = True) -> EdfReport:
    """Write ``rec`` (and optionally the detected ``events``) as an EDF+ file at ``path``.

    rec : t (N,) Unix s; acc and gyro (N, 3), float32 or float64 (used as they are, without
        a float64 copy; the samples written are the same either way).
    events : DataFrame with ``onset_t`` (Unix s; or ``onset_utc``), ``duration_s``,
        ``kind`` and ``peak_accel_g`` (as ``NightResult.events``); each becomes an
        annotation "<kind> peak <peak> g" with its onset and duration.
    patient : a pseudonym for the EDF+ patient code; 'X' (default) is anonymous.
    sample_rate_hz : the nominal rate to write; default ``nominal_rate(rec)``.
    record_duration_s : data record duration; lengthened to a multiple that holds a whole
        number of samples (e.g. 10 s at 85.7 Hz).
    gap_s : a step longer than this is a gap; default max(0.1 s, 5 sample periods).

    Returns an :class:`EdfReport`.  Raises OutputExistsError when ``path`` exists and
    ``force`` is false; InputFileError for no samples, timestamps not strictly increasing,
    non-finite values or a signal whose shape is not (N, 3).
    """
    path = Path(path)
    if path.exists() and not force:
        raise OutputExistsError(f"{path} exists; pass --force to overwrite it")
    t = np.ascontiguousarray(rec.t, dtype=np.float64)
    acc = _signal(rec.acc)
    gyro = None if rec.gyro is None else _signal(rec.gyro)
    if t.size == 0:
        raise InputFileError(f"{rec.source}: no samples to write")
    for name, arr in (("acceleration", acc), ("gyroscope", gyro)):
        if arr is not None and arr.shape != (t.size, 3):     # the kernels do not check bounds
            raise InputFileError(f"{rec.source}: {name} has shape {arr.shape}, expected ({t.size}, 3)")
    no_gyro = np.zeros((0, 3), dtype=acc.dtype)
    peaks = np.zeros(2)
    status = check_samples(t, acc, no_gyro if gyro is None else gyro, peaks)
    if status == TIME_NOT_FINITE:
        raise InputFileError(f"{rec.source}: timestamps must be finite numbers")
    if status == NOT_INCREASING:
        raise InputFileError(f"{rec.source}: timestamps must be strictly increasing")
    if status in (ACC_NOT_FINITE, GYRO_NOT_FINITE):
        name = "acceleration" if status == ACC_NOT_FINITE else "gyroscope"
        raise InputFileError(f"{rec.source}: {name} has non-finite values; EDF cannot hold them")

    fs = float(sample_rate_hz) if sample_rate_hz else nominal_rate(rec)
    record_s, n = _record_layout(fs, float(record_duration_s))
    period = 1.0 / fs
    gap = float(gap_s) if gap_s else max(GAP_MIN_S, GAP_SAMPLES * period)

    # ---- records with data (slots on a grid anchored at the first sample) and gaps
    rec_ids = np.empty(t.size, dtype=np.int64)
    gap_at = np.empty(t.size, dtype=np.int64)
    counts = np.zeros(2, dtype=np.int64)
    record_ids_and_gaps(t, fs, n, gap, rec_ids, gap_at, counts)
    rec_ids, gap_at = rec_ids[:counts[0]], gap_at[:counts[1]]

    # ---- physical ranges (symmetric, from the device's range or the data)
    device = rec.device or {}
    acc_r = _range(float(peaks[0]), _ACC_RANGES_G, device.get("range_g"))
    signals = [(f"a{ax}", "accelerometer", "g", -acc_r, acc_r) for ax in "xyz"]
    if gyro is not None:
        gyr_r = _range(float(peaks[1]), _GYRO_RANGES_DPS, device.get("gyro_range_dps"))
        signals += [(f"g{ax}", "gyroscope", "deg/s", -gyr_r, gyr_r) for ax in "xyz"]
    # the digital conversion uses the range as the header writes it
    p_lo = [float(_num(sig[3])) for sig in signals]
    p_hi = [float(_num(sig[4])) for sig in signals]
    scales = np.array([(DIGITAL_MAX - DIGITAL_MIN) / (hi - lo) for lo, hi in zip(p_lo, p_hi)])

    # ---- annotations: time keeping, events, gaps (onsets relative to the start second)
    t0 = float(t[0])
    start_second = math.floor(t0)
    sub = Decimal(f"{t0 - start_second:.6f}")
    tk, tk_len = _timekeeping(sub, Decimal(_num(record_s)), rec_ids)
    notes = []
    ev = _events_table(events)
    for onset, dur, text in ev:
        notes.append((onset, dur, text))
    if annotate_gaps:
        for i in gap_at.tolist():
            notes.append((float(t[i]), float(t[i + 1] - t[i]), "data gap"))
    notes.sort(key=lambda x: x[0])
    rec_start_abs = t0 + rec_ids.astype(np.float64) * record_s
    note_rec = np.searchsorted(rec_start_abs, np.array([x[0] for x in notes], dtype=np.float64), side="right") - 1
    extra: dict[int, list[bytes]] = {}
    for (onset, dur, text), r in zip(notes, np.maximum(note_rec, 0).tolist()):
        text = text.replace("\x14", " ").replace("\x15", " ").replace("\x00", " ")
        timing = _onset_text(Decimal(f"{onset - start_second:.6f}"))
        if dur is not None:
            timing += "\x15" + _decimal_text(Decimal(f"{dur:.6f}"))
        extra.setdefault(r, []).append(f"{timing}\x14{text}\x14\x00".encode("utf-8"))
    extra_b = {r: b"".join(x) for r, x in extra.items()}
    longest = max([int(tk_len.max())] + [int(tk_len[r]) + len(x) for r, x in extra_b.items()])
    annot_n = (longest + 1) // 2

    # ---- the file image: header, then per record the samples of each signal, the TALs
    n_rec = rec_ids.size
    ns = len(signals) + 1
    head_len = 256 * (ns + 1)
    annot_at = 2 * n * len(signals)                 # byte offset of the TALs in a record
    rec_bytes = annot_at + 2 * annot_n
    image = np.zeros(head_len + n_rec * rec_bytes, dtype=np.uint8)
    body = image[head_len:]
    stats = np.zeros(4)
    fill_records(t, acc, no_gyro if gyro is None else gyro, rec_ids, n, period, gap, np.array(p_lo), scales,
                 body, rec_bytes, stats)
    records = body.reshape(n_rec, rec_bytes)
    w = min(tk.shape[1], 2 * annot_n)
    records[:, annot_at:annot_at + w] = tk[:, :w]
    for r, x in extra_b.items():
        at = annot_at + int(tk_len[r])
        records[r, at:at + len(x)] = np.frombuffer(x, dtype=np.uint8)
    filled, data_slots, distinct, max_err = stats.tolist()
    report_counts = dict(
        filled_slots=int(filled),
        repeated_samples=int(data_slots - distinct),
        skipped_samples=int(t.size - distinct),
        max_time_error_s=float(max_err) if data_slots else 0.0,
    )
    quanta = [(hi - lo) / (DIGITAL_MAX - DIGITAL_MIN) for lo, hi in zip(p_lo, p_hi)]

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
    assert len(head) == head_len
    image[:head_len] = np.frombuffer(head, dtype=np.uint8)

    path.parent.mkdir(parents=True, exist_ok=True)
    write_bytes(path, memoryview(image), force=force)
    return EdfReport(path=path, sample_rate_hz=fs, record_duration_s=record_s, records=n_rec,
                     edf_type=edf_type, gaps=int(gap_at.size), events=len(ev),
                     quantization_g=quanta[0], **report_counts)
