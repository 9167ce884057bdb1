"""The pictures: every night's overview and the trend render with real content, local time
axes are right across a DST change, the gallery shows the detector's own signal, and the
`show` command writes, refuses and explains."""
from __future__ import annotations

import dataclasses
import datetime as dt
import io
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from PIL import Image

from twitchwatch.cli import main
from twitchwatch.review.catalog import list_nights, load_night
from twitchwatch.review.plots import (highpass_magnitude, largest_jerks, night_figure, night_header_lines,
                                      trend_figure)
from twitchwatch.review.trend import compare

from .nightdata import make_data_dir, simulated_recording

LONDON = ZoneInfo("Europe/London")


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    d = tmp_path_factory.mktemp("plots") / "data"
    make_data_dir(d, 6, hours=1.0, rate_hz=50.0)
    return d


@pytest.fixture(scope="module")
def views(data):
    v, skipped = list_nights(data)
    assert not skipped and len(v) == 6
    return v


def png_pixels(fig, dpi=60) -> np.ndarray:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))


def assert_real_picture(px: np.ndarray) -> None:
    assert px.shape[0] > 200 and px.shape[1] > 200
    grey = px.mean(axis=2)
    assert grey.std() > 10                               # not uniform
    assert (grey < 200).mean() > 0.01                    # a fair amount drawn
    q = px.reshape(-1, 3).astype(np.int32) // 16
    colours = np.unique(q[:, 0] * 256 + q[:, 1] * 16 + q[:, 2])
    assert len(colours) > 20                             # lines, shading and marks in several colours


def all_text(fig) -> str:
    return "\n".join(t.get_text() for t in fig.findobj(lambda a: hasattr(a, "get_text")))


@pytest.fixture(scope="module")
def rendered(views):
    """Each night's overview, drawn once: {night_id: (figure, pixels, text)}."""
    out = {}
    for v in views:
        fig = night_figure(v)
        px = png_pixels(fig)           # draws the figure (tick labels are set from here on)
        out[v.night_id] = (fig, px, all_text(fig))
    return out


def test_every_night_renders_with_real_content(views, rendered):
    for v in views:
        fig, px, text = rendered[v.night_id]
        assert_real_picture(px)
        assert "Night of" in text and v.date.strftime("%d %B %Y") in text
        assert "accelerometer-detected movement events" in text and "not a diagnosis" in text
        assert "local time (Europe/London)" in text and "largest jerks" in text
        assert f"jerk ({int((v.events['kind'] == 'jerk').sum())})" in text
        assert "SIM0" not in text                        # no serial on a picture
        # the jerk colour is on the picture (event marks, histogram, waveforms)
        assert np.any(np.all(np.abs(px.astype(int) - [0xD5, 0x5E, 0x00]) < 12, axis=2))


def test_notes_shown_on_their_night(views, rendered):
    noted = [v for v in views if v.notes]
    assert len(noted) == 1
    assert "[medication] new dose of clonazepam, 0.5 mg" in rendered[noted[0].night_id][2]
    assert "clonazepam" not in rendered[views[0].night_id][2]


def test_time_axis_is_local_time(views, rendered):
    v = views[0]
    fig, _, text = rendered[v.night_id]
    ax_ev = fig.axes[1]
    pos = ax_ev.get_xticks()
    labels = [t.get_text() for t in ax_ev.get_xticklabels()]
    assert len(labels) >= 3
    for p, lab in zip(pos, labels):
        assert lab == dt.datetime.fromtimestamp(p * 86400.0, tz=LONDON).strftime("%H:%M")
    # the first sample (21:30 UTC) is drawn at 22:30 BST
    assert ax_ev.get_xlim()[0] * 86400.0 == pytest.approx(v.span_utc[0], abs=1.0)
    assert f"Recording {dt.datetime.fromtimestamp(v.span_utc[0], LONDON):%H:%M}" in text


