"""GENEActiv ``.bin`` files (Activinsights): text, CRLF or LF line ends.

No public spec; the layout below is what the device manual and the open readers agree on.

* A header of ``key:value`` lines in sections (Device Identity, Device Capabilities,
  Configuration Info, Trial Info, Subject Info, Calibration Data, Memory Status): serial,
  firmware, ``Measurement Frequency:85.7 Hz``, ``Time Zone:GMT +01:00``, x/y/z gain and
  offset, ``Number of Pages``.
* Then pages: a ``Recorded Data`` line, 8 ``key:value`` lines (serial, sequence number,
  ``Page Time:YYYY-MM-DD HH:MM:SS:mmm``, unassigned, temperature, battery voltage, device
  status, measurement frequency) and one line of 300 samples x 12 hex digits.
* A sample is 48 bits, big-endian: x, y, z 12-bit two's complement, then light (10 bits),
  button (1), reserved (1).  Acceleration g = (raw * 100 - offset) / gain.

Times: the page time is the device's wall clock at the page's first sample; the device clock
was set to the configuring computer's local time, whose UTC offset the header states.  Sample
j of a page is at ``page time + j / f`` (f the page's stated frequency), converted to UTC with
that offset.  The page times (not index / rate over the file) carry the clock, so pauses
and clock steps between pages stay as they are.
"""
from __future__ import annotations

import calendar
import re
from pathlib import Path

import numpy as np

from ..errors import InputFileError
from ..readers import Damage, Recording
from .common import keep_strictly_increasing

SAMPLES_PER_PAGE = 300
HEX_PER_PAGE = SAMPLES_PER_PAGE * 12

_HEX = np.full(256, 255, dtype=np.uint8)  # ASCII -> nibble, 255 = not a hex digit
for _i, _c in enumerate(b"0123456789ABCDEF"):
    _HEX[_c] = _i
    _HEX[bytes([_c]).lower()[0]] = _i

_PAGE_TIME = re.compile(rb"(\d{4})-(\d{1,2})-(\d{1,2}) (\d{1,2}):(\d{1,2}):(\d{1,2})[:.](\d{1,3})")
_ZONE = re.compile(r"([+-])\s*(\d{1,2})(?::?(\d{2}))?")


