"""The open "twitchwatch IMU" GATT profile for bands people build themselves.

Specified in firmware_notes/open-imu-profile.md; this module is its pure decoder and
encoder (bytes in, frozen dataclasses out; no bleak, no I/O).

Data notification (little-endian)::

    offset size  field
    0      1     version (1)
    1      1     flags: bit 0 = gyro present
    2      2     sequence number of the packet (u16, wraps)
    4      8     device time of the first sample, microseconds since the band started (u64)
    12     4     sample period, nanoseconds (u32)
    16     2     accelerometer LSB, micro-g (u16)
    18     1     number of samples n (>= 1)
    19     1     gyro LSB, milli-degrees per second (u8; 0 when no gyro)
    20     6n    n x (ax, ay, az) int16
    20+6n  6n    n x (gx, gy, gz) int16, when flags bit 0
"""
from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np

from .errors import DecodeError

SERVICE_UUID = "74770001-7477-4a8e-9d3f-5c1e2b3a4d00"
CONTROL_UUID = "74770002-7477-4a8e-9d3f-5c1e2b3a4d00"   # write + notify: commands and answers
DATA_UUID = "74770003-7477-4a8e-9d3f-5c1e2b3a4d00"      # notify: sample packets

VERSION = 1
HEADER = struct.Struct("<BBHQIHBB")   # 20 bytes, the table above
FLAG_GYRO = 0x01
SEQ_MODULO = 1 << 16


@dataclass(frozen=True, eq=False)
class ImuPacket:
    seq: int
    device_t_ns: np.ndarray      # (n,) int64, device clock of each sample
    acc_g: np.ndarray            # (n, 3) float64 g
    gyro_dps: np.ndarray | None  # (n, 3) float64 deg/s, or None


def decode_packet(data: bytes) -> ImuPacket:
    """Decode one data notification; raises DecodeError (typed) on anything malformed."""
    data = bytes(data)
    if len(data) < HEADER.size:
        raise DecodeError("truncated open-IMU header", offset=0, expected_length=HEADER.size,
                          received_length=len(data))
    version, flags, seq, t0_us, period_ns, acc_lsb_ug, n, gyro_lsb_mdps = HEADER.unpack_from(data)
    if version != VERSION:
        raise DecodeError(f"open-IMU version {version} is not supported (this decoder reads {VERSION})",
                          offset=0)
    if flags & ~FLAG_GYRO:
        raise DecodeError(f"unknown open-IMU flags 0x{flags:02x}", offset=1)
    if n == 0 or period_ns == 0 or acc_lsb_ug == 0:
        raise DecodeError("open-IMU packet with zero samples, period or accelerometer LSB", offset=12)
    gyro = bool(flags & FLAG_GYRO)
    if gyro and gyro_lsb_mdps == 0:
        raise DecodeError("open-IMU gyro flag set with a zero gyro LSB", offset=19)
    need = HEADER.size + 6 * n * (2 if gyro else 1)
    if len(data) != need:
        raise DecodeError("open-IMU payload length does not match its sample count", offset=HEADER.size,
                          expected_length=need - HEADER.size, received_length=len(data) - HEADER.size)
    raw = np.frombuffer(data, dtype="<i2", offset=HEADER.size).reshape(-1, 3)
    t = np.int64(t0_us) * 1000 + np.arange(n, dtype=np.int64) * np.int64(period_ns)
    acc = raw[:n].astype(np.float64) * (acc_lsb_ug * 1e-6)
    g = raw[n:].astype(np.float64) * (gyro_lsb_mdps * 1e-3) if gyro else None
    return ImuPacket(seq=seq, device_t_ns=t, acc_g=acc, gyro_dps=g)


def encode_packet(seq: int, t0_us: int, period_ns: int, acc_raw: np.ndarray, *, acc_lsb_ug: int = 122,
                  gyro_raw: np.ndarray | None = None, gyro_lsb_mdps: int = 70) -> bytes:
    """The inverse of decode_packet (for the virtual band, tests and firmware authors).

    acc_raw, gyro_raw : (n, 3) int16 counts.  122 ug/LSB is +-4 g at 16 bit; 70 mdps/LSB is
    +-2000 dps on an LSM6DS3.
    """
    acc_raw = np.asarray(acc_raw, dtype="<i2").reshape(-1, 3)
    n = acc_raw.shape[0]
    if not 1 <= n <= 255:
        raise ValueError("a packet holds 1-255 samples")
    flags = FLAG_GYRO if gyro_raw is not None else 0
    head = HEADER.pack(VERSION, flags, seq % SEQ_MODULO, t0_us, period_ns, acc_lsb_ug, n,
                       gyro_lsb_mdps if gyro_raw is not None else 0)
    body = acc_raw.tobytes()
    if gyro_raw is not None:
        body += np.asarray(gyro_raw, dtype="<i2").reshape(n, 3).tobytes()
    return head + body


def packets_missing(prev_seq: int | None, seq: int) -> int:
    """Packets lost between two received sequence numbers (u16 wrap-around)."""
    if prev_seq is None:
        return 0
    return (seq - prev_seq - 1) % SEQ_MODULO
