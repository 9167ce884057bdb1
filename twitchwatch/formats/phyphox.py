"""Read phyphox CSV exports (RWTH Aachen's phyphox app, Android and iOS).

What phyphox writes (its Android source, DataExport.java, and the phyphox documentation of
``meta/time.csv``):

* The CSV export of an experiment is a zip with one ``<export set>.csv`` per export set of
  the experiment (``Raw Data.csv`` for the sensor experiments) and a ``meta`` folder with
  ``device.csv`` (``"property","value"``) and ``time.csv``.  The "minimal" export is one
  CSV with no meta folder.
* Headers are quoted; numbers are written as ``0.000000000E0`` (scientific); five variants:
  comma / tab / semicolon separated with a decimal point, tab / semicolon with a decimal
  comma.  Columns shorter than the longest are padded with ``NaN``.
* "Acceleration with g" exports ``"Time (s)","Acceleration x (m/s^2)","Acceleration y
  (m/s^2)","Acceleration z (m/s^2)"`` (recent versions add ``"Absolute acceleration
  (m/s^2)"``); "Acceleration without g" (linear acceleration) exports ``"Linear
  Acceleration x (m/s^2)"`` ... instead.  The gyroscope is ``"Gyroscope x (rad/s)"``.
* ``Time (s)`` is *experiment time*: seconds since the first start, not counting pauses.
* ``meta/time.csv`` has ``"event","experiment time","system time","system time text"``;
  one row per START or PAUSE, in order; *system time* is Unix seconds (UTC) with
  millisecond resolution; the text repeats it with the phone's UTC offset.

What the reader does:

* the absolute UTC time of a sample at experiment time ``te`` is ``system time + (te -
  experiment time)`` of the last START at or before ``te``; a pause therefore becomes a
  gap.  Without ``meta/time.csv`` (a minimal export, or a CSV taken out of the zip) the
  absolute time is unknown: an error, unless ``start_utc=`` gives the system time of the
  (first) start.
* "Acceleration without g" is refused: twitchwatch needs gravity-inclusive acceleration
  (recognised by its column names, or by "without g" in the file name).
* m/s^2 are divided by 9.80665; the result must look like gravity (median |a| ~1 g).
  Axes are kept as exported (phyphox documents no platform difference; none is assumed).
* a gyroscope in the same table is added in deg/s; rows with ``NaN`` (padding) are dropped,
  rows out of order sorted, repeated times dropped: each reported as a ``Damage``.
"""
from __future__ import annotations

import datetime as dt
import io
import math
import re
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputFileError
from ..readers import G, Damage, Recording
from .sensorlogger import clean_times, decide_units

_TIME = "Time (s)"
_ACC = re.compile(r"^Acceleration ([xyz]) \((m/s\^2|m/s²|g)\)$")
_LINEAR = re.compile(r"^Linear Acceleration [xyz] ", re.I)
_GYRO = re.compile(r"^Gyroscope ([xyz]) \((rad/s)\)$")
RAD_TO_DEG = 180.0 / math.pi


def _sniff(text: str) -> tuple[str, str]:
    """(separator, decimal mark) of a phyphox CSV from its first two lines."""
    lines = text.splitlines()
    header = lines[0] if lines else ""
    counts = {sep: header.count(sep) for sep in ("\t", ";", ",")}
    sep = max(counts, key=counts.get) if any(counts.values()) else ","
    decimal = "."
    if sep != "," and len(lines) > 1 and "," in lines[1]:
        decimal = ","
    return sep, decimal


def _read_csv_text(text: str, what: str) -> pd.DataFrame:
    sep, decimal = _sniff(text)
    try:
        df = pd.read_csv(io.StringIO(text), sep=sep, decimal=decimal)
    except (ValueError, pd.errors.ParserError) as exc:
        raise InputFileError(f"{what}: cannot read it as a phyphox CSV "
                             f"({str(exc).splitlines()[0]})") from None
    df.columns = [str(c).strip().strip('"') for c in df.columns]
    return df


