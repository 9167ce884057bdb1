"""Polar Measurement Data (PMD) protocol: pure decoders and command builders.

Bytes in, frozen dataclasses out.  No bleak, no I/O, no clocks: the BLE session owns the
characteristics and hands every notification to the functions here.

Data notifications (characteristic :data:`PMD_DATA_UUID`)::

    byte 0      measurement type (& 0x3F)
    bytes 1-8   uint64 LE, ns since 2000-01-01T00:00:00Z of the LAST sample in the frame
    byte 9      frame type: bit 0x80 = delta-compressed, & 0x7F = type
    bytes 10-   payload

    frame = decode_pmd_frame(data, factor=f, previous_timestamp_ns=prev, sample_rate_hz=52)
    frame.samples               # (n, 3): int32 mG for ACC, float64 deg/s for GYRO
    frame.sample_timestamps_ns  # (n,) int64 device ns since 2000, last == frame.timestamp_ns

In a live stream use :class:`PmdTimestamper`, which remembers ``previous_timestamp_ns``
per (measurement type, frame type) and is reset on disconnect.

Control point (characteristic :data:`PMD_CP_UUID`): :func:`build_start_measurement`,
:func:`build_get_measurement_settings`, :func:`build_stop_measurement` make the writes;
:func:`parse_cp_notification` / :func:`parse_cp_response` / :func:`join_cp_responses`
read the answers; :func:`parse_features` reads the characteristic's value.

Bit-exactness: the arithmetic follows Polar's own SDK (Kotlin), which is what the test
vectors assert: float32 products for the scale factors, JVM float-to-int truncation, 32-bit
wrapping sums for delta accumulation, float64 timestamp arithmetic rounded half to even.
Where that SDK misbehaves on input no Polar device sends (1-bit and 0-bit delta blocks) this
module does the arithmetic the format describes instead; see :func:`decode_delta_payload`.
"""
from __future__ import annotations

import math
import operator
import struct
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Iterable, Union

import numpy as np

from .errors import ControlPointError, DecodeError, TimestampError, UnsupportedFrameError

# ---------------------------------------------------------------------------------------
# GATT identifiers
# ---------------------------------------------------------------------------------------
# The PMD service and its two characteristics, as in Polar's SDK (BlePMDClient).  bleak
# takes them lower case; UUID comparison is case-insensitive anyway.
PMD_SERVICE_UUID = "fb005c80-02e7-f387-1cad-8acd2d8df0c8"  # Polar Measurement Data service
PMD_CP_UUID = "fb005c81-02e7-f387-1cad-8acd2d8df0c8"       # control point: read, write, notify
PMD_DATA_UUID = "fb005c82-02e7-f387-1cad-8acd2d8df0c8"     # data stream: notify

# ---------------------------------------------------------------------------------------
# Frame layout constants
# ---------------------------------------------------------------------------------------
PMD_HEADER_BYTES = 10            # type (1) + timestamp (8) + frame type (1)
MEASUREMENT_TYPE_MASK = 0x3F     # byte 0: the low 6 bits are the type; the SDK masks the rest
FRAME_TYPE_COMPRESSED = 0x80     # byte 9, bit 7: payload is delta-compressed
FRAME_TYPE_MASK = 0x7F           # byte 9, low 7 bits: frame type number
FRAME_TYPE_0 = 0x00              # ACC raw: int8 x3 / compressed: 16-bit ACC in G*factor, GYRO int16
FRAME_TYPE_1 = 0x01              # ACC raw: int16 x3 mG (H10) / compressed: ACC 16-bit mG, GYRO float32
FRAME_TYPE_2 = 0x02              # ACC raw: int24 x3 mG
MAX_DELTA_BITS = 32              # samples accumulate in 32-bit ints, wider deltas cannot occur
# A notification is one attribute value, which the ATT protocol caps at 512 bytes.  The cap
# also bounds the work a hostile or buggy buffer can cause (zero-width delta blocks expand
# 2 bytes into 255 samples).
MAX_FRAME_BYTES = 512

# Device clock epoch: 2000-01-01T00:00:00Z as Unix seconds (10957 days after 1970-01-01).
PMD_EPOCH_UNIX_S = 946_684_800

_INT32_MIN = -(2 ** 31)
_INT32_MAX = 2 ** 31 - 1
_INT64_MAX = 2 ** 63 - 1
_UINT64_LIMIT = 2 ** 64


class MeasurementType(IntEnum):
    """PMD measurement type ids (frame byte 0 & 0x3F, CP measurement type byte)."""

    ECG = 0                  # electrocardiogram, uV (H10)
    PPG = 1                  # photoplethysmogram (Verity, OH1)
    ACC = 2                  # accelerometer, mG
    PPI = 3                  # peak-to-peak intervals, ms
    GYRO = 5                 # gyroscope, deg/s (Verity)
    MAG = 6                  # magnetometer, gauss (Verity)
    SKIN_TEMP = 7            # skin temperature
    SDK_MODE = 9             # not a stream: "start" it to unlock the wider SDK-mode settings
    LOCATION = 10            # GNSS location (watches)
    PRESSURE = 11            # barometer
    TEMPERATURE = 12         # temperature
    OFFLINE_RECORDING = 13   # offline recording control, not a stream
    OFFLINE_HR = 14          # offline heart rate
    OFFLINE_TEMP = 15        # offline temperature


class CpOpcode(IntEnum):
    """Control point opcodes written by the client (first byte of a CP write)."""

    GET_MEASUREMENT_SETTINGS = 0x01      # [01, type] -> TLV list of available settings
    REQUEST_MEASUREMENT_START = 0x02     # [02, type, TLV selected settings...]
    STOP_MEASUREMENT = 0x03              # [03, type]; always send it before disconnecting
    GET_SDK_MODE_SETTINGS = 0x04         # [04, type] -> settings available in SDK mode
    GET_MEASUREMENT_STATUS = 0x05        # [05] -> one byte per measurement type
    GET_SDK_MODE_STATUS = 0x06           # [06] -> SDK mode on/off
    GET_OFFLINE_RECORDING_TRIGGER_STATUS = 0x07
    SET_OFFLINE_RECORDING_TRIGGER_MODE = 0x08
    SET_OFFLINE_RECORDING_TRIGGER_SETTINGS = 0x09


