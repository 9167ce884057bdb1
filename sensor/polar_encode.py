"""Polar PMD encoders: the exact inverse of :mod:`sensor.polar`'s decoders.

Pure functions, arrays and ints in, bytes out.  They exist for the virtual band
(:mod:`sensor.virtual_band`) and for tests: whatever they produce, the decoders in
:mod:`sensor.polar` read back to the same values, and the bytes are laid out as Polar
devices lay them out (see ``docs`` in :mod:`sensor.polar` for the format)::

    frame = encode_acc_raw_frame(samples_mg, last_timestamp_ns)      # H10: int16 mG
    frame = encode_acc_delta_frame(samples_mg, last_timestamp_ns)    # Verity: compressed type 1
    decode_pmd_frame(frame, sample_rate_hz=100).samples == samples_mg

Control point answers: :func:`encode_features` (the CP's read value ``0F b1 b2``),
:func:`encode_cp_response` (``F0 op type status more params``),
:func:`encode_settings_response`, :func:`encode_start_response` (with the FACTOR record),
:func:`encode_stop_response`, :func:`encode_measurement_stopped` (``01 <types>``) and
:func:`split_cp_response` (a long answer in several notifications with ``more`` set).

Every encoder raises ValueError (naming the argument and the allowed range) for a value that
cannot be represented on the wire; none silently clips or wraps.
"""
from __future__ import annotations

import operator
import struct
from typing import Iterable, Sequence

import numpy as np

from .polar import (
    _FEATURE_BITS,
    CP_NOTIFY_MEASUREMENT_STOPPED,
    CP_RESPONSE_CODE,
    FEATURE_READ_CODE,
    FRAME_TYPE_0,
    FRAME_TYPE_1,
    FRAME_TYPE_2,
    FRAME_TYPE_COMPRESSED,
    FRAME_TYPE_MASK,
    MAX_DELTA_BITS,
    MAX_FRAME_BYTES,
    MEASUREMENT_TYPE_MASK,
    PMD_HEADER_BYTES,
    CpOpcode,
    CpStatus,
    MeasurementType,
    PmdSettings,
    SettingType,
    serialize_settings,
)

_UINT64_LIMIT = 2 ** 64

#: Bytes per value of the raw ACC frame types (0: int8, 1: int16, 2: int24).
RAW_ACC_VALUE_BYTES = {FRAME_TYPE_0: 1, FRAME_TYPE_1: 2, FRAME_TYPE_2: 3}

#: The smallest delta width the encoder picks by default.  Polar's own decoder mishandles
#: 1-bit deltas and drops 0-bit blocks (see sensor.polar.decode_delta_payload), so a
#: device-like encoder never emits them; pass ``min_delta_bits=0`` to exercise them.
DEFAULT_MIN_DELTA_BITS = 2
MAX_BLOCK_SAMPLES = 255  # the block's count is one byte


# ---------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------
def _int_arg(value, name: str) -> int:
    if isinstance(value, bool):
        raise ValueError(f"{name} must be an int, got bool")
    try:
        return operator.index(value)
    except TypeError:
        raise ValueError(f"{name} must be an int, got {type(value).__name__}") from None


def _samples_array(samples, name: str = "samples", channels: int | None = 3) -> np.ndarray:
    """(n, channels) integer array as int64; rejects floats that are not whole numbers.

    ``channels=None`` accepts any number of columns (at least one).
    """
    a = np.asarray(samples)
    if a.ndim != 2 or (channels is not None and a.shape[1] != channels) or a.shape[1] < 1:
        raise ValueError(f"{name} must have shape (n, {channels or 'channels'}), got {a.shape}")
    if a.shape[0] < 1:
        raise ValueError(f"{name} must hold at least one sample")
    if a.dtype.kind == "f":
        if not np.all(np.isfinite(a)) or not np.array_equal(a, np.round(a)):
            raise ValueError(f"{name} must hold integers (mG), got non-integral floats")
        if np.any(np.abs(a) >= 2.0 ** 62):
            raise ValueError(f"{name}: value out of range")
        a = a.astype(np.int64)
    elif a.dtype.kind in "iu":
        if a.dtype == np.uint64 and a.size and int(a.max()) >= 2 ** 63:
            raise ValueError(f"{name}: value out of range")
        a = a.astype(np.int64)
    elif a.dtype.kind == "O":
        try:
            a = np.array([[operator.index(v) for v in row] for row in a.tolist()],
                         dtype=np.int64).reshape(a.shape)
        except (TypeError, OverflowError):
            raise ValueError(f"{name} must hold integers") from None
    else:
        raise ValueError(f"{name} must hold integers, got dtype {a.dtype}")
    return a


