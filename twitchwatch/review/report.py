"""The clinician's PDF report: one summary page for the period, then one page per night.

Drawn with matplotlib (``Figure``; no pyplot, no global state) and put together with
pypdf: page 1 is drawn each time; each night page comes from the page cache
(``pages.py``; drawn once per night and analysis) and gets its footer (pseudonym, page
number) laid over it here.  The file is written under a temporary name in the target
folder, owner-only (0600), and renamed when complete; an existing report is replaced only
with ``force``.

Privacy: no device address, serial number, device name or file path appears unless
``include_identifiers``; the person is shown only by the pseudonym given (never a name
read from anywhere).

Page 1: the period (nights, hours of sleep), the trend of jerks per hour of sleep against
the person's own earlier nights, the before/after comparison around a note (default: the
latest note tagged 'medication'), the notes, data quality, and how the numbers were made
and their limits.  Pages 2...: :func:`plots.night_figure` of each night, oldest first.
"""
from __future__ import annotations

import datetime as dt
import io
import logging
import os
import tempfile
import textwrap
from pathlib import Path

import numpy as np

from ..errors import TwitchwatchError
from .catalog import NightView

log = logging.getLogger(__name__)

#: How many notes the summary page lists before pointing to the night pages.
MAX_NOTES_ON_SUMMARY = 10

METHOD_TEXT = (
    "How the numbers were made. Every sample of the worn accelerometer is examined: a 2-Hz high-pass removes "
    "gravity and slow posture drift, an adaptive threshold (a multiple of each night's own noise floor) finds "
    "movement events, and each event is classified from its duration, energy and orientation change as a jerk "
    "(brief, posture-preserving), a limb movement, a posture change or another movement. The sleep window is "
    "found from the wrist angle (HDCZA, van Hees 2018); hours of sleep are the sleep window minus gaps in the "
    "data and non-wear. Jerks per hour of sleep = jerks in the sleep window / hours of sleep. The baseline of a "
    "night is the median and 25th-75th percentile of up to 28 earlier nights with at least 0.5 h of sleep (3 "
    "needed). The before/after comparison is a rate ratio of pooled jerks per hour of sleep with a quasi-Poisson "
    "interval over nights (night-to-night scatter widens it; at least 3 nights on each side)."
)
LIMITS_TEXT = (
    "Limits. These are accelerometer-detected movement events, not EMG or polysomnography, and not a "
    "diagnosis; a non-zero count is normal (hypnic jerks occur in 60-70% of people, fragmentary myoclonus in "
    "every sleeper). The detector was validated on simulated nights only; real nights will be worse in ways "
    "simulation cannot show. A jerk within 5 s of a posture change, or 1 s of another movement, is counted as "
    "part of that movement. Only the main sleep period of a recording is used. At 50 Hz the briefest jerks "
    "are under-sampled. A change before and after a note describes the recorded nights; it does not show "
    "that what the note describes caused it."
)


# ------------------------------------------------------------------ output files
PICTURE_SUFFIXES = (".png", ".pdf", ".svg")


def prepare_output(path: Path, *, force: bool, what: str = "output", suffixes: tuple[str, ...] | None = None) -> Path:
    """Check that ``path`` may be written: the right suffix, not existing (unless force),
    a folder that exists (created owner-only when missing) and is writable.  Raises
    TwitchwatchError with one line naming the problem and the fix."""
    path = Path(path)
    if suffixes and path.suffix.lower() not in suffixes:
        raise TwitchwatchError(f"{path}: give a file name ending in {' or '.join(suffixes)} for the {what}")
    if path.is_dir():
        raise TwitchwatchError(f"{path} is a folder; give a file name for the {what}")
    if path.exists() and not force:
        raise TwitchwatchError(f"{path} exists; pass --force to overwrite it")
    parent = path.parent
    for p in (parent, *parent.parents):
        if p.exists() and not p.is_dir():
            raise TwitchwatchError(f"cannot write {path}: {p} is a file, not a folder; choose another folder")
    try:
        for p in reversed([parent, *parent.parents]):     # each missing folder owner-only
            if not p.exists():
                p.mkdir(mode=0o700)
    except OSError as exc:
        raise TwitchwatchError(f"cannot create the folder {parent} for the {what} ({exc.strerror}); "
                               f"choose a folder you can write") from None
    if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        raise TwitchwatchError(f"cannot write into {parent}: not a writable folder; choose a folder you can write")
    return path


