"""Sensor Logger's HTTP push messages -> gravity-inclusive acceleration in g, per stream.

The format (sources: the app author's awesome-sensor-logger repository, PUSHING.md and
the README's "Live Data Streaming" sample servers; cross-checked against independent
receivers: mhaberler/sk-sensorlogger-plugin, whose handler also answers the app's test
push, and the recorded push log in mhaberler/sensorlogger-telegraf, log.js)::

    {"messageId": 36,                 # incremented for each message of a recording
     "sessionId": "c5241337-...",     # the same for every message of one recording
     "deviceId": "7d1c0bff-...",      # the same for every message of one phone
     "payload": [{"name": "accelerometer", "time": 1698501144401773000,
                  "values": {"x": ..., "y": ..., "z": ...}, "accuracy": 3}, ...]}

``time`` is UTC epoch **nanoseconds** from the phone's clock (JSON integer; read exactly,
strings of digits accepted too).  The app's "Tap to Test Pushing" sends a payload whose
first record is named ``test``; it is answered 200 and stores nothing.

Sensor names in the push are lower case ("accelerometer", "gravity",
"totalacceleration", "wrist motion" in the samples seen); they are matched here without
case, spaces or underscores, as the file reader matches file names.  Units and meaning
are those of the same sensors in the CSV export (the app's UNITS.md, as relied on by
:mod:`twitchwatch.formats.sensorlogger`):

=========================  ============================  ==================================
name                       meaning                       unit
=========================  ============================  ==================================
totalacceleration          acceleration WITH gravity     m/s^2 (Android only)
accelerometer              user acceleration (NO g)      m/s^2, both platforms
gravity                    gravity vector                m/s^2
accelerometeruncalibrated  raw accelerometer, WITH g     g on iOS, m/s^2 on Android
wrist motion (watch)       accelerationX/Y/Z (no g) +    g, or m/s^2 with "Standardise
                           gravityX/Y/Z                  Units & Frames"
=========================  ============================  ==================================

So the phone stream is, in order of preference: ``totalacceleration``; else
``accelerometer`` + ``gravity`` (gravity, a slow fused estimate, interpolated onto the
accelerometer's times and held for at most ``GRAVITY_HOLD_S`` across batches); else
``accelerometeruncalibrated``.  ``accelerometer`` alone is never used (no gravity).  The
watch stream is wrist motion acceleration + gravity, summed per record.

The push carries no Metadata (platform, standardisation), so where the unit depends on
them (uncalibrated, wrist motion) it is **decided from the data**, as the file reader
does: the median magnitude of gravity-inclusive acceleration is ~1 in g and ~9.8 in
m/s^2.  Samples wait until a decision (at most ``UNDECIDED_MAX_S`` of them); m/s^2 are
divided by 9.80665.  The axes are kept as pushed (iOS and Android differ by a sign on
all three axes; negating all three changes neither magnitudes nor the angles between
gravity vectors, which is all the detector uses).
"""
from __future__ import annotations

import logging
import math
import re
from dataclasses import dataclass, field

import numpy as np

from .errors import PayloadError

log = logging.getLogger(__name__)

G = 9.80665
#: Gravity is carried across batches for at most this long (s): it changes slowly, but
#: an accelerometer sample with no gravity estimate this near is not used.
GRAVITY_HOLD_S = 0.5
#: Samples of a stream whose unit is still undecided are kept for at most this long (s
#: of sample time) before the oldest are dropped (a still device decides within seconds).
UNDECIDED_MAX_S = 30.0
#: Median |a| of gravity-inclusive acceleration: ~1 g (band as the file reader's).
_G_BAND = (0.5, 1.5)
#: Longest id accepted in sessionId / deviceId (they are UUIDs).
MAX_ID_CHARS = 128

PHONE = "phone"
WATCH = "watch"
_XYZ = ("x", "y", "z")
_WRIST = ("accelerationX", "accelerationY", "accelerationZ", "gravityX", "gravityY", "gravityZ")
_KNOWN = {"totalacceleration": _XYZ, "accelerometer": _XYZ, "gravity": _XYZ,
          "accelerometeruncalibrated": _XYZ, "wristmotion": _WRIST}
#: Phone sources in order of preference.
_PHONE_SOURCES = ("totalacceleration", "sum", "accelerometeruncalibrated")


def sensor_key(name: str) -> str:
    """'wrist motion', 'WristMotion', 'wrist_motion' -> 'wristmotion'."""
    return re.sub(r"[^a-z0-9]", "", name.lower())