class CpStatus(IntEnum):
    """Status byte of a control point response (byte 3 after F0, opcode, type)."""

    SUCCESS = 0
    ERROR_INVALID_OP_CODE = 1
    ERROR_INVALID_MEASUREMENT_TYPE = 2
    ERROR_NOT_SUPPORTED = 3
    ERROR_INVALID_LENGTH = 4
    ERROR_INVALID_PARAMETER = 5
    ERROR_ALREADY_IN_STATE = 6           # e.g. START while a stream of that type runs
    ERROR_INVALID_RESOLUTION = 7
    ERROR_INVALID_SAMPLE_RATE = 8
    ERROR_INVALID_RANGE = 9
    ERROR_INVALID_MTU = 10               # MTU too small for the requested stream
    ERROR_INVALID_NUMBER_OF_CHANNELS = 11
    ERROR_INVALID_STATE = 12
    ERROR_DEVICE_IN_CHARGER = 13         # Verity/OH1 refuse to stream while charging
    ERROR_DISK_FULL = 14


class SettingType(IntEnum):
    """Setting record types of the PMD settings TLV: type (u8), count (u8), values (LE)."""

    SAMPLE_RATE = 0       # Hz, u16
    RESOLUTION = 1        # bits per sample, u16
    RANGE = 2             # +-G for ACC, +-deg/s for GYRO, u16
    RANGE_MILLIUNIT = 3   # range in milli-units, u32
    CHANNELS = 4          # number of channels, u8
    FACTOR = 5            # float32 scale the device reports in the start response
    SECURITY = 6          # 16-byte secret for offline recordings


CP_RESPONSE_CODE = 0xF0                 # first byte of every response to a CP write
CP_NOTIFY_MEASUREMENT_STOPPED = 0x01    # first byte when the device stops a stream itself
FEATURE_READ_CODE = 0x0F                # first byte of the value read from the CP
CP_RESPONSE_HEADER_BYTES = 5            # F0, opcode, type, status, more
_CP_RESPONSE_MIN_BYTES = 4              # the SDK accepts a response without the more byte

# Bytes per value of each setting type (Polar SDK typeToFieldSize).
SETTING_VALUE_BYTES = {
    SettingType.SAMPLE_RATE: 2,
    SettingType.RESOLUTION: 2,
    SettingType.RANGE: 2,
    SettingType.RANGE_MILLIUNIT: 4,
    SettingType.CHANNELS: 1,
    SettingType.FACTOR: 4,
    SettingType.SECURITY: 16,
}

# Feature read bitmaps: (byte index in the read value, bit mask, measurement type).
_FEATURE_BITS = (
    (1, 0x01, MeasurementType.ECG),
    (1, 0x02, MeasurementType.PPG),
    (1, 0x04, MeasurementType.ACC),
    (1, 0x08, MeasurementType.PPI),
    (1, 0x20, MeasurementType.GYRO),
    (1, 0x40, MeasurementType.MAG),
    (1, 0x80, MeasurementType.SKIN_TEMP),
    (2, 0x02, MeasurementType.SDK_MODE),
    (2, 0x04, MeasurementType.LOCATION),
    (2, 0x08, MeasurementType.PRESSURE),
    (2, 0x10, MeasurementType.TEMPERATURE),
    (2, 0x20, MeasurementType.OFFLINE_RECORDING),
    (2, 0x40, MeasurementType.OFFLINE_HR),
)

BytesLike = Union[bytes, bytearray, memoryview]


def _as_bytes(data: BytesLike, what: str) -> bytes:
    if isinstance(data, bytes):
        return data
    if isinstance(data, (bytearray, memoryview)):
        return bytes(data)
    raise TypeError(f"{what} must be bytes, bytearray or memoryview, got {type(data).__name__}")


def _type_name(value: int) -> str:
    try:
        return f"{MeasurementType(value).name} ({value})"
    except ValueError:
        return f"unknown ({value})"


def _maybe_measurement_type(value: int) -> int:
    """The MeasurementType member for ``value`` when there is one, else the plain int."""
    try:
        return MeasurementType(value)
    except ValueError:
        return value


# ---------------------------------------------------------------------------------------
# Device time
# ---------------------------------------------------------------------------------------
def device_ns_to_unix_s(device_ns):
    """Device time (ns since 2000-01-01T00:00:00Z) to Unix time in seconds (float64).

    Accepts an int or an integer array of any shape; returns a float or a float64 array of
    the same shape.  float64 keeps about 0.25 us of resolution at present-day Unix times;
    use :func:`device_ns_to_unix_ns` where exact integers matter.
    """
    if isinstance(device_ns, np.ndarray):
        return device_ns.astype(np.float64) * 1e-9 + PMD_EPOCH_UNIX_S
    return operator.index(device_ns) / 1e9 + PMD_EPOCH_UNIX_S


def device_ns_to_unix_ns(device_ns):
    """Device time (ns since 2000) to Unix time in integer ns (int or int64 array).

    2000-01-01 is 946_684_800 s after the Unix epoch.  Exact for device times up to
    about year 2262 (the int64 limit in Unix ns).
    """
    offset = PMD_EPOCH_UNIX_S * 1_000_000_000
    if isinstance(device_ns, np.ndarray):
        return device_ns.astype(np.int64) + np.int64(offset)
    return operator.index(device_ns) + offset


# ---------------------------------------------------------------------------------------
# Frame layouts
# ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class FrameLayout:
    """How to decode one (measurement type, compressed, frame type) combination.

    Attributes
    ----------
    channels : int
        Values per sample (3: x, y, z).
    resolution_bits : int
        Bits per value on the wire (for raw frames, 8 x bytes per value).
    encoding : str
        ``"int"`` two's complement, or ``"float32"`` (IEEE-754 bit patterns whose deltas are
        summed as integers, as Polar does).
    scaling : str
        Which unit rule applies; see :func:`decode_pmd_frame`.
    unit : str
        Unit of :attr:`PmdFrame.samples`.
    """

    channels: int
    resolution_bits: int
    encoding: str
    scaling: str
    unit: str

    @property
    def bytes_per_value(self) -> int:
        return (self.resolution_bits + 7) // 8


_LAYOUTS: dict[tuple[int, bool, int], FrameLayout] = {
    # ACC raw frames carry mG directly; the factor is not applied (as in Polar's SDK).
    (MeasurementType.ACC, False, FRAME_TYPE_0): FrameLayout(3, 8, "int", "raw", "mG"),
    (MeasurementType.ACC, False, FRAME_TYPE_1): FrameLayout(3, 16, "int", "raw", "mG"),
    (MeasurementType.ACC, False, FRAME_TYPE_2): FrameLayout(3, 24, "int", "raw", "mG"),
    # ACC compressed type 0 ("Wolfi" type, Verity Sense): values in G/factor -> x factor x 1000.
    (MeasurementType.ACC, True, FRAME_TYPE_0): FrameLayout(3, 16, "int", "acc_g_factor", "mG"),
    # ACC compressed type 1: mG, times the factor when the device reports one != 1.
    (MeasurementType.ACC, True, FRAME_TYPE_1): FrameLayout(3, 16, "int", "int_factor", "mG"),
    # GYRO compressed type 0: int16 deg/s (x factor when != 1), reported as float.
    (MeasurementType.GYRO, True, FRAME_TYPE_0): FrameLayout(3, 16, "int", "float_factor", "deg/s"),
    # GYRO compressed type 1: float32 deg/s (x factor when != 1).
    (MeasurementType.GYRO, True, FRAME_TYPE_1): FrameLayout(3, 32, "float32", "float_factor", "deg/s"),
}


