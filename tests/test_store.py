"""The night file: round trip, permissions, analysis storage, naming, import, crash safety,
disk full."""
from __future__ import annotations

import datetime as dt
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from twitchwatch.errors import InputFileError, OutputExistsError
from twitchwatch.nights import night_bounds_utc, night_date, night_id, resolve_night
from twitchwatch.readers import Damage, Recording
from twitchwatch.store import ChannelSpec, NightReader, NightWriter, NotANightFileError, StoreError
from twitchwatch.store import save_analysis, write_recording

from .signals import T0, quiet_with_events

ROOT = Path(__file__).resolve().parents[1]


def test_round_trip_with_gaps_blocks_and_owner_only(tmp_path):
    t, acc = quiet_with_events(100.0, minutes=6)
    p = tmp_path / "n.night"
    with NightWriter.create(p, timezone="Europe/Paris", device={"kind": "simulated", "serial": "S1"},
                            channels=(ChannelSpec("acc", 100.0, 8.0),)) as w:
        for a in range(0, t.size, 137):  # odd batch size: blocks of any length
            w.append(t[a:a + 137], acc[a:a + 137])
        w.add_gap(T0 + 130, T0 + 132, "link_lost")
        w.add_clock_sync(123_000_000, T0 + 1.0)
    assert os.stat(p).st_mode & 0o777 == 0o600
    with NightReader(p) as r:
        t2, a2 = r.read()
        assert r.timezone == "Europe/Paris"
        assert r.device()["serial"] == "S1"
        assert r.gaps() == [(T0 + 130, T0 + 132, "link_lost")]
        chunks = list(r.iter_chunks(max_samples=5000))
    np.testing.assert_array_equal(t2, np.rint(t * 1e6) / 1e6)
    np.testing.assert_allclose(a2, acc, atol=1e-6)  # float32 storage: 0.1 ug near 1 g
    assert sum(c[0].size for c in chunks) == t.size
    assert max(c[0].size for c in chunks) <= 5000 + 137
    np.testing.assert_array_equal(np.concatenate([c[0] for c in chunks]), t2)


def test_refuses_to_overwrite_and_rejects_unsorted(tmp_path):
    p = tmp_path / "n.night"
    with NightWriter.create(p, timezone="UTC") as w:
        w.append(np.array([T0, T0 + 0.01]), np.zeros((2, 3)))
        with pytest.raises(InputFileError):
            w.append(np.array([T0 + 0.005]), np.zeros((1, 3)))
    with pytest.raises(OutputExistsError):
        NightWriter.create(p, timezone="UTC")
    with NightReader(p) as r:
        assert r.n_samples() == 2


def test_not_a_night_file(tmp_path):
    junk = tmp_path / "x.night"
    junk.write_bytes(b"hello")
    with pytest.raises(NotANightFileError):
        NightReader(junk)
    other = tmp_path / "y.night"
    sqlite3.connect(other).execute("CREATE TABLE t(x)").connection.close()
    with pytest.raises(NotANightFileError, match="not a twitchwatch night file"):
        NightReader(other)


def test_analysis_is_stored_in_the_night(tmp_path):
    from twitchwatch.analyze import analyze_arrays

    t, acc = quiet_with_events(100.0, minutes=6)
    p = tmp_path / "n.night"
    write_recording(p, Recording(t=t, acc=acc, source="sim.csv", sample_rate_hz=100.0,
                                 damage=(Damage("corrupt_block", 2, T0, T0 + 1, "checksum"),)), timezone="UTC")
    res = analyze_arrays(t, acc)
    save_analysis(p, res)
    with NightReader(p) as r:
        a = r.latest_analysis()
        assert r.damage()[0].kind == "corrupt_block"
        assert [g[2] for g in r.gaps()] == ["in_source", "in_source"]  # the two gaps of the signal
    assert a["config_hash"] == res.summary["config_hash"]
    assert [e["kind"] for e in a["events"]] == res.events["kind"].tolist()


