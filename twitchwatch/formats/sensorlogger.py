"""Read Sensor Logger exports (iOS/Android app by Kelvin Choi; watch app for wrist motion).

Layouts read: the zip export, the same files unzipped in a folder, one per-sensor CSV,
and the JSON export.  What the app's own documentation (github.com/tszheichoi/
awesome-sensor-logger: README, UNITS.md, COORDINATES.md, CROSSPLATFORM.md) says, and this
reader relies on:

* Every per-sensor CSV has ``time`` (Unix epoch **nanoseconds**, UTC) and
  ``seconds_elapsed`` (since the Start tap; may be negative), then its values; the axis
  files write them in the order ``z, y, x`` (columns are read by name here).
* ``Accelerometer.csv`` is acceleration **without** gravity (user acceleration), m/s^2 on
  both platforms.  ``Gravity.csv`` is the gravity vector, m/s^2.  ``TotalAcceleration.csv``
  (Android only) is acceleration **with** gravity, m/s^2.  On iOS only Accelerometer.csv is
  logged; the documentation says to add Gravity to get acceleration with gravity.
* ``AccelerometerUncalibrated.csv`` is the raw accelerometer (with gravity): in **g** on
  iOS unless "Standardise Units & Frames" is on (then m/s^2); m/s^2 on Android.
* ``WristMotion.csv`` (the watch) has ``accelerationX/Y/Z`` (user acceleration) and
  ``gravityX/Y/Z``, both in **g** unless "Standardise Units & Frames" is on (then m/s^2),
  and ``rotationRateX/Y/Z`` in rad/s, plus quaternion and pitch/roll/yaw.
* ``Gyroscope.csv`` ``x, y, z`` are rad/s.
* ``Metadata.csv`` (``sensor: "Metadata"`` in JSON) holds ``platform`` (ios/android),
  ``standardisation`` (true/false), ``recording timezone``, ``appVersion``, and the
  parallel ``sensors`` / ``sampleRateMs`` lists (the requested period of each sensor).
  It also holds the device name and a device id: neither is read.
* Axes: iOS and Android differ by a sign on all three acceleration axes (and gravity:
  a phone face-up on a table reads -z on iOS, +z on Android); the Apple Watch follows the
  iPhone.  Standardisation makes the export follow Android.  Rotation rates agree.

What the reader does.  The recording returned is acceleration in g **with gravity**:

* phone: ``TotalAcceleration.csv`` when present (measured with gravity); otherwise
  ``Accelerometer.csv`` + ``Gravity.csv`` **summed** (where their timestamps differ,
  gravity, a slow fused estimate, is linearly interpolated onto the accelerometer's
  timestamps; samples outside the Gravity time span are dropped and reported); otherwise
  ``AccelerometerUncalibrated.csv``.  Accelerometer.csv alone is refused (no gravity).
* watch: ``WristMotion.csv`` acceleration + gravity summed (same rows), rotation rate as
  the gyroscope.
* units: the documented unit for the file and the export's settings, **checked against
  gravity** (the median |a| of a recording is ~1 g, i.e. ~1 or ~9.8 in file units); when
  the documentation leaves it open (no Metadata.csv) the magnitude decides, and a
  contradiction is an error.  m/s^2 are divided by 9.80665.
* axes: iOS exports without standardisation are negated so that a still device reads
  +1 g on the axis pointing up (Android's convention, the one the rest of twitchwatch
  uses); without Metadata.csv the platform is unknown and the axes are left as exported
  (``device['axes']`` says which).  Gyroscope values are not negated (they agree).
* the phone gyroscope (``Gyroscope.csv``) is added, in deg/s, when it covers the
  accelerometer's time span (interpolated onto its timestamps); otherwise left out.
* a Metadata.csv without a ``standardisation`` column (apps before 1.29, which had no
  such option) counts as standardisation off.
* rows out of time order are sorted and rows repeating a timestamp dropped (the first
  kept), each reported as a ``Damage``.
* not read: the paid "Combined CSV" export (resampled, one file), SQLite and KML exports,
  and the HTTP/MQTT live push.
"""
from __future__ import annotations

import json
import math
import re
import zipfile
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pandas as pd

from ..errors import InputFileError
from ..readers import G, Damage, Recording