def frame_layout(measurement_type: int, compressed: bool, frame_type: int) -> FrameLayout | None:
    """The :class:`FrameLayout` this module decodes for a frame header, or None."""
    return _LAYOUTS.get((int(measurement_type), bool(compressed), int(frame_type)))


def supported_frame_kinds() -> tuple[tuple[MeasurementType, bool, int], ...]:
    """Every (measurement type, compressed, frame type) that :func:`decode_pmd_frame` decodes."""
    return tuple((MeasurementType(m), c, f) for (m, c, f) in _LAYOUTS)


# ---------------------------------------------------------------------------------------
# Header
# ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PmdFrameHeader:
    """The first 10 bytes of a PMD data frame.

    ``measurement_type`` is a :class:`MeasurementType` when known, else the int (0-63).
    ``timestamp_ns`` is device ns since 2000-01-01 of the frame's last sample (uint64).
    """

    measurement_type: int
    timestamp_ns: int
    frame_type: int
    compressed: bool

    @property
    def frame_type_byte(self) -> int:
        """Byte 9 as sent: frame type with the compression bit."""
        return self.frame_type | (FRAME_TYPE_COMPRESSED if self.compressed else 0)


def parse_pmd_header(data: BytesLike) -> PmdFrameHeader:
    """Parse the 10-byte header of a PMD data frame; raises :class:`DecodeError` if short."""
    data = _as_bytes(data, "data")
    if len(data) < PMD_HEADER_BYTES:
        raise DecodeError("truncated PMD frame header", offset=0,
                          expected_length=PMD_HEADER_BYTES, received_length=len(data))
    ft = data[9]
    return PmdFrameHeader(
        measurement_type=_maybe_measurement_type(data[0] & MEASUREMENT_TYPE_MASK),
        timestamp_ns=int.from_bytes(data[1:9], "little"),
        frame_type=ft & FRAME_TYPE_MASK,
        compressed=bool(ft & FRAME_TYPE_COMPRESSED),
    )


# ---------------------------------------------------------------------------------------
# Payload decoding
# ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class DeltaBlock:
    """One block of a delta-compressed payload.

    ``offset`` is the byte offset of the block's 2-byte header within the decoded buffer
    (the whole frame for :func:`decode_pmd_frame`); ``n_bytes`` the packed deltas after it.
    """

    delta_bits: int
    sample_count: int
    offset: int
    n_bytes: int


def _le_signed(buf: bytes, width: int, count: int) -> np.ndarray:
    """``count`` little-endian two's complement ints of ``width`` (1-4) bytes -> int64 (count,)."""
    a = np.frombuffer(buf, dtype=np.uint8, count=width * count).reshape(count, width)
    # int64 throughout: a 4-byte unsigned value does not fit int32 before sign extension.
    v = a.astype(np.int64) @ (np.int64(1) << (8 * np.arange(width, dtype=np.int64)))
    sign = np.int64(1) << np.int64(8 * width - 1)
    return (v ^ sign) - sign


def _wrap_int32(v: np.ndarray) -> np.ndarray:
    """int64 -> int32 with two's complement wrap-around, as JVM ``Int`` addition does."""
    return ((v + 2 ** 31) % 2 ** 32 - 2 ** 31).astype(np.int32)


def decode_delta_payload(
    payload: BytesLike,
    channels: int,
    resolution_bits: int,
    *,
    base_offset: int = 0,
) -> tuple[np.ndarray, tuple[DeltaBlock, ...]]:
    """Decode a delta-compressed PMD payload into raw integer samples.

    Layout: a reference sample (``channels`` x ceil(resolution/8) bytes, signed LE), then
    blocks of ``[delta_bits u8][count u8][ceil(delta_bits x count x channels / 8) bytes]``.
    Deltas are packed LSB-first (bit i of the stream is bit i%8 of byte i//8), channel
    by channel within a sample, each sign-extended from ``delta_bits``; sample[i] =
    sample[i-1] + delta.  Blocks of different widths follow each other.

    Parameters
    ----------
    payload : bytes
        The frame bytes after the 10-byte header.
    channels : int
        Values per sample.
    resolution_bits : int
        Width of the reference values (multiple of 8, at most 32).
    base_offset : int
        Added to offsets in errors and in the returned blocks (10 for a whole frame).

    Returns
    -------
    raw : numpy.ndarray, int32, shape (n, channels)
        The reference sample followed by one row per delta; sums wrap at 32 bits like the
        SDK's ``Int``.  For float encodings these are the IEEE-754 bit patterns.
    blocks : tuple of DeltaBlock

    Raises
    ------
    DecodeError
        Payload shorter than the reference sample, a block header cut after its first byte,
        packed deltas shorter than the header says, or ``delta_bits`` above 32.

    Notes
    -----
    Two deliberate differences from Polar's Kotlin decoder, on input no device sends: a
    1-bit delta is sign-extended to 0 or -1 (the SDK's mask turns a set bit into
    +2147483647), and a 0-bit block of ``count`` samples yields ``count`` repeats of the
    previous sample (the SDK drops them, losing samples and skewing timestamps).
    """
    payload = _as_bytes(payload, "payload")
    value_bytes = (resolution_bits + 7) // 8
    ref_len = channels * value_bytes
    if len(payload) < ref_len:
        raise DecodeError("truncated reference sample of compressed frame", offset=base_offset,
                          expected_length=ref_len, received_length=len(payload))
    rows = [_le_signed(payload[:ref_len], value_bytes, channels).reshape(1, channels)]
    blocks: list[DeltaBlock] = []
    pos = ref_len
    end = len(payload)
    while pos < end:
        if end - pos < 2:
            raise DecodeError("truncated delta block header", offset=base_offset + pos,
                              expected_length=2, received_length=end - pos)
        bits = payload[pos]
        count = payload[pos + 1]
        if bits > MAX_DELTA_BITS:
            raise DecodeError(f"delta width {bits} bits exceeds {MAX_DELTA_BITS}",
                              offset=base_offset + pos)
        n_bits = bits * count * channels
        n_bytes = (n_bits + 7) // 8
        start = pos + 2
        if end - start < n_bytes:
            raise DecodeError(f"truncated delta block ({bits} bits x {count} samples x "
                              f"{channels} channels)", offset=base_offset + start,
                              expected_length=n_bytes, received_length=end - start)
        blocks.append(DeltaBlock(bits, count, base_offset + pos, n_bytes))
        if count:
            if bits == 0:
                rows.append(np.zeros((count, channels), dtype=np.int64))
            else:
                packed = np.frombuffer(payload, dtype=np.uint8, count=n_bytes, offset=start)
                bitarr = np.unpackbits(packed, bitorder="little")[:n_bits]
                weights = np.int64(1) << np.arange(bits, dtype=np.int64)
                v = bitarr.reshape(count * channels, bits).astype(np.int64) @ weights
                # sign-extend from `bits`: subtract 2**bits where the top bit is set
                v -= ((v >> (bits - 1)) & 1) << bits
                rows.append(v.reshape(count, channels))
        pos = start + n_bytes
    # One cumulative sum over reference + all deltas.  int64 cannot overflow (that would
    # take 2**32 rows of |delta| = 2**31), and wrapping the sum once equals wrapping each
    # step, since both are arithmetic modulo 2**32.
    raw = _wrap_int32(np.cumsum(np.concatenate(rows, axis=0), axis=0))
    return raw, tuple(blocks)


