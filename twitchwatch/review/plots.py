"""Pictures of nights and of the trend (matplotlib, Agg).

Figures are built with :class:`matplotlib.figure.Figure` directly, never through pyplot,
so nothing global changes for other users of matplotlib in the process (no backend
switch, no figure manager, no rcParams).  Each function returns a Figure; the caller
saves it (``fig.savefig(path)``) or adds it to a PDF.

Times are Unix seconds inside; every time axis is drawn in local time of an IANA zone
(DST-aware: each tick is converted on its own, so a night across a clock change shows
01:30 twice rather than a shifted hour).

What is drawn is what the stored analysis holds: 5-s epoch statistics, events, summary.
Only the waveform gallery reads raw samples, a few seconds around each of the largest
jerks (``NightView.read_window``).
"""
from __future__ import annotations

import datetime as dt
import logging
import math
import textwrap
from zoneinfo import ZoneInfo

import numpy as np

from detect import layout as K
from detect.filters import butter2_highpass

from .catalog import NightView

log = logging.getLogger(__name__)

#: Okabe-Ito colours (distinguishable with the common colour-vision deficiencies).
KIND_COLOURS = {
    "jerk": "#D55E00",
    "limb_movement": "#0072B2",
    "posture_change": "#009E73",
    "other_movement": "#7F7F7F",
}
KIND_LABELS = {"jerk": "jerk", "limb_movement": "limb movement", "posture_change": "posture change",
               "other_movement": "other movement"}
SLEEP_COLOUR = "#56B4E9"
GAP_COLOUR = "#444444"
NONWEAR_COLOUR = "#E69F00"   # Okabe-Ito orange, hatched: not worn is not a gap
NOTE_COLOUR = "#CC79A7"
A4_PORTRAIT = (8.27, 11.69)
A4_LANDSCAPE = (11.69, 8.27)
#: Seconds shown around each jerk in the gallery: before and after the onset.
WAVE_BEFORE_S, WAVE_AFTER_S = 1.0, 2.0
#: Extra samples read before the shown window so the high-pass has settled.
WAVE_SETTLE_S = 2.0
#: Version of the night page's drawing: bump it whenever night_figure draws differently,
#: so that report pages cached from the old drawing are redrawn (review/pages.py).
PAGE_FORMAT_VERSION = 3


def _mdate(t) -> np.ndarray:
    """Unix seconds -> matplotlib date numbers (days since 1970-01-01, mpl's default epoch)."""
    return np.asarray(t, dtype=float) / 86400.0


#: Tick spacings tried for a night's time axis (minutes of local clock time).
TICK_STEPS_MIN = (5, 10, 15, 20, 30, 60, 120, 180, 240, 360, 720, 1440)


def local_ticks(t0: float, t1: float, zone: str, max_ticks: int = 10) -> np.ndarray:
    """Unix times in [t0, t1] where the local clock of ``zone`` shows a round time.

    matplotlib's date locators step through local wall-clock times, which skips the
    repeated hour when summer time ends; here every instant is converted on its own, so
    01:20 BST and 01:20 GMT both get a tick.  Candidates are the 5-minute marks of UTC
    (every zone's offset is a multiple of 15 minutes); the smallest step of
    TICK_STEPS_MIN giving at most ``max_ticks`` ticks is used.
    """
    z = ZoneInfo(zone)
    cand = np.arange(math.ceil(t0 / 300.0) * 300.0, t1 + 1e-6, 300.0)
    if cand.size == 0:
        return cand
    minute = np.array([(lambda d: d.hour * 60 + d.minute)(dt.datetime.fromtimestamp(c, tz=z)) for c in cand])
    for step in TICK_STEPS_MIN:
        hit = cand[minute % step == 0]
        if hit.size <= max_ticks:
            return hit
    return hit


def _local_time_axis(ax, zone: str, span: tuple[float, float] | None = None, *, label: bool = True) -> None:
    import matplotlib.dates as mdates
    from matplotlib.ticker import FixedLocator

    z = ZoneInfo(zone)
    if span is not None:
        ax.xaxis.set_major_locator(FixedLocator(_mdate(local_ticks(span[0], span[1], zone))))
    else:
        ax.xaxis.set_major_locator(mdates.AutoDateLocator(tz=z, minticks=4, maxticks=12))
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%H:%M", tz=z))
    if label:
        ax.set_xlabel(f"local time ({zone})")


