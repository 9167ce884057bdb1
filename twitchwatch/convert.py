"""``twitchwatch convert`` and ``twitchwatch import``: recordings between formats and into
the data directory."""
from __future__ import annotations

import gzip
import hashlib
import io
import logging
from pathlib import Path

import numpy as np

from .atomic import write_bytes
from .errors import InputFileError, TwitchwatchError
from .nights import night_bounds_utc, night_date, night_id
from .readers import Recording, read_recording

log = logging.getLogger(__name__)

OUTPUT_FORMATS = ".night, .csv, .csv.gz, .edf"


def canonical_csv_bytes(rec: Recording, *, gzipped: bool = False) -> bytes:
    """The canonical CSV of a recording (time to the microsecond, values to 1e-6)."""
    cols = [rec.t[:, None], rec.acc] + ([rec.gyro] if rec.gyro is not None else [])
    header = "time_s,ax_g,ay_g,az_g" + (",gx_dps,gy_dps,gz_dps" if rec.gyro is not None else "")
    buf = io.StringIO()
    buf.write(header + "\n")
    fmt = ["%.6f"] + ["%.6f"] * (3 if rec.gyro is None else 6)
    np.savetxt(buf, np.hstack(cols), fmt=fmt, delimiter=",")
    data = buf.getvalue().encode()
    return gzip.compress(data, mtime=0) if gzipped else data


def convert(src: Path, dst: Path, *, timezone: str, units: str = "g", force: bool = False) -> Recording:
    rec = read_recording(src, units=units)
    _refuse_empty(rec, src)
    name = dst.name.lower()
    if name.endswith(".night"):
        from .store import write_recording

        write_recording(dst, rec, timezone=rec.timezone or timezone, force=force)
    elif name.endswith((".csv", ".csv.gz")):
        write_bytes(dst, canonical_csv_bytes(rec, gzipped=name.endswith(".gz")), force=force)
    elif name.endswith(".edf"):
        from .edf import write_edf

        events = None
        if src.suffix.lower() == ".night":
            events = _stored_events(src)
        write_edf(dst, rec, events=events, force=force)
    else:
        raise InputFileError(f"{dst}: unknown output format; choose one of {OUTPUT_FORMATS}")
    return rec


def _stored_events(path: Path):
    import pandas as pd

    from .store import NightReader

    with NightReader(path) as r:
        a = r.latest_analysis()
    if not a or not a["events"]:
        return None
    ev = pd.DataFrame(a["events"])
    ev["onset_t"] = pd.to_datetime(ev["onset_utc"], utc=True, format="ISO8601").dt.as_unit("ns").astype("int64") / 1e9
    return ev


def _refuse_empty(rec: Recording, src: Path) -> None:
    if rec.t.size == 0:
        raise InputFileError(f"{src}: holds no samples")


def source_hash(path: Path) -> str:
    """SHA-256 of a file, or of a folder's files in name order (Sensor Logger folders)."""
    h = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for f in files:
        with open(f, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()


def split_by_night(rec: Recording, tz: str) -> list[Recording]:
    """Cut a multi-day recording at local noon (noon-to-noon nights, DST-aware)."""
    if rec.t.size == 0:
        return []
    first, last = night_date(rec.t[0], tz), night_date(rec.t[-1], tz)
    if first == last:
        return [rec]
    parts = []
    d = first
    import datetime as dt

    while d <= last:
        a, b = night_bounds_utc(d, tz)
        i, j = np.searchsorted(rec.t, [a, b])
        if j > i:
            parts.append(Recording(
                t=rec.t[i:j], acc=rec.acc[i:j], source=rec.source,
                gyro=None if rec.gyro is None else rec.gyro[i:j], sample_rate_hz=rec.sample_rate_hz,
                device=rec.device, timezone=rec.timezone,
                damage=tuple(x for x in rec.damage if x.start_s is None or a <= x.start_s < b)))
        d += dt.timedelta(days=1)
    return parts


def import_recordings(inputs: list[Path], data: Path, *, timezone: str, label: str | None = None,
                      units: str = "g") -> list[tuple[str, str]]:
    """Import each input into night files in ``data``; returns (night id, what happened) pairs.

    Importing the same source again changes nothing (its SHA-256 is kept in each night).
    """
    from .store import NightReader, write_recording

    done = []
    for src in inputs:
        digest = source_hash(src)
        rec = read_recording(src, units=units)
        _refuse_empty(rec, src)
        tz = rec.timezone or timezone
        for part in split_by_night(rec, tz):
            nid = night_id(part.t[0], tz, label)
            dst = data / f"{nid}.night"
            if dst.exists():
                with NightReader(dst) as r:
                    seen = digest in r.imports()
                if seen:
                    done.append((nid, "already imported"))
                    continue
                raise TwitchwatchError(
                    f"night {nid} already exists in {data} from another recording; import this one with "
                    f"--label (e.g. --label ankle) to keep both")
            write_recording(dst, part, timezone=tz, label=label, source_sha256=digest)
            done.append((nid, f"{part.t.size} samples"))
    return done