STREAMS = ("auto", "phone", "watch")
_XYZ = ["x", "y", "z"]
_WRIST_ACC = ["accelerationX", "accelerationY", "accelerationZ"]
_WRIST_GRAV = ["gravityX", "gravityY", "gravityZ"]
_WRIST_ROT = ["rotationRateX", "rotationRateY", "rotationRateZ"]
RAD_TO_DEG = 180.0 / math.pi
#: Median |a| of a worn or resting device over a recording lies near 1 g; the band is wide
#: because a short recording may hold a lot of movement.
_G_BAND = (0.5, 1.5)


# ---------------------------------------------------------------- shared helpers (phyphox too)

def units_from_magnitude(median_norm: float) -> str | None:
    """'g' or 'm/s2' from the median magnitude of a gravity-inclusive signal, else None."""
    lo, hi = _G_BAND
    if lo <= median_norm <= hi:
        return "g"
    if lo * G <= median_norm <= hi * G:
        return "m/s2"
    return None


def decide_units(xyz: np.ndarray, documented: str | None, what: str) -> str:
    """The unit of a gravity-inclusive signal: as documented, checked against gravity.

    ``documented`` is the unit the app's documentation gives for this file and these
    settings, or None when it depends on a setting the export does not state.  The data
    decide then; a contradiction is an error, never a silent guess.
    """
    norm = float(np.median(np.linalg.norm(xyz, axis=1))) if len(xyz) else float("nan")
    measured = units_from_magnitude(norm)
    if measured is None:
        raise InputFileError(
            f"{what}: the median acceleration magnitude is {norm:.3g} in file units, neither "
            f"~1 g nor ~{G:.2f} m/s^2, so it is not acceleration with gravity included "
            f"(twitchwatch needs gravity-inclusive acceleration)"
        )
    if documented is not None and documented != measured:
        raise InputFileError(
            f"{what}: documented in {documented}, but the median magnitude {norm:.3g} says "
            f"{measured}; refusing to guess the unit"
        )
    return measured


def clean_times(ts: np.ndarray, values: np.ndarray, what: str, scale: float = 1e-9
                ) -> tuple[np.ndarray, np.ndarray, list[Damage]]:
    """Drop rows with missing cells, sort by time, drop repeated timestamps; report each.

    ``ts`` are the file's timestamps (integer ns here, seconds for phyphox); ``scale``
    turns them into seconds for the reported spans.  Of rows sharing a timestamp the
    first is kept.
    """
    damage: list[Damage] = []
    ok = np.isfinite(values).all(axis=1)
    if np.issubdtype(ts.dtype, np.floating):
        ok &= np.isfinite(ts)
    if not ok.all():
        n_bad = int((~ok).sum())
        damage.append(Damage("missing_values", n_bad, None, None,
                             f"{what}: {n_bad} row(s) with an empty or non-numeric cell dropped"))
        ts, values = ts[ok], values[ok]
    back = np.diff(ts) < 0
    if back.any():
        n_back = int(back.sum())
        span = (float(ts[1:][back].min() * scale), float(ts[:-1][back].max() * scale))
        damage.append(Damage("out_of_order", n_back, span[0], span[1],
                             f"{what}: {n_back} row(s) earlier than the row before; sorted by time"))
        order = np.argsort(ts, kind="stable")
        ts, values = ts[order], values[order]
    dup = np.zeros(ts.size, dtype=bool)
    dup[1:] = ts[1:] == ts[:-1]
    if dup.any():
        idx = np.flatnonzero(dup)
        differ = int(np.sum(np.any(values[idx] != values[idx - 1], axis=1)))
        damage.append(Damage("duplicate", int(idx.size), float(ts[idx[0]] * scale),
                             float(ts[idx[-1]] * scale),
                             f"{what}: {idx.size} row(s) repeat the timestamp of the row before "
                             f"({differ} with different values); the first of each kept"))
        ts, values = ts[~dup], values[~dup]
    return ts, values, damage


# ---------------------------------------------------------------- loading the export

def _key(name: str) -> str:
    """'Wrist Motion', 'WristMotion.csv', 'wrist_motion' -> 'wristmotion'."""
    stem = re.sub(r"\.csv$", "", Path(name).name, flags=re.I)
    return re.sub(r"[^a-z0-9]", "", stem.lower())