def _decode_raw_payload(payload: bytes, channels: int, value_bytes: int,
                        base_offset: int) -> np.ndarray:
    """Uncompressed payload: n samples of ``channels`` signed LE ints -> int32 (n, channels)."""
    sample_bytes = channels * value_bytes
    if len(payload) == 0:
        raise DecodeError("raw frame has no samples", offset=base_offset,
                          expected_length=sample_bytes, received_length=0)
    n, rest = divmod(len(payload), sample_bytes)
    if rest:
        # Report the cut sample: where it starts and how much of it is missing.
        raise DecodeError(f"raw payload of {len(payload)} bytes is not a whole number of "
                          f"{sample_bytes}-byte samples", offset=base_offset + n * sample_bytes,
                          expected_length=sample_bytes, received_length=rest)
    return _le_signed(payload, value_bytes, n * channels).reshape(n, channels).astype(np.int32)


def _f32_to_int_like_jvm(x: np.ndarray) -> np.ndarray:
    """float32 -> int32 as Kotlin ``Float.toInt()``: truncate toward 0, NaN -> 0, saturate."""
    y = np.nan_to_num(x.astype(np.float64), nan=0.0, posinf=_INT32_MAX, neginf=_INT32_MIN)
    return np.clip(np.trunc(y), _INT32_MIN, _INT32_MAX).astype(np.int32)


def _scale(layout: FrameLayout, raw: np.ndarray, factor32: np.float32) -> np.ndarray:
    """Apply the unit rule of ``layout`` to raw int32 samples (see decode_pmd_frame)."""
    one = np.float32(1.0)
    # float32 overflow to inf and NaN payloads are legitimate outcomes of garbage input;
    # the conversions below define what they become, so the warnings are noise.
    with np.errstate(over="ignore", invalid="ignore"):
        if layout.scaling == "raw":
            return raw
        if layout.scaling == "acc_g_factor":
            # Kotlin: accFactor = factor * 1000 (Float); (sample * accFactor).toInt()
            acc_factor = np.float32(factor32 * np.float32(1000))
            return _f32_to_int_like_jvm(raw.astype(np.float32) * acc_factor)
        if layout.scaling == "int_factor":
            if factor32 == one:
                return raw
            return _f32_to_int_like_jvm(raw.astype(np.float32) * factor32)
        if layout.scaling == "float_factor":
            if layout.encoding == "float32":
                values = raw.view(np.float32)
            else:
                values = raw.astype(np.float32)
            if factor32 != one:
                values = values * factor32
            # float64 holds every float32 exactly, so this widening changes no value.
            return values.astype(np.float64)
    raise AssertionError(f"unhandled scaling {layout.scaling!r}")  # pragma: no cover


# ---------------------------------------------------------------------------------------
# Per-sample timestamps
# ---------------------------------------------------------------------------------------
def _normalize_previous(previous_timestamp_ns) -> int | None:
    if previous_timestamp_ns is None:
        return None
    if isinstance(previous_timestamp_ns, bool):
        raise TypeError("previous_timestamp_ns must be an int or None, got bool")
    prev = operator.index(previous_timestamp_ns)
    if not 0 <= prev < _UINT64_LIMIT:
        raise ValueError(f"previous_timestamp_ns must be in [0, 2**64) or None, got {prev}")
    # 0 means "no previous frame", as in Polar's SDK (a device time of exactly 2000-01-01
    # 00:00:00.000000000 does not occur).
    return prev or None


def _normalize_rate(sample_rate_hz) -> float | None:
    if sample_rate_hz is None:
        return None
    fs = float(sample_rate_hz)
    if fs == 0.0:
        return None  # 0 means "not known", as in the SDK's settings and the vectors
    if not (math.isfinite(fs) and fs > 0.0):
        raise ValueError(f"sample_rate_hz must be a positive finite number, 0 or None, "
                         f"got {sample_rate_hz!r}")
    return fs


def _sample_times(ts: int, n: int, prev: int | None, fs: float | None) -> np.ndarray:
    """Core of :func:`pmd_sample_timestamps` on validated arguments (raises TimestampError)."""
    if ts > _INT64_MAX:
        raise TimestampError(f"frame timestamp {ts} ns does not fit int64", offset=1)
    if prev is not None and ts <= prev:
        raise TimestampError(f"frame timestamp {ts} ns is not after the previous frame's "
                             f"{prev} ns", offset=1)
    out = np.empty(n, dtype=np.int64)
    out[-1] = ts
    if n == 1:
        return out  # a lone sample is at the frame's time, whatever the rate
    if prev is not None:
        # Same operations, in the same order, as Polar's PmdTimeStampUtils (float64).
        delta = float(ts - prev) / float(n)
        first = float(prev) + delta
    else:
        delta = (1.0 / fs) * 1000 * 1000 * 1000
        first = float(ts) - delta * (n - 1)
        if not first >= 0.0:
            raise TimestampError(f"first sample would be {first:.0f} ns, before the device "
                                 f"epoch: frame timestamp {ts} ns, {n} samples at {fs} Hz",
                                 offset=1)
    # np.round rounds half to even, like Kotlin's round(Double).
    t = np.round(first + delta * np.arange(n - 1, dtype=np.float64))
    # float64 rounding can land on 2**63 next to an int64-max timestamp: keep the cast from
    # wrapping.  Then clamp to ts: when delta is below the float64 spacing of the
    # timestamps (128 ns at present-day values, so only for nonsense frames) the rounded
    # times can pass ts; clamping keeps every frame's times non-decreasing.  The SDK does
    # not clamp; no realistic frame is affected.
    big = t >= 2.0 ** 63
    head = np.where(big, 0.0, t).astype(np.int64)
    head[big] = ts
    np.minimum(head, ts, out=out[:-1])
    return out