def _shade_spans(ax, spans, *, colour, alpha, label=None, hatch=None) -> None:
    first = True
    for a, b in spans:
        ax.axvspan(_mdate(a), _mdate(b), color=colour, alpha=alpha, lw=0, hatch=hatch,
                   label=label if first else None)
        first = False


def _nonwear_spans(view: NightView) -> list[tuple[float, float]]:
    """Where the analysis found the band not worn (Unix s); analyses made before the
    summary listed them have only the total, and show none."""
    return [(dt.datetime.fromisoformat(g["start_utc"]).timestamp(),
             dt.datetime.fromisoformat(g["end_utc"]).timestamp())
            for g in view.summary.get("nonwear") or []]


def _gap_spans(view: NightView) -> list[tuple[float, float]]:
    """Gaps the analysis saw (from the timestamps) and those stored with the night, merged."""
    spans = [(float(a), float(b)) for a, b, _ in view.gaps]
    for g in view.summary.get("gaps") or []:
        spans.append((dt.datetime.fromisoformat(g["start_utc"]).timestamp(),
                      dt.datetime.fromisoformat(g["end_utc"]).timestamp()))
    spans.sort()
    merged: list[list[float]] = []
    for a, b in spans:
        if merged and a <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], b)
        else:
            merged.append([a, b])
    return [(a, b) for a, b in merged]