class _Export:
    """The tables of one export, loaded on demand: key -> (file name, loader)."""

    def __init__(self, label: str):
        self.label = label
        self._files: dict[str, tuple[str, object]] = {}
        self._frames: dict[str, pd.DataFrame] = {}
        self.close = lambda: None

    def add_csv(self, name: str, opener) -> None:
        key = _key(name)
        if key in self._files:
            raise InputFileError(f"{self.label}: holds two {Path(name).name} files; "
                                 f"give one recording (one folder or one zip) at a time")
        self._files[key] = (Path(name).name, opener)

    def add_frame(self, key: str, name: str, frame: pd.DataFrame) -> None:
        self._files[key] = (name, None)
        self._frames[key] = frame

    def has(self, key: str) -> bool:
        return key in self._files

    def name(self, key: str) -> str:
        return self._files[key][0]

    def names(self) -> list[str]:
        return sorted(n for n, _ in self._files.values())

    def table(self, key: str, columns: list[str]) -> pd.DataFrame:
        name, opener = self._files[key]
        if key in self._frames:
            df = self._frames[key]
        else:
            try:
                with opener() as fh:
                    df = pd.read_csv(fh, usecols=lambda c: c.strip() in set(columns))
            except (ValueError, pd.errors.ParserError, UnicodeDecodeError, OSError,
                    zipfile.BadZipFile) as exc:
                raise InputFileError(f"{self.label}: cannot read {name} as CSV "
                                     f"({str(exc).splitlines()[0]})") from None
            df.columns = [c.strip() for c in df.columns]
        missing = [c for c in columns if c not in df.columns]
        if missing:
            raise InputFileError(f"{self.label}: {name} lacks column(s) {', '.join(missing)}; "
                                 f"found {', '.join(map(str, df.columns)) or 'none'}")
        return df

    def metadata(self) -> dict:
        if not self.has("metadata"):
            return {}
        name, opener = self._files["metadata"]
        if "metadata" in self._frames:
            df = self._frames["metadata"]
        else:
            try:
                with opener() as fh:
                    df = pd.read_csv(fh, dtype=str, keep_default_na=False)
            except (ValueError, pd.errors.ParserError, UnicodeDecodeError, OSError):
                return {}
        if len(df) == 0:
            return {}
        return {str(k).strip(): str(v).strip() for k, v in df.iloc[0].items()}


def _from_zip(path: Path) -> _Export:
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise InputFileError(f"{path}: not a readable zip ({exc})") from None
    exp = _Export(path.name)
    members = [m for m in zf.namelist()
               if not m.endswith("/") and "__MACOSX" not in m and not Path(m).name.startswith(".")]
    csvs = [m for m in members if m.lower().endswith(".csv")]
    if not csvs:
        jsons = [m for m in members if m.lower().endswith(".json")]
        if len(jsons) == 1:
            with zf:
                return _from_json_bytes(zf.read(jsons[0]), f"{path.name}:{jsons[0]}")
        zf.close()
        raise InputFileError(f"{path}: the zip holds no per-sensor CSV (found "
                             f"{', '.join(members[:10]) or 'nothing'})")
    for m in csvs:
        exp.add_csv(m, lambda m=m: zf.open(m))
    exp.close = zf.close
    return exp


def _from_folder(path: Path) -> _Export:
    csvs = sorted(p for p in path.glob("*.csv") if not p.name.startswith("."))
    if not csvs:
        subs = [d for d in path.iterdir() if d.is_dir() and any(d.glob("*.csv"))]
        if len(subs) == 1:
            return _from_folder(subs[0])
        raise InputFileError(f"{path}: no per-sensor CSV files in this folder"
                             + (" (several sub-folders hold some: give one)" if subs else ""))
    exp = _Export(path.name)
    for p in csvs:
        exp.add_csv(p.name, lambda p=p: open(p, "rb"))
    return exp


def _from_json_bytes(raw: bytes, label: str) -> _Export:
    try:
        rows = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputFileError(f"{label}: not valid JSON ({exc})") from None
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise InputFileError(f"{label}: expected the Sensor Logger JSON export, an array of "
                             f"objects each with a 'sensor' field")
    groups: dict[str, list[dict]] = {}
    names: dict[str, str] = {}
    for r in rows:
        sensor = str(r.get("sensor", ""))
        if not sensor:
            continue
        groups.setdefault(_key(sensor), []).append(r)
        names.setdefault(_key(sensor), sensor)
    if not groups:
        raise InputFileError(f"{label}: no record has a 'sensor' field")
    exp = _Export(label)
    for key, recs in groups.items():
        df = pd.DataFrame.from_records(recs).drop(columns=["sensor"])
        if key == "metadata":
            df = df.astype(str)
        exp.add_frame(key, f"{names[key]} (JSON)", df)
    return exp