def pmd_sample_timestamps(
    timestamp_ns: int,
    n_samples: int,
    *,
    previous_timestamp_ns: int | None = None,
    sample_rate_hz: float | None = None,
) -> np.ndarray:
    """Per-sample device times of a frame, by Polar's rule.

    Parameters
    ----------
    timestamp_ns : int
        Frame timestamp (device ns since 2000), the time of its LAST sample.
    n_samples : int
        Samples in the frame (>= 1).
    previous_timestamp_ns : int or None
        Timestamp of the previous frame of the same (measurement type, frame type); None or
        0 when there is none (first frame after connecting or after a reset).
    sample_rate_hz : float or None
        Nominal rate; used only when there is no previous timestamp.  None or 0: unknown.

    Returns
    -------
    numpy.ndarray, int64, shape (n_samples,)
        With a previous timestamp: delta = (ts - prev) / n, first = prev + delta.  Without:
        delta = 1e9 / fs (computed as (1 / fs) x 1000 x 1000 x 1000, as the SDK does),
        first = ts - delta (n - 1).  t[i] = round_half_even(first + i delta) for i < n - 1
        (float64 arithmetic), and t[n-1] = ts exactly.  Times are clamped to <= ts, which
        changes nothing unless delta is below the float64 spacing of the timestamps.

    Raises
    ------
    ValueError
        ``n_samples`` < 1, or neither a previous timestamp nor a sample rate is given.
    TimestampError
        ts <= previous, first sample before 2000, or ts beyond int64.
    """
    ts = operator.index(timestamp_ns)
    if not 0 <= ts < _UINT64_LIMIT:
        raise ValueError(f"timestamp_ns must be in [0, 2**64), got {ts}")
    n = operator.index(n_samples)
    if n < 1:
        raise ValueError(f"n_samples must be >= 1, got {n}")
    prev = _normalize_previous(previous_timestamp_ns)
    fs = _normalize_rate(sample_rate_hz)
    if prev is None and fs is None:
        raise ValueError("per-sample timestamps need previous_timestamp_ns or sample_rate_hz; "
                         "got neither")
    return _sample_times(ts, n, prev, fs)


# ---------------------------------------------------------------------------------------
# Frames
# ---------------------------------------------------------------------------------------
def _frozen_array(a: np.ndarray) -> np.ndarray:
    a.flags.writeable = False
    return a


@dataclass(frozen=True, eq=False)
class PmdFrame:
    """One decoded PMD data frame.

    Attributes
    ----------
    measurement_type : MeasurementType
        ACC or GYRO.
    frame_type : int
        Frame type number (byte 9 & 0x7F).
    compressed : bool
        Whether the payload was delta-compressed (byte 9 & 0x80).
    timestamp_ns : int
        Device ns since 2000-01-01T00:00:00Z of the LAST sample.
    samples : numpy.ndarray, shape (n, channels), read-only
        int32 mG for ACC; float64 deg/s for GYRO (each value a float32, as the SDK gives).
    sample_timestamps_ns : numpy.ndarray int64 shape (n,), read-only, or None
        Device ns since 2000 of each sample; the last equals ``timestamp_ns``.  None when
        the decoder was given neither a previous timestamp nor a sample rate.
    raw_samples : numpy.ndarray int32, shape (n, channels), read-only
        Values as on the wire before the unit rule: integers, or IEEE-754 bit patterns for
        float frames.
    unit : str
        "mG" or "deg/s".
    delta_blocks : tuple of DeltaBlock
        Blocks of a compressed payload, in order (empty for raw frames).
    """

    measurement_type: MeasurementType
    frame_type: int
    compressed: bool
    timestamp_ns: int
    samples: np.ndarray
    sample_timestamps_ns: np.ndarray | None
    raw_samples: np.ndarray
    unit: str
    delta_blocks: tuple[DeltaBlock, ...] = field(default=())

    @property
    def n_samples(self) -> int:
        return int(self.samples.shape[0])

    @property
    def channels(self) -> int:
        return int(self.samples.shape[1])

    @property
    def frame_type_byte(self) -> int:
        return self.frame_type | (FRAME_TYPE_COMPRESSED if self.compressed else 0)

    def __eq__(self, other: object) -> bool:
        # Arrays compare element-wise, so the generated __eq__ would be ambiguous.
        if not isinstance(other, PmdFrame):
            return NotImplemented

        def same(a, b) -> bool:
            if a is None or b is None:
                return a is b
            return a.dtype == b.dtype and np.array_equal(a, b, equal_nan=a.dtype.kind == "f")

        return (
            self.measurement_type == other.measurement_type
            and self.frame_type == other.frame_type
            and self.compressed == other.compressed
            and self.timestamp_ns == other.timestamp_ns
            and self.unit == other.unit
            and self.delta_blocks == other.delta_blocks
            and same(self.samples, other.samples)
            and same(self.raw_samples, other.raw_samples)
            and same(self.sample_timestamps_ns, other.sample_timestamps_ns)
        )

    __hash__ = None  # mutable-looking contents (arrays): not hashable, like a list