def _fmt_h(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _local(t: float, zone: str, fmt: str = "%H:%M") -> str:
    return dt.datetime.fromtimestamp(t, tz=ZoneInfo(zone)).strftime(fmt)


def notes_text(notes: list[dict]) -> str:
    """'[medication] new dose ...; [other] ...' (empty without notes)."""
    return "; ".join(f"[{n['tag']}] {n['text']}" if n.get("tag") else n["text"] for n in notes)


def night_header_lines(view: NightView, zone: str) -> list[str]:
    """The facts of a night in a few lines: sleep window, counts, data quality (no identifiers)."""
    s = view.summary
    counts = s.get("counts_in_sleep_window") or {}
    sw = view.sleep_window_utc
    jph = view.jerks_per_hour_sleep
    lines = []
    if sw:
        lines.append(f"Sleep window {_local(sw[0], zone)}-{_local(sw[1], zone)} ({zone}); "
                     f"{view.sleep_hours:.2f} h of sleep after gaps and non-wear")
        lines.append(f"In the sleep window: {counts.get('jerk', 0)} jerks"
                     + (f" ({jph:.1f} per hour of sleep)" if jph is not None else "")
                     + f", {counts.get('limb_movement', 0)} limb movements"
                     + (f" (PLM index {s['plm_index']:.1f}/h)" if s.get("plm_index") is not None else "")
                     + f", {counts.get('posture_change', 0)} posture changes, "
                       f"{counts.get('other_movement', 0)} other movements")
    else:
        lines.append("No sleep period found in this recording: no rate per hour of sleep.")
    rec = ""
    if view.span_utc:
        rec = (f"Recording {_local(view.span_utc[0], zone)}-{_local(view.span_utc[1], zone)}, "
               f"{s.get('sample_rate_hz', 0):g} Hz; ")
    cal = s.get("calibration_error_mg") or {}
    lines.append(rec + f"gaps {_fmt_h(float(s.get('gaps_s') or 0))}, non-wear {_fmt_h(float(s.get('nonwear_s') or 0))}, "
                 f"noise floor {s.get('noise_floor_mg') or 0:.1f} mg, clipped samples {s.get('clipped_samples', 0)}"
                 + (f", calibration error {cal['after']:.0f} mg" if cal.get("after") is not None else ""))
    if view.notes:
        lines.append("Notes: " + notes_text(view.notes))
    return lines


# ------------------------------------------------------------------ waveforms
def highpass_magnitude(t: np.ndarray, acc: np.ndarray, fs: float, fc: float = 2.0) -> np.ndarray:
    """|high-pass(acc)| per sample (g): the detector's gravity-free magnitude.

    A 2nd-order Butterworth high-pass at ``fc`` on each axis, started from the steady
    state of the first sample of every contiguous piece (restarted after a gap, as the
    detector does), then the Euclidean norm.  NaN is put at the first sample after a gap
    so that plotted lines do not join across it.  t (n,) s, acc (n, 3) g -> (n,) g.
    """
    n = t.size
    out = np.full(n, np.nan)
    if n == 0:
        return out
    b0, b1, b2, a1, a2 = butter2_highpass(fc, fs)
    limit = max(0.1, 5.0 / fs)
    starts = np.concatenate([[0], np.flatnonzero(np.diff(t) > limit) + 1, [n]])
    for s, e in zip(starts[:-1], starts[1:]):
        x = acc[s:e]
        y = np.empty_like(x)
        z2 = b2 * x[0]
        z1 = (b1 + b2) * x[0]          # steady state for a constant input: output 0
        for i in range(x.shape[0]):    # a few hundred samples per jerk: a plain loop is enough
            xi = x[i]
            yi = b0 * xi + z1
            z1 = b1 * xi - a1 * yi + z2
            z2 = b2 * xi - a2 * yi
            y[i] = yi
        out[s:e] = np.sqrt(np.sum(y * y, axis=1))
        if s > 0:
            out[s] = np.nan
    return out


def largest_jerks(view: NightView, n: int) -> "list[dict]":
    """The n jerks with the largest peak acceleration (rows as dicts), largest first."""
    ev = view.events
    if ev is None or not len(ev):
        return []
    j = ev[ev["kind"] == "jerk"].sort_values("peak_accel_g", ascending=False).head(n)
    return j.to_dict("records")


def _nice_ceiling(x: float) -> float:
    """The smallest of 1, 2, 2.5, 5 x 10^k at or above x (a tidy top for a shared scale)."""
    if not (x > 0 and math.isfinite(x)):
        return 1.0
    e = 10.0 ** math.floor(math.log10(x))
    for m in (1.0, 2.0, 2.5, 5.0):
        if m * e >= x * (1 - 1e-9):
            return m * e
    return 10.0 * e


#: Gallery cells: columns per row, and the space between cells (in seconds of the x axis).
GALLERY_COLS, GALLERY_GAP_S = 4, 0.6


def _draw_gallery(ax, view: NightView, zone: str, n: int) -> None:
    """The waveforms of the n largest jerks in ONE axes, largest first, GALLERY_COLS per
    row: each from -WAVE_BEFORE_S to +WAVE_AFTER_S around its onset, all on one shared
    scale in g (sizes compare honestly), a 1-s scale bar in place of time ticks.

    One axes rather than one per jerk: axes and their ticks are where a page's drawing
    time goes (8 axes took about half of it).  Axes x: seconds; cell c spans
    [c (W + GAP), c (W + GAP) + W] with W = WAVE_BEFORE_S + WAVE_AFTER_S and the onset
    WAVE_BEFORE_S into it.  Axes y: g above the row's baseline, rows stacked downwards.
    """
    from matplotlib.patches import Rectangle
    from matplotlib.ticker import FixedFormatter, FixedLocator, NullLocator

    jerks = largest_jerks(view, n)
    ax.xaxis.set_major_locator(NullLocator())
    if not jerks:
        ax.set_axis_off()
        ax.text(0.0, 0.5, "no jerk detected this night", ha="left", va="center", fontsize=8,
                transform=ax.transAxes)
        return
    fs = float(view.summary.get("sample_rate_hz") or 100.0)
    fc = float((view.summary.get("config") or {}).get("highpass_hz", 2.0))
    waves = []                          # per jerk: (s from onset, |a| g), or None without samples
    for row in jerks:
        t0 = float(row["onset_t"])
        t, acc = view.read_window(t0 - WAVE_BEFORE_S - WAVE_SETTLE_S, t0 + WAVE_AFTER_S)
        if t.size > 1:
            mag = highpass_magnitude(t, acc, fs, fc)
            show = t >= t0 - WAVE_BEFORE_S
            waves.append((t[show] - t0, mag[show]))
        else:
            waves.append(None)
    peaks = [float(np.nanmax(w[1])) for w in waves if w is not None and np.isfinite(w[1]).any()]
    top = _nice_ceiling(max(peaks + [float(r["peak_accel_g"]) for r in jerks]))
    width, ncols = WAVE_BEFORE_S + WAVE_AFTER_S, GALLERY_COLS
    nrows = math.ceil(len(jerks) / ncols)
    height = top * 1.45                 # a row: the scale, plus room for the cell's label
    ticks = (0.0, top / 2, top)
    wx, wy, ox, oy, gx, gy, yticks, ylabels = [], [], [], [], [], [], [], []
    for k, (row, w) in enumerate(zip(jerks, waves)):
        r, c = divmod(k, ncols)
        base = (nrows - 1 - r) * height
        left = c * (width + GALLERY_GAP_S)
        onset = left + WAVE_BEFORE_S
        ax.add_patch(Rectangle((left, base), width, top, fill=False, edgecolor="#AAAAAA", lw=0.5))
        ax.add_patch(Rectangle((onset, base), min(float(row["duration_s"]), WAVE_AFTER_S), top,
                               color=KIND_COLOURS["jerk"], alpha=0.12, lw=0))
        ox += [onset, onset, np.nan]
        oy += [base, base + top, np.nan]
        if w is not None:
            wx += [*(onset + w[0]), np.nan]
            wy += [*(base + w[1]), np.nan]
        else:
            ax.text(left + width / 2, base + top / 2, "no samples", ha="center", va="center", fontsize=6)
        where = ", outside sleep window" if not row["in_sleep_window"] else ""
        ax.text(left, base + top * 1.05, f"{k + 1}.  {_local(float(row['onset_t']), zone, '%H:%M:%S')}   "
                f"{row['peak_accel_g']:.2f} g{where}", fontsize=6.5, va="bottom", ha="left")
        if c == 0:
            yticks += [base + v for v in ticks]
            ylabels += [f"{v:g}" for v in ticks]
        for v in ticks[1:]:             # faint grid inside the cell only
            gx += [left, left + width, np.nan]
            gy += [base + v, base + v, np.nan]
    # one line each for all grids, onsets and waveforms: NaN separates the cells
    ax.plot(gx, gy, color="#DDDDDD", lw=0.4, zorder=0.5)
    ax.plot(ox, oy, color="k", lw=0.5, ls=":")
    ax.plot(wx, wy, color=KIND_COLOURS["jerk"], lw=0.8)
    # the time scale: a 1-s bar under the last column of the lowest row
    right = (ncols - 1) * (width + GALLERY_GAP_S) + width
    bar_y = -0.12 * height
    ax.plot([right - 1.0, right], [bar_y, bar_y], color="k", lw=1.5, solid_capstyle="butt")
    ax.text(right - 1.05, bar_y, "1 s", ha="right", va="center", fontsize=6.5)
    ax.text(0.0, bar_y, f"each cell: {WAVE_BEFORE_S:g} s before to {WAVE_AFTER_S:g} s after the onset "
            "(dotted); one scale in g for all", ha="left", va="center", fontsize=6.5, color="#333333")
    ax.set_xlim(-0.15, right + 0.15)
    ax.set_ylim(-0.22 * height, nrows * height - (height - top * 1.3))
    ax.yaxis.set_major_locator(FixedLocator(yticks))
    ax.yaxis.set_major_formatter(FixedFormatter(ylabels))
    ax.tick_params(labelsize=6, length=2)
    ax.set_ylabel("g", fontsize=7)
    ax.yaxis.set_label_coords(-0.035, 0.5)     # placed by hand: automatic placement costs time
    for side in ("top", "right", "bottom", "left"):
        ax.spines[side].set_visible(False)


# ------------------------------------------------------------------ one night
def night_figure(view: NightView, *, tz: str | None = None, n_waveforms: int = 8,
                 figsize: tuple[float, float] = A4_PORTRAIT):
    """The overview of one night (A4 portrait): header, movement level with the sleep
    window, gaps and events, an hourly histogram of jerks, and the largest jerks'
    waveforms.  tz: display zone (default the night's).  Returns a matplotlib Figure with
    four axes: movement level, events, hourly histogram, waveform gallery.

    The bottom 1.2 % of the page is left free for a report's page footer.  Bump
    PAGE_FORMAT_VERSION when the drawing changes (cached report pages depend on it).
    """
    from matplotlib.colors import to_rgba
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch
    from matplotlib.ticker import FuncFormatter, MaxNLocator, NullLocator

    zone = tz or view.timezone
    # Drawing time matters for a report of many nights, so: a fixed layout (figure
    # fractions; a layout engine would double the time), titles and axis labels placed by
    # hand (automatic placement measures every tick label), few ticks, and one axes for
    # the whole waveform gallery.
    fig = Figure(figsize=figsize)
    L, R = 0.16, 0.975

    # ---- header
    local_date = view.date.strftime("%A %d %B %Y")
    title = f"Night of {local_date}" + (f" ({view.label})" if view.label else "")
    fig.text(0.03, 0.985, title, fontsize=13, weight="bold", va="top")
    fig.text(R, 0.985, "accelerometer-detected movement events", fontsize=8, va="top", ha="right",
             style="italic")
    body = "\n".join(textwrap.fill(line, 150) for line in night_header_lines(view, zone))
    fig.text(0.03, 0.955, body, fontsize=7.5, va="top", linespacing=1.4)

    # ---- movement level and event raster, sharing the local time axis
    ax_lvl = fig.add_axes((L, 0.655, R - L, 0.2))
    ax_ev = fig.add_axes((L, 0.53, R - L, 0.095), sharex=ax_lvl)
    ax_lvl.tick_params(labelbottom=False, labelsize=7)
    ax_ev.tick_params(labelsize=7)
    sw = view.sleep_window_utc
    gaps = _gap_spans(view)
    ep = view.epochs
    handles = []
    if ep is not None and len(ep):
        ok = ep[:, K.EP_N] > 0
        tm = 0.5 * (ep[ok, K.EP_T0] + ep[ok, K.EP_T1])
        rms_mg = np.sqrt(np.maximum(ep[ok, K.EP_MS], 0.0)) * 1000.0
        # break the line at gaps between epochs (timestamps are the truth: no joining)
        y = rms_mg.copy()
        brk = np.flatnonzero(np.diff(tm) > 15.0)
        tm_plot = np.insert(tm, brk + 1, np.nan)
        y = np.insert(y, brk + 1, np.nan)
        ax_lvl.plot(_mdate(tm_plot), np.maximum(y, 0.1), color="k", lw=0.6)
        ax_lvl.set_yscale("log")
        ax_lvl.yaxis.set_minor_locator(NullLocator())     # decades are enough; minor ticks cost time
        ax_lvl.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))   # 1, 10, 100: no mathtext
        lo = np.nanpercentile(rms_mg, 1) if rms_mg.size else 1.0
        ax_lvl.set_ylim(bottom=max(lo * 0.5, 0.05))
        handles.append(Line2D([], [], color="k", lw=0.8, label="movement level (5-s RMS)"))
    else:
        ax_lvl.text(0.5, 0.5, "no epoch statistics stored with this analysis", ha="center",
                    transform=ax_lvl.transAxes)
    ax_lvl.set_ylabel("gravity-free RMS (mg)", fontsize=8)
    ax_lvl.yaxis.set_label_coords(-0.075, 0.5)
    nonwear = _nonwear_spans(view)
    for ax in (ax_lvl, ax_ev):
        if sw:
            ax.axvspan(_mdate(sw[0]), _mdate(sw[1]), color=SLEEP_COLOUR, alpha=0.15, lw=0)
        _shade_spans(ax, gaps, colour=GAP_COLOUR, alpha=0.35)
        _shade_spans(ax, nonwear, colour=NONWEAR_COLOUR, alpha=0.3, hatch="//")
    if sw:
        handles.append(Patch(color=SLEEP_COLOUR, alpha=0.3, label="sleep window"))
    if gaps:
        handles.append(Patch(color=GAP_COLOUR, alpha=0.5, label=f"gap in data ({len(gaps)})"))
    if nonwear:
        handles.append(Patch(facecolor=NONWEAR_COLOUR, alpha=0.4, hatch="//",
                             label=f"band not worn ({len(nonwear)})"))
    ev = view.events
    kinds = list(KIND_COLOURS)
    if len(ev):
        # one tick mark per event, all in one LineCollection (scatter markers cost ~10x more
        # to set up); the mark's height grows with log(peak): 0.01 g -> 0.25 row, 3 g -> 0.8 row
        row = ev["kind"].map({k: i for i, k in enumerate(kinds)}).to_numpy(float)
        known = np.isfinite(row)
        peak = ev["peak_accel_g"].to_numpy(float)[known]
        half = 0.125 + 0.275 * np.clip(np.log10(np.maximum(peak, 0.01) / 0.01) / 2.5, 0, 1)
        inside = ev["in_sleep_window"].to_numpy(bool)[known]
        rgba = np.array([to_rgba(KIND_COLOURS[k]) for k in ev["kind"][known]])
        rgba[~inside, 3] = 0.45
        x = _mdate(ev["onset_t"].to_numpy(float)[known])
        ax_ev.vlines(x, row[known] - half, row[known] + half, colors=rgba,
                     linewidths=np.where(inside, 1.2, 0.6))
    ax_ev.set_yticks(range(len(kinds)))
    ax_ev.set_yticklabels([f"{KIND_LABELS[k]} ({int((ev['kind'] == k).sum()) if len(ev) else 0})" for k in kinds],
                          fontsize=7)
    ax_ev.set_ylim(len(kinds) - 0.5, -0.5)
    ax_ev.set_title("events (faint: outside the sleep window; taller: larger peak)", fontsize=7, loc="left",
                    y=1.0, pad=3)
    if view.span_utc:
        ax_ev.set_xlim(_mdate(view.span_utc[0]), _mdate(view.span_utc[1]))
    _local_time_axis(ax_ev, zone, view.span_utc)
    ax_ev.xaxis.set_label_coords(0.5, -0.24)
    # y given: matplotlib then skips its automatic title placement (which measures ticks)
    ax_lvl.set_title("movement level across the night", fontsize=9, loc="left", y=1.0, pad=4)
    ax_lvl.legend(handles=handles, fontsize=7, loc="upper right", framealpha=0.8)
    ax_lvl.grid(alpha=0.3, lw=0.4)

    # ---- hourly histogram of jerks in the sleep window (local clock hours)
    ax_h = fig.add_axes((L, 0.37, R - L, 0.1))
    ax_h.tick_params(labelsize=7)
    hourly = view.summary.get("hourly_jerks") or []
    if hourly:
        # the bins are the clock hours of the night's own zone (as analysed); labelled in the
        # display zone, so a different zone relabels the same instants rather than re-binning
        labels = [dt.datetime.fromisoformat(h["hour_start_local"]).astimezone(ZoneInfo(zone)).strftime("%H:%M")
                  for h in hourly]
        counts = [h["jerks"] for h in hourly]
        x = np.arange(len(hourly))
        ax_h.bar(x, counts, color=KIND_COLOURS["jerk"], width=0.8)
        for xi, h in zip(x, hourly):
            if h["sleep_s"] < 3000:   # say when an hour was only partly usable
                ax_h.text(xi, h["jerks"], f"{h['sleep_s'] / 60:.0f} min", ha="center", va="bottom", fontsize=6)
        ax_h.set_xticks(x)
        ax_h.set_xticklabels(labels, fontsize=7)
        ax_h.set_xlim(-0.6, len(hourly) - 0.4)
        ax_h.set_ylim(0, max(max(counts), 1) * 1.25)
    else:
        ax_h.text(0.5, 0.5, "no sleep window: no hourly counts", ha="center", va="center", transform=ax_h.transAxes)
        ax_h.set_xticks([])
    own = view.summary.get("timezone") or view.timezone
    ax_h.set_xlabel(f"start of the hour, local time ({zone})"
                    + (f"; hours are the clock hours of {own}" if own != zone else "")
                    + "; minutes shown where the hour was only partly sleep", fontsize=8)
    ax_h.xaxis.set_label_coords(0.5, -0.25)
    ax_h.set_ylabel("jerks", fontsize=8)
    ax_h.yaxis.set_label_coords(-0.075, 0.5)
    ax_h.yaxis.set_major_locator(MaxNLocator(4, integer=True))
    ax_h.set_title("jerks per clock hour of the sleep window", fontsize=9, loc="left", y=1.0, pad=4)
    ax_h.grid(axis="y", alpha=0.3, lw=0.4)

    # ---- gallery of the largest jerks: one axes
    fig.text(0.03, 0.305, "largest jerks, largest first: gravity-free magnitude (2-Hz high-pass per axis, "
                         "then |a|), event span shaded", fontsize=9)
    ax_g = fig.add_axes((0.07, 0.085, R - 0.07, 0.205))
    _draw_gallery(ax_g, view, zone, min(n_waveforms, 2 * GALLERY_COLS))

    # ---- footnote: what the numbers are
    fig.text(0.03, 0.045, textwrap.fill(
        "Counts are accelerometer-detected movement events, not a diagnosis. A non-zero count is normal "
        "(hypnic jerks occur in 60-70% of people). Movement level: root mean square of the 2-Hz high-passed "
        "acceleration magnitude per 5-s epoch. Sleep window: HDCZA (van Hees 2018) from wrist angle. "
        f"Detector {view.summary.get('detector_version', '?')}.", 165), fontsize=6, va="top", color="#333333")
    return fig