def _open_export(path: Path) -> _Export:
    if not path.exists():
        raise InputFileError(f"{path}: no such file or folder")
    if path.is_dir():
        return _from_folder(path)
    low = path.name.lower()
    if low.endswith(".zip") or zipfile.is_zipfile(path):
        return _from_zip(path)
    if low.endswith(".json"):
        return _from_json_bytes(path.read_bytes(), path.name)
    if low.endswith(".csv"):
        exp = _Export(path.name)
        exp.add_csv(path.name, lambda: open(path, "rb"))
        return exp
    raise InputFileError(f"{path}: not a Sensor Logger export (expected a .zip, a folder of "
                         f"CSV files, a per-sensor .csv or the .json export)")


# ---------------------------------------------------------------- streams

def _times(df: pd.DataFrame, name: str, label: str) -> np.ndarray:
    col = pd.to_numeric(df["time"], errors="coerce")
    if col.isna().any():
        bad = int(col.isna().sum())
        raise InputFileError(f"{label}: {name} has {bad} row(s) whose 'time' is not a number")
    if pd.api.types.is_integer_dtype(col):
        return col.to_numpy(dtype=np.int64)
    return np.rint(col.to_numpy(dtype=np.float64)).astype(np.int64)


def _xyz(df: pd.DataFrame, cols: list[str]) -> np.ndarray:
    return np.column_stack([pd.to_numeric(df[c], errors="coerce").to_numpy(dtype=np.float64)
                            for c in cols])


def _rate_hz(meta: dict, sensor_key: str) -> float | None:
    """Nominal rate from Metadata's parallel 'sensors' and 'sampleRateMs' lists."""
    sensors = [_key(s) for s in meta.get("sensors", "").split("|")]
    periods = meta.get("sampleRateMs", "").split("|")
    if sensor_key in sensors:
        i = sensors.index(sensor_key)
        try:
            ms = float(periods[i])
        except (IndexError, ValueError):
            return None
        return 1000.0 / ms if ms > 0 else None
    return None


def _flag(value: str | None) -> bool | None:
    if value is None or value == "":
        return None
    return value.strip().lower() in ("true", "1", "yes", "on")


class _Stream:
    """One usable gravity-inclusive stream: its files, how to build it, or why it cannot."""

    def __init__(self, kind: str, files: list[str], how: str, reason: str | None = None):
        self.kind, self.files, self.how, self.reason = kind, files, how, reason

    @property
    def usable(self) -> bool:
        return self.reason is None


def _phone_stream(exp: _Export) -> _Stream | None:
    if exp.has("totalacceleration"):
        return _Stream("phone", ["totalacceleration"], "total")
    if exp.has("accelerometer") and exp.has("gravity"):
        return _Stream("phone", ["accelerometer", "gravity"], "sum")
    if exp.has("accelerometeruncalibrated"):
        return _Stream("phone", ["accelerometeruncalibrated"], "uncalibrated")
    if exp.has("accelerometer"):
        return _Stream("phone", ["accelerometer"], "", reason=(
            f"{exp.name('accelerometer')} is acceleration without gravity (user acceleration) "
            f"and the export has no Gravity.csv, TotalAcceleration.csv or "
            f"AccelerometerUncalibrated.csv to restore it; export again with Gravity (or Total "
            f"Acceleration) enabled, or give the whole export rather than one file"))
    return None


def _watch_stream(exp: _Export) -> _Stream | None:
    if exp.has("wristmotion"):
        return _Stream("watch", ["wristmotion"], "wrist")
    return None