@dataclass
class Records:
    """Samples of one sensor in one message, in arrival order."""
    t_ns: np.ndarray          # (n,) int64 UTC ns
    values: np.ndarray        # (n, k) float64, columns as _KNOWN[key]


@dataclass
class PushMessage:
    message_id: int | None
    session_id: str
    device_id: str
    is_test: bool
    sensors: dict[str, Records] = field(default_factory=dict)
    malformed_records: int = 0
    other_records: int = 0            # sensors not used here (location, battery, ...)


def _time_ns(v) -> int:
    if isinstance(v, bool):
        raise ValueError("boolean time")
    if isinstance(v, int):
        return v
    if isinstance(v, float):
        if not math.isfinite(v):
            raise ValueError("non-finite time")
        return int(round(v))
    if isinstance(v, str) and v.strip().isdigit():
        return int(v.strip())
    raise ValueError(f"time {v!r} is not a number of nanoseconds")


def _ident(obj: dict, key: str) -> str:
    v = obj.get(key)
    if v is None:
        return ""
    if not isinstance(v, (str, int)) or isinstance(v, bool):
        raise PayloadError(f"{key} must be a string")
    v = str(v)
    if len(v) > MAX_ID_CHARS:
        raise PayloadError(f"{key} is longer than {MAX_ID_CHARS} characters")
    return v


def parse_message(obj) -> PushMessage:
    """Check one decoded JSON message and pull out the accelerometer-related samples.

    Raises PayloadError when the message is not a Sensor Logger push (not an object, no
    ``payload`` list, ids of the wrong type).  A record of a used sensor with a missing
    or non-numeric time or value is skipped and counted (``malformed_records``): one bad
    record does not cost the batch.
    """
    if not isinstance(obj, dict):
        raise PayloadError("the message is not a JSON object")
    payload = obj.get("payload")
    if not isinstance(payload, list):
        raise PayloadError("the message has no 'payload' list")
    mid = obj.get("messageId")
    if mid is not None and (not isinstance(mid, int) or isinstance(mid, bool)):
        raise PayloadError("messageId must be an integer")
    msg = PushMessage(mid, _ident(obj, "sessionId"), _ident(obj, "deviceId"), is_test=False)
    if payload and isinstance(payload[0], dict) and payload[0].get("name") == "test":
        msg.is_test = True
        return msg
    rows: dict[str, tuple[list, list]] = {}
    for rec in payload:
        if not isinstance(rec, dict) or not isinstance(rec.get("name"), str):
            msg.malformed_records += 1
            continue
        key = sensor_key(rec["name"])
        cols = _KNOWN.get(key)
        if cols is None:
            msg.other_records += 1
            continue
        vals = rec.get("values")
        try:
            t = _time_ns(rec.get("time"))
            if not isinstance(vals, dict):
                raise ValueError("no values")
            row = [float(vals[c]) for c in cols]
            if not all(math.isfinite(x) for x in row):
                raise ValueError("non-finite value")
        except (KeyError, TypeError, ValueError):
            msg.malformed_records += 1
            continue
        ts, vs = rows.setdefault(key, ([], []))
        ts.append(t)
        vs.append(row)
    for key, (ts, vs) in rows.items():
        try:
            t_arr = np.array(ts, dtype=np.int64)
        except OverflowError:
            raise PayloadError(f"a {key} time does not fit 64 bits") from None
        msg.sensors[key] = Records(t_arr, np.array(vs, dtype=np.float64))
    return msg


def unit_from_magnitude(acc: np.ndarray) -> str | None:
    """'g' or 'm/s2' from the median magnitude of gravity-inclusive acceleration, else None."""
    if len(acc) == 0:
        return None
    m = float(np.median(np.linalg.norm(acc, axis=1)))
    lo, hi = _G_BAND
    if lo <= m <= hi:
        return "g"
    if lo * G <= m <= hi * G:
        return "m/s2"
    return None


@dataclass
class AssemblerStats:
    no_gravity: int = 0          # accelerometer samples with no gravity estimate near
    undecided_dropped: int = 0   # samples dropped while the unit could not be decided