# ------------------------------------------------------------------ the trend
def draw_trend(sub, table, comparison=None) -> None:
    """Draw the trend into a Figure or SubFigure: jerks per hour of sleep per night with
    the baseline band, notes on the time axis, and the comparison's levels; hours of sleep
    per night below.  table: trend.nightly_table(); comparison: trend.Comparison or None."""
    import matplotlib.dates as mdates
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    ax, ax_h = sub.subplots(2, 1, sharex=True, height_ratios=[3.0, 1.0])
    if not len(table):
        ax.text(0.5, 0.5, "no nights", ha="center", transform=ax.transAxes)
        return
    x_all = mdates.date2num(list(table["date"]))
    handles = []
    labels = list(dict.fromkeys(table["label"]))
    markers = ["o", "s", "^", "D"]
    for k, lab in enumerate(labels):
        t = table[table["label"] == lab]
        x = mdates.date2num(list(t["date"]))
        use = t["usable"].to_numpy(bool)
        rate = t["jerks_per_hour"].to_numpy(float)
        name = f" ({lab})" if lab else ""
        ax.fill_between(x, t["baseline_q1"].to_numpy(float), t["baseline_q3"].to_numpy(float), step="mid",
                        color="#999999", alpha=0.3, lw=0)
        ax.step(x, t["baseline_median"].to_numpy(float), where="mid", color="#555555", lw=1.0, ls="--")
        ax.plot(x[use], rate[use], marker=markers[k % 4], ms=4, lw=0.6, color="k")
        if np.any(~use & np.isfinite(rate)):
            ax.plot(x[~use & np.isfinite(rate)], rate[~use & np.isfinite(rate)], marker=markers[k % 4], ms=4,
                    ls="none", mfc="none", color="k")
        handles.append(Line2D([], [], marker=markers[k % 4], ms=4, lw=0.6, color="k",
                              label=f"jerks per hour of sleep{name}"))
        ax_h.bar(x + (k - (len(labels) - 1) / 2) * 0.8 / len(labels), t["sleep_h"].to_numpy(float),
                 width=0.8 / len(labels), color=SLEEP_COLOUR, edgecolor="none")
    handles += [Line2D([], [], color="#555555", ls="--", label="baseline: median of earlier nights"),
                Patch(color="#999999", alpha=0.4, label="baseline: 25th-75th percentile")]
    if np.any(~table["usable"].to_numpy(bool)):
        handles.append(Line2D([], [], marker="o", ms=4, ls="none", mfc="none", color="k",
                              label="short night (< 0.5 h of sleep): not in baseline"))
    # notes on the time axis
    ymax = np.nanmax(np.r_[table["jerks_per_hour"].to_numpy(float), table["baseline_q3"].to_numpy(float), 1.0])
    noted = table[table["notes"].map(len) > 0]
    for d, notes in zip(noted["date"], noted["notes"]):
        xn = mdates.date2num(d)
        for a in (ax, ax_h):
            a.axvline(xn, color=NOTE_COLOUR, lw=1.0, ls=":")
        if len(noted) <= 12:          # beyond that the labels would overprint; the lines stay
            tag = ", ".join(dict.fromkeys(n.get("tag") or "note" for n in notes))
            ax.text(xn, 1.005, tag, transform=ax.get_xaxis_transform(), fontsize=6.5, color=NOTE_COLOUR,
                    ha="center", va="bottom", clip_on=False)
    if len(noted):
        handles.append(Line2D([], [], color=NOTE_COLOUR, ls=":", label="night with a note (tag shown)"))
    # the comparison: pooled rates on each side
    if comparison is not None:
        for side, col in ((comparison.before, "#0072B2"), (comparison.after, "#D55E00")):
            if side.rate is not None and side.first is not None:
                a, b = mdates.date2num(side.first) - 0.4, mdates.date2num(side.last) + 0.4
                ax.hlines(side.rate, a, b, color=col, lw=2.2, alpha=0.8)
        if comparison.ratio is not None:
            rr = comparison.ratio
            handles.append(Line2D([], [], color="#0072B2", lw=2.2,
                                  label=f"before the note: {comparison.before.rate:.1f}/h pooled"))
            handles.append(Line2D([], [], color="#D55E00", lw=2.2,
                                  label=f"from the note on: {comparison.after.rate:.1f}/h "
                                        f"(ratio {rr.ratio:.2f}, {rr.level:.0%} CI {rr.low:.2f}-{rr.high:.2f})"))
    ax.set_ylim(0, ymax * 1.45)      # room for the legend above the points
    ax.set_ylabel("jerks per hour of sleep")
    ax.set_title("accelerometer-detected jerks per hour of sleep, against the person's own earlier nights",
                 fontsize=9, loc="left", pad=12)
    ax.legend(handles=handles, fontsize=6.5, loc="upper left", framealpha=0.85, ncol=2)
    ax.grid(alpha=0.3, lw=0.4)
    ax_h.set_ylabel("sleep (h)", fontsize=8)
    ax_h.grid(axis="y", alpha=0.3, lw=0.4)
    loc = mdates.AutoDateLocator(minticks=3, maxticks=10)
    ax_h.xaxis.set_major_locator(loc)
    ax_h.xaxis.set_major_formatter(mdates.ConciseDateFormatter(loc))
    ax_h.set_xlabel("night (local date the evening falls on)")
    ax_h.set_xlim(x_all.min() - 0.7, x_all.max() + 0.7)


def trend_figure(views, comparison=None, *, table=None, figsize: tuple[float, float] = (11.0, 6.5)):
    """The trend of a period as one Figure: see :func:`draw_trend`; the comparison's
    sentence is printed under the plot.  views: list of NightView (or pass ``table``)."""
    from matplotlib.figure import Figure

    from .trend import nightly_table

    table = nightly_table(views) if table is None else table
    fig = Figure(figsize=figsize, layout="constrained")
    if comparison is not None:
        plot, words = fig.subfigures(2, 1, height_ratios=[6.0, 0.8])
        words.text(0.01, 0.95, textwrap.fill(comparison.sentence, 190), fontsize=7.5, va="top")
    else:
        plot = fig
    draw_trend(plot, table, comparison)
    return fig


__all__ = ["night_figure", "trend_figure", "draw_trend", "highpass_magnitude", "largest_jerks",
           "night_header_lines", "notes_text", "KIND_COLOURS"]
