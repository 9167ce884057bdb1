"""Movesense over its GATT SensorData Protocol ("GSP"): pure decoders and encoders.

Bytes in, frozen dataclasses out; no bleak, no I/O.  The GSP is what Movesense's
``gatt_sensordata_app`` sample firmware serves; ``MovesenseProfile`` (sensor/profiles.py)
drives it and the virtual band (sensor/virtual_band) speaks it.

Where each fact comes from
--------------------------
[SRC] movesense-device-lib, ``samples/gatt_sensordata_app/GATTSensorDataClient.cpp``
      (the firmware itself; read from a public mirror of the library):

* service ``34802252-7185-4d5d-b431-630e7050e8f0``; command characteristic
  ``34800001-...`` (write), data characteristic ``34800002-...`` (notify): all three share
  one 128-bit root and differ in bytes 12-13;
* a command is ``[command u8][client reference u8, never 0][command data]``:
  HELLO = 0 (no data), SUBSCRIBE = 1 (data: the resource path as text, not terminated,
  e.g. ``/Meas/Acc/13``), UNSUBSCRIBE = 2 (no data; the reference of the SUBSCRIBE);
* everything the sensor sends arrives on the data characteristic as
  ``[response type u8][reference u8][body]``: COMMAND_RESULT = 1, DATA = 2, DATA_PART2 = 3
  (DATA_PART2 continues a message too long for one notification);
* HELLO is answered ``01 <ref> 'H' 'e' 'l' 'l' 'o'``; a SUBSCRIBE with no free slot is
  answered ``01 <ref> 01 FB``: the "2 byte HTTP result" 507, high byte first;
* a successful SUBSCRIBE gets no answer in that firmware: data simply starts.  A
  disconnection unsubscribes every stream ("so that sensor does not stay on").
* a DATA body is the subscribed resource's value in Movesense's binary ("sbem") form.

[API] the Movesense measurement API (``MovesenseCoreLib/resources/movesense-api/meas/
      acc.yaml`` and ``imu.yaml``), as read by independent GSP clients (sensein/movesense-py
      ``protocol.py``; a bleak client library whose notification parser reads
      ``<BBI{n}f``): ``/Meas/Acc/{SampleRate}`` is ``Timestamp`` (uint32, ms, the *first*
      sample's time on the sensor's own clock) then ``ArrayAcc`` (FloatVector3D, m/s^2);
      ``/Meas/IMU6/{SampleRate}`` is ``Timestamp``, then ``ArrayAcc``, then ``ArrayGyro``
      (deg/s): all n acceleration samples first, then all n gyro samples.
[RATES] sample rates 13, 26, 52, 104, 208, 416, 833, 1666 Hz (``docs/ble.md`` and the
      clients above).

So a data notification for ``/Meas/Acc/104`` with reference 99 is::

    02 63 | t0 t1 t2 t3 | x0 y0 z0 | x1 y1 z1 | ...      (LE uint32 ms, LE float32 m/s^2)

and for ``/Meas/IMU6/104`` the n acceleration triples are followed by n gyro triples.

Timestamps.  The ms counter is 32 bits and wraps after 2**32 ms (49.7 days);
:class:`MovesenseTimestamper` unwraps it and gives each sample its time from the packet
time and the sample period, which it measures from consecutive packet times (the sensor's
real rate differs from the nominal one, and a packet time is whole milliseconds).

Limits.  DATA_PART2 continuations are refused (:class:`UnsupportedFrameError`): Acc and
IMU6 notifications up to 416 Hz fit one notification, and the continuation layout of
subscription data is not documented in the sources above.
"""
from __future__ import annotations

import math
import re
import struct
from dataclasses import dataclass
from enum import IntEnum

import numpy as np

from .errors import DecodeError, UnsupportedFrameError

SERVICE_UUID = "34802252-7185-4d5d-b431-630e7050e8f0"   # [SRC]
COMMAND_UUID = "34800001-7185-4d5d-b431-630e7050e8f0"   # write: commands      [SRC]
DATA_UUID = "34800002-7185-4d5d-b431-630e7050e8f0"      # notify: answers, data [SRC]

#: Advertised names look like "Movesense 174630000192" (serial number after the space).
NAME_PREFIX = "Movesense"

#: Rates the Movesense accelerometer and IMU resources accept (Hz) [RATES].
RATES_HZ = (13, 26, 52, 104, 208, 416, 833, 1666)

#: m/s^2 per g (the standard gravity of ISO 80000-3); Movesense reports m/s^2 [API].
STANDARD_GRAVITY = 9.80665