def _pick(exp: _Export, stream: str) -> tuple[_Stream, list[str]]:
    phone, watch = _phone_stream(exp), _watch_stream(exp)
    present = [s.kind for s in (phone, watch) if s is not None and s.usable]
    listing = ", ".join(exp.names())
    if stream == "phone":
        if phone is None:
            raise InputFileError(f"{exp.label}: no phone accelerometer in this export (files: "
                                 f"{listing}); streams present: {', '.join(present) or 'none'}")
        if not phone.usable:
            raise InputFileError(f"{exp.label}: {phone.reason}")
        return phone, present
    if stream == "watch":
        if watch is None:
            raise InputFileError(f"{exp.label}: no WristMotion.csv (the watch's stream) in this "
                                 f"export (files: {listing}); streams present: "
                                 f"{', '.join(present) or 'none'}")
        return watch, present
    # auto: the phone when it can be read; the watch only when the phone is absent
    if phone is not None and phone.usable:
        return phone, present
    if phone is None and watch is not None:
        return watch, present
    if phone is not None and watch is not None:
        raise InputFileError(
            f"{exp.label}: ambiguous: the phone stream cannot be used ({phone.reason}) and a "
            f"watch stream (WristMotion.csv) is present; streams present: watch; pass "
            f"stream='watch' to read the watch")
    if phone is not None:
        raise InputFileError(f"{exp.label}: {phone.reason}")
    raise InputFileError(f"{exp.label}: no accelerometer file (TotalAcceleration.csv, "
                         f"Accelerometer.csv + Gravity.csv, AccelerometerUncalibrated.csv or "
                         f"WristMotion.csv); files: {listing}")


def _interp_onto(t_ns: np.ndarray, src_ns: np.ndarray, src: np.ndarray) -> np.ndarray:
    base = t_ns[0]
    x = (t_ns - base).astype(np.float64)
    xp = (src_ns - base).astype(np.float64)
    return np.column_stack([np.interp(x, xp, src[:, i]) for i in range(src.shape[1])])


def read_sensorlogger(path: Path, *, stream: str = "auto") -> Recording:
    """Read a Sensor Logger export (zip, folder, one CSV, or JSON) into a Recording.

    stream : 'phone' (the phone's accelerometer), 'watch' (WristMotion.csv) or 'auto'
        (the phone when usable; the watch when the export has no phone accelerometer;
        an error naming the streams present when it is ambiguous).
    Returns acceleration in g with gravity included (see the module docstring for how
    each file is turned into that) and, when available, the gyroscope in deg/s.
    """
    if stream not in STREAMS:
        raise ValueError(f"stream must be one of {', '.join(STREAMS)}, not {stream!r}")
    path = Path(path)
    exp = _open_export(path)
    try:
        return _read(exp, path, stream)
    finally:
        exp.close()