def write_atomic(path: Path, write, *, force: bool, what: str = "output") -> None:
    """Call ``write(tmp_path)`` for a temporary owner-only file beside ``path``, then
    rename it to ``path``.  Nothing half-written is ever left under ``path``."""
    path = prepare_output(path, force=force, what=what)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise TwitchwatchError(f"cannot write into {path.parent} ({exc.strerror}); choose a folder you can write") \
            from None
    os.close(fd)
    os.chmod(tmp, 0o600)
    try:
        write(Path(tmp))
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.chmod(tmp, 0o600)
        if path.exists() and not force:      # appeared meanwhile
            raise TwitchwatchError(f"{path} exists; pass --force to overwrite it")
        os.replace(tmp, path)
    except OSError as exc:
        raise TwitchwatchError(f"cannot write {path} ({exc.strerror}); choose a folder you can write") from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def save_figure(fig, path: Path, *, force: bool = False, dpi: int = 110) -> None:
    """Save a Figure (PNG, PDF or SVG by suffix) atomically, owner-only."""
    path = Path(path)
    prepare_output(path, force=force, what="picture", suffixes=PICTURE_SUFFIXES)
    fmt = path.suffix.lower().lstrip(".")
    meta = {"Software": "twitchwatch"} if fmt == "png" else {"Creator": "twitchwatch"}
    write_atomic(path, lambda tmp: fig.savefig(tmp, format=fmt, dpi=dpi, metadata=meta), force=force,
                 what="picture")


# ------------------------------------------------------------------ the summary page
def _wrap(text: str, width: int) -> str:
    return "\n".join(textwrap.fill(p, width) for p in text.split("\n"))


def _identifiers(views: list[NightView]) -> list[str]:
    from .pages import identifier_line

    return [identifier_line(v) for v in views]


def period_lines(views: list[NightView], table) -> list[str]:
    """The period in a few lines (counts and rates over usable nights)."""
    usable = table[table["usable"]]
    with_window = int(np.sum(table["sleep_h"] > 0))
    first, last = views[0].date, views[-1].date
    labels = sorted({v.label for v in views if v.label})
    lines = [f"Period: nights of {first.isoformat()} to {last.isoformat()}: {len(views)} nights"
             + (f" (devices: {', '.join(labels)})" if labels else "")
             + f", {with_window} with a sleep period, {float(table['sleep_h'].sum()):.1f} h of sleep in all."]
    if len(usable):
        r = usable["jerks_per_hour"].to_numpy(float)
        q1, med, q3 = np.percentile(r, [25, 50, 75])
        lines.append(f"Accelerometer-detected jerks per hour of sleep over the {len(usable)} nights with at least "
                     f"0.5 h of sleep: median {med:.1f} (25th-75th percentile {q1:.1f}-{q3:.1f}; range "
                     f"{r.min():.1f}-{r.max():.1f}); {int(usable['jerks'].sum())} jerks in "
                     f"{float(usable['sleep_h'].sum()):.1f} h of sleep.")
    else:
        lines.append("No night has 0.5 h of sleep or more: no rate per hour of sleep can be given.")
    return lines


def quality_lines(views: list[NightView], table) -> list[str]:
    s = [v.summary for v in views]
    gaps = sum(float(x.get("gaps_s") or 0) for x in s)
    nonwear = sum(float(x.get("nonwear_s") or 0) for x in s)
    no_window = [v.night_id for v in views if v.sleep_window_utc is None]
    short = [r.night_id for r in table.itertuples() if r.sleep_h > 0 and not r.usable]
    noise = [x["noise_floor_mg"] for x in s if x.get("noise_floor_mg") is not None]
    cal = [x["calibration_error_mg"]["after"] for x in s
           if (x.get("calibration_error_mg") or {}).get("after") is not None]
    rates = sorted({float(x.get("sample_rate_hz") or 0) for x in s})
    damage = sum(int(d.count) for v in views for d in v.damage)
    clipped = sum(int(x.get("clipped_samples") or 0) for x in s)
    versions = sorted({str(x.get("detector_version")) for x in s})
    lines = [
        f"Data quality: gaps in the data {gaps / 3600:.2f} h in all, non-wear {nonwear / 3600:.2f} h, "
        f"clipped samples {clipped}, damaged source blocks skipped {damage}; sample rate "
        + ", ".join(f"{r:g}" for r in rates) + " Hz"
        + (f"; noise floor {min(noise):.1f}-{max(noise):.1f} mg" if noise else "")
        + (f"; calibration error after fitting at most {max(cal):.0f} mg" if cal else "") + ".",
        ("Nights without a sleep period (no rate): " + ", ".join(no_window) + ". ") if no_window else "",
        ("Nights with under 0.5 h of sleep (shown, not in baseline or comparison): " + ", ".join(short) + ".")
        if short else "",
        f"Detector version {', '.join(versions)}; configuration hashes are stored with each night's analysis.",
    ]
    return [x for x in lines if x]