MS_MODULO = 1 << 32          # the uint32 ms timestamp wraps here (~49.7 days)
HEADER = struct.Struct("<BBI")   # response type, reference, timestamp ms
VECTOR_BYTES = 12                # FloatVector3D: 3 x float32
HELLO_REPLY = b"Hello"
#: The largest notification the decoder accepts: one ATT value is at most 512 bytes.
MAX_NOTIFICATION_BYTES = 512


class Command(IntEnum):
    """First byte of a write to :data:`COMMAND_UUID` [SRC]."""

    HELLO = 0
    SUBSCRIBE = 1
    UNSUBSCRIBE = 2


class Response(IntEnum):
    """First byte of a notification on :data:`DATA_UUID` [SRC]."""

    COMMAND_RESULT = 1
    DATA = 2
    DATA_PART2 = 3


#: Vector arrays per sample of each resource kind: Acc = acc; IMU6 = acc + gyro [API].
KIND_VECTORS = {"acc": 1, "imu6": 2}
_PATHS = {"acc": "/Meas/Acc", "imu6": "/Meas/IMU6"}
_PATH_RE = re.compile(r"^/?Meas/(Acc|IMU6)/(\d{1,5})$", re.IGNORECASE)


# ---------------------------------------------------------------------------------------
# Commands (client -> sensor)
# ---------------------------------------------------------------------------------------
def _ref(reference: int) -> int:
    if isinstance(reference, bool) or not isinstance(reference, int) or not 1 <= reference <= 255:
        raise ValueError(f"a GSP client reference is 1-255 (0 is reserved), got {reference!r}")
    return reference


def measurement_path(kind: str, rate_hz: int) -> str:
    """``measurement_path('acc', 104) == '/Meas/Acc/104'``; kind 'acc' or 'imu6'."""
    if kind not in _PATHS:
        raise ValueError(f"kind must be one of {sorted(_PATHS)}, got {kind!r}")
    if int(rate_hz) not in RATES_HZ:
        raise ValueError(f"Movesense rates are {RATES_HZ} Hz, got {rate_hz!r}")
    return f"{_PATHS[kind]}/{int(rate_hz)}"


def parse_path(path: str) -> tuple[str, int]:
    """``'/Meas/IMU6/208'`` -> ``('imu6', 208)``; ValueError for anything else."""
    m = _PATH_RE.match(path)
    if not m:
        raise ValueError(f"not an Acc or IMU6 measurement path: {path!r}")
    return m.group(1).lower(), int(m.group(2))


def build_hello(reference: int) -> bytes:
    """``00 <ref>``: the sensor answers ``01 <ref> Hello``."""
    return bytes((Command.HELLO, _ref(reference)))


def build_subscribe(reference: int, path: str) -> bytes:
    """``01 <ref> <path as ASCII>``, e.g. ``build_subscribe(99, '/Meas/Acc/104')``."""
    raw = path.encode("ascii")
    if not raw or len(raw) > 150:
        raise ValueError("the resource path must be 1-150 ASCII characters")
    return bytes((Command.SUBSCRIBE, _ref(reference))) + raw


def build_unsubscribe(reference: int) -> bytes:
    """``02 <ref>``: ends the subscription made with that reference."""
    return bytes((Command.UNSUBSCRIBE, _ref(reference)))


# ---------------------------------------------------------------------------------------
# Notifications (sensor -> client)
# ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CommandResult:
    """``01 <ref> <body>``: ``hello`` for the HELLO answer; ``status`` is the 2-byte HTTP
    code (high byte first, as 0x01 0xFB = 507 in [SRC]) when the body is two bytes."""

    reference: int
    body: bytes

    @property
    def hello(self) -> bool:
        return self.body == HELLO_REPLY

    @property
    def status(self) -> int | None:
        return int.from_bytes(self.body, "big") if len(self.body) == 2 else None

    @property
    def ok(self) -> bool:
        return self.hello or (self.status is not None and self.status < 400)


@dataclass(frozen=True, eq=False)
class DataPacket:
    """One DATA notification of an Acc or IMU6 subscription.

    timestamp_ms : int, uint32 sensor ms of the first sample (wraps at 2**32)
    acc_ms2 : (n, 3) float64 m/s^2 (float32 on the wire, widened exactly)
    gyro_dps : (n, 3) float64 deg/s for IMU6, else None
    """

    reference: int
    timestamp_ms: int
    acc_ms2: np.ndarray
    gyro_dps: np.ndarray | None

    @property
    def n(self) -> int:
        return int(self.acc_ms2.shape[0])


