"""Turn the INPUTS of ``twitchwatch batch`` (files, folders, glob patterns) into a list of
recordings, each with the person it belongs to.

Who a recording belongs to comes from the folder layout a study already has, one folder
per person::

    study/P01/week1.cwa          ->  person P01
    study/P01/2026-11/n3.csv.gz  ->  person P01 (the first folder below the input folder)
    study/P02.cwa                ->  person study (a file at the top: the folder holding it)

For a folder input, the person is the first folder below it (or the folder itself for the
files at its top).  For a glob, the fixed part of the pattern before the first wildcard
plays the folder's role; a file named directly belongs to the folder that holds it.
``--person-from device`` takes the id from the file's metadata instead (done by the worker,
which reads the file).

Files with an extension no reader takes are kept in the list, marked unsupported, so that
the batch report names them; hidden files, SQLite's -wal/-shm companions of night files
and the batch's own output folder are skipped.
"""
from __future__ import annotations

import glob
import os
import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import TwitchwatchError
from ..readers import FORMAT_LIST, READERS

#: Name endings a reader takes (see readers.read_recording).
SUPPORTED_ENDINGS = (".csv", ".csv.gz", *READERS)

#: Files that make a folder one phone export (Sensor Logger, phyphox) rather than many inputs.
_PHONE_FOLDER_MARKERS = ("Metadata.csv", "TotalAcceleration.csv", "Accelerometer.csv",
                         "AccelerometerUncalibrated.csv", "WristMotion.csv", "meta/time.csv")

#: SQLite's companions of a night file (a reader in WAL mode leaves them): not recordings.
_SIDE_FILES = ("-wal", "-shm", "-journal")

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


class BatchInputError(TwitchwatchError):
    """An INPUT names nothing, or nothing readable was found."""


@dataclass(frozen=True)
class Input:
    """One recording to analyse.

    path : the file (or phone-export folder) as found.
    source : how the report names it (the path as the user's INPUT spelled it).
    person : person id from the folder layout (safe as a folder name).
    size, mtime_ns : fingerprint used by --resume to tell an unchanged file (no re-reading).
    unsupported : why no reader takes it, or None.
    """

    path: str
    source: str
    person: str
    size: int
    mtime_ns: int
    unsupported: str | None = None


def safe_id(text: str) -> str:
    """A person or device id usable as one folder name: [A-Za-z0-9._-], no leading dot."""
    s = _UNSAFE.sub("_", str(text)).strip("._-")
    return s[:64] or "unknown"


def is_supported(path: Path) -> bool:
    name = path.name.lower()
    return path.is_dir() or name.endswith(SUPPORTED_ENDINGS)


def fingerprint(path: Path) -> tuple[int, int]:
    """(size, modification time in ns) of a file; of a phone-export folder, the sum of its
    files' sizes and the latest of their times."""
    if path.is_dir():
        stats = [p.stat() for p in path.rglob("*") if p.is_file()]
        return sum(s.st_size for s in stats), max((s.st_mtime_ns for s in stats), default=0)
    st = path.stat()
    return st.st_size, st.st_mtime_ns


def _is_phone_folder(d: Path) -> bool:
    return any((d / m).is_file() for m in _PHONE_FOLDER_MARKERS)


def _person(path: Path, root: Path | None) -> str:
    if root is not None:
        try:
            rel = path.resolve().relative_to(root.resolve())
        except ValueError:
            rel = None
        if rel is not None and len(rel.parts) >= 2:
            return safe_id(rel.parts[0])
        if rel is not None:
            return safe_id(root.resolve().name)
    return safe_id(path.resolve().parent.name)


def _walk(folder: Path, skip: Path | None):
    """Files (and phone-export folders) under ``folder``, sorted, hidden ones left out."""
    for dirpath, dirnames, filenames in os.walk(folder):
        d = Path(dirpath)
        keep = []
        for name in sorted(dirnames):
            sub = d / name
            if name.startswith(".") or (skip is not None and sub.resolve() == skip):
                continue
            if _is_phone_folder(sub):
                yield sub
            else:
                keep.append(name)
        dirnames[:] = keep
        for name in sorted(filenames):
            if not name.startswith(".") and not name.endswith(_SIDE_FILES):
                yield d / name


def _glob_root(pattern: str) -> Path:
    parts = Path(pattern).parts
    fixed = []
    for p in parts:
        if glob.has_magic(p):
            break
        fixed.append(p)
    return Path(*fixed) if fixed else Path(".")


def expand_inputs(args: list[str], *, out_dir: Path | None = None) -> list[Input]:
    """Expand INPUTS into recordings, in a stable order, without duplicates.

    Raises BatchInputError when an INPUT names nothing (no file, no folder, no match).
    """
    skip = Path(out_dir).resolve() if out_dir is not None else None
    found: list[tuple[Path, str, str]] = []
    for arg in args:
        p = Path(arg)
        if p.is_dir() and not _is_phone_folder(p):
            if skip is not None and p.resolve() == skip:
                raise BatchInputError(f"{arg} is the output folder; give the recordings' folder as INPUT")
            for f in _walk(p, skip):
                found.append((f, str(f), _person(f, p)))
        elif p.exists():
            found.append((p, arg, _person(p, None)))
        elif glob.has_magic(arg):
            root = _glob_root(arg)
            matches = sorted(glob.glob(arg, recursive=True))
            matches = [m for m in matches if not Path(m).name.startswith(".")
                       and not m.endswith(_SIDE_FILES)
                       and (skip is None or skip not in Path(m).resolve().parents)]
            if not matches:
                raise BatchInputError(f"{arg}: no file matches this pattern")
            for m in matches:
                mp = Path(m)
                if mp.is_dir() and not _is_phone_folder(mp):
                    for f in _walk(mp, skip):
                        found.append((f, str(f), _person(f, root)))
                else:
                    found.append((mp, m, _person(mp, root)))
        else:
            raise BatchInputError(f"{arg}: no such file or folder")
    seen: set[Path] = set()
    out = []
    for path, source, person in found:
        key = path.resolve()
        if key in seen:
            continue
        seen.add(key)
        size, mtime_ns = fingerprint(path)
        reason = None if is_supported(path) else f"unknown format; supported: {FORMAT_LIST}"
        out.append(Input(path=str(path), source=source, person=person, size=size,
                         mtime_ns=mtime_ns, unsupported=reason))
    if not out:
        raise BatchInputError(f"no recordings found in {', '.join(args)}")
    return out