def _notes_block(views: list[NightView]) -> str:
    rows = [(v.night_id, n.get("tag") or "-", n["text"]) for v in views for n in v.notes]
    if not rows:
        return "Notes: none in this period."
    out = ["Notes (night, tag, text):"]
    for nid, tag, text in rows[:MAX_NOTES_ON_SUMMARY]:
        out.append(f"  {nid}   {tag:<10} {textwrap.shorten(text, 95, placeholder='...')}")
    if len(rows) > MAX_NOTES_ON_SUMMARY:
        out.append(f"  ... and {len(rows) - MAX_NOTES_ON_SUMMARY} more, on the night pages.")
    return "\n".join(out)


def summary_figure(views: list[NightView], *, pseudonym: str | None, include_identifiers: bool,
                   comparison, table, n_pages: int):
    """Page 1 of the report as a Figure (A4 portrait)."""
    from matplotlib.figure import Figure

    from .. import __version__ as app_version
    from .plots import A4_PORTRAIT, draw_trend

    fig = Figure(figsize=A4_PORTRAIT, layout="constrained")
    top, mid, bottom = fig.subfigures(3, 1, height_ratios=[2.3, 3.6, 3.9])
    top.text(0.02, 0.97, "Sudden movements in sleep: accelerometer report", fontsize=14, weight="bold", va="top")
    top.text(0.02, 0.84, f"Patient: {pseudonym}" if pseudonym else "Patient: not named in this report",
             fontsize=10, va="top")
    top.text(0.98, 0.84, f"made {dt.date.today().isoformat()} by twitchwatch {app_version}", fontsize=7.5,
             va="top", ha="right", color="#333333")
    words = period_lines(views, table)
    if comparison is None:
        words.append("No note tagged 'medication' in this period: no before/after comparison.")
    else:
        words.append(comparison.sentence)
    top.text(0.02, 0.72, _wrap("\n".join(words), 150), fontsize=7.5, va="top", linespacing=1.35)
    draw_trend(mid, table, comparison)
    blocks = [_notes_block(views), _wrap("\n".join(quality_lines(views, table)), 158),
              _wrap(METHOD_TEXT, 158), _wrap(LIMITS_TEXT, 158)]
    if include_identifiers:
        ids = _identifiers(views)
        blocks.append("Identifiers (included on request):\n" + "\n".join(
            textwrap.shorten(x, 135, placeholder="...") for x in ids[:8])
            + (f"\n  ... and {len(ids) - 8} more" if len(ids) > 8 else ""))
    bottom.text(0.02, 0.98, "\n\n".join(blocks), fontsize=6.8, va="top", linespacing=1.3, family="DejaVu Sans")
    fig.text(0.5, 0.005, f"Accelerometer-detected movement events; not a diagnosis.   Page 1 of {n_pages}",
             ha="center", va="bottom", fontsize=6.5, color="#555555")
    return fig


# ------------------------------------------------------------------ putting pages together
def _frame_pdf(summary_fig, footers: list[str]) -> bytes:
    """Page 1 (the summary) followed by one page per night holding only its footer line,
    as PDF bytes; each footer page is laid over its night page (A4 portrait)."""
    from matplotlib.backends.backend_pdf import PdfPages
    from matplotlib.figure import Figure

    from .plots import A4_PORTRAIT

    buf = io.BytesIO()
    with PdfPages(buf, metadata={"Creator": "twitchwatch", "CreationDate": None}) as pdf:
        pdf.savefig(summary_fig)
        fig = Figure(figsize=A4_PORTRAIT)       # one figure, its text changed per page: cheap
        fig.patch.set_visible(False)            # no white background over the night page
        line = fig.text(0.5, 0.004, "", ha="center", va="bottom", fontsize=6.5, color="#555555")
        for text in footers:
            line.set_text(text)
            pdf.savefig(fig)
    return buf.getvalue()