def _decode(raw: bytes, what: str) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InputFileError(f"{what}: not a text file") from None


def _files(path: Path) -> tuple[dict[str, str], str | None, str]:
    """(data CSV name -> text, meta/time.csv text or None, label) of an export."""
    label = path.name
    if not path.exists():
        raise InputFileError(f"{path}: no such file or folder")
    data: dict[str, str] = {}
    time_text = None
    if path.is_dir():
        for p in sorted(path.glob("*.csv")):
            data[p.name] = _decode(p.read_bytes(), p.name)
        tp = path / "meta" / "time.csv"
        if tp.exists():
            time_text = _decode(tp.read_bytes(), "meta/time.csv")
    elif path.name.lower().endswith(".zip") or zipfile.is_zipfile(path):
        try:
            zf = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, OSError) as exc:
            raise InputFileError(f"{path}: not a readable zip ({exc})") from None
        with zf:
            for m in zf.namelist():
                parts = Path(m).parts
                if m.endswith("/") or "__MACOSX" in parts or Path(m).name.startswith("."):
                    continue
                if [p.lower() for p in parts[-2:]] == ["meta", "time.csv"]:
                    time_text = _decode(zf.read(m), "meta/time.csv")
                elif m.lower().endswith(".csv") and "meta" not in [p.lower() for p in parts[:-1]]:
                    data[Path(m).name] = _decode(zf.read(m), m)
    elif path.name.lower().endswith(".csv"):
        data[path.name] = _decode(path.read_bytes(), path.name)
    else:
        raise InputFileError(f"{path}: not a phyphox export (expected the CSV export zip, its "
                             f"unzipped folder, or one exported CSV)")
    if not data:
        raise InputFileError(f"{path}: no data CSV in this phyphox export")
    return data, time_text, label


def _time_mapping(text: str) -> np.ndarray:
    """(k, 2) array of (experiment time, system time) at each START, in order."""
    df = _read_csv_text(text, "meta/time.csv")
    need = ["event", "experiment time", "system time"]
    if any(c not in df.columns for c in need):
        raise InputFileError(f"meta/time.csv: expected columns {', '.join(need)}; found "
                             f"{', '.join(df.columns)}")
    starts = df[df["event"].astype(str).str.strip().str.upper() == "START"]
    exp_t = pd.to_numeric(starts["experiment time"], errors="coerce").to_numpy(dtype=float)
    sys_t = pd.to_numeric(starts["system time"], errors="coerce").to_numpy(dtype=float)
    ok = np.isfinite(exp_t) & np.isfinite(sys_t)
    return np.column_stack([exp_t[ok], sys_t[ok]])


def _utc_offset(text: str) -> str | None:
    m = re.search(r"UTC([+-]\d{2}:?\d{2})", text)
    return m.group(1) if m else None


def _start_seconds(start_utc) -> float:
    if isinstance(start_utc, (dt.datetime, str)):
        ts = pd.Timestamp(start_utc)
        if ts.tzinfo is None:
            raise ValueError("start_utc must carry a zone or UTC offset "
                             "(e.g. 2026-01-01T22:00:00+00:00)")
        return float(ts.timestamp())
    return float(start_utc)


