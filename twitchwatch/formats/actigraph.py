"""ActiGraph ``.gt3x`` files, read with ActiGraph's own ``pygt3x``.

A ``.gt3x`` is a zip: ``info.txt`` (serial, device type, firmware, ``Sample Rate``,
``Start Date`` in .NET ticks, ``TimeZone``, ``Acceleration Scale``...) with either
``log.bin`` (current devices: records of separator 0x1E, type, 4-byte second timestamp,
size, payload, checksum) or, for old NEO/MRA devices (firmware <= 2.5.0), ``activity.bin``
(one packed stream, no timestamps).

What this module adds to pygt3x:

* Idle-sleep mode (ISM): the device stops sampling while still; pygt3x fills those periods
  with copies of the last value and flags them.  The copies are dropped: ISM periods are
  gaps in ``t``, each reported as ``Damage('idle_sleep', samples, start, end)``.
* Times: log.bin timestamps and ``Start Date`` are the device's wall clock, which the
  configuring computer set to its local time; ``info.txt`` states that computer's UTC
  offset (``TimeZone: -05:00:00``).  ``t`` is converted to UTC with it.
* Old activity.bin files: pygt3x times them from ``Start Date`` in the wrong unit; they are
  timed here as ``Start Date + i / rate`` (the stream has no other clock).
* A zip cut short (an interrupted copy) is salvaged: the members before the cut are
  re-packed and read up to the last whole record, with ``Damage('truncated')``.
"""
from __future__ import annotations

import io
import logging
import re
import struct
import zipfile
import zlib
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from ..errors import InputFileError
from ..readers import Damage, Recording
from .common import keep_strictly_increasing

TICKS_AT_UNIX_EPOCH = 621_355_968_000_000_000   # .NET ticks (100 ns since 0001-01-01)
TICKS_PER_S = 10_000_000


def read_actigraph(path: Path) -> Recording:
    """Read an ActiGraph ``.gt3x`` file (log.bin or old NEO activity.bin).

    Returns a Recording: ``t`` (n,) Unix s UTC, ``acc`` (n, 3) calibrated g (pygt3x's
    calibration), no gyro.  Idle-sleep periods are gaps in ``t`` (the filled copies are
    dropped, one ``Damage('idle_sleep')`` per period); a cut zip reads up to the cut.
    """
    path = Path(path)
    if not path.exists():
        raise InputFileError(f"{path}: no such file")
    if path.is_dir():
        raise InputFileError(f"{path} is a folder; give an ActiGraph .gt3x file")
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InputFileError(f"{path}: cannot read it ({exc.strerror or exc}); check the "
                             f"file's permissions") from None
    if not raw.startswith(b"PK"):
        raise InputFileError(f"{path}: not an ActiGraph .gt3x file (not a zip archive); give "
                             f"the .gt3x file as downloaded by ActiLife or CentrePoint")
    damage = []
    source = io.BytesIO(raw)
    try:
        # A cut zip has lost its central directory (at the end): opening it fails.
        with zipfile.ZipFile(source) as zf:
            names = set(zf.namelist())
    except (zipfile.BadZipFile, EOFError):
        source, note = _salvage(raw, path)
        names = set(zipfile.ZipFile(source).namelist())
        damage.append(("truncated", note))
    if "info.txt" not in names or not names & {"log.bin", "activity.bin"}:
        raise InputFileError(f"{path}: a zip without ActiGraph's info.txt and log.bin "
                             f"(or activity.bin); not a .gt3x recording")
    acc_rows, info, nhanes, ism_enabled, skipped = _run_pygt3x(source, path)
    return _to_recording(path, acc_rows, info, nhanes, ism_enabled, damage, skipped)


# ---------------------------------------------------------------------------------- pygt3x

class _Collect(logging.Handler):
    def __init__(self):
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record):
        self.records.append(record)


@contextmanager
def _captured(name: str):
    """Collect pygt3x's warnings instead of printing them: it warns once per second with
    fewer than `rate` samples (every idle-sleep edge, the expected shape of such a file),
    and about records it skips, which become Damage here."""
    log = logging.getLogger(name)
    handler, propagate, level = _Collect(), log.propagate, log.level
    log.addHandler(handler)
    log.propagate = False
    log.setLevel(logging.WARNING)
    try:
        yield handler.records
    finally:
        log.removeHandler(handler)
        log.propagate, log.level = propagate, level