def decode_pmd_frame(
    data: BytesLike,
    *,
    factor: float = 1.0,
    previous_timestamp_ns: int | None = None,
    sample_rate_hz: float | None = None,
) -> PmdFrame:
    """Decode one PMD data notification (ACC or GYRO).

    Parameters
    ----------
    data : bytes
        The whole notification, header included (at most 512 bytes).
    factor : float
        The FACTOR the device reported in its start response (``PmdSettings.factor``), 1.0
        when it reported none.  Used as float32, as the SDK stores it.
    previous_timestamp_ns : int or None
        Timestamp of the previous frame with the same (measurement type, frame type), or
        None / 0 for the first frame of a stream.  :class:`PmdTimestamper` keeps it.
    sample_rate_hz : float or None
        Requested sample rate; needed for the first frame of a stream.  None / 0: unknown.

    Returns
    -------
    PmdFrame
        ``samples`` shape (n, 3).  Unit rules (bit-exact with Polar's SDK):

        - ACC raw types 0/1/2 (int8/int16/int24): the values are mG; factor not applied.
        - ACC compressed type 0: mG = trunc(float32(raw) x float32(factor x 1000)); this
          type needs the device's factor (with 1.0 the result is raw x 1000).
        - ACC compressed type 1: mG = raw, or trunc(float32(raw) x factor) if factor != 1.
        - GYRO compressed type 0: deg/s = float32(raw) (x factor if != 1).
        - GYRO compressed type 1: deg/s = float32 from the bit pattern (x factor if != 1).

        When neither ``previous_timestamp_ns`` nor ``sample_rate_hz`` is given, the sample
        times cannot be known: ``sample_timestamps_ns`` is None and ``timestamp_ns`` (the
        last sample's time) is all the timing the frame carries.  This is not an error so
        that frames can be inspected without stream context.

    Raises
    ------
    DecodeError
        Malformed bytes (message: what, offset, expected vs received length).
    UnsupportedFrameError (a DecodeError)
        A well-formed frame of a kind this decoder does not handle (ECG, PPG, raw GYRO, ...).
    TimestampError (a DecodeError)
        Timestamp beyond int64, not after ``previous_timestamp_ns``, or first sample before
        2000 (from ``sample_rate_hz``).
    ValueError / TypeError
        Invalid ``factor``, ``previous_timestamp_ns`` or ``sample_rate_hz`` (not the bytes).
    """
    data = _as_bytes(data, "data")
    factor32 = np.float32(factor)
    if not (np.isfinite(factor32) and factor32 > 0):
        raise ValueError(f"factor must be a positive finite float32, got {factor!r}")
    prev = _normalize_previous(previous_timestamp_ns)
    fs = _normalize_rate(sample_rate_hz)

    if len(data) > MAX_FRAME_BYTES:
        raise DecodeError(f"frame longer than the {MAX_FRAME_BYTES}-byte maximum of a BLE "
                          f"attribute value", offset=0, expected_length=MAX_FRAME_BYTES,
                          received_length=len(data))
    header = parse_pmd_header(data)
    if header.timestamp_ns > _INT64_MAX:
        raise TimestampError(f"frame timestamp {header.timestamp_ns} ns does not fit int64",
                             offset=1)
    layout = frame_layout(header.measurement_type, header.compressed, header.frame_type)
    if layout is None:
        kind = "compressed" if header.compressed else "raw"
        raise UnsupportedFrameError(
            f"unsupported PMD frame: measurement type {_type_name(header.measurement_type)}, "
            f"{kind} frame type {header.frame_type} (byte 0x{data[9]:02x})", offset=0)

    payload = data[PMD_HEADER_BYTES:]
    if header.compressed:
        raw, blocks = decode_delta_payload(payload, layout.channels, layout.resolution_bits,
                                           base_offset=PMD_HEADER_BYTES)
    else:
        raw = _decode_raw_payload(payload, layout.channels, layout.bytes_per_value,
                                  PMD_HEADER_BYTES)
        blocks = ()
    samples = _scale(layout, raw, factor32)
    if prev is None and fs is None:
        times = None
    else:
        times = _frozen_array(_sample_times(header.timestamp_ns, raw.shape[0], prev, fs))
    if samples is raw:
        samples = raw.copy()  # two read-only views of one buffer would be fine, but be plain
    return PmdFrame(
        measurement_type=MeasurementType(header.measurement_type),
        frame_type=header.frame_type,
        compressed=header.compressed,
        timestamp_ns=header.timestamp_ns,
        samples=_frozen_array(samples),
        sample_timestamps_ns=times,
        raw_samples=_frozen_array(raw),
        unit=layout.unit,
        delta_blocks=blocks,
    )


class PmdTimestamper:
    """Keeps the previous frame timestamp per (measurement type, frame type) of a stream.

    Polar's rule spreads a frame's samples between the previous frame's timestamp and its
    own, so the decoder needs the previous one.  The key ignores the compression bit (as the
    SDK does).  Call :meth:`reset` on disconnect and after STOP: a new stream starts again
    from the sample rate.

    The timestamp of a frame whose header is readable is remembered even if its payload
    then fails to decode: the next frame's samples then span only their own interval, not
    the lost frame's too.  If a timestamp is not after the previous one (the device clock
    was set or restarted) and a sample rate is given, the frame is anchored on its own
    timestamp and the rate instead, and :attr:`backward_steps` counts it; without a rate
    the :class:`TimestampError` propagates.

    Not thread-safe; one instance per connection, fed from one task.
    """

    def __init__(self) -> None:
        self._previous: dict[tuple[int, int], int] = {}
        self.backward_steps = 0

    def previous_timestamp_ns(self, measurement_type: int, frame_type: int) -> int | None:
        """The remembered timestamp for a key, or None."""
        return self._previous.get((int(measurement_type), int(frame_type) & FRAME_TYPE_MASK))

    def decode(self, data: BytesLike, *, factor: float = 1.0,
               sample_rate_hz: float | None = None) -> PmdFrame:
        """:func:`decode_pmd_frame` with the remembered previous timestamp; remembers this one."""
        header = parse_pmd_header(data)  # a frame without a header changes nothing
        key = (int(header.measurement_type), header.frame_type)
        prev = self._previous.get(key)
        if (prev is not None and header.timestamp_ns <= prev
                and _normalize_rate(sample_rate_hz) is not None):
            self.backward_steps += 1
            prev = None
        try:
            return decode_pmd_frame(data, factor=factor, previous_timestamp_ns=prev,
                                    sample_rate_hz=sample_rate_hz)
        finally:
            if 0 < header.timestamp_ns <= _INT64_MAX:
                self._previous[key] = header.timestamp_ns

    def reset(self) -> None:
        """Forget every previous timestamp (disconnect, STOP, new stream)."""
        self._previous.clear()


# ---------------------------------------------------------------------------------------
# Settings TLV
# ---------------------------------------------------------------------------------------
_SETTING_FIELDS = {
    SettingType.SAMPLE_RATE: "sample_rate",
    SettingType.RESOLUTION: "resolution",
    SettingType.RANGE: "range",
    SettingType.RANGE_MILLIUNIT: "range_milliunit",
    SettingType.CHANNELS: "channels",
    SettingType.FACTOR: "factor",
    SettingType.SECURITY: "security",
}


@dataclass(frozen=True)
class PmdSettings:
    """PMD settings: for each setting type, its values in wire order.

    From GET_MEASUREMENT_SETTINGS these are the values the device offers; for a start
    command each present setting holds the one value to select; from a start response,
    ``factor`` holds the scale to pass to :func:`decode_pmd_frame`.  Lists are stored as
    tuples.  Units: sample_rate Hz, resolution bits, range +-G (ACC) or +-deg/s (GYRO).
    """

    sample_rate: tuple[int, ...] = ()
    resolution: tuple[int, ...] = ()
    range: tuple[int, ...] = ()
    range_milliunit: tuple[int, ...] = ()
    channels: tuple[int, ...] = ()
    factor: tuple[float, ...] = ()
    security: tuple[bytes, ...] = ()

    def __post_init__(self) -> None:
        for name in _SETTING_FIELDS.values():
            value = getattr(self, name)
            if not isinstance(value, tuple):
                object.__setattr__(self, name, tuple(value))

    def get(self, setting_type: SettingType) -> tuple:
        """Values of one setting type (empty tuple when absent)."""
        return getattr(self, _SETTING_FIELDS[SettingType(setting_type)])

    def present(self) -> tuple[SettingType, ...]:
        """Setting types with at least one value, ascending."""
        return tuple(t for t in SettingType if self.get(t))

    def to_dict(self) -> dict[str, list]:
        """{SettingType name: list of values} for the present settings."""
        return {t.name: list(self.get(t)) for t in self.present()}

    def scale_factor(self, default: float = 1.0) -> float:
        """The FACTOR value to decode frames with, or ``default`` when none was reported."""
        return self.factor[0] if self.factor else default


