"""Axivity AX3 / AX6 ``.cwa`` files (the open Open Movement format, UK Biobank's device).

Layout (all little-endian): a header block starting ``MD`` (1024 bytes: hardware type @4,
device id @5 (+ upper word @11), session id @7, gyro range code @35, rate code @36,
firmware @41), then 512-byte ``AX`` data blocks:

====  ====  =================================================================
@     size  field
====  ====  =================================================================
0     2     ``AX``
2     2     packet length, 508
4     2     top bit set: 15-bit fraction of a second of the timestamp
6     4     session id
10    4     sequence id (0-based, +1 per block)
14    4     RTC timestamp, packed ``YYYYYYMM MMDDDDDh hhhhmmmm mmssssss`` (year - 2000)
18    2     ``AAAGGGLLLLLLLLLL``: accel scale 1/2^(8+A) g, gyro range 8000/2^G dps, light
24    1     rate code: fs = 3200 / (1 << (15 - (code & 15))), range = 16 >> (code >> 6) g
25    1     axes (high nibble: 3 accel, 6 gyro+accel, 9 +mag) / packing (low nibble:
            0 = 32-bit packed 3x10 bit + exponent, 2 = int16 per axis)
26    2     timestamp offset: the sample index in this block at which the RTC was read
28    2     sample count in this block (120 packed, 80 int16 xyz, 40 gyro+accel)
30    480   samples
510   2     checksum: the 16-bit word sum of the whole block is 0
====  ====  =================================================================

Times: each block says when one of its samples was taken (RTC + fraction, at sample index
``timestamp offset``).  The device rate drifts (94-104 Hz for "100 Hz"), so sample times are
interpolated between consecutive block anchors, never computed as index / nominal rate over
the file.  The clock is the wall clock of the computer that configured the device; the
file does not state its zone (the header's zone field is unused, -1), so ``t`` is that wall
clock read as UTC unless the header states an offset.
"""
from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote_plus

import numpy as np

from ..errors import InputFileError
from ..readers import Damage, Recording
from .common import keep_strictly_increasing

BLOCK = 512
_MAX_SAMPLES = 480  # bytes of sample data per block

_BLOCK_DTYPE = np.dtype({
    "names": ["magic", "length", "fraction", "session", "sequence", "rtc", "scale_light",
              "rate", "axes_bps", "ts_offset", "count"],
    "formats": ["S2", "<u2", "<u2", "<u4", "<u4", "<u4", "<u2", "u1", "u1", "<i2", "<u2"],
    "offsets": [0, 2, 4, 6, 10, 14, 18, 24, 25, 26, 28],
    "itemsize": BLOCK,
})


