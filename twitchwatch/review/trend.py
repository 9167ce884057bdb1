"""Jerks per hour of sleep, night after night, against the person's own earlier nights,
and a before/after comparison around one note (for example a dose change).

Everything here works on the stored analyses (summary counts and hours of sleep); no raw
sample is read, so a trend over months takes a fraction of a second once nights are
analysed.

What is counted: accelerometer-detected jerks inside the sleep window
(``summary['counts_in_sleep_window']['jerk']``), and the exposure is the hours of sleep
(``summary['sleep_s']``: the sleep window minus gaps and non-wear).  These are
accelerometer-detected movement events, not a diagnosis (docs: domain.md section 1).

**Baseline.**  For each night, the median and interquartile range (25th-75th
percentile) of jerks per hour of sleep over up to ``BASELINE_NIGHTS`` earlier usable
nights of the same device label; none with fewer than ``MIN_BASELINE_NIGHTS``.  A night
is *usable* when it has a sleep window with at least ``MIN_SLEEP_H`` hours of sleep;
shorter nights are shown but their rate is too noisy to build on.

**Before/after comparison** (:func:`rate_ratio`).  Counts per night with hours of sleep
as exposure are Poisson-like, but nights differ far more than a Poisson model allows
(the domain brief: 3-1102 events per hour between people; within a person, flares, bad
nights, alcohol...).  A plain Poisson interval would be far too narrow.  We use the
quasi-Poisson model, a log-linear Poisson model with the log hours as offset and one
indicator for the "after" side, with the variance inflated by the Pearson dispersion
estimated from the night-to-night scatter:

* the rate ratio after/before is the ratio of pooled rates (sum of jerks / sum of hours
  on each side), which is exactly the maximum-likelihood estimate of that model;
* its log has standard error sqrt(phi * (1/Y_after + 1/Y_before)), where phi is the
  Pearson chi-square over its degrees of freedom (nights - 2), floored at 1 (fewer than
  Poisson's variance is not plausible for nights and a small-sample phi below 1 would
  only narrow the interval by chance);
* the interval uses Student's t with nights - 2 degrees of freedom, which keeps the
  coverage close to nominal with a handful of nights (tests/test_review_trend.py checks
  it on simulated overdispersed nights).

It is closed-form, needs no optimiser, and weights long nights more than short ones, as
it should.  A side with fewer than ``MIN_SIDE_NIGHTS`` usable nights gives no number: the
comparison is refused with a sentence saying why.  When one side has no jerks at all,
0.5 is added to both totals (Haldane's correction) so that the interval stays finite;
the result says so.

A difference before and after a note describes the recorded nights; it does not show
that what the note describes caused it.
"""
from __future__ import annotations

import datetime as dt
import logging
import math
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

from ..errors import InputFileError
from .catalog import NOTE_TAGS, NightView

log = logging.getLogger(__name__)

#: A night's rate counts only with at least this much sleep (h).
MIN_SLEEP_H = 0.5
#: The baseline looks back over at most this many usable earlier nights.
BASELINE_NIGHTS = 28
#: ... and needs at least this many.
MIN_BASELINE_NIGHTS = 3
#: A before/after comparison needs at least this many usable nights on each side.
MIN_SIDE_NIGHTS = 3
#: The default note for the comparison: the latest one with this tag.
DEFAULT_TAG = "medication"

WORDING = "accelerometer-detected jerks"
NOT_A_DIAGNOSIS = ("This describes the recorded nights only; it does not show that the change caused a "
                   "difference, and it is not a diagnosis.")


# ---------------------------------------------------------------- nightly table
TABLE_COLUMNS = ["night_id", "date", "label", "jerks", "sleep_h", "jerks_per_hour", "usable",
                 "baseline_n", "baseline_median", "baseline_q1", "baseline_q3", "notes"]


def nightly_table(views: list[NightView], *, min_sleep_h: float = MIN_SLEEP_H,
                  baseline_nights: int = BASELINE_NIGHTS,
                  min_baseline: int = MIN_BASELINE_NIGHTS) -> pd.DataFrame:
    """One row per night (oldest first): TABLE_COLUMNS.

    jerks : accelerometer-detected jerks in the sleep window.
    sleep_h : hours of sleep (sleep window minus gaps and non-wear); 0 without a window.
    jerks_per_hour : jerks / sleep_h, NaN without a sleep window.
    usable : a sleep window with at least min_sleep_h hours.
    baseline_* : over the up to ``baseline_nights`` usable nights of the same label before
        this one (NaN with fewer than ``min_baseline``): their count, median and quartiles
        of jerks per hour of sleep.
    notes : the night's notes, as stored ({'created_utc', 'text', 'tag'}).
    """
    rows = []
    for v in sorted(views, key=lambda v: (v.date, v.label or "")):
        h = v.sleep_hours
        has_window = v.sleep_window_utc is not None and h > 0
        rows.append({
            "night_id": v.night_id, "date": v.date, "label": v.label or "", "jerks": v.jerks,
            "sleep_h": h, "jerks_per_hour": v.jerks / h if has_window else math.nan,
            "usable": bool(has_window and h >= min_sleep_h), "notes": list(v.notes),
        })
    df = pd.DataFrame(rows, columns=[c for c in TABLE_COLUMNS if not c.startswith("baseline")])
    for c in ("baseline_n", "baseline_median", "baseline_q1", "baseline_q3"):
        df[c] = math.nan
    df["baseline_n"] = 0
    for _, idx in df.groupby("label", sort=False).groups.items():
        history: list[float] = []
        for i in idx:
            earlier = history[-baseline_nights:]
            df.at[i, "baseline_n"] = len(earlier)
            if len(earlier) >= min_baseline:
                q1, med, q3 = np.percentile(earlier, [25, 50, 75])
                df.at[i, "baseline_median"], df.at[i, "baseline_q1"], df.at[i, "baseline_q3"] = med, q1, q3
            if df.at[i, "usable"]:
                history.append(float(df.at[i, "jerks_per_hour"]))
    return df[TABLE_COLUMNS]