def test_dst_night_axis_repeats_the_hour(tmp_path):
    """Across the end of BST (2026-10-25 01:00 UTC) the local clock runs 01:00-02:00 twice."""
    from twitchwatch.analyze import analyze_night_file
    from twitchwatch.store import save_analysis, write_recording

    start = dt.datetime(2026, 10, 24, 23, 40, tzinfo=dt.timezone.utc).timestamp()
    rec = simulated_recording(77, start_utc=start, hours=1.5, rate_hz=50.0, jerk_rate_per_hour=10.0)
    path = tmp_path / "2026-10-24.night"
    write_recording(path, rec, timezone="Europe/London")
    save_analysis(path, analyze_night_file(path, timezone="Europe/London"))
    v = load_night(path, analyze=False)
    fig = night_figure(v)
    FigureCanvasAgg(fig).draw()
    ax_ev = fig.axes[1]
    labels = [t.get_text() for t in ax_ev.get_xticklabels()]
    for p, lab in zip(ax_ev.get_xticks(), labels):
        assert lab == dt.datetime.fromtimestamp(p * 86400.0, tz=LONDON).strftime("%H:%M")
    assert len(set(labels)) < len(labels)               # e.g. 01:20 BST and 01:20 GMT
    assert_real_picture(png_pixels(fig))


def test_gallery_shows_the_detectors_gravity_free_magnitude(views):
    v = max(views, key=lambda v: v.jerks)
    top = largest_jerks(v, 3)
    assert len(top) == 3 and top[0]["peak_accel_g"] >= top[1]["peak_accel_g"] >= top[2]["peak_accel_g"]
    for j in top:
        t, acc = v.read_window(j["onset_t"] - 3.0, j["onset_t"] + 2.0)
        mag = highpass_magnitude(t, acc, float(v.summary["sample_rate_hz"]))
        assert np.nanmax(mag[t >= j["onset_t"] - 1.0]) == pytest.approx(j["peak_accel_g"], rel=1e-3)


def test_gallery_is_one_axes_showing_each_large_jerk_on_one_scale(views, rendered):
    """The 8 largest jerks share one axes (drawing cost): each labelled with its rank, local
    time and peak, each drawn as its own piece of the waveform line, all on one g scale."""
    from twitchwatch.review.plots import KIND_COLOURS

    v = max(views, key=lambda v: v.jerks)
    fig, _, _ = rendered[v.night_id]
    assert len(fig.axes) == 4                            # level, events, hourly, gallery
    ax_g = fig.axes[3]
    labels = "\n".join(t.get_text() for t in ax_g.texts)
    top = largest_jerks(v, 8)
    assert len(top) == 8
    for k, j in enumerate(top, start=1):
        when = dt.datetime.fromtimestamp(j["onset_t"], tz=LONDON).strftime("%H:%M:%S")
        assert f"{k}.  {when}   {j['peak_accel_g']:.2f} g" in labels
    assert "1 s" in labels and "one scale in g" in labels
    wave = [ln for ln in ax_g.lines if ln.get_color() == KIND_COLOURS["jerk"]]
    assert len(wave) == 1
    y = np.asarray(wave[0].get_ydata(), dtype=float)
    pieces = np.split(y, np.flatnonzero(np.isnan(y)))
    assert sum(np.isfinite(p).any() for p in pieces) == 8
    # the y ticks repeat one scale per row: the same labels at the same heights above each baseline
    ticks = [t.get_text() for t in ax_g.get_yticklabels()]
    assert len(ticks) == 6 and ticks[:3] == ticks[3:]
    # the largest jerk (top row, first cell: x 0-3 s) peaks at its detected peak above the row's base
    x = np.asarray(wave[0].get_xdata(), dtype=float)
    base = sorted(ax_g.get_yticks())[3]                  # ticks: row 2 at 0, s/2, s; row 1 from here
    first = (x >= 0.0) & (x <= 3.0) & (y >= base - 1e-9)
    assert np.nanmax(y[first]) - base == pytest.approx(top[0]["peak_accel_g"], rel=1e-3)


def test_highpass_magnitude_restarts_after_a_gap_and_matches_scipy():
    from scipy.signal import butter, sosfilt, sosfilt_zi

    fs = 50.0
    rng = np.random.default_rng(3)
    t = np.arange(500) / fs
    t[250:] += 10.0                                      # a 10-s gap
    acc = rng.normal(0, 0.01, (500, 3)) + [0.0, 0.0, 1.0]
    acc[250:] += [0.5, 0.0, -0.3]                        # posture differs after the gap
    mag = highpass_magnitude(t, acc, fs)
    assert np.isnan(mag[250]) and np.isfinite(mag[:250]).all() and np.isfinite(mag[251:]).all()
    sos = butter(2, 2.0, "highpass", fs=fs, output="sos")
    for a, b in ((0, 250), (250, 500)):
        x = acc[a:b]
        y = np.column_stack([sosfilt(sos, x[:, k], zi=sosfilt_zi(sos) * x[0, k])[0] for k in range(3)])
        ref = np.sqrt((y ** 2).sum(axis=1))
        np.testing.assert_allclose(mag[a + 1:b], ref[1:], atol=1e-9)
    assert np.nanmax(mag[251:260]) < 0.1                 # no step at the gap