def _check_fits(a: np.ndarray, bits: int, name: str) -> None:
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    bad = (a < lo) | (a > hi)
    if np.any(bad):
        i = np.argwhere(bad)[0]
        raise ValueError(f"{name}[{i[0]}, {i[1]}] = {int(a[tuple(i)])} does not fit {bits}-bit "
                         f"signed [{lo}, {hi}]")


def _le_bytes(a: np.ndarray, width: int) -> bytes:
    """Signed ints (any shape, already range-checked) -> little-endian ``width``-byte values."""
    u = a.reshape(-1).astype(np.int64) & ((1 << (8 * width)) - 1)
    shifts = 8 * np.arange(width, dtype=np.int64)
    return ((u[:, None] >> shifts) & 0xFF).astype(np.uint8).tobytes()


def encode_pmd_header(measurement_type: int, timestamp_ns: int, frame_type: int,
                      compressed: bool = False) -> bytes:
    """The 10-byte header: type, uint64 LE timestamp of the LAST sample, frame type byte."""
    mt = _int_arg(measurement_type, "measurement_type")
    if not 0 <= mt <= MEASUREMENT_TYPE_MASK:
        raise ValueError(f"measurement_type must be 0-63, got {mt}")
    ts = _int_arg(timestamp_ns, "timestamp_ns")
    if not 0 <= ts < _UINT64_LIMIT:
        raise ValueError(f"timestamp_ns must be in [0, 2**64), got {ts}")
    ft = _int_arg(frame_type, "frame_type")
    if not 0 <= ft <= FRAME_TYPE_MASK:
        raise ValueError(f"frame_type must be 0-127, got {ft}")
    return bytes((mt,)) + ts.to_bytes(8, "little") + bytes(
        (ft | (FRAME_TYPE_COMPRESSED if compressed else 0),))


def _check_frame_size(frame: bytes, max_bytes: int) -> bytes:
    if len(frame) > max_bytes:
        raise ValueError(f"frame of {len(frame)} bytes exceeds the {max_bytes}-byte maximum; "
                         f"send fewer samples per frame")
    return frame


# ---------------------------------------------------------------------------------------
# Raw frames
# ---------------------------------------------------------------------------------------
def encode_acc_raw_frame(samples_mg, last_timestamp_ns: int, *, frame_type: int = FRAME_TYPE_1,
                         max_bytes: int = MAX_FRAME_BYTES) -> bytes:
    """An uncompressed ACC frame, as a Polar H10 sends (frame type 0x01: int16 LE mG).

    Parameters
    ----------
    samples_mg : array-like, shape (n, 3), integers
        x, y, z in mG, oldest first.
    last_timestamp_ns : int
        Device ns since 2000-01-01 of the LAST sample (the frame's timestamp).
    frame_type : 0, 1 or 2
        int8, int16 (default, the H10's) or int24 values.
    max_bytes : int
        Largest frame allowed (512, an ATT value); ValueError beyond.
    """
    ft = _int_arg(frame_type, "frame_type")
    if ft not in RAW_ACC_VALUE_BYTES:
        raise ValueError(f"raw ACC frame_type must be 0, 1 or 2, got {ft}")
    width = RAW_ACC_VALUE_BYTES[ft]
    a = _samples_array(samples_mg, "samples_mg")
    _check_fits(a, 8 * width, "samples_mg")
    frame = encode_pmd_header(MeasurementType.ACC, last_timestamp_ns, ft) + _le_bytes(a, width)
    return _check_frame_size(frame, max_bytes)


# ---------------------------------------------------------------------------------------
# Delta-compressed frames
# ---------------------------------------------------------------------------------------
def delta_bits_needed(deltas) -> int:
    """Smallest two's complement width holding every value (0 when all are 0)."""
    d = np.asarray(deltas, dtype=np.int64)
    if d.size == 0 or not np.any(d):
        return 0
    lo, hi = int(d.min()), int(d.max())
    # v >= 0 needs bit_length(v) + 1 bits, v < 0 needs bit_length(-v - 1) + 1
    return max(hi.bit_length() if hi > 0 else 0, (-lo - 1).bit_length() if lo < 0 else 0) + 1


def _pack_block(deltas: np.ndarray, bits: int) -> bytes:
    """Pack (count, channels) deltas LSB-first, ``bits`` per value, channel by channel."""
    if bits == 0 or deltas.size == 0:
        return b""
    u = deltas.reshape(-1).astype(np.int64) & ((1 << bits) - 1)
    bitarr = ((u[:, None] >> np.arange(bits, dtype=np.int64)) & 1).astype(np.uint8)
    return np.packbits(bitarr.reshape(-1), bitorder="little").tobytes()


def _wrap32(v: np.ndarray) -> np.ndarray:
    return (v + 2 ** 31) % 2 ** 32 - 2 ** 31