# ---------------------------------------------------------------- the statistic
@dataclass(frozen=True)
class RateRatio:
    """After/before rate ratio with its interval (see the module docstring for the method).

    ratio, low, high : the rate ratio and its confidence interval.
    dispersion : Pearson chi-square / df (before flooring at 1); NaN with df < 1.
    df : degrees of freedom (nights - 2).
    corrected : 0.5 was added to both totals because one side had no jerks.
    """

    ratio: float
    low: float
    high: float
    level: float
    dispersion: float
    df: int
    corrected: bool


def rate_ratio(counts_before, hours_before, counts_after, hours_after, *, level: float = 0.95) -> RateRatio:
    """Quasi-Poisson rate ratio after/before of per-night counts with hours as exposure.

    counts_* : (n,) jerks per night; hours_* : (n,) hours of sleep per night (> 0).
    Needs at least one night on each side and three in all (df >= 1).
    """
    from scipy.special import stdtrit  # only the t quantile; scipy.stats costs 0.8 s to import

    yb, hb = np.asarray(counts_before, float), np.asarray(hours_before, float)
    ya, ha = np.asarray(counts_after, float), np.asarray(hours_after, float)
    if yb.size < 1 or ya.size < 1 or yb.size + ya.size < 3:
        raise ValueError("rate_ratio needs at least one night on each side and three in all")
    if np.any(hb <= 0) or np.any(ha <= 0):
        raise ValueError("hours of sleep must be positive")
    Yb, Hb, Ya, Ha = yb.sum(), hb.sum(), ya.sum(), ha.sum()
    df = int(yb.size + ya.size - 2)
    x2 = 0.0
    for y, h, Y, H in ((yb, hb, Yb, Hb), (ya, ha, Ya, Ha)):
        mu = (Y / H) * h
        ok = mu > 0          # a side with no jerks fits exactly (all zero): no contribution
        x2 += float(np.sum((y[ok] - mu[ok]) ** 2 / mu[ok]))
    phi = x2 / df if df > 0 else math.nan
    corrected = bool(Yb == 0 or Ya == 0)
    if corrected:
        Yb, Ya = Yb + 0.5, Ya + 0.5
    log_rr = math.log((Ya / Ha) / (Yb / Hb))
    se = math.sqrt(max(phi, 1.0) * (1.0 / Ya + 1.0 / Yb))
    q = float(stdtrit(df, 0.5 + level / 2.0))
    return RateRatio(ratio=math.exp(log_rr), low=math.exp(log_rr - q * se), high=math.exp(log_rr + q * se),
                     level=level, dispersion=phi, df=df, corrected=corrected)


# ---------------------------------------------------------------- choosing a note
@dataclass(frozen=True)
class ChosenNote:
    night_id: str
    date: dt.date
    label: str
    text: str
    tag: str | None
    created_utc: str


def _all_notes(views: list[NightView]) -> list[ChosenNote]:
    out = [ChosenNote(v.night_id, v.date, v.label or "", n["text"], n.get("tag"), n["created_utc"])
           for v in views for n in v.notes]
    return sorted(out, key=lambda n: (n.date, n.created_utc))


def find_note(views: list[NightView], query: str | None = None) -> ChosenNote | None:
    """The note to compare around.

    query None : the latest note tagged 'medication' (None when there is none).
    query a tag (NOTE_TAGS) : the latest note with that tag.
    otherwise : the latest note whose text contains query (case-insensitive).
    Raises InputFileError when a query matches nothing.
    """
    notes = _all_notes(views)
    if query is None:
        hits = [n for n in notes if n.tag == DEFAULT_TAG]
        return hits[-1] if hits else None
    q = query.strip().lower()
    hits = [n for n in notes if (n.tag or "").lower() == q] if q in NOTE_TAGS else []
    hits = hits or [n for n in notes if q in n.text.lower()]
    if not hits:
        have = "; ".join(f"{n.night_id} [{n.tag or '-'}] {n.text}" for n in notes[-5:])
        raise InputFileError(
            f"no note matches {query!r} in these nights"
            + (f"; the latest notes are: {have}" if have else "; there are no notes (add one with `twitchwatch note`)"))
    return hits[-1]


