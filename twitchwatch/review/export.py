"""`twitchwatch export`: the chosen nights as files a clinician can open.

Formats (``--format``, default all four):

=======  =========================================================================
pdf      ``report.pdf`` (twitchwatch.review.report.write_report)
csv      ``events.csv`` (every event) and ``nights.csv`` (one row per night)
edf      ``<night>.edf`` per night: signals plus events as EDF+ annotations
fhir     ``observations.fhir.json``: a FHIR R4 Bundle of Observations
=======  =========================================================================

Safety: everything is written into a private temporary folder beside (or inside) the
target first; only when every file is complete are they renamed into place, so a failure
leaves no half export.  Existing files are replaced only with ``force``; the check runs
before any work.  Files are 0600, a created folder 0700.

Privacy: no device name, address or serial number and no path of the user's files is in
any export unless ``include_identifiers``; the person appears only as the pseudonym.
"""
from __future__ import annotations

import datetime as dt
import logging
import os
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from ..atomic import DIR_MODE, FILE_MODE
from ..errors import InputFileError, OutputExistsError, TwitchwatchError
from .catalog import Skipped, list_nights

log = logging.getLogger(__name__)

FORMATS = ("pdf", "csv", "edf", "fhir")
PDF_NAME = "report.pdf"
EVENTS_NAME = "events.csv"
NIGHTS_NAME = "nights.csv"
FHIR_NAME = "observations.fhir.json"
_PSEUDONYM = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._-]{0,39}$")


class ExportError(TwitchwatchError):
    """The export cannot be written where asked; the message says what to change."""


@dataclass
class ExportResult:
    folder: Path
    files: list[Path] = field(default_factory=list)
    nights: int = 0
    events: int = 0
    skipped: list[Skipped] = field(default_factory=list)


def parse_formats(text: str | None) -> tuple[str, ...]:
    """'pdf,csv' -> ('pdf', 'csv') in the canonical order; None or '' -> all formats."""
    if not text:
        return FORMATS
    asked = [x.strip().lower() for x in text.split(",") if x.strip()]
    unknown = [x for x in asked if x not in FORMATS]
    if unknown or not asked:
        raise InputFileError(f"--format {text!r}: choose from {','.join(FORMATS)} (comma-separated)")
    return tuple(f for f in FORMATS if f in asked)


def check_pseudonym(name: str | None) -> str | None:
    if name is None:
        return None
    if not _PSEUDONYM.match(name):
        raise InputFileError(f"--pseudonym {name!r}: use 1-40 letters, digits, spaces, '.', '_' or '-' "
                             f"(a code such as P-017, never a real name)")
    return name


def planned_files(views, formats: tuple[str, ...]) -> list[str]:
    """File names the export will write, in writing order."""
    names = []
    if "csv" in formats:
        names += [EVENTS_NAME, NIGHTS_NAME]
    if "fhir" in formats:
        names.append(FHIR_NAME)
    if "edf" in formats:
        names += [f"{v.night_id}.edf" for v in views]
    if "pdf" in formats:
        names.append(PDF_NAME)
    return names


def _check_target(to: Path) -> None:
    """Fail early, with one line, when ``to`` cannot become or receive the export."""
    if to.exists() and not to.is_dir():
        raise ExportError(f"--to {to} is a file, not a folder; choose a folder")
    probe = to
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir():
        raise ExportError(f"cannot create {to}: {probe} is a file; choose another folder")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise ExportError(f"cannot write into {probe}: permission denied; choose a folder you can write")


def _workspace(to: Path) -> Path:
    """A private temporary folder on the same file system as ``to`` (so rename works)."""
    try:
        if to.is_dir():
            where = to
        else:
            to.parent.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
            where = to.parent
        tmp = Path(tempfile.mkdtemp(prefix=f".{to.name}.export-", suffix=".tmp", dir=where))
    except OSError as exc:
        raise ExportError(f"cannot write into {to}: {exc.strerror or exc}; choose a folder you can write") from None
    os.chmod(tmp, DIR_MODE)
    return tmp


#: At most this many processes write EDF files at once (each night is independent; one
#: night takes ~0.07 s of one core for 7.5 h at 50 Hz, about half of it reading the night
#: file and writing the EDF file; a worker's first night adds ~0.5 s: numba's start).
MAX_EDF_WORKERS = 4


def _edf_one(view, path: Path, pseudonym: str | None) -> None:
    from .export_edf import export_night_edf

    export_night_edf(view, path, pseudonym=pseudonym)


