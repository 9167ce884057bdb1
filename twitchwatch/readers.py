"""Read recordings into arrays: (t (n,) Unix s UTC, acc (n, 3) g).

Only the canonical CSV for now (``time_s,ax_g,ay_g,az_g[,gx_dps,gy_dps,gz_dps]``, plain or
gzip).  Night files and device formats plug in here by extension.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import InputFileError

CANONICAL_COLUMNS = ["time_s", "ax_g", "ay_g", "az_g"]
GYRO_COLUMNS = ["gx_dps", "gy_dps", "gz_dps"]
G = 9.80665


@dataclass(frozen=True)
class Damage:
    """Something a reader had to skip or cut, reported, never hidden."""

    kind: str                    # 'corrupt_block' | 'truncated' | 'duplicate' | ...
    count: int                   # blocks / records / samples affected
    start_s: float | None = None  # Unix time span affected, when known
    end_s: float | None = None
    detail: str = ""


@dataclass(frozen=True)
class Recording:
    """One recording, whatever the source format.

    t : (n,) float64 Unix seconds, UTC, strictly increasing; gaps are gaps (no filling).
    acc : (n, 3) float64 g, gravity included.
    gyro : (n, 3) float64 deg/s, or None.
    source : file name, for messages (never written to exports).
    sample_rate_hz : the device's nominal rate when the file states it.
    device : what the file says of the device ({'type', 'serial', 'firmware', 'range_g',
        'placement', ...}); serials stay out of exports unless asked.
    timezone : IANA zone the file states, if any.
    damage : what was skipped or cut on the way in.
    """

    t: np.ndarray
    acc: np.ndarray
    source: str
    gyro: np.ndarray | None = None
    sample_rate_hz: float | None = None
    device: dict = field(default_factory=dict)
    timezone: str | None = None
    damage: tuple = ()


#: Rows parsed at a time from a canonical CSV (bounds the parser's working memory).
CSV_CHUNK_ROWS = 1 << 19


def read_canonical_csv(path: Path, *, units: str = "g") -> Recording:
    """Read a canonical CSV.  ``units='m/s2'`` converts accelerations from m/s^2."""
    import pandas as pd

    path = Path(path)
    if not path.exists():
        raise InputFileError(f"{path}: no such file")
    if path.is_dir():
        raise InputFileError(f"{path} is a folder; give a recording file")
    try:
        header = pd.read_csv(path, nrows=0).columns.str.strip().tolist()
    except (pd.errors.EmptyDataError, UnicodeDecodeError, OSError, EOFError) as exc:
        raise InputFileError(f"{path}: cannot read it as CSV ({type(exc).__name__}); "
                             f"expected columns {','.join(CANONICAL_COLUMNS)}") from None
    missing = [c for c in CANONICAL_COLUMNS if c not in header]
    if missing:
        hint = ""
        if any("ms2" in c or "m/s" in c for c in header):
            hint = " (m/s^2 columns? convert to g and name them ax_g,ay_g,az_g)"
        raise InputFileError(
            f"{path}: missing column(s) {', '.join(missing)}; found {', '.join(header) or 'none'}; "
            f"expected {','.join(CANONICAL_COLUMNS)}{hint}"
        )
    # Read in pieces: parsing a whole night at once peaks at several times the arrays it
    # yields (measured 7x in bench/batch.py); pieces keep the peak near 2x.
    ts, accs = [], []
    try:
        with pd.read_csv(path, usecols=CANONICAL_COLUMNS, dtype="float64", engine="c",
                         chunksize=CSV_CHUNK_ROWS) as reader:
            for df in reader:
                ts.append(df["time_s"].to_numpy())
                accs.append(df[CANONICAL_COLUMNS[1:]].to_numpy())
    except (ValueError, OSError, EOFError) as exc:
        raise InputFileError(f"{path}: a value is not a number ({str(exc).splitlines()[0]}); "
                             f"every cell must be numeric") from None
    t = np.concatenate(ts) if ts else np.zeros(0)
    del ts
    acc = np.concatenate(accs) if accs else np.zeros((0, 3))
    del accs
    if units in ("m/s2", "ms2"):
        acc = acc / G
    elif units != "g":
        raise InputFileError(f"unknown units {units!r}; use g or m/s2")
    return Recording(t=np.ascontiguousarray(t), acc=np.ascontiguousarray(acc), source=path.name)


#: extension -> (module under twitchwatch, function).  Imported on use: a reader's
#: dependencies (pygt3x, ...) load only when that format is read.
READERS = {
    ".night": ("store.nightfile", "read_night"),
    ".cwa": ("formats.axivity", "read_axivity"),
    ".bin": ("formats.geneactiv", "read_geneactiv"),
    ".gt3x": ("formats.actigraph", "read_actigraph"),
    ".zip": ("formats.phones", "read_phone_export"),
    ".json": ("formats.sensorlogger", "read_sensorlogger"),
}
FORMAT_LIST = ("canonical CSV (.csv, .csv.gz), night file (.night), Axivity (.cwa), GENEActiv (.bin), "
               "ActiGraph (.gt3x), Sensor Logger (.zip, .json or a folder of CSVs), phyphox (.zip)")


def read_recording(path: Path, *, units: str = "g") -> Recording:
    """Read any supported input by its extension (or a Sensor Logger folder)."""
    import importlib

    path = Path(path)
    name = path.name.lower()
    if name.endswith((".csv", ".csv.gz")):
        if name.endswith(".csv") and _is_phyphox_csv(path):
            mod, fn = "formats.phyphox", "read_phyphox"
        else:
            return read_canonical_csv(path, units=units)
    elif path.is_dir():
        mod, fn = "formats.phones", "read_phone_export"
    elif not path.exists():
        raise InputFileError(f"{path}: no such file")
    else:
        suffix = path.suffix.lower()
        if suffix not in READERS:
            raise InputFileError(f"{path}: unknown format; supported: {FORMAT_LIST}")
        mod, fn = READERS[suffix]
    reader = getattr(importlib.import_module(f"twitchwatch.{mod}"), fn)
    return reader(path)


def _is_phyphox_csv(path: Path) -> bool:
    """phyphox exports start with a '"Time (s)",...' header."""
    try:
        with open(path, "r", errors="replace") as f:
            head = f.readline()
    except OSError:
        return False
    return head.lstrip('\ufeff"').startswith("Time (s)")