class _Stream:
    """Unit decision for one output stream: documented, or decided from the data."""

    def __init__(self, name: str):
        self.name = name
        self.unit: str | None = None
        self.source: str | None = None
        self._held_t: list[np.ndarray] = []
        self._held_v: list[np.ndarray] = []

    def emit(self, t_ns, acc, documented: str | None, stats: AssemblerStats):
        """Samples in file units -> (t_ns, acc in g) ready now (possibly none, possibly held ones)."""
        if self.unit is None and documented is not None:
            self.unit = documented
        if self.unit is None:
            self._held_t.append(t_ns)
            self._held_v.append(acc)
            t_all = np.concatenate(self._held_t)
            v_all = np.concatenate(self._held_v)
            unit = unit_from_magnitude(v_all)
            if unit is None:
                keep = t_all >= t_all.max() - int(UNDECIDED_MAX_S * 1e9)
                stats.undecided_dropped += int((~keep).sum())
                self._held_t, self._held_v = [t_all[keep]], [v_all[keep]]
                return t_all[:0], v_all[:0]
            self.unit = unit
            log.info("%s stream: unit decided from the data: %s", self.name, unit)
            self._held_t, self._held_v = [], []
            t_ns, acc = t_all, v_all
        return t_ns, (acc / G if self.unit == "m/s2" else acc)


class PushAssembler:
    """Successive messages -> {'phone': (t_ns, acc_g), 'watch': (t_ns, acc_g)}.

    Stateful: it locks the phone source on the first message that has one, carries the
    last gravity samples across batches, and keeps each stream's unit once decided.
    """

    def __init__(self):
        self.stats = AssemblerStats()
        self.streams = {PHONE: _Stream(PHONE), WATCH: _Stream(WATCH)}
        self._grav_t = np.zeros(0, dtype=np.int64)
        self._grav_v = np.zeros((0, 3))

    @property
    def phone_source(self) -> str | None:
        return self.streams[PHONE].source

    def convert(self, msg: PushMessage) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        out = {}
        phone = self._phone(msg.sensors)
        if phone is not None:
            out[PHONE] = phone
        wrist = msg.sensors.get("wristmotion")
        if wrist is not None and len(wrist.t_ns):
            v = wrist.values
            w = self.streams[WATCH]
            w.source = "wristmotion"
            out[WATCH] = w.emit(wrist.t_ns, v[:, 0:3] + v[:, 3:6], None, self.stats)
        return {k: v for k, v in out.items() if len(v[0])}

    def _phone(self, s: dict[str, Records]):
        st = self.streams[PHONE]
        if "gravity" in s:
            self._grav_t = np.concatenate([self._grav_t, s["gravity"].t_ns])
            self._grav_v = np.concatenate([self._grav_v, s["gravity"].values])
            order = np.argsort(self._grav_t, kind="stable")
            self._grav_t, self._grav_v = self._grav_t[order], self._grav_v[order]
        if st.source is None:
            present = {"totalacceleration": "totalacceleration" in s,
                       "sum": "accelerometer" in s and ("gravity" in s or self._grav_t.size > 0),
                       "accelerometeruncalibrated": "accelerometeruncalibrated" in s}
            st.source = next((k for k in _PHONE_SOURCES if present[k]), None)
            if st.source is None:
                return None
            log.info("phone stream: using %s", st.source)
        result = None
        if st.source == "totalacceleration" and "totalacceleration" in s:
            r = s["totalacceleration"]
            result = st.emit(r.t_ns, r.values, "m/s2", self.stats)
        elif st.source == "accelerometeruncalibrated" and "accelerometeruncalibrated" in s:
            r = s["accelerometeruncalibrated"]
            result = st.emit(r.t_ns, r.values, None, self.stats)
        elif st.source == "sum" and "accelerometer" in s:
            r = s["accelerometer"]
            near, grav = self._gravity_at(r.t_ns)
            result = st.emit(r.t_ns[near], r.values[near] + grav, "m/s2", self.stats)
        self._trim_gravity()
        return result

    def _gravity_at(self, t_ns: np.ndarray):
        """(mask of t_ns with gravity within GRAVITY_HOLD_S, gravity interpolated onto those)."""
        gt, gv = self._grav_t, self._grav_v
        if gt.size == 0:
            self.stats.no_gravity += int(t_ns.size)
            return np.zeros(t_ns.size, dtype=bool), np.zeros((0, 3))
        hold = int(GRAVITY_HOLD_S * 1e9)
        near = (t_ns >= gt[0] - hold) & (t_ns <= gt[-1] + hold)
        if not near.all():
            self.stats.no_gravity += int((~near).sum())
        base = t_ns[0]
        x = (t_ns[near] - base).astype(np.float64)
        xp = (gt - base).astype(np.float64)
        grav = np.column_stack([np.interp(x, xp, gv[:, i]) for i in range(3)])
        return near, grav

    def _trim_gravity(self) -> None:
        if self._grav_t.size:
            keep = self._grav_t >= self._grav_t[-1] - int(GRAVITY_HOLD_S * 1e9)
            keep[-1] = True
            self._grav_t, self._grav_v = self._grav_t[keep], self._grav_v[keep]