def test_night_names_noon_to_noon_and_dst():
    tz = "Europe/London"
    # 2026-10-25 is the autumn DST change in the UK: 01:00-02:00 happens twice
    before_noon = dt.datetime(2026, 10, 26, 11, 59, tzinfo=dt.timezone.utc).timestamp()
    assert night_date(before_noon, tz) == dt.date(2026, 10, 25)
    evening = dt.datetime(2026, 10, 25, 22, 0, tzinfo=dt.timezone.utc).timestamp()
    assert night_id(evening, tz, "ankle") == "2026-10-25-ankle"
    a, b = night_bounds_utc(dt.date(2026, 10, 24), tz)
    assert b - a == 25 * 3600  # the night the clocks go back (25 Oct, 02:00 BST) lasts 25 hours
    a, b = night_bounds_utc(dt.date(2026, 3, 28), tz)
    assert b - a == 23 * 3600  # and the spring-forward night 23 hours
    with pytest.raises(Exception):
        night_id(evening, tz, "Bad Label")


def test_resolve_night(tmp_path):
    (tmp_path / "2026-11-24-ankle.night").write_bytes(b"")
    assert resolve_night("2026-11-24-ankle", tmp_path).name == "2026-11-24-ankle.night"
    with pytest.raises(InputFileError, match="2026-11-24-ankle"):
        resolve_night("2026-11-24", tmp_path)


def test_import_splits_days_and_does_not_duplicate(tmp_path):
    from twitchwatch.convert import canonical_csv_bytes, import_recordings

    # 40 h at 25 Hz spanning two noon boundaries -> 3 nights
    fs = 25.0
    t0 = dt.datetime(2026, 11, 24, 8, 0, tzinfo=dt.timezone.utc).timestamp()
    t = t0 + np.arange(int(40 * 3600 * fs)) / fs
    acc = np.zeros((t.size, 3))
    acc[:, 2] = 1.0
    src = tmp_path / "long.csv.gz"
    src.write_bytes(canonical_csv_bytes(Recording(t=t, acc=acc, source="x"), gzipped=True))
    data = tmp_path / "data"
    data.mkdir()
    first = import_recordings([src], data, timezone="UTC")
    assert [n for n, _ in first] == ["2026-11-23", "2026-11-24", "2026-11-25"]
    again = import_recordings([src], data, timezone="UTC")
    assert [w for _, w in again] == ["already imported"] * 3
    with NightReader(data / "2026-11-24.night") as r:
        tt, _ = r.read()
    assert tt[0] >= dt.datetime(2026, 11, 24, 12, tzinfo=dt.timezone.utc).timestamp()
    assert tt[-1] < dt.datetime(2026, 11, 25, 12, tzinfo=dt.timezone.utc).timestamp()


def test_disk_full_stops_cleanly_and_leaves_a_readable_file(tmp_path):
    """SQLITE_FULL for real: the database may not grow past a page limit."""
    p = tmp_path / "n.night"
    w = NightWriter.create(p, timezone="UTC")
    w._con.execute("PRAGMA max_page_count = 60")
    rng = np.random.default_rng(1)
    k = 0
    with pytest.raises(StoreError, match="disk is full") as exc:
        while True:
            t = T0 + (k + np.arange(100)) / 100.0
            w.append(t, rng.normal(size=(100, 3)))
            w.commit()
            k += 100
    assert "readable" in str(exc.value)
    w.close()
    with NightReader(p) as r:
        n = r.n_samples()
        t2, _ = r.read()
    assert 0 < n <= k and t2.size == n
    con = sqlite3.connect(p)
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


