"""The trend: per-night baseline, the before/after statistic (known answers, coverage on
overdispersed simulated nights), note choice, and the `trend` command on simulated nights."""
from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from twitchwatch.cli import main
from twitchwatch.errors import InputFileError
from twitchwatch.review.catalog import NightView
from twitchwatch.review.trend import (compare, compare_around, find_note, nightly_table, rate_ratio,
                                      _all_notes)

from .nightdata import make_data_dir

D0 = dt.date(2026, 10, 1)


def fake_view(day: int, jerks: int, sleep_h: float | None, *, notes=(), label=None) -> NightView:
    """A NightView with only what the trend reads: counts, hours of sleep, notes."""
    start = dt.datetime(2026, 10, 1, 22, tzinfo=dt.timezone.utc) + dt.timedelta(days=day)
    summary = {
        "counts_in_sleep_window": {"jerk": jerks, "limb_movement": 0, "posture_change": 0, "other_movement": 0},
        "sleep_s": 0.0 if sleep_h is None else sleep_h * 3600.0,
        "sleep_window_start_utc": None if sleep_h is None else start.isoformat(),
        "sleep_window_end_utc": None if sleep_h is None else (start + dt.timedelta(hours=sleep_h)).isoformat(),
        "jerks_per_hour_sleep": None if not sleep_h else jerks / sleep_h,
    }
    date = D0 + dt.timedelta(days=day)
    nid = date.isoformat() + (f"-{label}" if label else "")
    return NightView(night_id=nid, path=Path(f"{nid}.night"), date=date, label=label, timezone="Europe/London",
                     device={}, span_utc=None, n_samples=0, gaps=[], damage=(),
                     notes=[{"created_utc": f"2026-11-01T00:00:0{i}Z", "text": t, "tag": g}
                            for i, (t, g) in enumerate(notes)],
                     summary=summary, events=pd.DataFrame())


# ------------------------------------------------------------------ the statistic
def test_rate_ratio_known_answer_without_dispersion():
    # every night exactly at its side's rate: Pearson chi-square 0, phi floored at 1 (Poisson)
    r = rate_ratio([10, 10, 10], [1, 1, 1], [5, 5, 5], [1, 1, 1])
    assert r.ratio == pytest.approx(0.5)
    assert r.df == 4 and r.dispersion == pytest.approx(0.0)
    # log RR -0.6931 +- t(4, 0.975) 2.7764 * sqrt(1/15 + 1/30)
    assert r.low == pytest.approx(0.207809, rel=1e-5)
    assert r.high == pytest.approx(1.203028, rel=1e-5)


def test_rate_ratio_uses_hours_and_pearson_dispersion():
    # before: 2 jerks in 2 h and 13 in 3 h (pooled 3/h, expected 6 and 9);
    # after: 4 in 2 h and 8 in 4 h (exactly 2/h).  RR = 2/3.
    r = rate_ratio([2, 13], [2, 3], [4, 8], [2, 4])
    assert r.ratio == pytest.approx(2 / 3)
    phi = (16 / 6 + 16 / 9) / 2                      # Pearson X2 / (4 nights - 2)
    assert r.dispersion == pytest.approx(phi)
    se = math.sqrt(phi * (1 / 12 + 1 / 15))
    q = 4.302652729911275                            # Student t, 2 df, 0.975
    assert r.low == pytest.approx(2 / 3 * math.exp(-q * se), rel=1e-6)
    assert r.high == pytest.approx(2 / 3 * math.exp(q * se), rel=1e-6)


def test_rate_ratio_no_change_interval_includes_one():
    r = rate_ratio([0, 20], [1, 1], [10, 10], [1, 1])
    assert r.ratio == pytest.approx(1.0)
    assert r.dispersion == pytest.approx(10.0)
    assert r.low == pytest.approx(math.exp(-4.302652729911275), rel=1e-6)
    assert r.low < 1.0 < r.high
    r = rate_ratio([12, 8, 10, 11], [7, 6.5, 7, 7.2], [9, 12, 10, 9], [6.8, 7.1, 7, 6.9])
    assert r.low < 1.0 < r.high


