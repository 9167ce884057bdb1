"""The nights of a data directory, as the review commands see them.

One :class:`NightView` per night file: what was recorded (device, span, gaps, damage),
the newest analysis stored in the file (summary, events, 5-s epochs) and the notes.
Nights without an analysis, or analysed by another detector version, or that grew since
they were analysed, are analysed on the way and the result is stored in the night file,
so the next look is instant.
"""
from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from detect.config import DETECTOR_VERSION
from detect.errors import DetectError
from detect.night import EVENT_COLUMNS

from ..errors import InputFileError, TwitchwatchError
from ..nights import _NIGHT, night_date

log = logging.getLogger(__name__)

#: Tags a note may carry (`twitchwatch note --tag`).
NOTE_TAGS = ("medication", "flare", "hydration", "magnesium", "exercise", "other")


@dataclass
class NightView:
    """One night file with its newest analysis.

    night_id : '2026-11-24' or '2026-11-24-ankle' (the file's stem when it follows the
        naming rule, else derived from the first sample under the noon-to-noon rule).
    span_utc : (first, last) sample time, Unix s; None for an empty file.
    gaps : [(start, end, reason)] Unix s, as recorded or imported.
    summary : the analysis summary (the dict `analyze` writes as summary.json).
    events : one row per event: EVENT_COLUMNS plus ``onset_t`` (Unix s, float).
    epochs : (m, N_EPOCH_COLS) 5-s epoch rows (detect/layout.py EP_*), or None when the
        analysis was stored without them.
    device : as stored (includes address and serial: never export them unless asked).
    """

    night_id: str
    path: Path
    date: dt.date
    label: str | None
    timezone: str
    device: dict
    span_utc: tuple[float, float] | None
    n_samples: int
    gaps: list[tuple[float, float, str]]
    damage: tuple
    notes: list[dict]
    summary: dict
    events: pd.DataFrame = field(repr=False)
    epochs: np.ndarray | None = field(repr=False, default=None)
    analysis_created_utc: str | None = None
    analysis_id: int | None = None

    # ------------------------------------------------------------ shortcuts
    @property
    def jerks(self) -> int:
        """Jerks in the sleep window (the headline count)."""
        return int(self.summary["counts_in_sleep_window"]["jerk"])

    @property
    def jerks_per_hour_sleep(self) -> float | None:
        return self.summary.get("jerks_per_hour_sleep")

    @property
    def sleep_window_utc(self) -> tuple[float, float] | None:
        a, b = self.summary.get("sleep_window_start_utc"), self.summary.get("sleep_window_end_utc")
        if not a or not b:
            return None
        return dt.datetime.fromisoformat(a).timestamp(), dt.datetime.fromisoformat(b).timestamp()

    @property
    def sleep_hours(self) -> float:
        return float(self.summary.get("sleep_s") or 0.0) / 3600.0

    def read_window(self, t0: float, t1: float) -> tuple[np.ndarray, np.ndarray]:
        """Raw acceleration between two Unix times: t (n,) s, acc (n, 3) g."""
        from ..store import NightReader

        with NightReader(self.path) as r:
            return r.read_window(t0, t1)


def _events_frame(rows: list[dict]) -> pd.DataFrame:
    ev = pd.DataFrame(rows, columns=EVENT_COLUMNS)
    if len(ev):
        ev["onset_t"] = pd.to_datetime(ev["onset_utc"], utc=True, format="ISO8601").map(pd.Timestamp.timestamp)
    else:
        ev["onset_t"] = pd.Series(dtype=float)
    return ev


def _stale(analysis: dict | None, n_samples: int) -> bool:
    if analysis is None:
        return True
    s = analysis["summary"]
    return analysis["detector_version"] != DETECTOR_VERSION or int(s.get("samples", -1)) != n_samples


def load_night(path: Path, *, analyze: bool = True) -> NightView:
    """Read one night file; analyse it first when it has no current analysis.

    Raises InputFileError (not a night file, too short to analyse, ...) or, with
    analyze=False, TwitchwatchError when no analysis is stored.
    """
    from ..analyze import analyze_night_file
    from ..store import NightReader, save_analysis

    path = Path(path)
    with NightReader(path) as r:
        tz = r.timezone
        n = r.n_samples()
        analysis = r.latest_analysis()
    if _stale(analysis, n):
        if not analyze:
            raise TwitchwatchError(f"{path.name} has no current analysis; run `twitchwatch analyze {path}`")
        log.info("analysing %s", path.name)
        save_analysis(path, analyze_night_file(path, timezone=tz))
        analysis = None
    with NightReader(path) as r:
        if analysis is None:       # read once more only when it was just made
            analysis = r.latest_analysis()
        device = r.device()
        span = r.time_span()
        view_args = dict(
            path=path, timezone=r.timezone, device=device, span_utc=span, n_samples=r.n_samples(),
            gaps=r.gaps(), damage=r.damage(), notes=r.notes(), summary=analysis["summary"],
            events=_events_frame(analysis["events"]), epochs=r.analysis_epochs(analysis["analysis_id"]),
            analysis_created_utc=analysis["created_utc"], analysis_id=analysis["analysis_id"],
        )
    label = device.get("label")
    if _NIGHT.match(path.stem):
        nid = path.stem
        date = dt.date.fromisoformat(nid[:10])
        label = nid[11:] or None
    else:
        date = night_date(span[0], view_args["timezone"]) if span else dt.date(1970, 1, 1)
        nid = f"{date.isoformat()}-{label}" if label else date.isoformat()
    return NightView(night_id=nid, date=date, label=label, **view_args)


@dataclass(frozen=True)
class Skipped:
    """A file of the data directory that could not be listed, and why."""

    path: Path
    reason: str


def list_nights(data: Path, *, since: dt.date | None = None, until: dt.date | None = None,
                analyze: bool = True, progress: bool | None = None) -> tuple[list[NightView], list[Skipped]]:
    """All nights of a data directory between two dates (inclusive), oldest first.

    Files that cannot be read are returned as ``Skipped`` (one bad file never hides the
    others).  ``progress``: a tqdm bar on stderr over the nights to analyse (None: only
    when stderr is a terminal).
    """
    from tqdm import tqdm

    files = sorted(Path(data).glob("*.night"))
    if not files:
        raise InputFileError(f"no night files in {data}; record a night, or `twitchwatch import` recordings")
    if since and until and since > until:
        raise InputFileError(f"--since {since} is after --until {until}; swap them")
    chosen = []
    for f in files:
        if _NIGHT.match(f.stem):
            d = dt.date.fromisoformat(f.stem[:10])
            if (since and d < since) or (until and d > until):
                continue
        chosen.append(f)
    views, skipped = [], []
    for f in tqdm(chosen, desc="nights", unit="night", disable=None if progress is None else not progress,
                  leave=False):
        try:
            v = load_night(f, analyze=analyze)
        except (TwitchwatchError, DetectError, OSError) as exc:
            skipped.append(Skipped(f, str(exc)))
            continue
        if (since and v.date < since) or (until and v.date > until):
            continue
        views.append(v)
    views.sort(key=lambda v: (v.date, v.label or ""))
    return views, skipped


def parse_date(text: str, option: str) -> dt.date:
    """'2026-11-24' -> date; a clear error naming the option otherwise."""
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise InputFileError(f"{option} {text!r}: give a date as YYYY-MM-DD") from None