def _run_pygt3x(source, path: Path):
    from pygt3x.reader import FileReader

    try:
        with _captured("pygt3x.reader") as warned, FileReader(source) as reader:
            info = reader.info
            rows = np.asarray(reader.acceleration, dtype=np.float64)
            nhanes = bool(reader.nhanes)
            if rows.size and not nhanes:
                # Calibrate here, not via to_pandas(), which downcasts to float32.
                rows[:, 1:4] = reader.calibrate_acceleration(rows[:, 1:4])
            ism_enabled = reader.idle_sleep_mode_activated
    except InputFileError:
        raise
    except (zipfile.BadZipFile, KeyError, ValueError, EOFError, zlib.error, struct.error,
            NotImplementedError, AssertionError, IndexError) as exc:
        raise InputFileError(f"{path}: pygt3x cannot read this .gt3x "
                             f"({type(exc).__name__}: {str(exc)[:80]}); re-download it from "
                             f"the device") from None
    if info.sample_rate <= 0:
        raise InputFileError(f"{path}: info.txt states no sample rate; not a usable .gt3x")
    return rows, info, nhanes, ism_enabled, _skipped_records(warned)


def _skipped_records(records) -> list:
    """(kind, count, first/last local second or None, detail) of what pygt3x skipped."""
    bad = [r.args[0] for r in records if r.msg.startswith("Event checksum does not match")]
    dup = sum(int(r.args[0]) for r in records if "duplicate accelerometer records" in r.msg)
    out = []
    if bad:
        out.append(("corrupt_record", len(bad), float(min(bad)), float(max(bad)) + 1.0,
                    "log.bin records with a bad checksum; skipped by pygt3x"))
    if dup:
        out.append(("duplicate", dup, None, None,
                    "repeated one-second records; pygt3x kept one copy"))
    return out