def parse_settings(data: BytesLike, *, base_offset: int = 0) -> PmdSettings:
    """Parse a settings TLV: repeated [type u8][count u8][count values, LE].

    Value sizes: SAMPLE_RATE, RESOLUTION, RANGE 2 (unsigned); RANGE_MILLIUNIT 4
    (unsigned); CHANNELS 1; FACTOR 4 (float32); SECURITY 16 (bytes).  A type that occurs
    twice has its values concatenated.  ``base_offset`` shifts error offsets (5 for the
    parameters of a CP response).

    Raises
    ------
    DecodeError
        Unknown setting type (its size is unknown, so nothing after it can be read), or a
        record cut short.
    """
    data = _as_bytes(data, "data")
    values: dict[SettingType, list] = {}
    pos = 0
    end = len(data)
    while pos < end:
        if end - pos < 2:
            raise DecodeError("truncated setting record header", offset=base_offset + pos,
                              expected_length=2, received_length=end - pos)
        try:
            stype = SettingType(data[pos])
        except ValueError:
            raise DecodeError(f"unknown setting type 0x{data[pos]:02x} (known: 0-"
                              f"{max(SettingType)})", offset=base_offset + pos) from None
        count = data[pos + 1]
        size = SETTING_VALUE_BYTES[stype]
        start = pos + 2
        need = count * size
        if end - start < need:
            raise DecodeError(f"truncated {stype.name} setting ({count} x {size} bytes)",
                              offset=base_offset + start, expected_length=need,
                              received_length=end - start)
        chunk = data[start:start + need]
        if stype is SettingType.FACTOR:
            items = list(struct.unpack(f"<{count}f", chunk))
        elif stype is SettingType.SECURITY:
            items = [chunk[i:i + size] for i in range(0, need, size)]
        else:
            items = [int.from_bytes(chunk[i:i + size], "little") for i in range(0, need, size)]
        values.setdefault(stype, []).extend(items)
        pos = start + need
    return PmdSettings(**{_SETTING_FIELDS[t]: tuple(v) for t, v in values.items()})


def serialize_settings(settings: PmdSettings) -> bytes:
    """Inverse of :func:`parse_settings`: one record per present setting, ascending type.

    Raises ValueError (naming the setting, the allowed range and the value) for a value
    that does not fit its field, or more than 255 values in one record.
    """
    out = bytearray()
    for stype in settings.present():
        items = settings.get(stype)
        size = SETTING_VALUE_BYTES[stype]
        if len(items) > 255:
            raise ValueError(f"{stype.name}: at most 255 values per record, got {len(items)}")
        out += bytes((stype, len(items)))
        for item in items:
            if stype is SettingType.FACTOR:
                out += struct.pack("<f", float(item))
            elif stype is SettingType.SECURITY:
                if not isinstance(item, (bytes, bytearray)) or len(item) != size:
                    raise ValueError(f"SECURITY: each value must be {size} bytes, got {item!r}")
                out += item
            else:
                if isinstance(item, bool):
                    raise ValueError(f"{stype.name}: value must be an int, got {item!r}")
                v = operator.index(item)
                if not 0 <= v < 1 << (8 * size):
                    raise ValueError(f"{stype.name}: value must be in [0, {(1 << 8 * size) - 1}]"
                                     f", got {v}")
                out += v.to_bytes(size, "little")
    return bytes(out)


# ---------------------------------------------------------------------------------------
# Control point commands
# ---------------------------------------------------------------------------------------
def _type_byte(measurement_type: int) -> int:
    if isinstance(measurement_type, bool):
        raise ValueError("measurement_type must be an int 0-63, got bool")
    mt = operator.index(measurement_type)
    if not 0 <= mt <= MEASUREMENT_TYPE_MASK:
        raise ValueError(f"measurement_type must be 0-63, got {mt}")
    return mt


def build_get_measurement_settings(measurement_type: int) -> bytes:
    """CP write asking which settings a measurement type offers: ``01 <type>``."""
    return bytes((CpOpcode.GET_MEASUREMENT_SETTINGS, _type_byte(measurement_type)))


def build_start_measurement(measurement_type: int, settings: PmdSettings = PmdSettings()) -> bytes:
    """CP write starting a stream: ``02 <type> <TLV of the selected settings>``.

    Each present setting must hold exactly one value.  ``factor`` must be empty: the
    device reports it, it is never requested.  Example (Verity ACC, 52 Hz, 16 bit, 8 G,
    3 channels)::

        build_start_measurement(MeasurementType.ACC, PmdSettings(
            sample_rate=(52,), resolution=(16,), range=(8,), channels=(3,)))
        == bytes.fromhex("02 02 00 01 34 00 01 01 10 00 02 01 08 00 04 01 03")

    ``build_start_measurement(MeasurementType.SDK_MODE)`` enables SDK mode (``02 09``).
    """
    mt = _type_byte(measurement_type)
    if settings.factor:
        raise ValueError(f"factor is reported by the device, not requested; got "
                         f"factor={settings.factor!r}")
    for stype in settings.present():
        items = settings.get(stype)
        if len(items) != 1:
            raise ValueError(f"{stype.name}: a start command selects exactly one value, got "
                             f"{list(items)!r}")
    return bytes((CpOpcode.REQUEST_MEASUREMENT_START, mt)) + serialize_settings(settings)


def build_stop_measurement(measurement_type: int) -> bytes:
    """CP write stopping a stream: ``03 <type>``."""
    return bytes((CpOpcode.STOP_MEASUREMENT, _type_byte(measurement_type)))


def build_get_measurement_status() -> bytes:
    """CP write asking which measurements run: ``05``."""
    return bytes((CpOpcode.GET_MEASUREMENT_STATUS,))


# ---------------------------------------------------------------------------------------
# Control point responses and notifications
# ---------------------------------------------------------------------------------------
def _enum_name(enum_cls, value: int) -> str:
    try:
        return enum_cls(value).name
    except ValueError:
        return f"UNKNOWN_0x{value:02x}"