def read_axivity(path: Path) -> Recording:
    """Read an AX3 (packed or int16) or AX6 (gyro + accel) ``.cwa`` file.

    Returns a Recording: ``t`` (n,) Unix s (block anchors interpolated per sample),
    ``acc`` (n, 3) g, ``gyro`` (n, 3) deg/s for 6-axis files, else None.  Blocks with a bad
    checksum or header are skipped and reported as ``Damage('corrupt_block')`` (erased
    all-0x00/0xFF blocks as ``'blank_block'``); a file cut inside a block keeps the whole
    blocks before the cut and reports ``Damage('truncated')``.
    """
    path = Path(path)
    raw = _read_bytes(path)
    hdr = _parse_header(raw, path)
    start = hdr["data_offset"]
    n_blocks = (raw.size - start) // BLOCK
    tail = (raw.size - start) % BLOCK
    if n_blocks == 0:
        raise InputFileError(f"{path}: the .cwa file holds a header but no data blocks "
                             f"(nothing was recorded, or the download was cut); download it again")
    body = raw[start:start + n_blocks * BLOCK]
    blk = body.view(_BLOCK_DTYPE)
    rows = body.reshape(n_blocks, BLOCK)

    # Word-sum checksum over the whole block, in wide integers then folded to 16 bits.
    wsum = rows.view("<u2").sum(axis=1, dtype=np.uint64) & 0xFFFF
    ok = (wsum == 0) & (blk["magic"] == b"AX") & (blk["length"] == 508)
    if not ok.any():
        raise InputFileError(f"{path}: no valid 'AX' data block (all {n_blocks} fail the "
                             f"checksum); the file is damaged or not a .cwa recording")
    # The recording's format is what most good blocks say (one odd block must not decide).
    fmt = blk["rate"][ok].astype(np.int64) << 8 | blk["axes_bps"][ok]
    values, counts = np.unique(fmt, return_counts=True)
    rate_code, axes_bps = divmod(int(values[np.argmax(counts)]), 256)
    channels, packing = axes_bps >> 4, axes_bps & 0x0F
    if packing == 0 and channels == 3:
        per_block, bytes_per_sample = 120, 4
    elif packing == 2 and channels in (3, 6, 9):
        bytes_per_sample = 2 * channels
        per_block = _MAX_SAMPLES // bytes_per_sample
    else:
        raise InputFileError(f"{path}: unsupported .cwa sample packing 0x{axes_bps:02x} "
                             f"(known: 0x30 packed, 0x32/0x62/0x92 int16); convert it with OMGUI")
    # A block in another format (or with an impossible count or clock) cannot be placed.
    rtc, rtc_ok = _rtc_seconds(blk["rtc"])
    ok &= (blk["rate"] == rate_code) & (blk["axes_bps"] == axes_bps)
    ok &= (blk["count"] >= 1) & (blk["count"] <= per_block) & rtc_ok

    vi = np.flatnonzero(ok)
    data = rows[vi, 30:30 + per_block * bytes_per_sample]   # fancy index -> contiguous copy
    count = blk["count"][vi].astype(np.int64)
    scale_light = blk["scale_light"][vi]
    if packing == 0:
        acc, gyro = _unpack_packed(data.view("<u4")), None
    else:
        acc, gyro = _unpack_int16(data.view("<i2").reshape(len(vi), per_block, channels),
                                  scale_light, hdr["gyro_range_dps"])

    freq = 3200.0 / (1 << (15 - (rate_code & 0x0F))) if rate_code else None
    t = _sample_times(blk[vi], rtc[vi], vi, count, per_block, freq)

    # Drop the unused tail of partly filled blocks (the last block of a recording).
    keep = (np.arange(per_block)[None, :] < count[:, None]).ravel()
    if not keep.all():
        acc = acc[keep]
        gyro = gyro[keep] if gyro is not None else None

    damage = _invalid_block_damage(rows, ok, vi, count, t, per_block, freq)
    if tail:
        damage.append(Damage("truncated", 1, float(t[-1]) if t.size else None, None,
                             f"file ends {tail} bytes into block {n_blocks}: that partial "
                             f"block is dropped"))
    t, acc, gyro, overlap = keep_strictly_increasing(t, acc, gyro)
    if overlap:
        damage.append(overlap)

    return Recording(t=t, acc=acc, gyro=gyro, source=path.name,
                     sample_rate_hz=hdr["rate_hz"], device=hdr["device"],
                     timezone=hdr["timezone"], damage=tuple(damage))


# --------------------------------------------------------------------------------- header

def _read_bytes(path: Path) -> np.ndarray:
    if not path.exists():
        raise InputFileError(f"{path}: no such file")
    if path.is_dir():
        raise InputFileError(f"{path} is a folder; give a .cwa recording file")
    try:
        return np.fromfile(path, dtype=np.uint8)
    except OSError as exc:
        raise InputFileError(f"{path}: cannot read it ({exc.strerror or exc}); check the "
                             f"file's permissions") from None