def parse_command_result(data: bytes) -> CommandResult:
    """Parse ``01 <ref> <body>``; DecodeError for anything else."""
    data = bytes(data)
    if len(data) < 2:
        raise DecodeError("truncated GSP message", offset=0, expected_length=2,
                          received_length=len(data))
    if data[0] != Response.COMMAND_RESULT:
        raise DecodeError(f"GSP message type {data[0]} is not a command result", offset=0)
    return CommandResult(reference=data[1], body=data[2:])


def decode_data(data: bytes, kind: str = "acc") -> DataPacket:
    """Decode one DATA notification of a subscription of ``kind`` ('acc' or 'imu6').

    The packet does not say what was subscribed: the caller knows it from the reference.
    Raises DecodeError (typed) for a wrong type byte, a length that is not 6 + n x 12 x
    (1 or 2) bytes with n >= 1, non-finite values, or more than 512 bytes;
    UnsupportedFrameError for a DATA_PART2 continuation.
    """
    vectors = KIND_VECTORS.get(kind)
    if vectors is None:
        raise ValueError(f"kind must be one of {sorted(KIND_VECTORS)}, got {kind!r}")
    data = bytes(data)
    if len(data) > MAX_NOTIFICATION_BYTES:
        raise DecodeError("GSP notification longer than one attribute value", offset=0,
                          expected_length=MAX_NOTIFICATION_BYTES, received_length=len(data))
    if not data:
        raise DecodeError("empty GSP notification", offset=0, expected_length=1,
                          received_length=0)
    if data[0] == Response.DATA_PART2:
        raise UnsupportedFrameError("GSP DATA_PART2 continuation (a notification split in "
                                    "two) is not decoded; subscribe at 416 Hz or less", offset=0)
    if data[0] != Response.DATA:
        raise DecodeError(f"GSP message type {data[0]} is not DATA", offset=0)
    if len(data) < HEADER.size:
        raise DecodeError("truncated GSP data header", offset=0, expected_length=HEADER.size,
                          received_length=len(data))
    _, ref, ts = HEADER.unpack_from(data)
    body = len(data) - HEADER.size
    per_sample = VECTOR_BYTES * vectors
    n, rest = divmod(body, per_sample)
    if n == 0 or rest:
        raise DecodeError(f"GSP {kind} payload of {body} bytes is not a whole number of "
                          f"{per_sample}-byte samples", offset=HEADER.size,
                          expected_length=max(n, 1) * per_sample, received_length=body)
    # Non-finite values (exponent bits all ones) are refused before any float arithmetic:
    # a signalling NaN would make numpy warn on the cast.
    bits = np.frombuffer(data, dtype="<u4", offset=HEADER.size)
    nonfinite = (bits & 0x7F800000) == 0x7F800000
    if nonfinite.any():
        raise DecodeError("GSP sample value is not a finite number",
                          offset=HEADER.size + 4 * int(np.flatnonzero(nonfinite)[0]))
    values = bits.view("<f4").astype(np.float64).reshape(vectors * n, 3)
    acc = values[:n]
    gyro = values[n:] if vectors == 2 else None
    return DataPacket(reference=ref, timestamp_ms=ts, acc_ms2=acc, gyro_dps=gyro)


# ---------------------------------------------------------------------------------------
# Encoders (the virtual band, tests)
# ---------------------------------------------------------------------------------------
def encode_data(reference: int, timestamp_ms: int, acc_ms2, gyro_dps=None) -> bytes:
    """The inverse of :func:`decode_data`: values are rounded to float32 on the wire."""
    acc = np.asarray(acc_ms2, dtype="<f4").reshape(-1, 3)
    if acc.shape[0] < 1:
        raise ValueError("a data packet holds at least one sample")
    if not 0 <= int(timestamp_ms) < MS_MODULO:
        raise ValueError(f"timestamp_ms must be a uint32, got {timestamp_ms}")
    body = acc.tobytes()
    if gyro_dps is not None:
        gyro = np.asarray(gyro_dps, dtype="<f4").reshape(-1, 3)
        if gyro.shape != acc.shape:
            raise ValueError("IMU6 needs as many gyro samples as acceleration samples")
        body += gyro.tobytes()
    out = HEADER.pack(Response.DATA, _ref(reference), int(timestamp_ms)) + body
    if len(out) > MAX_NOTIFICATION_BYTES:
        raise ValueError(f"{len(out)} bytes do not fit one notification")
    return out