@dataclass(frozen=True)
class PmdCpResponse:
    """A control point response: ``F0 <opcode> <type> <status> <more> <params...>``.

    ``more`` is True when the device will send another response whose params continue
    these (:func:`join_cp_responses`); as in the SDK it is only honoured on success.
    ``measurement_type`` is the byte as sent (bit 7 marks offline recording).
    """

    opcode: int
    measurement_type: int
    status: int
    more: bool
    params: bytes

    @property
    def ok(self) -> bool:
        return self.status == CpStatus.SUCCESS

    @property
    def status_name(self) -> str:
        return _enum_name(CpStatus, self.status)

    @property
    def opcode_name(self) -> str:
        return _enum_name(CpOpcode, self.opcode)

    def raise_for_status(self) -> None:
        """Raise :class:`ControlPointError` unless the status is SUCCESS."""
        if not self.ok:
            raise ControlPointError(self.opcode, self.measurement_type, self.status,
                                    self.status_name)

    def settings(self) -> PmdSettings:
        """The params parsed as a settings TLV (GET_MEASUREMENT_SETTINGS, START responses)."""
        return parse_settings(self.params, base_offset=CP_RESPONSE_HEADER_BYTES)


@dataclass(frozen=True)
class PmdMeasurementStopped:
    """Device-initiated notification ``01 <type> <type>...``: these streams were stopped."""

    measurement_types: tuple[int, ...]


def parse_cp_response(data: BytesLike) -> PmdCpResponse:
    """Parse one control point response notification (first byte 0xF0).

    Raises DecodeError when shorter than 4 bytes or not starting with 0xF0.
    """
    data = _as_bytes(data, "data")
    if len(data) < _CP_RESPONSE_MIN_BYTES:
        raise DecodeError("truncated control point response", offset=0,
                          expected_length=_CP_RESPONSE_MIN_BYTES, received_length=len(data))
    if data[0] != CP_RESPONSE_CODE:
        raise DecodeError(f"control point response must start with 0x{CP_RESPONSE_CODE:02x}, "
                          f"got 0x{data[0]:02x}", offset=0)
    status = data[3]
    more = status == CpStatus.SUCCESS and len(data) > 4 and data[4] != 0
    return PmdCpResponse(opcode=data[1], measurement_type=data[2], status=status, more=more,
                         params=data[CP_RESPONSE_HEADER_BYTES:])


def parse_cp_notification(data: BytesLike) -> PmdCpResponse | PmdMeasurementStopped:
    """Parse any notification of the control point characteristic.

    0xF0: a response to our write (:class:`PmdCpResponse`).  0x01: the device stopped
    streams on its own (:class:`PmdMeasurementStopped`, types masked with 0x3F).
    Anything else raises DecodeError.
    """
    data = _as_bytes(data, "data")
    if not data:
        raise DecodeError("empty control point notification", offset=0,
                          expected_length=1, received_length=0)
    if data[0] == CP_RESPONSE_CODE:
        return parse_cp_response(data)
    if data[0] == CP_NOTIFY_MEASUREMENT_STOPPED:
        return PmdMeasurementStopped(tuple(_maybe_measurement_type(b & MEASUREMENT_TYPE_MASK)
                                           for b in data[1:]))
    raise DecodeError(f"unknown control point notification code 0x{data[0]:02x}", offset=0)


def join_cp_responses(parts: Iterable[PmdCpResponse | BytesLike]) -> PmdCpResponse:
    """Join a response and its continuations (``more`` != 0) into one, params appended.

    Every part but the last must have ``more`` set, the last must not, and all must answer
    the same opcode.  Returns the first part's header with ``more`` False and all params.
    """
    items = [p if isinstance(p, PmdCpResponse) else parse_cp_response(p) for p in parts]
    if not items:
        raise ValueError("join_cp_responses needs at least one response")
    first = items[0]
    for i, part in enumerate(items):
        if part.opcode != first.opcode:
            raise DecodeError(f"continuation {i} answers opcode 0x{part.opcode:02x}, expected "
                              f"0x{first.opcode:02x}", offset=1)
        last = i == len(items) - 1
        if part.more == last:
            what = "last response announces more" if last else \
                f"response {i} ends the sequence but {len(items) - 1 - i} more follow"
            raise DecodeError(what, offset=4)
    return PmdCpResponse(first.opcode, first.measurement_type, first.status, False,
                         b"".join(p.params for p in items))


@dataclass(frozen=True)
class PmdFeatures:
    """The control point's read value ``0F <bitmap1> <bitmap2>``: what the device streams."""

    bitmap1: int
    bitmap2: int

    @property
    def measurement_types(self) -> frozenset[MeasurementType]:
        bitmaps = {1: self.bitmap1, 2: self.bitmap2}
        return frozenset(t for (i, mask, t) in _FEATURE_BITS if bitmaps[i] & mask)

    def supports(self, measurement_type: int) -> bool:
        return measurement_type in self.measurement_types

    @property
    def sdk_mode(self) -> bool:
        return MeasurementType.SDK_MODE in self.measurement_types


def parse_features(data: BytesLike) -> PmdFeatures:
    """Parse the CP read value.  Bytes after the two bitmaps (newer firmware) are ignored.

    Raises DecodeError when shorter than 3 bytes or not starting with 0x0F.
    """
    data = _as_bytes(data, "data")
    if len(data) < 3:
        raise DecodeError("truncated PMD feature read", offset=0, expected_length=3,
                          received_length=len(data))
    if data[0] != FEATURE_READ_CODE:
        raise DecodeError(f"PMD feature read must start with 0x{FEATURE_READ_CODE:02x}, "
                          f"got 0x{data[0]:02x}", offset=0)
    return PmdFeatures(bitmap1=data[1], bitmap2=data[2])


__all__ = [
    "PMD_SERVICE_UUID", "PMD_CP_UUID", "PMD_DATA_UUID", "PMD_EPOCH_UNIX_S", "PMD_HEADER_BYTES",
    "MAX_FRAME_BYTES", "MeasurementType", "CpOpcode", "CpStatus", "SettingType",
    "FRAME_TYPE_0", "FRAME_TYPE_1", "FRAME_TYPE_2", "FRAME_TYPE_COMPRESSED", "FRAME_TYPE_MASK",
    "MEASUREMENT_TYPE_MASK", "CP_RESPONSE_CODE", "CP_NOTIFY_MEASUREMENT_STOPPED",
    "FEATURE_READ_CODE", "SETTING_VALUE_BYTES",
    "device_ns_to_unix_s", "device_ns_to_unix_ns",
    "FrameLayout", "frame_layout", "supported_frame_kinds",
    "PmdFrameHeader", "parse_pmd_header", "DeltaBlock", "decode_delta_payload",
    "pmd_sample_timestamps", "PmdFrame", "decode_pmd_frame", "PmdTimestamper",
    "PmdSettings", "parse_settings", "serialize_settings",
    "build_get_measurement_settings", "build_start_measurement", "build_stop_measurement",
    "build_get_measurement_status",
    "PmdCpResponse", "PmdMeasurementStopped", "parse_cp_response", "parse_cp_notification",
    "join_cp_responses", "PmdFeatures", "parse_features",
]