class _EdfJobs:
    """One EDF+ file per night, in worker processes when there are several nights and
    cores, started first so that they run while this process writes the other formats
    (the views travel to the workers by pickle: our own objects, never input)."""

    def __init__(self, views, tmp: Path, *, pseudonym, progress):
        self.views, self.tmp, self.pseudonym, self.progress = views, tmp, pseudonym, progress
        self.workers = min(len(views), os.cpu_count() or 1, MAX_EDF_WORKERS)
        self.pool, self.futures = None, []

    def __enter__(self):
        if self.workers >= 2 and len(self.views) >= 3:
            from concurrent.futures import ProcessPoolExecutor

            self.pool = ProcessPoolExecutor(max_workers=self.workers)
            self.futures = [self.pool.submit(_edf_one, v, self.tmp / f"{v.night_id}.edf", self.pseudonym)
                            for v in self.views]
        return self

    def finish(self) -> None:
        """Wait for every file (or write them here when no pool was worth starting)."""
        from concurrent.futures import as_completed

        from tqdm import tqdm

        with tqdm(total=len(self.views), desc="EDF+", unit="night", leave=False,
                  disable=None if self.progress is None else not self.progress) as bar:
            if self.pool is None:
                for v in self.views:
                    _edf_one(v, self.tmp / f"{v.night_id}.edf", self.pseudonym)
                    bar.update()
                return
            for f in as_completed(self.futures):
                f.result()              # re-raises a worker's error here
                bar.update()

    def __exit__(self, *exc):
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)
        return False


def _write_all(views, tmp: Path, formats, *, pseudonym, include_identifiers, progress) -> int:
    """Write every chosen format into ``tmp``; returns the number of events exported.
    The EDF+ files (the heaviest part) are written by worker processes meanwhile."""
    edf = _EdfJobs(views if "edf" in formats else [], tmp, pseudonym=pseudonym, progress=progress)
    with edf:
        n_events = sum(len(v.events) for v in views)
        if "csv" in formats:
            from .export_csv import write_events_csv, write_nights_csv

            n_events = write_events_csv(views, tmp / EVENTS_NAME)
            write_nights_csv(views, tmp / NIGHTS_NAME, include_identifiers=include_identifiers)
        if "fhir" in formats:
            from .export_fhir import write_fhir_bundle

            write_fhir_bundle(views, tmp / FHIR_NAME, pseudonym=pseudonym,
                              include_identifiers=include_identifiers)
        if "pdf" in formats:
            from .report import write_report

            write_report(views, tmp / PDF_NAME, pseudonym=pseudonym, include_identifiers=include_identifiers,
                         force=False, comparison_note=None)
        edf.finish()
    return n_events


def run_export(data: Path, to: Path, *, since: dt.date | None = None, until: dt.date | None = None,
               formats: tuple[str, ...] = FORMATS, pseudonym: str | None = None,
               include_identifiers: bool = False, force: bool = False,
               progress: bool | None = None) -> ExportResult:
    """Export the nights of ``data`` between ``since`` and ``until`` (inclusive) into ``to``.

    Raises InputFileError (bad dates, no nights), OutputExistsError (a file would be
    replaced and ``force`` is false) or ExportError (the folder cannot be written).
    """
    to = Path(to)
    pseudonym = check_pseudonym(pseudonym)
    _check_target(to)
    views, skipped = list_nights(data, since=since, until=until, progress=progress)
    if not views:
        span = f" between {since or 'the first night'} and {until or 'the last'}" if (since or until) else ""
        why = f" ({len(skipped)} files could not be read)" if skipped else ""
        raise InputFileError(f"no analysed nights{span} in {data}{why}; check --since/--until")
    names = planned_files(views, formats)
    existing = [n for n in names if (to / n).exists()]
    if existing and not force:
        shown = ", ".join(existing[:3]) + (f" and {len(existing) - 3} more" if len(existing) > 3 else "")
        raise OutputExistsError(f"{to} already holds {shown}; pass --force to replace them, or choose another folder")

    existed = to.is_dir()
    tmp = _workspace(to)
    try:
        n_events = _write_all(views, tmp, formats, pseudonym=pseudonym,
                              include_identifiers=include_identifiers, progress=progress)
        for n in names:
            os.chmod(tmp / n, FILE_MODE)
        if existed:
            for n in names:
                os.replace(tmp / n, to / n)
            tmp.rmdir()
        else:
            os.replace(tmp, to)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    log.info("exported %d nights into %s", len(views), to)
    return ExportResult(folder=to, files=[to / n for n in names], nights=len(views), events=n_events,
                        skipped=skipped)