def _parse_header(raw: np.ndarray, path: Path) -> dict:
    head = raw[:1024].tobytes()
    if head[:2] != b"MD":
        raise InputFileError(f"{path}: not an Axivity .cwa file (it does not start with the "
                             f"'MD' header); give the .cwa file as downloaded from the device")
    if len(head) < 64:
        raise InputFileError(f"{path}: the .cwa file is cut inside its header "
                             f"({len(head)} bytes); download it again")
    u16 = lambda o: int.from_bytes(head[o:o + 2], "little")  # noqa: E731
    packet_length = u16(2)
    # Header length rounded up to whole sectors; 1020 + 4 = 1024 on every known device.
    data_offset = -(-(packet_length + 4) // BLOCK) * BLOCK if 508 <= packet_length < 4096 else 1024
    hw = head[4]
    dev_type = {0x00: "AX3", 0xFF: "AX3", 0x17: "AX3", 0x64: "AX6"}.get(hw, f"0x{hw:02x}")
    serial = u16(5)
    if len(head) >= 13 and u16(11) != 0xFFFF:
        serial |= u16(11) << 16
    rate_code = head[36] if len(head) > 36 else 0
    sensor_config = head[35] if len(head) > 35 else 0
    # sensorConfig: 0x00/0xFF accel only, else low nibble n = gyro range 8000 / 2^n dps.
    gyro_range = 8000.0 / (1 << (sensor_config & 0x0F)) if sensor_config not in (0, 0xFF) \
        and sensor_config & 0x0F else None
    device = {
        "maker": "Axivity",
        "type": dev_type,
        "serial": str(serial),
        "session_id": int.from_bytes(head[7:11], "little"),
        "firmware": str(head[41]) if len(head) > 41 else None,
        "range_g": float(16 >> (rate_code >> 6)) if rate_code else None,
    }
    if gyro_range:
        device["gyro_range_dps"] = gyro_range
    meta = _annotations(head[64:512])
    if meta.get("_p"):
        device["placement"] = meta["_p"]
    tz_minutes = int.from_bytes(head[42:44], "little", signed=True) if len(head) >= 44 else -1
    timezone = None
    if tz_minutes == -1:
        device["utc_offset_s"] = None
        device["clock"] = ("device wall clock as set by the configuring computer; the file "
                           "states no zone, so t is that wall clock read as UTC")
    else:
        device["utc_offset_s"] = tz_minutes * 60.0
        device["clock"] = "device wall clock converted to UTC with the header's offset"
        if tz_minutes % 60 == 0 and abs(tz_minutes) <= 14 * 60:
            # Etc/GMT signs are inverted: Etc/GMT-1 is UTC+01:00.
            h = -tz_minutes // 60
            timezone = "Etc/GMT" if h == 0 else f"Etc/GMT{h:+d}"
    return {
        "data_offset": data_offset,
        "rate_hz": 3200.0 / (1 << (15 - (rate_code & 0x0F))) if rate_code else None,
        "gyro_range_dps": gyro_range,
        "device": device,
        "timezone": timezone,
        "tz_minutes": tz_minutes,
    }


def _annotations(block: bytes) -> dict:
    """The header's URL-encoded ``name=value&...`` notes (e.g. ``_p`` = body location)."""
    text = block.rstrip(b"\x00\xff ").decode("ascii", errors="replace")
    out = {}
    for pair in text.split("&"):
        name, _, value = pair.partition("=")
        if name:
            out[unquote_plus(name)] = unquote_plus(value)
    return out


# -------------------------------------------------------------------------------- samples

def _unpack_packed(words: np.ndarray) -> np.ndarray:
    """(nblocks, 120) uint32 ``eezzzzzz zzzzyyyy yyyyyyxx xxxxxxxx`` -> (n, 3) g.

    Each axis is a 10-bit two's-complement value shifted left by the 2-bit exponent; 256 = 1 g.
    """
    w = words.reshape(-1)
    exponent = (w >> 30).astype(np.int32)
    out = np.empty((w.size, 3), dtype=np.float64)
    for axis, shift in enumerate((0, 10, 20)):
        v = ((w >> shift) & 0x3FF).astype(np.int32)
        v = ((v ^ 0x200) - 0x200) << exponent
        out[:, axis] = v
    out /= 256.0
    return out


def _unpack_int16(samples: np.ndarray, scale_light: np.ndarray, header_gyro_dps):
    """(nblocks, per_block, channels) int16 -> acc (n, 3) g and gyro (n, 3) deg/s or None.

    Channel order is gyro xyz, accel xyz[, mag xyz] when there are 6 or 9 channels.
    Scales are per block: accel 1/2^(8+A) g; gyro range 8000/2^G dps over 32768 counts, with
    the header's range when a block leaves G at 0.
    """
    nb, per_block, channels = samples.shape
    a_exp = ((scale_light >> 13) & 0x07).astype(np.int64)
    acc_scale = np.repeat(1.0 / np.exp2(8 + a_exp), per_block)[:, None]
    a0 = 0 if channels == 3 else 3
    flat = samples.reshape(nb * per_block, channels)
    acc = flat[:, a0:a0 + 3] * acc_scale
    if channels == 3:
        return acc, None
    g_code = ((scale_light >> 10) & 0x07).astype(np.int64)
    default = header_gyro_dps or 2000.0
    g_range = np.where(g_code > 0, 8000.0 / np.exp2(g_code), default)
    gyro = flat[:, 0:3] * np.repeat(g_range / 32768.0, per_block)[:, None]
    return acc, gyro


# ---------------------------------------------------------------------------------- times

def _rtc_seconds(packed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Packed RTC values -> (seconds since 1970 of the wall clock, valid mask)."""
    p = packed.astype(np.int64)
    year = ((p >> 26) & 0x3F) + 2000
    month, day = (p >> 22) & 0x0F, (p >> 17) & 0x1F
    hour, minute, sec = (p >> 12) & 0x1F, (p >> 6) & 0x3F, p & 0x3F
    valid = (p != 0) & (month >= 1) & (month <= 12) & (day >= 1) & (hour < 24) & \
        (minute < 60) & (sec < 60)
    months = (year - 1970) * 12 + np.clip(month, 1, 12) - 1
    days = months.astype("datetime64[M]").astype("datetime64[D]").astype(np.int64) + day - 1
    return days * 86400 + hour * 3600 + minute * 60 + sec, valid


def _sample_times(blk: np.ndarray, rtc: np.ndarray, vi: np.ndarray, count: np.ndarray,
                  per_block: int, freq: float | None) -> np.ndarray:
    """Per-sample times of the valid blocks, in block order, unused block tails excluded.

    Each block gives an anchor: the time ``rtc + fraction`` of the sample at position
    ``block * per_block + offset``.  Sample times are linear between consecutive anchors
    and extrapolated with the nearest pair's slope at a segment's ends.  A segment ends
    where the sequence ids do not follow the file order, the session changes, or the implied
    rate between two anchors is implausible (a clock jump): each segment is timed alone, so
    a jump stays a gap instead of being spread over the samples.
    """
    offset = blk["ts_offset"].astype(np.float64)
    frac = blk["fraction"].astype(np.int64)
    if freq is None:
        # Very old firmware (rate code 0) stored the rate in the offset field.
        freq_b = np.maximum(offset, 1.0)
        offset = np.zeros_like(offset)
        freq = float(np.median(freq_b))
    has_frac = (frac & 0x8000) != 0
    f16 = (frac & 0x7FFF) << 1                       # fraction of a second in 1/65536
    # The firmware shifted the offset by the whole samples that the fraction spans (for old
    # readers); with the true fraction added to the time that shift is undone.
    offset = offset + np.where(has_frac, (f16 * int(freq)) >> 16, 0)
    anchor_t = rtc + np.where(has_frac, f16 / 65536.0, 0.0)
    anchor_p = vi * float(per_block) + offset

    seq = blk["sequence"].astype(np.int64)
    session = blk["session"]
    dp, dt = np.diff(anchor_p), np.diff(anchor_t)
    # Without a fraction, blocks shorter than 1 s often see the same whole-second tick as
    # the block before (same time, same position): a repeated anchor, not a clock jump.
    repeat = (dt == 0) & (np.abs(dp) < per_block)
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.where(dt > 0, dp / dt, np.nan)
    jump = ~repeat & ~((rate > 0.5 * freq) & (rate < 2.0 * freq))
    brk = (np.diff(seq) != np.diff(vi)) | (np.diff(session) != 0) | jump
    seg_start = np.flatnonzero(np.r_[True, brk])
    seg_end = np.r_[seg_start[1:], vi.size]
    use = np.r_[True, ~repeat]

    first = np.r_[0, np.cumsum(count)]                # first sample of each valid block
    t = np.empty(int(first[-1]), dtype=np.float64)
    for a, b in zip(seg_start, seg_end):
        pos = _positions(vi[a:b], count[a:b], per_block)
        keep = use[a:b].copy()
        keep[0] = True
        ap, at = anchor_p[a:b][keep], anchor_t[a:b][keep]
        if ap.size >= 2:
            lo_slope = (at[1] - at[0]) / (ap[1] - ap[0])
            hi_slope = (at[-1] - at[-2]) / (ap[-1] - ap[-2])
        else:
            lo_slope = hi_slope = 1.0 / freq
        ts = np.interp(pos, ap, at)
        lo, hi = pos < ap[0], pos > ap[-1]
        ts[lo] = at[0] + (pos[lo] - ap[0]) * lo_slope
        ts[hi] = at[-1] + (pos[hi] - ap[-1]) * hi_slope
        t[first[a]:first[b]] = ts
    return t


def _positions(blocks: np.ndarray, count: np.ndarray, per_block: int) -> np.ndarray:
    """Sample positions (block * per_block + j, j < count) without a Python loop per block."""
    pos = (blocks[:, None] * per_block + np.arange(per_block)[None, :]).astype(np.float64)
    if (count == per_block).all():
        return pos.ravel()
    return pos[np.arange(per_block)[None, :] < count[:, None]]


# --------------------------------------------------------------------------------- damage

def _invalid_block_damage(rows, ok, vi, count, t, per_block, freq) -> list:
    """One Damage per run of skipped blocks, spanning the hole they leave in ``t``."""
    bad = np.flatnonzero(~ok)
    if bad.size == 0:
        return []
    words = rows[bad].view("<u2")
    blank = (words == 0xFFFF).all(axis=1) | (words == 0).all(axis=1)
    kind = np.where(blank, "blank_block", "corrupt_block")
    # Runs of consecutive bad blocks of one kind.
    new_run = np.r_[True, (np.diff(bad) != 1) | (kind[1:] != kind[:-1])]
    starts = np.flatnonzero(new_run)
    ends = np.r_[starts[1:], bad.size]
    first = np.r_[0, np.cumsum(count)]
    # The measured sample period, not the nominal one, to place a run at either end.
    step = (t[-1] - t[0]) / (t.size - 1) if t.size > 1 else (1.0 / freq if freq else 0.01)
    out = []
    for a, b in zip(starts, ends):
        blk0, blk1, n = int(bad[a]), int(bad[b - 1]), int(b - a)
        k = int(np.searchsorted(vi, blk0))            # first valid block after the run
        before = float(t[first[k] - 1]) if k > 0 and t.size else None
        after = float(t[first[k]]) if k < vi.size and first[k] < t.size else None
        span = n * per_block * step
        start_s = before if before is not None else (after - span if after is not None else None)
        end_s = after if after is not None else (before + span if before is not None else None)
        where = f"block {blk0}" if n == 1 else f"blocks {blk0}-{blk1}"
        why = "erased (all 0x00 or 0xFF)" if kind[a] == "blank_block" else \
            "bad checksum, header or format"
        out.append(Damage(str(kind[a]), n, start_s, end_s, f"{where}: {why}; skipped"))
    return out

