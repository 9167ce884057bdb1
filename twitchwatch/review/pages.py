"""Night pages of the PDF report, drawn once and kept in a cache beside the nights.

Drawing a night's page costs a few tenths of a second of matplotlib; a report of 60
nights would redraw them all on every export.  Each night page is therefore rendered once
to a single-page PDF and kept in ``<data dir>/.cache/pages/`` (folder 0700, files 0600;
the data dir is the night file's folder), under a name made of three hashes:

    <night>-<content>-<variant>.pdf

night
    the night file's name (so the file names in the cache say nothing about the person);
content
    everything the page shows that comes from the night file: the analysis (its time,
    summary, events, 5-s epochs), the notes, the recording's span, gaps and sample count,
    label and zone, and the versions of the drawing (plots.PAGE_FORMAT_VERSION),
    matplotlib and twitchwatch;
variant
    how the page was asked for: the display zone, and whether identifiers are shown
    (with them: the device details and the file's path, which the page then prints).

When a page of a night is written, the night's pages with another *content* hash are
removed (they can never be shown again); other variants of the same content stay.  The
page carries no page number and no pseudonym: the report adds its footer when it puts the
pages together (report.py), so that adding a night does not redraw every page.

Missing pages are drawn in parallel worker processes (a 'forkserver' or 'spawn' context:
never fork a process that may hold threads) when there are more than a few.  A cache
that cannot be written (read-only data folder) is not an error: the pages are then drawn
into a private temporary folder and used once.
"""
from __future__ import annotations

import hashlib
import json
import logging
import multiprocessing
import os
import tempfile
import textwrap
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import numpy as np

from ..atomic import DIR_MODE, FILE_MODE
from .catalog import NightView

log = logging.getLogger(__name__)

#: The cache folder, relative to the data directory (the night file's folder).
PAGES_SUBDIR = Path(".cache") / "pages"
#: Below this many pages to draw, drawing in this process beats starting workers (~1 s each).
MIN_PARALLEL_PAGES = 4
#: At most this many worker processes draw pages (one page is ~0.2 s of one core).
MAX_WORKERS = 2
#: A temporary file of the cache older than this is left over from a crash: removed.
STALE_TMP_S = 3600.0


# ------------------------------------------------------------------ what a page shows
def identifier_line(view: NightView) -> str:
    """'<night>: <device kind, name, serial, address, firmware, placement>; file <path>'
    (only ever printed when identifiers are asked for)."""
    d = view.device
    dev = ", ".join(f"{k} {d[k]}" for k in ("kind", "name", "serial", "address", "firmware", "placement")
                    if d.get(k))
    return f"{view.night_id}: {dev or 'no device information'}; file {view.path}"


def draw_night_page(view: NightView, *, zone: str | None = None, include_identifiers: bool = False):
    """The report's page of one night, without page footer: plots.night_figure plus,
    when asked, the night's identifier line.  Returns a matplotlib Figure."""
    from .plots import night_figure

    fig = night_figure(view, tz=zone)
    if include_identifiers:
        fig.text(0.01, 0.018, textwrap.shorten(identifier_line(view), 170, placeholder="..."),
                 fontsize=5.5, color="#555555")
    return fig


def _sha(*parts) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update(p if isinstance(p, bytes) else json.dumps(p, sort_keys=True, default=str).encode())
        h.update(b"\0")
    return h.hexdigest()


def page_name(view: NightView, *, zone: str | None = None, include_identifiers: bool = False) -> str:
    """The cache file name of a night page: '<night>-<content>-<variant>.pdf' (hex hashes;
    see the module's docstring for what each covers)."""
    import matplotlib
    import pandas as pd

    from .. import __version__ as app_version
    from .plots import PAGE_FORMAT_VERSION

    ev = view.events
    events = pd.util.hash_pandas_object(ev, index=False).to_numpy().tobytes() if len(ev) else b""
    epochs = b"" if view.epochs is None else np.ascontiguousarray(view.epochs).tobytes()
    content = _sha(
        [PAGE_FORMAT_VERSION, matplotlib.__version__, app_version],
        [view.night_id, view.date, view.label, view.timezone, view.span_utc, view.n_samples, view.gaps],
        [view.analysis_id, view.analysis_created_utc, view.summary.get("detector_version")],
        view.summary, list(ev.columns), events, epochs, view.notes)
    ids = [view.device, str(view.path)] if include_identifiers else None
    variant = _sha(zone or view.timezone, bool(include_identifiers), ids)
    return f"{_sha(view.path.name)[:16]}-{content[:32]}-{variant[:16]}.pdf"


# ------------------------------------------------------------------ the cache folder
def cache_folder(view: NightView) -> Path:
    return view.path.parent / PAGES_SUBDIR


def _ensure_folder(folder: Path) -> bool:
    """Create the cache folder (and its parent) owner-only; False when it cannot be used."""
    try:
        for p in (folder.parent, folder):
            if not p.is_dir():
                p.mkdir(mode=DIR_MODE)
                os.chmod(p, DIR_MODE)
        return os.access(folder, os.W_OK | os.X_OK)
    except OSError as exc:
        log.info("page cache %s not usable (%s): pages drawn without caching", folder, exc.strerror or exc)
        return False


