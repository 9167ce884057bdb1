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

Control (write; answers come as notifications on the same characteristic)::

    START 01 rate_lo rate_hi range_g gyro  -> F1 01 status
    STOP  02                               -> F1 02 00
    INFO  03                               -> F1 03 00 version max_rate(u16) ranges has_gyro battery
    anything else, or a wrong length       -> F1 cmd 05
    (none: the band stopped on its own)    -> F1 02 00, unsolicited

Central side: ``encode_start`` / ``encode_stop`` / ``encode_info`` build the commands and
``parse_control_answer`` reads the answers (DecodeError on malformed bytes).  Band side
(the virtual band, tests, firmware authors): ``encode_answer`` and ``encode_info_answer``
build the answers; ``DEVICE_STOPPED`` is the unsolicited stop.
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
    if t0_us * 1000 + (n - 1) * period_ns >= 1 << 63:
        # device times are int64 nanoseconds (292 years): a larger t0 is garbage, not time
        raise DecodeError(f"open-IMU device time {t0_us} us does not fit int64 nanoseconds",
                          offset=4)
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


def max_samples(att_mtu: int, gyro: bool = False) -> int:
    """Samples that fit one notification at this ATT MTU (0 when not even one fits)."""
    return max(0, min(255, (att_mtu - 3 - HEADER.size) // (12 if gyro else 6)))


# --- control characteristic -----------------------------------------------------------
CMD_START, CMD_STOP, CMD_INFO = 0x01, 0x02, 0x03
ANSWER = 0xF1
STATUS_OK, STATUS_BAD_RATE, STATUS_BAD_RANGE, STATUS_NO_GYRO, STATUS_STREAMING, \
    STATUS_BAD_COMMAND = range(6)
STATUS_NAMES = {
    STATUS_OK: "ok",
    STATUS_BAD_RATE: "rate not supported",
    STATUS_BAD_RANGE: "range not supported",
    STATUS_NO_GYRO: "no gyro",
    STATUS_STREAMING: "already streaming",
    STATUS_BAD_COMMAND: "unknown or malformed command",
}
BATTERY_UNKNOWN = 255
#: The ``ranges`` bitmap of the INFO answer: bit i set = the band has RANGES_G[i] (+-g).
RANGES_G = (2, 4, 8, 16)


@dataclass(frozen=True)
class BandInfo:
    """The INFO answer: what the band can do."""
    version: int
    max_rate_hz: int
    ranges_g: tuple[int, ...]   # e.g. (2, 4, 8, 16)
    has_gyro: bool
    battery_percent: int | None  # None when the band does not know (255)


@dataclass(frozen=True)
class ControlAnswer:
    command: int
    status: int
    info: BandInfo | None = None  # only for a successful INFO

    @property
    def ok(self) -> bool:
        return self.status == STATUS_OK

    @property
    def status_name(self) -> str:
        return STATUS_NAMES.get(self.status, f"unknown status {self.status}")


def encode_start(rate_hz: int, range_g: int, gyro: bool = False) -> bytes:
    """START command: rate in Hz (1-65535), range in g (2/4/8/16), gyro on or off."""
    if not 1 <= rate_hz <= 0xFFFF or not 1 <= range_g <= 0xFF:
        raise ValueError("rate must be 1-65535 Hz and range 1-255 g")
    return struct.pack("<BHBB", CMD_START, rate_hz, range_g, 1 if gyro else 0)


def encode_stop() -> bytes:
    return bytes([CMD_STOP])


def encode_info() -> bytes:
    return bytes([CMD_INFO])


_INFO = struct.Struct("<BHBBB")  # version, max rate, ranges bitmap, has_gyro, battery


def parse_control_answer(data: bytes) -> ControlAnswer:
    """Parse one notification of the control characteristic; DecodeError when malformed."""
    data = bytes(data)
    if len(data) < 3:
        raise DecodeError("truncated open-IMU control answer", offset=0, expected_length=3,
                          received_length=len(data))
    if data[0] != ANSWER:
        raise DecodeError(f"open-IMU control answer starts with 0x{data[0]:02x}, not 0xf1",
                          offset=0)
    command, status = data[1], data[2]
    if command == CMD_INFO and status == STATUS_OK:
        if len(data) != 3 + _INFO.size:
            raise DecodeError("open-IMU INFO answer of the wrong length", offset=3,
                              expected_length=_INFO.size, received_length=len(data) - 3)
        version, max_rate, ranges, has_gyro, battery = _INFO.unpack_from(data, 3)
        info = BandInfo(version=version, max_rate_hz=max_rate,
                        ranges_g=tuple(g for bit, g in enumerate(RANGES_G) if ranges >> bit & 1),
                        has_gyro=bool(has_gyro),
                        battery_percent=None if battery > 100 else battery)
        return ControlAnswer(command, status, info)
    if len(data) != 3:
        raise DecodeError("open-IMU control answer of the wrong length", offset=3,
                          expected_length=0, received_length=len(data) - 3)
    return ControlAnswer(command, status)


def encode_answer(command: int, status: int = STATUS_OK) -> bytes:
    """A three-byte answer ``F1 command status`` (every answer but a successful INFO)."""
    if not 0 <= command <= 0xFF or not 0 <= status <= 0xFF:
        raise ValueError("command and status are single bytes")
    return bytes((ANSWER, command, status))


def encode_info_answer(info: BandInfo) -> bytes:
    """The successful INFO answer ``F1 03 00`` + 7 bytes (the inverse of parse_control_answer).

    ``info.ranges_g`` must be a subset of RANGES_G; battery None is sent as 255.
    """
    unknown = set(info.ranges_g) - set(RANGES_G)
    if unknown:
        raise ValueError(f"INFO can only announce ranges {RANGES_G} g, not {sorted(unknown)}")
    bits = sum(1 << bit for bit, g in enumerate(RANGES_G) if g in info.ranges_g)
    battery = BATTERY_UNKNOWN if info.battery_percent is None else int(info.battery_percent)
    if not 0 <= battery <= 100 and battery != BATTERY_UNKNOWN:
        raise ValueError(f"battery must be 0-100 % or None, not {battery}")
    return encode_answer(CMD_INFO, STATUS_OK) + _INFO.pack(info.version, info.max_rate_hz, bits,
                                                           1 if info.has_gyro else 0, battery)


#: The band ended the stream on its own (no STOP was written): an unsolicited STOP answer
#: with status 0.  A central that did not just send STOP treats it as "device stopped".
DEVICE_STOPPED = encode_answer(CMD_STOP, STATUS_OK)


def packets_missing(prev_seq: int | None, seq: int) -> int:
    """Packets lost between two received sequence numbers (u16 wrap-around)."""
    if prev_seq is None:
        return 0
    return (seq - prev_seq - 1) % SEQ_MODULO