def _to_recording(path, rows, info, nhanes, ism_enabled, notes, skipped) -> Recording:
    fs = float(info.sample_rate)
    if rows.shape[0] == 0:
        raise InputFileError(f"{path}: the .gt3x holds no accelerometer samples")
    if nhanes:
        # activity.bin has no timestamps: the stream starts at Start Date at the stated rate.
        start = (info.start_date - TICKS_AT_UNIX_EPOCH) / TICKS_PER_S
        t_local = start + np.arange(rows.shape[0]) / fs
    else:
        t_local = rows[:, 0]
    offset_s, zone_text = _utc_offset(info.timezone)
    t = t_local - (offset_s or 0.0)
    acc = np.ascontiguousarray(rows[:, 1:4])
    filled = rows[:, 4] == 1

    order = np.argsort(t, kind="stable")
    if (np.diff(order) != 1).any():
        t, acc, filled = t[order], acc[order], filled[order]

    damage = []
    for kind, note in notes:
        damage.append(Damage(kind, 1, float(t[-1]), None, note))
    shift = offset_s or 0.0
    for kind, count, first, last, note in skipped:
        damage.append(Damage(kind, count, None if first is None else first - shift,
                             None if last is None else last - shift, note))
    damage += _ism_damage(t, filled, fs)
    t, acc = t[~filled], acc[~filled]
    t, acc, overlap = keep_strictly_increasing(t, acc)
    if overlap:
        damage.append(overlap)

    limb = " ".join(x for x in (info.side, info.limb) if x)
    device = {
        "maker": "ActiGraph",
        "type": info.device_type,
        "serial": info.serial_number,
        "firmware": info.firmware,
        "range_g": float(info.acceleration_max) if info.acceleration_max else None,
        "idle_sleep_mode": None if ism_enabled is None else bool(ism_enabled),
        "utc_offset_s": offset_s,
        "clock": (f"device wall clock at UTC{zone_text} (info.txt TimeZone) converted to UTC"
                  if offset_s is not None else
                  "device wall clock; info.txt states no TimeZone, so t is it read as UTC"),
    }
    if limb:
        device["placement"] = limb.lower()
    timezone = None
    if offset_s is not None and offset_s % 3600 == 0:
        h = int(offset_s // 3600)
        # IANA fixed-offset zones have inverted signs: Etc/GMT+5 is UTC-05:00.
        timezone = "Etc/GMT" if h == 0 else f"Etc/GMT{-h:+d}"
    return Recording(t=t, acc=acc, source=path.name, sample_rate_hz=fs, device=device,
                     timezone=timezone, damage=tuple(damage))


def _utc_offset(text: str | None):
    """``'-05:00:00'`` / ``'02:00:00'`` -> (offset s, '-05:00'); (None, '') when absent."""
    m = re.fullmatch(r"\s*([+-]?)(\d{1,2}):(\d{2})(?::(\d{2}))?\s*", text or "")
    if not m:
        return None, ""
    sign = -1 if m.group(1) == "-" else 1
    seconds = sign * (int(m.group(2)) * 3600 + int(m.group(3)) * 60 + int(m.group(4) or 0))
    return float(seconds), f"{'-' if sign < 0 else '+'}{m.group(2).zfill(2)}:{m.group(3)}"


# ---------------------------------------------------------------------------------- damage

def _ism_damage(t: np.ndarray, filled: np.ndarray, fs: float) -> list:
    """One Damage per run of ISM-filled samples: [first filled, last filled + 1/fs)."""
    if not filled.any():
        return []
    edges = np.flatnonzero(np.diff(np.r_[0, filled.astype(np.int8), 0]))
    out = []
    for a, b in zip(edges[::2], edges[1::2]):
        out.append(Damage("idle_sleep", int(b - a), float(t[a]), float(t[b - 1] + 1.0 / fs),
                          "idle-sleep mode: the device did not sample; pygt3x's copies of "
                          "the last value dropped, left as a gap"))
    return out



# --------------------------------------------------------------------------------- salvage

def _salvage(raw: bytes, path: Path):
    """Re-pack the members of a zip cut short, walking its local headers.

    Returns (a readable zip in memory, a note for the Damage).  The member cut by the end
    of the file is kept when it is the data stream (log.bin / activity.bin: pygt3x stops at
    the last whole record); info.txt must be whole, it holds the rate and the zone.
    """
    members, cut_member, pos = {}, None, 0
    while raw.startswith(b"PK\x03\x04", pos) and pos + 30 <= len(raw):
        (flags, method, csize, nlen, xlen) = (struct.unpack_from("<H", raw, pos + 6)[0],
                                              struct.unpack_from("<H", raw, pos + 8)[0],
                                              struct.unpack_from("<I", raw, pos + 18)[0],
                                              struct.unpack_from("<H", raw, pos + 26)[0],
                                              struct.unpack_from("<H", raw, pos + 28)[0])
        name = raw[pos + 30:pos + 30 + nlen].decode("utf-8", errors="replace")
        start = pos + 30 + nlen + xlen
        sized = not flags & 0x08 and csize != 0xFFFFFFFF
        if method == 0 and sized:
            body, whole = raw[start:start + csize], start + csize <= len(raw)
            used = len(body)
        elif method == 8:
            d = zlib.decompressobj(-15)
            chunk = raw[start:start + csize] if sized else raw[start:]
            try:
                body = d.decompress(chunk)
            except zlib.error:
                body = b""
            whole = d.eof
            used = len(chunk) - len(d.unused_data)
        else:
            break
        if not whole:
            cut_member = name
            if name in ("log.bin", "activity.bin"):
                members[name] = body
            break
        members[name] = body
        pos = start + used
        if flags & 0x08:  # a data descriptor follows: optional signature, crc, sizes
            pos += 16 if raw.startswith(b"PK\x07\x08", pos) else 12
    if "info.txt" not in members:
        raise InputFileError(f"{path}: the .gt3x is cut short before its info.txt (rate, "
                             f"zone) is complete; copy the file again from the source")
    if not members.keys() & {"log.bin", "activity.bin"}:
        raise InputFileError(f"{path}: the .gt3x is cut short before its data; copy the "
                             f"file again from the source")
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        for name, body in members.items():
            zf.writestr(name, body)
    out.seek(0)
    where = f"inside {cut_member}" if cut_member else "after its last whole member"
    return out, (f"the zip ends {where} ({len(raw)} bytes); read up to the last whole "
                 f"record before the cut")