def encode_command_result(reference: int, status: int | None = None, body: bytes = b"") -> bytes:
    """``01 <ref> <status as 2 bytes, high first>`` or ``01 <ref> <body>``."""
    if status is not None:
        body = int(status).to_bytes(2, "big")
    return bytes((Response.COMMAND_RESULT, reference & 0xFF)) + bytes(body)


def encode_hello_reply(reference: int) -> bytes:
    return encode_command_result(reference, body=HELLO_REPLY)


def parse_command(data: bytes) -> tuple[int, int, bytes]:
    """A command write as the sensor sees it: (command, reference, data); DecodeError when
    shorter than two bytes."""
    data = bytes(data)
    if len(data) < 2:
        raise DecodeError("GSP command shorter than 2 bytes", offset=0, expected_length=2,
                          received_length=len(data))
    return data[0], data[1], data[2:]


# ---------------------------------------------------------------------------------------
# Per-sample times
# ---------------------------------------------------------------------------------------
class MovesenseTimestamper:
    """Packet ms times -> per-sample device ns, unwrapping the 32-bit ms counter.

    ``times_ns(timestamp_ms, n)`` returns (n,) int64 ns on an unwrapped sensor clock:
    ``(timestamp_ms + k * 2**32) * 1e6 + round(i * period_ns)``.  A forward step of less
    than 2**31 ms from the previous packet counts as forward (so a wrap is followed); a
    larger one is a step back (a sensor restart), which the recorder's clock map sees as a
    clock jump.

    The period starts at 1e9 / rate and follows the packet times: each step between
    consecutive packets of plausible length (0.5-1.5 x the expected) gives a measured
    period, and the estimate moves ``PERIOD_GAIN`` of the way towards it, kept within
    +-``PERIOD_TOLERANCE`` of the nominal period.  (Whole-millisecond packet times make a
    single step's period uncertain by 1 ms / n.)  ``reset()`` (disconnect) forgets the
    previous packet but not the unwrapping or the period.
    """

    PERIOD_GAIN = 0.1
    PERIOD_TOLERANCE = 0.05

    def __init__(self, rate_hz: float) -> None:
        if not (math.isfinite(rate_hz) and rate_hz > 0):
            raise ValueError(f"rate_hz must be positive, got {rate_hz!r}")
        self.nominal_ns = 1e9 / float(rate_hz)
        self.period_ns = self.nominal_ns
        self._last_raw: int | None = None
        self._last_full: int | None = None
        self._last_n: int | None = None
        self.wraps = 0

    def unwrap(self, timestamp_ms: int) -> int:
        ts = int(timestamp_ms) % MS_MODULO
        if self._last_raw is None:
            full = ts
        else:
            step = (ts - self._last_raw) % MS_MODULO
            if step < MS_MODULO // 2:
                full = self._last_full + step
                if ts < self._last_raw:
                    self.wraps += 1
            else:
                full = self._last_full - (MS_MODULO - step)
        self._last_raw, self._last_full = ts, full
        return full

    def times_ns(self, timestamp_ms: int, n: int) -> np.ndarray:
        prev_full, prev_n = self._last_full, self._last_n
        full = self.unwrap(timestamp_ms)
        if prev_full is not None and prev_n:
            step_ns = (full - prev_full) * 1e6
            expected = prev_n * self.period_ns
            if 0.5 * expected <= step_ns <= 1.5 * expected:
                measured = step_ns / prev_n
                p = self.period_ns + self.PERIOD_GAIN * (measured - self.period_ns)
                lo = self.nominal_ns * (1 - self.PERIOD_TOLERANCE)
                hi = self.nominal_ns * (1 + self.PERIOD_TOLERANCE)
                self.period_ns = min(max(p, lo), hi)
        self._last_n = n
        return np.int64(full) * 1_000_000 + np.round(
            np.arange(n, dtype=np.float64) * self.period_ns).astype(np.int64)

    def reset(self) -> None:
        self._last_n = None


__all__ = [
    "SERVICE_UUID", "COMMAND_UUID", "DATA_UUID", "NAME_PREFIX", "RATES_HZ", "STANDARD_GRAVITY",
    "Command", "Response", "CommandResult", "DataPacket", "measurement_path", "parse_path",
    "build_hello", "build_subscribe", "build_unsubscribe", "parse_command_result",
    "decode_data", "encode_data", "encode_command_result", "encode_hello_reply",
    "parse_command", "MovesenseTimestamper", "MS_MODULO",
]
