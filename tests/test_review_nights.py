"""`twitchwatch nights` and `twitchwatch note` on a data directory of simulated nights.

Real night files (SQLite) written by the simulator and analysed by the real detector
(tests/nightdata.py); the commands run through twitchwatch.cli.main.
"""
from __future__ import annotations

import json
import re

import pytest

from tests.nightdata import DAY_S, FIRST_START_UTC, make_data_dir, simulated_recording
from twitchwatch.cli import main
from twitchwatch.review.catalog import list_nights
from twitchwatch.review.table import COLUMNS
from twitchwatch.store import NightReader, write_recording

N_NIGHTS = 6


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """6 analysed nights (2026-10-01 ... 06; 'medication' note on the 4th) and a file that
    is not a night file."""
    d = tmp_path_factory.mktemp("nights") / "data"
    make_data_dir(d, N_NIGHTS)
    (d / "2026-10-20.night").write_bytes(b"this is not a night file")
    return d


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def nights_json(capsys, data, *extra):
    code, out, err = run(capsys, "nights", "--data-dir", data, "--json", *extra)
    assert code == 0, err
    return json.loads(out)


def test_table_lists_every_night_with_its_numbers(capsys, data):
    views, _ = list_nights(data)
    code, out, err = run(capsys, "nights", "--data-dir", data)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].split()[:5] == ["night", "device", "rec", "h", "wear"]
    rows = [ln for ln in lines if re.match(r"^2026-10-0\d ", ln)]
    assert len(rows) == N_NIGHTS
    for v, row in zip(views, rows):
        cells = row.split()
        assert cells[0] == v.night_id and cells[1] == "simulated/wrist"
        # sleep window in the night's zone (BST: the simulator starts at 22:30 local)
        sw = re.search(r"(\d\d):(\d\d)-(\d\d):(\d\d)", row)
        assert sw and sw.group(0) == (v.summary["sleep_window_local"][0][11:16] + "-"
                                      + v.summary["sleep_window_local"][1][11:16])
        assert sw.group(1) in ("22", "23")
        assert cells[5] == str(v.jerks)
        assert cells[6] == f"{v.jerks_per_hour_sleep:.1f}"
    medication = rows[N_NIGHTS // 2]
    assert "[medication] new dose of clonazep" in medication
    # the unreadable file is listed after the table, with its reason
    tail = out[out.index("skipped"):]
    assert "2026-10-20.night" in tail and "not a night file" in tail


def test_json_has_stable_keys_and_the_notes(capsys, data):
    rows = nights_json(capsys, data)
    assert len(rows) == N_NIGHTS
    for r in rows:
        assert list(r) == list(COLUMNS)
        assert re.search(r"[+-]\d\d:\d\d$", r["sleep_window_start_local"])
        assert isinstance(r["jerks"], int) and isinstance(r["calibration_applied"], bool)
        assert r["jerks_per_h_sleep"] == pytest.approx(r["jerks"] / r["sleep_h"], rel=1e-2)
        assert "serial" not in json.dumps(r) and "SIM0" not in json.dumps(r)
    med = rows[N_NIGHTS // 2]
    assert med["notes"] == "[medication] new dose of clonazepam, 0.5 mg" and med["note_tags"] == "medication"
    assert all(r["notes"] == "" for i, r in enumerate(rows) if i != N_NIGHTS // 2)


def test_since_until_choose_the_nights(capsys, data):
    rows = nights_json(capsys, data, "--since", "2026-10-03", "--until", "2026-10-04")
    assert [r["night"] for r in rows] == ["2026-10-03", "2026-10-04"]
    assert [r["night"] for r in nights_json(capsys, data, "--since", "2026-10-06")] == ["2026-10-06"]


def test_note_is_stored_and_shown(capsys, data, tmp_path):
    code, out, err = run(capsys, "note", "--data-dir", data, "2026-10-02", "drank little water",
                         "--tag", "hydration")
    assert code == 0, err
    assert "2026-10-02" in out
    with NightReader(data / "2026-10-02.night") as r:
        assert r.notes()[-1]["text"] == "drank little water" and r.notes()[-1]["tag"] == "hydration"
    row = [r for r in nights_json(capsys, data) if r["night"] == "2026-10-02"][0]
    assert "[hydration] drank little water" in row["notes"] and "hydration" in row["note_tags"]
    code, out, err = run(capsys, "nights", "--data-dir", data, "--since", "2026-10-02", "--until", "2026-10-02")
    assert "[hydration] drank little water" in out
    # an untagged note, by path
    code, _, err = run(capsys, "note", "--data-dir", data, data / "2026-10-02.night", "slept badly")
    assert code == 0, err
    assert [r for r in nights_json(capsys, data) if r["night"] == "2026-10-02"][0]["notes"].endswith(
        " | slept badly")


def assert_one_line(code, err, *words):
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("twitchwatch: error:"), err
    for w in words:
        assert w in lines[0], lines[0]


def test_note_bad_input(capsys, data, tmp_path):
    before = NightReader(data / "2026-10-05.night").notes()
    assert_one_line(*run(capsys, "note", "--data-dir", data, "2026-10-05", "   ")[::2], "empty")
    assert_one_line(*run(capsys, "note", "--data-dir", data, "2026-11-30", "x")[::2], "no night 2026-11-30")
    assert_one_line(*run(capsys, "note", "--data-dir", data, "2026-10-20", "x")[::2], "not a night file")
    assert_one_line(*run(capsys, "note", "--data-dir", data, "yesterday", "x")[::2], "neither a night")
    with pytest.raises(SystemExit) as exc:           # argparse: an unknown tag
        main(["note", "--data-dir", str(data), "2026-10-05", "x", "--tag", "coffee"])
    assert exc.value.code == 2
    assert NightReader(data / "2026-10-05.night").notes() == before


def test_nights_bad_input(capsys, data, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert_one_line(*run(capsys, "nights", "--data-dir", empty)[::2], "no night files")
    assert_one_line(*run(capsys, "nights", "--data-dir", data, "--since", "2026-10-05",
                         "--until", "2026-10-02")[::2], "swap")
    assert_one_line(*run(capsys, "nights", "--data-dir", data, "--since", "5 Oct")[::2], "YYYY-MM-DD")


def test_unanalysed_night_is_analysed_on_the_way_and_stored(capsys, tmp_path):
    d = tmp_path / "fresh"
    (path,) = make_data_dir(d, 1, analyze=False)
    start = FIRST_START_UTC + DAY_S
    write_recording(d / "2026-10-02-ankle.night",
                    simulated_recording(7, start_utc=start, hours=1.0, rate_hz=50.0, jerk_rate_per_hour=10.0,
                                        placement="ankle"), timezone="Europe/London", label="ankle")
    for p in (path, d / "2026-10-02-ankle.night"):
        with NightReader(p) as r:
            assert r.latest_analysis() is None
    rows = nights_json(capsys, d)
    assert [(r["night"], r["label"], r["placement"]) for r in rows] == [
        ("2026-10-01", "", "wrist"), ("2026-10-02-ankle", "ankle", "ankle")]
    for p, row in zip((path, d / "2026-10-02-ankle.night"), rows):
        with NightReader(p) as r:
            a = r.latest_analysis()
        assert a is not None and a["summary"]["counts_in_sleep_window"]["jerk"] == row["jerks"]
    # the next look reads the stored analysis: no new one is added
    nights_json(capsys, d)
    with NightReader(path) as r:
        n = r._con.execute("SELECT COUNT(*) FROM analyses").fetchone()[0]
    assert n == 1