def _night_page(path: Path, view: NightView, include_identifiers: bool):
    """The first page of a cached single-page PDF; drawn afresh when the file vanished
    meanwhile (another export pruned it) or does not read as a PDF."""
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        pages = PdfReader(io.BytesIO(path.read_bytes())).pages
        if len(pages) == 1:
            return pages[0]
        problem = f"{len(pages)} pages"
    except (OSError, PyPdfError, ValueError, KeyError) as exc:
        problem = str(exc)
    from .pages import draw_night_page, render_page

    log.warning("cached report page of %s unusable (%s); drawing it again", view.night_id, problem)
    try:
        render_page(view, path, None, include_identifiers)      # mends the cache too
        return PdfReader(io.BytesIO(path.read_bytes())).pages[0]
    except OSError:
        buf = io.BytesIO()
        draw_night_page(view, include_identifiers=include_identifiers).savefig(buf, format="pdf")
        return PdfReader(buf).pages[0]


# ------------------------------------------------------------------ entry point
def write_report(views: list[NightView], path: Path, *, pseudonym: str | None = None,
                 include_identifiers: bool = False, force: bool = False,
                 comparison_note: str | None = None, cache: bool = True, cache_dir: Path | None = None,
                 workers: int | None = None, progress: bool | None = None) -> None:
    """Write the PDF report of ``views`` (oldest first after sorting) to ``path``.

    Pages: 1 summary + one per night.  comparison_note: the note to compare around, as
    text or tag (trend.find_note); default the latest note tagged 'medication'.
    Night pages come from the page cache (pages.py: ``<data dir>/.cache/pages``, or
    ``cache_dir``); missing ones are drawn, in ``workers`` processes (default up to 2) when
    several, and stored.  cache=False draws every page afresh and stores nothing.
    progress: a bar on stderr while pages are drawn (None: only on a terminal).
    Raises TwitchwatchError for no nights, an existing file without force, an unwritable
    folder or a note that matches nothing.
    """
    from pypdf import PdfReader, PdfWriter

    from .pages import night_pages
    from .trend import compare, nightly_table

    views = sorted(views, key=lambda v: (v.date, v.label or ""))
    if not views:
        raise TwitchwatchError("no nights to report; check --since/--until and the data directory")
    path = prepare_output(Path(path), force=force, what="report", suffixes=(".pdf",))
    table = nightly_table(views)
    comparison = compare(views, comparison_note, table=table)
    n_pages = 1 + len(views)
    patient = f"Patient: {pseudonym}" if pseudonym else "Patient: not named"

    with tempfile.TemporaryDirectory(prefix=".twitchwatch-pages-") as scratch:   # created 0700
        pages = night_pages(views, include_identifiers=include_identifiers, cache=cache, cache_dir=cache_dir,
                            scratch=Path(scratch), workers=workers, progress=progress)
        summary = summary_figure(views, pseudonym=pseudonym, include_identifiers=include_identifiers,
                                 comparison=comparison, table=table, n_pages=n_pages)
        footers = [f"{patient}   ·   night {k - 1} of {len(views)}   ·   page {k} of {n_pages}"
                   for k in range(2, n_pages + 1)]
        frame = PdfReader(io.BytesIO(_frame_pdf(summary, footers))).pages
        writer = PdfWriter()
        writer.add_page(frame[0])
        for k, (v, p) in enumerate(zip(views, pages), start=1):
            page = writer.add_page(_night_page(p, v, include_identifiers))
            page.merge_page(frame[k])           # the footer over the cached page
            page.compress_content_streams(level=1)   # merging leaves the content uncompressed; 1: fast
        writer.add_metadata({"/Title": "twitchwatch report: accelerometer-detected movement events in sleep",
                             "/Creator": "twitchwatch", "/Subject": "not a diagnosis"})

        def write(tmp: Path) -> None:
            with open(tmp, "wb") as f:
                writer.write(f)

        write_atomic(path, write, force=force, what="report")


__all__ = ["write_report", "save_figure", "prepare_output", "write_atomic", "summary_figure"]