def encode_delta_payload(raw, resolution_bits: int, *,
                         blocks: Sequence[tuple[int, int]] | None = None,
                         min_delta_bits: int = DEFAULT_MIN_DELTA_BITS,
                         max_block_samples: int = MAX_BLOCK_SAMPLES) -> bytes:
    """Inverse of :func:`sensor.polar.decode_delta_payload`.

    ``raw`` (n, channels) integers: the first row becomes the reference sample
    (``resolution_bits`` wide, signed LE), the differences between rows the deltas (taken
    modulo 2**32, as the decoder sums in 32-bit ints).  Blocks are either given
    (``blocks=[(delta_bits, count), ...]`` covering the n - 1 deltas exactly) or chosen: runs
    of at most ``max_block_samples`` deltas, each with the smallest width that holds them
    and at least ``min_delta_bits``.
    """
    res = _int_arg(resolution_bits, "resolution_bits")
    if res % 8 or not 8 <= res <= 32:
        raise ValueError(f"resolution_bits must be 8, 16, 24 or 32, got {res}")
    a = _samples_array(raw, "raw", channels=None)
    _check_fits(a, 32, "raw")
    _check_fits(a[:1], res, "raw reference sample")
    width = res // 8
    out = bytearray(_le_bytes(a[0], width))
    deltas = _wrap32(np.diff(a, axis=0))
    n = deltas.shape[0]
    if blocks is None:
        mb = _int_arg(max_block_samples, "max_block_samples")
        if not 1 <= mb <= MAX_BLOCK_SAMPLES:
            raise ValueError(f"max_block_samples must be 1-255, got {mb}")
        lo_bits = _int_arg(min_delta_bits, "min_delta_bits")
        if not 0 <= lo_bits <= MAX_DELTA_BITS:
            raise ValueError(f"min_delta_bits must be 0-32, got {lo_bits}")
        plan = []
        for s in range(0, n, mb):
            chunk = deltas[s:s + mb]
            plan.append((max(lo_bits, delta_bits_needed(chunk)), chunk.shape[0]))
    else:
        plan = [(_int_arg(b, "delta_bits"), _int_arg(c, "count")) for b, c in blocks]
        if sum(c for _, c in plan) != n:
            raise ValueError(f"blocks cover {sum(c for _, c in plan)} deltas, the samples "
                             f"have {n}")
    pos = 0
    for bits, count in plan:
        if not 0 <= bits <= MAX_DELTA_BITS:
            raise ValueError(f"delta_bits must be 0-32, got {bits}")
        if not 0 <= count <= MAX_BLOCK_SAMPLES:
            raise ValueError(f"a block holds 0-255 samples, got {count}")
        chunk = deltas[pos:pos + count]
        if bits == 0:
            if np.any(chunk):
                raise ValueError("a 0-bit delta block can only hold zero deltas")
        elif bits < 32:
            _check_fits(chunk, bits, "delta")
        out += bytes((bits, count)) + _pack_block(chunk, bits)
        pos += count
    return bytes(out)


def encode_acc_delta_frame(samples, last_timestamp_ns: int, *, frame_type: int = FRAME_TYPE_1,
                           resolution_bits: int = 16,
                           blocks: Sequence[tuple[int, int]] | None = None,
                           min_delta_bits: int = DEFAULT_MIN_DELTA_BITS,
                           max_block_samples: int = MAX_BLOCK_SAMPLES,
                           max_bytes: int = MAX_FRAME_BYTES) -> bytes:
    """A delta-compressed ACC frame, as a Verity Sense sends.

    ``samples`` are the integers on the wire: for compressed type 1 (default) these are mG
    (the decoder returns them unchanged when the factor is 1); for compressed type 0 they
    are counts of the device's factor (decoded as trunc(raw x factor x 1000) mG).
    See :func:`encode_delta_payload` for ``blocks``, ``min_delta_bits`` and
    ``max_block_samples``.
    """
    ft = _int_arg(frame_type, "frame_type")
    if ft not in (FRAME_TYPE_0, FRAME_TYPE_1):
        raise ValueError(f"compressed ACC frame_type must be 0 or 1, got {ft}")
    payload = encode_delta_payload(samples, resolution_bits, blocks=blocks,
                                   min_delta_bits=min_delta_bits,
                                   max_block_samples=max_block_samples)
    frame = encode_pmd_header(MeasurementType.ACC, last_timestamp_ns, ft, compressed=True) + payload
    return _check_frame_size(frame, max_bytes)


def max_raw_samples_per_frame(mtu: int, frame_type: int = FRAME_TYPE_1, channels: int = 3) -> int:
    """How many raw samples fit one notification at ``mtu`` (ATT header: 3 bytes)."""
    value = min(_int_arg(mtu, "mtu") - 3, MAX_FRAME_BYTES)
    n = (value - PMD_HEADER_BYTES) // (channels * RAW_ACC_VALUE_BYTES[frame_type])
    if n < 1:
        raise ValueError(f"MTU {mtu} is too small for one sample")
    return n