def test_rate_ratio_zero_side_stays_finite_and_says_so():
    r = rate_ratio([5, 6, 7], [1, 1, 1], [0, 0, 0], [1, 1, 1])
    assert r.corrected and 0 < r.low < r.ratio < 0.05 and math.isfinite(r.high)


def test_rate_ratio_refuses_impossible_input():
    with pytest.raises(ValueError):
        rate_ratio([1], [1], [], [])
    with pytest.raises(ValueError):
        rate_ratio([1, 2], [1, 0], [3], [1])


def test_interval_coverage_on_overdispersed_nights():
    """Negative-binomial nights (night-to-night gamma scatter, CV 0.5) with true RR 0.6:
    the quasi-Poisson interval covers close to 95%; a plain Poisson one does not."""
    rng = np.random.default_rng(7)
    reps, n, true_rr = 1500, 8, 0.6
    covered = poisson_covered = 0
    for _ in range(reps):
        hb, ha = rng.uniform(5, 8, n), rng.uniform(5, 8, n)
        lam_b = 10.0 * hb * rng.gamma(4.0, 0.25, n)
        lam_a = 10.0 * true_rr * ha * rng.gamma(4.0, 0.25, n)
        yb, ya = rng.poisson(lam_b), rng.poisson(lam_a)
        r = rate_ratio(yb, hb, ya, ha)
        covered += r.low <= true_rr <= r.high
        se = math.sqrt(1 / ya.sum() + 1 / yb.sum())
        poisson_covered += abs(math.log(r.ratio / true_rr)) <= 1.96 * se
    assert 0.92 <= covered / reps <= 0.985
    assert poisson_covered / reps < 0.75


# ------------------------------------------------------------------ baseline and notes
def test_baseline_from_earlier_usable_nights_of_the_same_label():
    views = [fake_view(0, 10, 1.0), fake_view(1, 20, 1.0), fake_view(2, 1, 0.2),   # short: not in baseline
             fake_view(3, 30, 1.0), fake_view(4, 0, None),                          # no sleep window
             fake_view(5, 80, 2.0), fake_view(5, 99, 1.0, label="ankle")]
    t = nightly_table(views).set_index("night_id")
    assert not t.loc["2026-10-03", "usable"] and not t.loc["2026-10-05", "usable"]
    assert math.isnan(t.loc["2026-10-05", "jerks_per_hour"])
    assert math.isnan(t.loc["2026-10-04", "baseline_median"])          # only 2 usable earlier nights
    row = t.loc["2026-10-06"]                                           # earlier rates 10, 20, 30
    assert row["baseline_n"] == 3 and row["jerks_per_hour"] == pytest.approx(40.0)
    assert (row["baseline_median"], row["baseline_q1"], row["baseline_q3"]) == pytest.approx((20.0, 15.0, 25.0))
    assert t.loc["2026-10-06-ankle", "baseline_n"] == 0                 # another device: its own baseline


def test_find_note_default_tag_and_text():
    views = [fake_view(0, 1, 1, notes=[("first dose", "medication")]), fake_view(3, 1, 1, notes=[("flare", "flare")]),
             fake_view(5, 1, 1, notes=[("dose up to 1 mg", "medication"), ("water", "hydration")])]
    assert find_note(views).text == "dose up to 1 mg"
    assert find_note(views, "flare").date == D0 + dt.timedelta(days=3)
    assert find_note(views, "FIRST").text == "first dose"
    with pytest.raises(InputFileError, match="no note matches"):
        find_note(views, "magnesium")
    assert find_note([fake_view(0, 1, 1)]) is None


def _series(rates_before, rates_after, *, hours=7.0, note=("new dose", "medication")):
    views = [fake_view(i, int(r * hours), hours) for i, r in enumerate(rates_before)]
    k = len(views)
    views += [fake_view(k + i, int(r * hours), hours, notes=[note] if i == 0 else ()) for i, r in enumerate(rates_after)]
    return views