@pytest.mark.slow
def test_sigkill_at_20_random_moments_loses_at_most_the_last_second(tmp_path):
    rng = np.random.default_rng(7)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    for k in range(20):
        p = tmp_path / f"kill{k}.night"
        child = subprocess.Popen([sys.executable, "-m", "tests.nightwriter_child", str(p)],
                                 stdout=subprocess.PIPE, env=env, cwd=ROOT)
        word, t_start = child.stdout.readline().split()
        assert word == b"ready"
        t_start = float(t_start)
        time.sleep(rng.uniform(0.3, 2.5))
        killed_at = time.time()
        child.send_signal(signal.SIGKILL)
        child.wait()
        con = sqlite3.connect(p)
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        con.close()
        with NightReader(p) as r:
            t, _ = r.read()
        # every sample made more than 1 s before the kill is there, none missing between
        must_have = np.arange(t_start, killed_at - 1.0, 1 / 200.0)
        assert t.size >= must_have.size, f"kill {k}: {t.size} samples kept, {must_have.size} older than 1 s"
        if t.size:
            assert abs(t[0] - t_start) < 1e-5
            assert np.allclose(np.diff(t), 1 / 200.0, atol=2e-6)


def test_cli_import_analyze_convert(tmp_path):
    """The commands a user runs: import a recording, analyse the night by its name (the
    analysis is stored in the night), export it to EDF+ with the events, and back to CSV."""
    import mne

    env = dict(os.environ, TWITCHWATCH_DATA_DIR=str(tmp_path / "data"))

    def tw(*args):
        res = subprocess.run([sys.executable, "-m", "twitchwatch", *map(str, args)], capture_output=True,
                             text=True, env=env, cwd=ROOT)
        assert res.returncode == 0, res.stderr
        return res.stdout

    example = ROOT / "recordings" / "example-night.csv.gz"
    assert "2026-11-24" in tw("import", example, "--tz", "Europe/London", "--label", "wrist")
    assert "already imported" in tw("import", example, "--tz", "Europe/London", "--label", "wrist")
    out = tw("analyze", "2026-11-24-wrist", "--out", tmp_path / "res")
    assert "Europe/London" in out  # the zone stored in the night is used for display
    night = tmp_path / "data" / "2026-11-24-wrist.night"
    with NightReader(night) as r:
        stored = r.latest_analysis()
    assert stored["summary"]["counts"]["jerk"] > 0
    tw("convert", "2026-11-24-wrist", tmp_path / "n.edf")
    raw = mne.io.read_raw_edf(tmp_path / "n.edf", verbose="error")
    kinds = {d.split()[0] for d in raw.annotations.description}
    assert "jerk" in kinds
    tw("convert", night, tmp_path / "back.csv")
    import pandas as pd

    back = pd.read_csv(tmp_path / "back.csv")
    orig = pd.read_csv(example)
    np.testing.assert_allclose(back["time_s"].to_numpy(), orig["time_s"].to_numpy(), atol=1e-6)
    np.testing.assert_allclose(back[["ax_g", "ay_g", "az_g"]].to_numpy(), orig[["ax_g", "ay_g", "az_g"]].to_numpy(),
                               atol=1e-6)
    assert os.stat(tmp_path / "n.edf").st_mode & 0o777 == 0o600


def test_night_file_analysis_streams_and_matches_the_whole(tmp_path):
    """A night file is analysed piece by piece; the result equals the in-memory analysis."""
    from twitchwatch import analyze as A

    t, acc = quiet_with_events(100.0, minutes=8)
    p = tmp_path / "n.night"
    write_recording(p, Recording(t=t, acc=acc, source="x.csv", sample_rate_hz=100.0), timezone="UTC")
    with NightReader(p) as r:
        t2, a2 = r.read()
    whole = A.analyze_arrays(t2, a2)
    old = A.FEED_CHUNK
    A.FEED_CHUNK = 10_000  # force many pieces
    try:
        streamed = A.analyze_night_file(p)
    finally:
        A.FEED_CHUNK = old
    cols = ["onset_t", "kind", "duration_s", "peak_accel_g"]
    assert streamed.events[cols].equals(whole.events[cols])
    assert streamed.summary["counts"] == whole.summary["counts"]