def read_phyphox(path: Path, *, start_utc=None) -> Recording:
    """Read a phyphox "Acceleration with g" CSV export into a Recording.

    path : the export zip, its unzipped folder, or one exported CSV.
    start_utc : the absolute time of the experiment's (first) start, as Unix seconds or
        an aware datetime / ISO string with an offset.  Needed when the export has no
        meta/time.csv; when given it is used instead of meta/time.csv (absolute time =
        start_utc + experiment time, so pauses are not restored as gaps).
    """
    path = Path(path)
    data, time_text, label = _files(path)
    chosen = None
    for name, text in data.items():
        first_line = text.splitlines()[0] if text else ""
        heads = [h.strip().strip('"') for h in re.split(r"[\t;,]", first_line)]
        if any(_LINEAR.match(h) for h in heads):
            raise InputFileError(
                f"{label}: {name} holds linear acceleration ('Acceleration without g'), i.e. "
                f"with gravity removed; twitchwatch needs gravity-inclusive acceleration: "
                f"record with phyphox's 'Acceleration with g' experiment")
        if _TIME in heads and sum(bool(_ACC.match(h)) for h in heads) == 3:
            chosen = chosen or (name, text)
    if "without g" in label.lower():
        raise InputFileError(
            f"{label}: an 'Acceleration without g' export (gravity removed); twitchwatch needs "
            f"gravity-inclusive acceleration: record with 'Acceleration with g'")
    if chosen is None:
        raise InputFileError(
            f"{label}: no table with '{_TIME}' and 'Acceleration x/y/z (m/s^2)' columns (found "
            f"{', '.join(data)}); export phyphox's 'Acceleration with g' experiment as CSV")
    name, text = chosen
    df = _read_csv_text(text, f"{label}: {name}")
    acc_cols, units = {}, set()
    gyro_cols = {}
    for c in df.columns:
        m = _ACC.match(c)
        if m:
            acc_cols[m.group(1)] = c
            units.add(m.group(2))
        m = _GYRO.match(c)
        if m:
            gyro_cols[m.group(1)] = c
    cols = [acc_cols[a] for a in "xyz"]
    has_gyro = len(gyro_cols) == 3
    if has_gyro:
        cols += [gyro_cols[a] for a in "xyz"]
    te = pd.to_numeric(df[_TIME], errors="coerce").to_numpy(dtype=np.float64)
    vals = np.column_stack([pd.to_numeric(df[c], errors="coerce").to_numpy(dtype=np.float64)
                            for c in cols])
    te, vals, damage = clean_times(te, vals, name, scale=1.0)
    if te.size == 0:
        raise InputFileError(f"{label}: {name} has no complete data row")

    # absolute time
    device: dict = {"type": "phyphox", "files": [name]}
    if start_utc is not None:
        t = _start_seconds(start_utc) + te
        device["time_source"] = "start_utc given by the caller + experiment time"
    else:
        mapping = _time_mapping(time_text) if time_text is not None else np.zeros((0, 2))
        if mapping.size == 0:
            raise InputFileError(
                f"{label}: the absolute time is unknown: the export has no meta/time.csv with a "
                f"START event (a 'minimal' CSV export, or a CSV taken out of the zip). Export "
                f"the full CSV zip, or pass start_utc= (the time the experiment was started)")
        idx = np.clip(np.searchsorted(mapping[:, 0], te, side="right") - 1, 0, len(mapping) - 1)
        t = mapping[idx, 1] + (te - mapping[idx, 0])
        device["time_source"] = "meta/time.csv (system time at each START)"
        device["starts"] = int(len(mapping))
        off = _utc_offset(time_text)
        if off:
            device["utc_offset_at_start"] = off
        # a clock set back between a pause and a restart could make times repeat
        keep = t > np.maximum.accumulate(np.r_[-np.inf, t[:-1]])
        if not keep.all():
            damage.append(Damage("out_of_order", int((~keep).sum()), float(t[~keep][0]),
                                 float(t[~keep][-1]),
                                 f"{name}: {int((~keep).sum())} sample(s) not later than an "
                                 f"earlier one once mapped to system time; dropped"))
            t, vals = t[keep], vals[keep]

    acc = vals[:, 0:3]
    documented = "g" if units == {"g"} else "m/s2"
    found = decide_units(acc, documented, f"{label}: {name}")
    if found == "m/s2":
        acc = acc / G
    device["units_in_file"] = found
    device["axes"] = "as exported by phyphox"
    gyro = vals[:, 3:6] * RAD_TO_DEG if has_gyro else None
    return Recording(t=np.ascontiguousarray(t), acc=np.ascontiguousarray(acc), source=path.name,
                     gyro=None if gyro is None else np.ascontiguousarray(gyro),
                     device=device, damage=tuple(damage))