def test_comparison_sides_sentence_and_wording():
    views = _series([10, 12, 11, 9], [5, 6, 4, 5, 6])
    c = compare(views)
    assert (c.before.nights, c.after.nights) == (4, 5)
    assert c.before.hours == pytest.approx(28.0) and c.after.jerks == sum(int(r * 7) for r in [5, 6, 4, 5, 6])
    assert c.ratio.high < 1.0
    s = c.sentence.lower()
    assert "accelerometer-detected jerks" in s and "not a diagnosis" in s and "new dose" in s
    assert "4 nights" in s and "28.0 h" in s and "95% ci" in s
    d = json.loads(json.dumps(c.to_dict(), default=str))
    assert d["before"]["nights"] == 4 and d["ratio"]["ratio"] == pytest.approx(c.ratio.ratio)


def test_comparison_no_change_says_so():
    c = compare(_series([10, 12, 11, 9, 10], [11, 9, 12, 10]))
    assert c.ratio.low < 1.0 < c.ratio.high
    assert "no clear change" in c.sentence


def test_comparison_refused_with_too_few_nights():
    c = compare(_series([10, 12], [5, 6, 4, 5]))
    assert c.ratio is None and "too few nights" in c.refused
    assert "2 before" in c.sentence and "not a diagnosis" in c.sentence


def test_comparison_sides_stop_at_neighbouring_notes_with_the_same_tag():
    views = _series([10, 10, 10], [8, 8, 8, 8], note=("dose 1", "medication"))
    views += _series([], [4, 4, 4, 4], note=("dose 2", "medication"))
    for k, v in enumerate(views[7:]):
        v.date = D0 + dt.timedelta(days=7 + k)
        v.night_id = v.date.isoformat()
    table = nightly_table(views)
    first = next(n for n in _all_notes(views) if n.text == "dose 1")
    c = compare_around(table, first, _all_notes(views))
    assert c.after.nights == 4 and c.after.last == D0 + dt.timedelta(days=6)
    latest = compare(views)
    assert latest.note.text == "dose 2" and latest.before.nights == 4 and latest.after.nights == 4


# ------------------------------------------------------------------ the command, on simulated nights
@pytest.fixture(scope="module")
def data(tmp_path_factory):
    d = tmp_path_factory.mktemp("trend") / "data"
    make_data_dir(d, 8, hours=1.0, rate_hz=50.0, rate_before=14.0, rate_after=3.0)
    return d


def test_trend_command_json_and_picture(data, tmp_path, capsys):
    out = tmp_path / "trend.png"
    assert main(["trend", "--data-dir", str(data), "--out", str(out), "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert len(res["nights"]) == 8
    c = res["comparison"]
    assert c["note"]["tag"] == "medication" and c["before"]["nights"] == 4 and c["after"]["nights"] == 4
    assert c["ratio"]["ratio"] < 1.0 and c["ratio"]["high"] < 1.0       # 14/h -> 3/h: a clear drop
    assert "not a diagnosis" in c["sentence"]
    assert out.stat().st_size > 10_000 and out.stat().st_mode & 0o777 == 0o600
    assert main(["trend", "--data-dir", str(data), "--since", "2026-10-03"]) == 0
    text = capsys.readouterr().out
    assert "2026-10-02" not in text and "2026-10-03" in text and "Rate ratio" not in text  # 2 nights before: refused
    assert "too few nights" in text


@pytest.mark.parametrize("args, words", [
    (["--since", "2026-10-05", "--until", "2026-10-01"], "swap them"),
    (["--since", "05/10/2026"], "YYYY-MM-DD"),
    (["--note", "no such note"], "no note matches"),
    (["--out", "x.jpg"], ".png"),
])
def test_trend_bad_input_one_line_exit_2(data, args, words, capsys):
    assert main(["trend", "--data-dir", str(data), *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and words in err[0]


def test_trend_empty_data_dir_and_existing_output(data, tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["trend", "--data-dir", str(empty)]) == 2
    assert "no night files" in capsys.readouterr().err
    out = tmp_path / "t.png"
    out.write_bytes(b"keep")
    assert main(["trend", "--data-dir", str(data), "--out", str(out)]) == 2
    assert "--force" in capsys.readouterr().err and out.read_bytes() == b"keep"
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    assert main(["trend", "--data-dir", str(data), "--out", str(blocker / "t.png")]) == 2
    assert "not a folder" in capsys.readouterr().err