def read_geneactiv(path: Path) -> Recording:
    """Read a GENEActiv ``.bin`` file.

    Returns a Recording: ``t`` (n,) Unix s UTC (page time + j / f, shifted by the header's
    time zone), ``acc`` (n, 3) calibrated g, no gyro.  A page whose hex line is damaged is
    skipped (``Damage('corrupt_page')``); a file that ends early (a cut page, or fewer pages
    than the header's ``Number of Pages``) keeps every whole sample before the end and
    reports ``Damage('truncated')``.
    """
    path = Path(path)
    data = _read_bytes(path)
    if not data.startswith(b"Device Identity"):
        if data.startswith(b"GENEA/"):
            raise InputFileError(f"{path}: an original GENEA (2010) binary file, not GENEActiv "
                                 f".bin, which is not supported; export it as canonical CSV")
        raise InputFileError(f"{path}: not a GENEActiv .bin file (it does not start with "
                             f"'Device Identity'); give the .bin file as extracted by GENEActiv PC")
    lines = data.split(b"\n")
    ends_cleanly = data.endswith(b"\n")
    page_starts = [i for i, ln in enumerate(lines) if ln.startswith(b"Recorded Data")]
    if not page_starts:
        raise InputFileError(f"{path}: the GENEActiv file holds a header but no data pages "
                             f"(nothing recorded, or cut in the header); extract it again")
    header = _key_values(lines[:page_starts[0]])
    hdr = _parse_header(header, path)

    times, freqs, hex_lines, kept, bad_pages, partial = [], [], [], [], [], None
    page_ends = page_starts[1:] + [len(lines)]
    for k, (a, b) in enumerate(zip(page_starts, page_ends)):
        last = k == len(page_starts) - 1
        page = _parse_page(lines[a + 1:b], hdr["rate_hz"])
        if page is None and last and not ends_cleanly:
            partial = (0, k)                      # cut inside the last page's header lines
            continue
        if page is None or (len(page[2]) != HEX_PER_PAGE and not last):
            bad_pages.append(k)
            continue
        t0, f, hexline = page
        if len(hexline) != HEX_PER_PAGE:
            # The file ends inside this page: keep its whole samples, report the cut.
            partial = (len(hexline) // 12, k)
            hexline = hexline[:partial[0] * 12]
            if not hexline:
                continue
        times.append(t0)
        freqs.append(f)
        hex_lines.append(hexline)
        kept.append(k)
    if not hex_lines:
        raise InputFileError(f"{path}: no readable data page in the GENEActiv file; "
                             f"extract it again from the device")
    n_found = len(page_starts)
    del data, lines                                   # the hex lines are all still needed

    acc, n_per_page, bad_hex = _decode(hex_lines, hdr["gain"], hdr["offset"])
    page_t = np.asarray(times) - hdr["utc_offset_s"]
    if (n_per_page == SAMPLES_PER_PAGE).all():
        j = np.tile(np.arange(SAMPLES_PER_PAGE), len(hex_lines))
    else:
        j = np.concatenate([np.arange(n) for n in n_per_page])
    t = np.repeat(page_t, n_per_page) + j / np.repeat(np.asarray(freqs), n_per_page)

    # A page with a non-hex character cannot be trusted anywhere along its line.
    bad_pages += [kept[i] for i in np.flatnonzero(bad_hex)]
    page_last = np.cumsum(n_per_page) - 1
    good = ~bad_hex
    damage = _corrupt_page_damage(sorted(bad_pages), np.asarray(kept)[good],
                                  t[page_last[good] - n_per_page[good] + 1], t[page_last[good]])
    if bad_hex.any():
        drop = np.repeat(bad_hex, n_per_page)
        t, acc = t[~drop], acc[~drop]
    damage += _truncation(hdr["n_pages"], n_found, partial, t)
    t, acc, overlap = keep_strictly_increasing(t, acc)
    if overlap:
        damage.append(overlap)
    return Recording(t=t, acc=acc, source=path.name, sample_rate_hz=hdr["rate_hz"],
                     device=hdr["device"], timezone=hdr["timezone"], damage=tuple(damage))


# ------------------------------------------------------------------------- header, pages

def _read_bytes(path: Path) -> bytes:
    if not path.exists():
        raise InputFileError(f"{path}: no such file")
    if path.is_dir():
        raise InputFileError(f"{path} is a folder; give a GENEActiv .bin file")
    try:
        return path.read_bytes()
    except OSError as exc:
        raise InputFileError(f"{path}: cannot read it ({exc.strerror or exc}); check the "
                             f"file's permissions") from None


def _key_values(lines: list) -> dict:
    """First value of each ``key:value`` line, stripped of spaces, CR and NUL padding."""
    out = {}
    for ln in lines:
        key, sep, value = ln.partition(b":")
        if sep:
            k = key.decode("latin-1").strip()
            out.setdefault(k, value.rstrip(b"\r").strip(b" \x00\t").decode("latin-1"))
    return out


def _number(text: str | None, default=None):
    m = re.search(r"[-+]?\d+(?:[.,]\d+)?", text or "")
    return float(m.group(0).replace(",", ".")) if m else default


def _parse_header(h: dict, path: Path) -> dict:
    try:
        gain = np.array([float(h[f"{a} gain"]) for a in "xyz"])
        offset = np.array([float(h[f"{a} offset"]) for a in "xyz"])
    except (KeyError, ValueError):
        raise InputFileError(f"{path}: the GENEActiv header has no usable calibration "
                             f"(x/y/z gain and offset); extract the file again") from None
    if (gain == 0).any():
        raise InputFileError(f"{path}: a calibration gain is 0 in the GENEActiv header; "
                             f"extract the file again")
    rate = _number(h.get("Measurement Frequency"))
    zone = h.get("Time Zone", "")
    m = _ZONE.search(zone)
    device = {
        "maker": "Activinsights",
        "type": h.get("Device Type") or "GENEActiv",
        "model": h.get("Device Model"),
        "serial": h.get("Device Unique Serial Code"),
        "firmware": h.get("Device Firmware Version"),
        "range_g": abs(_number(h.get("Accelerometer Range"), 8.0)),
        "calibration": {"gain": gain.tolist(), "offset": offset.tolist()},
    }
    if h.get("Device Location Code"):
        device["placement"] = h["Device Location Code"]
    drift = re.search(r"clock drift\s*([-+]?\d+(?:[.,]\d+)?)\s*s", h.get("Extract Notes", ""))
    if drift:
        device["clock_drift_at_extract_s"] = float(drift.group(1).replace(",", "."))
    timezone = None
    if m:
        sign = 1 if m.group(1) == "+" else -1
        minutes = sign * (int(m.group(2)) * 60 + int(m.group(3) or 0))
        device["utc_offset_s"] = minutes * 60.0
        device["clock"] = f"device wall clock at {zone.strip()} converted to UTC"
        if minutes % 60 == 0:
            # IANA fixed-offset zones have inverted signs: Etc/GMT-1 is UTC+01:00.
            timezone = "Etc/GMT" if minutes == 0 else f"Etc/GMT{-minutes // 60:+d}"
    else:
        device["utc_offset_s"] = None
        device["clock"] = "device wall clock; the header states no zone, so t is it read as UTC"
    return {"gain": gain, "offset": offset, "rate_hz": rate, "device": device,
            "timezone": timezone, "utc_offset_s": device["utc_offset_s"] or 0.0,
            "n_pages": int(_number(h.get("Number of Pages"), 0) or 0)}


def _parse_page(lines: list, default_rate):
    """(wall-clock time of the first sample in s, frequency Hz, hex bytes) or None."""
    hexline, kv = b"", {}
    for ln in lines:
        ln = ln.rstrip(b"\r")
        key, sep, value = ln.partition(b":")
        if sep:
            kv.setdefault(key.strip(), value.strip())
        elif ln.strip():
            hexline = ln.strip()
    m = _PAGE_TIME.fullmatch(kv.get(b"Page Time", b""))
    if not m:
        return None
    y, mo, d, hh, mi, ss, ms = (int(g) for g in m.groups())
    try:
        t0 = calendar.timegm((y, mo, d, hh, mi, ss)) + ms / 1000.0
    except (ValueError, OverflowError):
        return None
    f = _number(kv.get(b"Measurement Frequency", b"").decode("latin-1"), default_rate)
    if not f or f <= 0:
        return None
    return t0, f, hexline


def _decode(hex_lines: list, gain: np.ndarray, offset: np.ndarray):
    """Hex lines -> (acc (n, 3) g, samples per page, per-page 'has a non-hex digit')."""
    n_per_page = np.array([len(h) // 12 for h in hex_lines])
    nib = _HEX[np.frombuffer(b"".join(hex_lines), dtype=np.uint8)]
    bounds = np.r_[0, np.cumsum(n_per_page * 12)]
    bad = np.maximum.reduceat(nib, bounds[:-1]) == 255 if nib.size else np.zeros(0, bool)
    nib = nib.reshape(-1, 12)
    acc = np.empty((nib.shape[0], 3), dtype=np.float64)
    for axis in range(3):
        # Widen one column at a time: a week of samples as int32 nibbles would be ~3 GB.
        hi, mid, lo = (nib[:, 3 * axis + i].astype(np.int16) for i in range(3))
        v = (hi << 8) | (mid << 4) | lo
        v = np.where(v > 2047, v - 4096, v)           # 12-bit two's complement
        acc[:, axis] = (v * 100.0 - offset[axis]) / gain[axis]
    return acc, n_per_page, bad


# --------------------------------------------------------------------------------- damage

def _truncation(n_stated: int, n_found: int, partial, t: np.ndarray) -> list:
    """A 'truncated' report when the file ends inside a page or before its stated pages."""
    whole = n_found - (1 if partial else 0)
    if not partial and n_stated <= n_found:
        return []
    bits = []
    if partial:
        bits.append(f"the last page is cut after {partial[0]} of {SAMPLES_PER_PAGE} samples "
                    f"(kept)")
    if n_stated > whole:
        bits.append(f"the header states {n_stated} pages, the file holds {whole} whole")
    missing = max(n_stated - whole, 1)
    end = float(t[-1]) if t.size else None
    return [Damage("truncated", missing, end, None, "; ".join(bits))]


def _corrupt_page_damage(bad: list, good: np.ndarray, good_first: np.ndarray,
                         good_last: np.ndarray) -> list:
    """One Damage per run of skipped pages, spanning the hole they leave in ``t``
    (from the last sample of the good page before to the first of the good page after)."""
    out, i = [], 0
    while i < len(bad):
        j = i
        while j + 1 < len(bad) and bad[j + 1] == bad[j] + 1:
            j += 1
        k = int(np.searchsorted(good, bad[i]))        # first good page after the run
        start = float(good_last[k - 1]) if k > 0 else None
        end = float(good_first[k]) if k < good.size else None
        where = f"page {bad[i]}" if i == j else f"pages {bad[i]}-{bad[j]}"
        out.append(Damage("corrupt_page", j - i + 1, start, end,
                          f"{where}: unreadable page header or hex line; skipped"))
        i = j + 1
    return out