# ---------------------------------------------------------------- the comparison
@dataclass(frozen=True)
class Side:
    """One side of the comparison: usable nights, their hours of sleep and jerks."""

    nights: int
    hours: float
    jerks: int
    first: dt.date | None
    last: dt.date | None

    @property
    def rate(self) -> float | None:
        return self.jerks / self.hours if self.hours > 0 else None


@dataclass(frozen=True)
class Comparison:
    """Before/after comparison around a note.

    before : usable nights from the previous note with the same tag (or the start of the
        period) to the night before the note's night.
    after : usable nights from the note's night up to the night before the next note with
        the same tag (or the end of the period): a dose change is meant to act from the
        night it is noted.
    ratio : None when refused (``refused`` says why).
    sentence : the result in words, always with its limits.
    """

    note: ChosenNote
    before: Side
    after: Side
    ratio: RateRatio | None
    refused: str | None
    sentence: str
    method: str = field(default="quasi-Poisson rate ratio over nights (hours of sleep as exposure), t interval")

    def to_dict(self) -> dict:
        d = asdict(self)
        d["note"]["date"] = self.note.date.isoformat()
        for s in ("before", "after"):
            side = getattr(self, s)
            d[s]["rate_per_hour"] = side.rate
            d[s]["first"] = side.first and side.first.isoformat()
            d[s]["last"] = side.last and side.last.isoformat()
        return d


def _side(rows: pd.DataFrame) -> Side:
    return Side(nights=int(len(rows)), hours=float(rows["sleep_h"].sum()), jerks=int(rows["jerks"].sum()),
                first=rows["date"].min() if len(rows) else None, last=rows["date"].max() if len(rows) else None)


def _fmt_rate(s: Side) -> str:
    return "no rate" if s.rate is None else f"{s.rate:.1f} per hour"


def compare_around(table: pd.DataFrame, note: ChosenNote, views_notes: list[ChosenNote] | None = None, *,
                   level: float = 0.95, min_nights: int = MIN_SIDE_NIGHTS) -> Comparison:
    """Before/after comparison around ``note`` on a :func:`nightly_table`.

    views_notes : all notes (to bound each side by the neighbouring notes with the same tag).
    """
    t = table[(table["label"] == note.label) & table["usable"]]
    lo, hi = None, None
    if note.tag:
        same = [n for n in (views_notes or []) if n.tag == note.tag and n.label == note.label]
        lo = max((n.date for n in same if n.date < note.date), default=None)
        hi = min((n.date for n in same if n.date > note.date), default=None)
    before = t[(t["date"] < note.date) & ((t["date"] >= lo) if lo else True)]
    after = t[(t["date"] >= note.date) & ((t["date"] < hi) if hi else True)]
    b, a = _side(before), _side(after)
    tag = f" [{note.tag}]" if note.tag else ""
    head = f"the note '{note.text}'{tag} of {note.night_id}"
    sides = (f"before: {b.nights} nights, {b.hours:.1f} h of sleep, {b.jerks} jerks, {_fmt_rate(b)}; "
             f"from that night on: {a.nights} nights, {a.hours:.1f} h, {a.jerks} jerks, {_fmt_rate(a)}")
    if b.nights < min_nights or a.nights < min_nights:
        why = (f"too few nights to compare around {head} ({b.nights} before, {a.nights} from that night on; "
               f"at least {min_nights} usable nights on each side are needed)")
        sentence = f"{WORDING.capitalize()}: {sides}. No comparison: {why}. It is not a diagnosis."
        return Comparison(note, b, a, None, why, sentence)
    rr = rate_ratio(before["jerks"], before["sleep_h"], after["jerks"], after["sleep_h"], level=level)
    pct = int(round(level * 100))
    sentence = (
        f"{WORDING.capitalize()} per hour of sleep around {head}: {sides}. "
        f"Rate ratio after/before {rr.ratio:.2f} ({pct}% CI {rr.low:.2f} to {rr.high:.2f}; quasi-Poisson over "
        f"nights, dispersion {rr.dispersion:.1f}" + (", 0.5 added to both totals as one side had none" if rr.corrected else "")
        + "). " + ("The interval includes 1: these nights show no clear change. " if rr.low <= 1.0 <= rr.high else "")
        + NOT_A_DIAGNOSIS)
    return Comparison(note, b, a, rr, None, sentence)


def compare(views: list[NightView], query: str | None = None, *, table: pd.DataFrame | None = None,
            level: float = 0.95) -> Comparison | None:
    """Find the note (see :func:`find_note`) and compare around it; None when no note
    was asked for and none is tagged 'medication'."""
    note = find_note(views, query)
    if note is None:
        return None
    table = nightly_table(views) if table is None else table
    return compare_around(table, note, _all_notes(views), level=level)


__all__ = ["nightly_table", "rate_ratio", "RateRatio", "find_note", "ChosenNote", "compare", "compare_around",
           "Comparison", "Side", "MIN_SLEEP_H", "MIN_SIDE_NIGHTS", "WORDING", "NOT_A_DIAGNOSIS"]