def _read(exp: _Export, path: Path, stream: str) -> Recording:
    meta = exp.metadata()
    platform = meta.get("platform", "").lower() or None
    standardised = _flag(meta.get("standardisation"))
    if standardised is None and platform is not None:
        standardised = False  # exports before the option existed (app 1.29); off by default
    chosen, present = _pick(exp, stream)
    label = exp.label
    damage: list[Damage] = []
    gyro = gyro_ns = None
    gyro_note = None

    if chosen.how == "total":
        name = exp.name("totalacceleration")
        df = exp.table("totalacceleration", ["time"] + _XYZ)
        t_ns, acc, dmg = clean_times(_times(df, name, label), _xyz(df, _XYZ), name)
        damage += dmg
        documented = "m/s2"
        gravity_note = f"{name} (measured with gravity)"
        rate_key = "totalacceleration"
    elif chosen.how == "sum":
        an, gn = exp.name("accelerometer"), exp.name("gravity")
        da = exp.table("accelerometer", ["time"] + _XYZ)
        dg = exp.table("gravity", ["time"] + _XYZ)
        t_ns, user, dmg = clean_times(_times(da, an, label), _xyz(da, _XYZ), an)
        damage += dmg
        g_ns, grav, dmg = clean_times(_times(dg, gn, label), _xyz(dg, _XYZ), gn)
        damage += dmg
        if g_ns.size == 0 or t_ns.size == 0:
            raise InputFileError(f"{label}: {an} or {gn} has no rows")
        if g_ns.size == t_ns.size and np.array_equal(g_ns, t_ns):
            acc = user + grav
            gravity_note = f"{an} + {gn} summed row by row (same timestamps)"
        else:
            tol = 100_000_000  # 0.1 s: gravity is a slow estimate
            inside = (t_ns >= g_ns[0] - tol) & (t_ns <= g_ns[-1] + tol)
            if not inside.all():
                out = ~inside
                damage.append(Damage("no_gravity", int(out.sum()), float(t_ns[out][0] * 1e-9),
                                     float(t_ns[out][-1] * 1e-9),
                                     f"{an}: {int(out.sum())} row(s) outside the time span of "
                                     f"{gn} dropped (no gravity to add)"))
                t_ns, user = t_ns[inside], user[inside]
            if t_ns.size == 0:
                raise InputFileError(f"{label}: {an} and {gn} do not overlap in time")
            acc = user + _interp_onto(t_ns, g_ns, grav)
            gravity_note = (f"{an} + {gn} summed; gravity linearly interpolated onto the "
                            f"accelerometer's timestamps")
        documented = "m/s2"
        rate_key = "accelerometer"
    elif chosen.how == "uncalibrated":
        name = exp.name("accelerometeruncalibrated")
        df = exp.table("accelerometeruncalibrated", ["time"] + _XYZ)
        t_ns, acc, dmg = clean_times(_times(df, name, label), _xyz(df, _XYZ), name)
        damage += dmg
        if platform == "android" or standardised:
            documented = "m/s2"
        elif platform == "ios" and standardised is False:
            documented = "g"
        else:
            documented = None
        gravity_note = f"{name} (raw accelerometer, gravity included)"
        rate_key = "accelerometeruncalibrated"
    else:  # wrist
        name = exp.name("wristmotion")
        df = exp.table("wristmotion", ["time"] + _WRIST_ACC + _WRIST_GRAV + _WRIST_ROT)
        vals = np.column_stack([_xyz(df, _WRIST_ACC), _xyz(df, _WRIST_GRAV), _xyz(df, _WRIST_ROT)])
        t_ns, vals, dmg = clean_times(_times(df, name, label), vals, name)
        damage += dmg
        acc = vals[:, 0:3] + vals[:, 3:6]
        gyro = vals[:, 6:9] * RAD_TO_DEG
        documented = "m/s2" if standardised else ("g" if standardised is False else None)
        gravity_note = f"{name}: acceleration + gravity summed row by row"
        rate_key = "wristmotion"

    if t_ns.size == 0:
        raise InputFileError(f"{label}: the accelerometer file has no data rows")
    what = f"{label} ({', '.join(exp.name(k) for k in chosen.files)})"
    units = decide_units(acc, documented, what)
    if units == "m/s2":
        acc = acc / G

    # phone gyroscope: only when it covers the accelerometer's span
    if chosen.kind == "phone" and exp.has("gyroscope"):
        gname = exp.name("gyroscope")
        dgy = exp.table("gyroscope", ["time"] + _XYZ)
        gyro_ns, graw, dmg = clean_times(_times(dgy, gname, label), _xyz(dgy, _XYZ), gname)
        damage += dmg
        slack = 50_000_000  # 50 ms at either end
        if gyro_ns.size >= 2 and gyro_ns[0] <= t_ns[0] + slack and gyro_ns[-1] >= t_ns[-1] - slack:
            gyro = _interp_onto(t_ns, gyro_ns, graw) * RAD_TO_DEG
            gyro_note = f"{gname}, rad/s -> deg/s, interpolated onto the accelerometer's timestamps"
        else:
            gyro_note = f"{gname} does not cover the accelerometer's time span; left out"

    flip = platform == "ios" and standardised is False
    if flip:
        acc = -acc
        axes = "iOS axes negated to Android's convention (a still device reads +1 g upwards)"
    elif platform == "android" or standardised:
        axes = "Android convention as exported (a still device reads +1 g upwards)"
    else:
        axes = "as exported: platform unknown (no Metadata.csv), sign convention not known"

    zone = meta.get("recording timezone") or None
    if zone:
        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            zone = None
    device = {
        "type": f"Sensor Logger {chosen.kind}",
        "platform": platform,
        "app_version": meta.get("appVersion") or None,
        "standardisation": standardised,
        "files": [exp.name(k) for k in chosen.files],
        "units_in_file": units,
        "gravity": gravity_note,
        "axes": axes,
        "streams_present": present,
    }
    if chosen.kind == "watch":
        device["placement"] = "wrist"
    if gyro_note:
        device["gyro"] = gyro_note
    t = t_ns.astype(np.float64) * 1e-9
    return Recording(t=np.ascontiguousarray(t), acc=np.ascontiguousarray(acc), source=path.name,
                     gyro=None if gyro is None else np.ascontiguousarray(gyro),
                     sample_rate_hz=_rate_hz(meta, rate_key), device=device, timezone=zone,
                     damage=tuple(damage))
