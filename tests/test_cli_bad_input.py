"""Bad input: one clear line on stderr, exit 2, no traceback, nothing written."""
from __future__ import annotations

import gzip
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from .signals import T0


def cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "twitchwatch", *map(str, args)],
                          capture_output=True, text=True, cwd=cwd)


def write_csv(path: Path, t, acc, header="time_s,ax_g,ay_g,az_g"):
    rows = np.column_stack([t, acc])
    with open(path, "w") as f:
        f.write(header + "\n")
        np.savetxt(f, rows, fmt="%.6f", delimiter=",")
    return path


def still(fs=50.0, minutes=6.0, seed=0):
    rng = np.random.default_rng(seed)
    n = int(fs * minutes * 60)
    t = T0 + np.arange(n) / fs
    acc = rng.normal(0, 0.002, (n, 3)) + [0, 0, 1.0]
    return t, acc


def assert_refused(res, out: Path, *words):
    assert res.returncode == 2, res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, res.stderr
    assert "Traceback" not in res.stderr
    low = lines[0].lower()
    for w in words:
        assert w.lower() in low, lines[0]
    assert not out.exists()
    assert not [p for p in out.parent.iterdir() if p.name.startswith(f".{out.name}")]


def test_missing_file(tmp_path):
    out = tmp_path / "out"
    assert_refused(cli("analyze", tmp_path / "nope.csv", "--out", out), out, "no such file")


def test_wrong_columns(tmp_path):
    t, acc = still()
    f = write_csv(tmp_path / "a.csv", t, acc, header="t,x,y,z")
    out = tmp_path / "out"
    assert_refused(cli("analyze", f, "--out", out), out, "missing column", "time_s")


def test_values_in_m_per_s2(tmp_path):
    t, acc = still()
    f = write_csv(tmp_path / "a.csv", t, acc * 9.80665)
    out = tmp_path / "out"
    assert_refused(cli("analyze", f, "--out", out), out, "m/s^2", "--units")


def test_units_option_accepts_m_per_s2(tmp_path):
    t, acc = still()
    f = write_csv(tmp_path / "a.csv", t, acc * 9.80665)
    out = tmp_path / "out"
    res = cli("analyze", f, "--out", out, "--units", "m/s2", "--tz", "UTC")
    assert res.returncode == 0, res.stderr
    assert (out / "events.csv").exists()


@pytest.mark.parametrize("bad", ["nan", "inf"])
def test_nan_or_inf(tmp_path, bad):
    t, acc = still()
    f = write_csv(tmp_path / "a.csv", t, acc)
    lines = f.read_text().splitlines()
    parts = lines[100].split(",")
    parts[2] = bad
    lines[100] = ",".join(parts)
    f.write_text("\n".join(lines) + "\n")
    out = tmp_path / "out"
    assert_refused(cli("analyze", f, "--out", out), out, "row 100")


def test_non_monotonic(tmp_path):
    t, acc = still()
    t[500], t[501] = t[501], t[500]
    out = tmp_path / "out"
    assert_refused(cli("analyze", write_csv(tmp_path / "a.csv", t, acc), "--out", out), out, "backwards")


def test_duplicate_timestamps(tmp_path):
    t, acc = still()
    t[501] = t[500]
    out = tmp_path / "out"
    assert_refused(cli("analyze", write_csv(tmp_path / "a.csv", t, acc), "--out", out), out, "duplicate")


def test_too_short(tmp_path):
    t, acc = still(minutes=2)
    out = tmp_path / "out"
    assert_refused(cli("analyze", write_csv(tmp_path / "a.csv", t, acc), "--out", out), out, "minutes")


def test_rate_below_25_hz(tmp_path):
    t, acc = still(fs=20)
    out = tmp_path / "out"
    assert_refused(cli("analyze", write_csv(tmp_path / "a.csv", t, acc), "--out", out), out, "25 Hz")


def test_not_a_number_cell(tmp_path):
    f = tmp_path / "a.csv"
    f.write_text("time_s,ax_g,ay_g,az_g\n1,0,0,1\n2,abc,0,1\n")
    out = tmp_path / "out"
    assert_refused(cli("analyze", f, "--out", out), out, "not a number")


def test_unknown_format(tmp_path):
    f = tmp_path / "a.xyz"
    f.write_bytes(b"\x00\x01")
    out = tmp_path / "out"
    assert_refused(cli("analyze", f, "--out", out), out, "unknown format")


def test_unknown_timezone(tmp_path):
    t, acc = still()
    out = tmp_path / "out"
    res = cli("analyze", write_csv(tmp_path / "a.csv", t, acc), "--out", out, "--tz", "Mars/Olympus")
    assert_refused(res, out, "time zone")


def test_existing_output_needs_force(tmp_path):
    t, acc = still()
    f = write_csv(tmp_path / "a.csv", t, acc)
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    res = cli("analyze", f, "--out", out, "--tz", "UTC")
    assert res.returncode == 2 and "--force" in res.stderr and "Traceback" not in res.stderr
    assert (out / "keep.txt").read_text() == "mine"
    res = cli("analyze", f, "--out", out, "--tz", "UTC", "--force")
    assert res.returncode == 0, res.stderr
    assert (out / "events.csv").exists() and not (out / "keep.txt").exists()


def test_clipped_samples_are_flagged(tmp_path):
    import json

    t, acc = still()
    acc[1000:1010, 0] = 2.0
    f = write_csv(tmp_path / "a.csv", t, acc)
    out = tmp_path / "out"
    res = cli("analyze", f, "--out", out, "--tz", "UTC")
    assert res.returncode == 0, res.stderr
    assert json.loads((out / "summary.json").read_text())["clipped_samples"] == 10


def test_outputs_are_owner_only_and_gzip_input_works(tmp_path):
    t, acc = still()
    plain = write_csv(tmp_path / "a.csv", t, acc)
    gz = tmp_path / "a.csv.gz"
    gz.write_bytes(gzip.compress(plain.read_bytes()))
    out = tmp_path / "out"
    res = cli("analyze", gz, "--out", out, "--tz", "UTC")
    assert res.returncode == 0, res.stderr
    assert os.stat(out).st_mode & 0o777 == 0o700
    for p in out.iterdir():
        assert os.stat(p).st_mode & 0o777 == 0o600