def test_night_without_events_or_sleep_window_still_draws(views):
    v = dataclasses.replace(views[0], events=views[0].events.iloc[0:0],
                            summary={**views[0].summary, "sleep_window_start_utc": None,
                                     "sleep_window_end_utc": None, "hourly_jerks": [], "jerks_per_hour_sleep": None},
                            epochs=None)
    fig = night_figure(v)
    text = all_text(fig)
    assert "No sleep period found" in text and "no jerk detected this night" in text
    assert png_pixels(fig).mean(axis=2).std() > 5
    assert any("No sleep period" in line for line in night_header_lines(v, "Europe/London"))


def test_nonwear_is_shaded_where_the_analysis_found_it(views, rendered):
    """The summary lists the non-wear spans; the page shades them (hatched orange) and
    says so in the legend; a night without non-wear has no such entry."""
    v0 = views[0]
    assert v0.summary["nonwear"] == [] and "band not worn" not in rendered[v0.night_id][2]
    a = v0.span_utc[0] + 1800.0
    span = {"start_utc": dt.datetime.fromtimestamp(a, dt.timezone.utc).isoformat(),
            "end_utc": dt.datetime.fromtimestamp(a + 900.0, dt.timezone.utc).isoformat(), "duration_s": 900.0}
    v = dataclasses.replace(v0, summary={**v0.summary, "nonwear": [span]})
    fig = night_figure(v)
    px = png_pixels(fig)
    assert "band not worn (1)" in all_text(fig)
    # the shaded quarter hour changes a band of pixels across both time panels, made more
    # yellow (more red than blue) than the page without it
    before = rendered[v0.night_id][1].astype(int)
    diff = px.astype(int) - before
    changed = np.abs(diff).max(axis=2) > 30
    assert changed.sum() > 300
    assert (diff[changed][:, 0] - diff[changed][:, 2]).mean() > 20


def test_trend_figure_with_and_without_comparison(views):
    c = compare(views)
    fig = trend_figure(views, c)
    assert_real_picture(png_pixels(fig))
    text = all_text(fig)
    assert "jerks per hour of sleep" in text and "baseline: median of earlier nights" in text
    assert "medication" in text                          # the note on the time axis
    assert "Rate ratio" in text and "not a diagnosis" in text
    assert_real_picture(png_pixels(trend_figure(views, None)))


def test_show_command_writes_refuses_and_explains(data, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["show", "2026-10-02", "--data-dir", str(data)]) == 0
    out = tmp_path / "2026-10-02-overview.png"
    assert "overview written to" in capsys.readouterr().out
    assert out.stat().st_mode & 0o777 == 0o600
    assert_real_picture(np.asarray(Image.open(out).convert("RGB")))
    before = out.read_bytes()
    assert main(["show", "2026-10-02", "--data-dir", str(data)]) == 2
    assert "--force" in capsys.readouterr().err and out.read_bytes() == before
    # a night file by its path, another zone, an existing output replaced with --force
    assert main(["show", str(data / "2026-10-02.night"), "--out", out.name, "--force", "--tz", "America/New_York"]) == 0
    assert out.read_bytes() != before
    assert [p.name for p in tmp_path.iterdir()] == [out.name]     # no temporary left behind
    capsys.readouterr()


@pytest.mark.parametrize("args, words", [
    (["2026-09-01"], "no night 2026-09-01"),
    (["yesterday"], "neither a night"),
    (["2026-10-02", "--tz", "Mars/Olympus"], "unknown time zone"),
    (["2026-10-02", "--out", "x.jpg"], ".png"),
])
def test_show_bad_input_one_line_exit_2(data, tmp_path, monkeypatch, args, words, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["show", "--data-dir", str(data), *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and words in err[0]
    assert list(tmp_path.iterdir()) == []