def _prune(path: Path) -> None:
    """Remove the pages of the same night with another content hash, and temporaries
    left over from a crash (the names' first part is the night's hash)."""
    night, content = path.name.split("-")[:2]
    for old in path.parent.glob(f"{night}-*.pdf"):
        if old.name.split("-")[1] != content:
            old.unlink(missing_ok=True)
            log.debug("page cache: removed %s", old.name)
    for tmp in path.parent.glob(f".{night}-*.tmp"):
        try:
            if time.time() - tmp.stat().st_mtime > STALE_TMP_S:
                tmp.unlink(missing_ok=True)
        except OSError:
            pass


def render_page(view: NightView, path: Path, zone: str | None, include_identifiers: bool,
                prune: bool = False) -> Path:
    """Draw one night page into the single-page PDF ``path``: written under a temporary
    name, owner-only, then renamed (runs in worker processes too; matplotlib's Figure
    draws with its own canvas, no pyplot, no backend switch)."""
    fig = draw_night_page(view, zone=zone, include_identifiers=include_identifiers)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, FILE_MODE)
        with os.fdopen(fd, "wb") as f:
            # no creation date: the same page gives the same bytes
            fig.savefig(f, format="pdf", metadata={"Creator": "twitchwatch", "CreationDate": None})
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    if prune:
        _prune(path)
    return path


def _render_in_worker(view: NightView, path: Path, zone: str | None, include_identifiers: bool,
                      prune: bool) -> Path:
    """render_page, as the worker processes call it (by name, from a fresh import)."""
    return render_page(view, path, zone, include_identifiers, prune)


def _pool_context():
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")


def _render_all(jobs: list[tuple[NightView, Path, bool]], *, zone, include_identifiers, workers: int,
                progress: bool | None) -> None:
    """Draw every (view, path, prune) job: in up to ``workers`` processes when there are
    at least MIN_PARALLEL_PAGES (the views travel by pickle: our own objects, never input)."""
    from tqdm import tqdm

    bar = tqdm(total=len(jobs), desc="report pages", unit="page", leave=False,
               disable=None if progress is None else not progress)
    with bar:
        done: set[int] = set()
        if workers >= 2 and len(jobs) >= MIN_PARALLEL_PAGES:
            from concurrent.futures.process import BrokenProcessPool

            try:
                with ProcessPoolExecutor(max_workers=workers, mp_context=_pool_context()) as pool:
                    futures = {pool.submit(_render_in_worker, v, p, zone, include_identifiers, pr): k
                               for k, (v, p, pr) in enumerate(jobs)}
                    try:
                        for f in as_completed(futures):
                            f.result()          # a worker's error is raised here
                            done.add(futures[f])
                            bar.update()
                    except BaseException:
                        for f in futures:
                            f.cancel()
                        raise
            except (BrokenProcessPool, OSError) as exc:    # e.g. no processes allowed here
                log.warning("drawing report pages in parallel failed (%s); drawing the rest here", exc)
        for k, (v, p, pr) in enumerate(jobs):
            if k not in done:
                render_page(v, p, zone, include_identifiers, pr)
                bar.update()


def night_pages(views: list[NightView], *, include_identifiers: bool = False, zone: str | None = None,
                cache: bool = True, cache_dir: Path | None = None, scratch: Path,
                workers: int | None = None, progress: bool | None = None) -> list[Path]:
    """The single-page PDF of each view's night page, in the order of ``views``.

    Pages found in the cache are used as they are; missing ones are drawn (in parallel
    when several) and stored.  cache=False, or a cache folder that cannot be written:
    pages are drawn into ``scratch`` (a private folder the caller removes).
    cache_dir: use this folder instead of each night's ``<data dir>/.cache/pages``.
    workers: processes for drawing (default min(MAX_WORKERS, CPUs)).
    """
    if workers is None:
        cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
        workers = min(MAX_WORKERS, cpus)
    usable: dict[Path, bool] = {}
    paths, jobs = [], []
    for k, v in enumerate(views):
        name = page_name(v, zone=zone, include_identifiers=include_identifiers)
        folder = Path(cache_dir) if cache_dir is not None else cache_folder(v)
        if cache and folder not in usable:
            usable[folder] = _ensure_folder(folder)
        if cache and usable[folder]:
            path = folder / name
            if path.is_file():
                paths.append(path)
                continue
            jobs.append((v, path, True))
        else:
            path = scratch / f"{k:05d}-{name}"
            jobs.append((v, path, False))
        paths.append(path)
    if jobs:
        log.info("drawing %d of %d night pages (%d from the cache)", len(jobs), len(views), len(views) - len(jobs))
        _render_all(jobs, zone=zone, include_identifiers=include_identifiers, workers=workers, progress=progress)
    else:
        log.info("all %d night pages from the cache", len(views))
    return paths


__all__ = ["night_pages", "page_name", "render_page", "draw_night_page", "identifier_line", "cache_folder",
           "PAGES_SUBDIR"]