# ---------------------------------------------------------------------------------------
# Control point
# ---------------------------------------------------------------------------------------
def _byte_arg(value, name: str) -> int:
    v = _int_arg(value, name)
    if not 0 <= v <= 0xFF:
        raise ValueError(f"{name} must be 0-255, got {v}")
    return v


def encode_features(measurement_types: Iterable[int] = (MeasurementType.ACC,)) -> bytes:
    """The control point's read value ``0F <bitmap1> <bitmap2>`` for these types.

    Types without a feature bit (OFFLINE_TEMP) raise ValueError.
    """
    maps = {1: 0, 2: 0}
    for mt in measurement_types:
        hits = [(i, mask) for (i, mask, t) in _FEATURE_BITS if t == mt]
        if not hits:
            raise ValueError(f"measurement type {mt!r} has no feature bit")
        i, mask = hits[0]
        maps[i] |= mask
    return bytes((FEATURE_READ_CODE, maps[1], maps[2]))


def encode_cp_response(opcode: int, measurement_type: int, status: int = CpStatus.SUCCESS,
                       params: bytes = b"", *, more: bool = False) -> bytes:
    """One control point response: ``F0 <opcode> <type> <status> <more> <params...>``."""
    return bytes((CP_RESPONSE_CODE, _byte_arg(opcode, "opcode"),
                  _byte_arg(measurement_type, "measurement_type"), _byte_arg(status, "status"),
                  1 if more else 0)) + bytes(params)


def split_cp_response(opcode: int, measurement_type: int, params: bytes, max_params: int,
                      status: int = CpStatus.SUCCESS) -> list[bytes]:
    """A response whose params exceed ``max_params`` bytes, as several notifications.

    Every part but the last has ``more`` = 1; :func:`sensor.polar.join_cp_responses` joins
    them back.  At least one part is returned (for empty params, one without params).
    """
    mp = _int_arg(max_params, "max_params")
    if mp < 1:
        raise ValueError(f"max_params must be >= 1, got {mp}")
    params = bytes(params)
    chunks = [params[i:i + mp] for i in range(0, len(params), mp)] or [b""]
    return [encode_cp_response(opcode, measurement_type, status, c, more=i < len(chunks) - 1)
            for i, c in enumerate(chunks)]


def encode_settings_response(measurement_type: int, settings: PmdSettings,
                             status: int = CpStatus.SUCCESS) -> bytes:
    """Answer to GET_MEASUREMENT_SETTINGS: ``F0 01 <type> <status> 00`` + the settings TLV."""
    params = serialize_settings(settings) if status == CpStatus.SUCCESS else b""
    return encode_cp_response(CpOpcode.GET_MEASUREMENT_SETTINGS, measurement_type, status, params)


def encode_start_response(measurement_type: int, status: int = CpStatus.SUCCESS,
                          factor: float | None = 1.0) -> bytes:
    """Answer to REQUEST_MEASUREMENT_START; on success with a FACTOR record ``05 01 <f32>``.

    ``factor=None`` leaves the record out (older firmware sends none).
    """
    params = b""
    if status == CpStatus.SUCCESS and factor is not None:
        params = bytes((SettingType.FACTOR, 1)) + struct.pack("<f", float(factor))
    return encode_cp_response(CpOpcode.REQUEST_MEASUREMENT_START, measurement_type, status, params)


def encode_stop_response(measurement_type: int, status: int = CpStatus.SUCCESS) -> bytes:
    """Answer to STOP_MEASUREMENT: ``F0 03 <type> <status> 00``."""
    return encode_cp_response(CpOpcode.STOP_MEASUREMENT, measurement_type, status)


def encode_measurement_stopped(measurement_types: Iterable[int]) -> bytes:
    """Device-initiated notification ``01 <type> <type>...``: these streams stopped."""
    types = [_byte_arg(t, "measurement_type") for t in measurement_types]
    for t in types:
        if t > MEASUREMENT_TYPE_MASK:
            raise ValueError(f"measurement_type must be 0-63, got {t}")
    return bytes((CP_NOTIFY_MEASUREMENT_STOPPED, *types))


__all__ = [
    "RAW_ACC_VALUE_BYTES", "DEFAULT_MIN_DELTA_BITS", "MAX_BLOCK_SAMPLES",
    "encode_pmd_header", "encode_acc_raw_frame", "delta_bits_needed", "encode_delta_payload",
    "encode_acc_delta_frame", "max_raw_samples_per_frame",
    "encode_features", "encode_cp_response", "split_cp_response", "encode_settings_response",
    "encode_start_response", "encode_stop_response", "encode_measurement_stopped",
]
