"""`analyze` on the shipped example night: the event-log contract, the demo's own accuracy,
and time zones (UTC inside, the IANA zone for display)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "recordings" / "example-night.csv.gz"
TRUTH = ROOT / "recordings" / "example-night.truth.csv"
CHECKER = ROOT.parent / "shared" / "tools" / "check_analyze_output.py"


@pytest.fixture(scope="module")
def demo_out(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo") / "out"
    res = subprocess.run([sys.executable, "-m", "twitchwatch", "analyze", str(EXAMPLE), "--out", str(out),
                          "--tz", "America/New_York"], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert "jerks" in res.stdout
    return out


def test_contract_checker_accepts_the_output(demo_out):
    if not CHECKER.exists():
        pytest.skip(f"{CHECKER} is absent: the contract checker lives in ../shared/tools")
    res = subprocess.run([sys.executable, str(CHECKER), str(demo_out)], capture_output=True, text=True)
    assert res.returncode == 0, res.stdout
    assert "contract ok" in res.stdout


def test_demo_night_is_detected_well(demo_out):
    res = subprocess.run([sys.executable, "-m", "twitchwatch", "evaluate", str(demo_out), str(TRUTH), "--json"],
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    r = json.loads(res.stdout)
    assert r["n_true"] >= 15
    assert r["f1"] >= 0.95 and r["recall_strong"] >= 0.95


def test_times_are_utc_inside_and_local_for_display(demo_out):
    s = json.loads((demo_out / "summary.json").read_text())
    assert s["timezone"] == "America/New_York"
    assert s["recording_start_utc"].endswith("+00:00")
    assert s["sleep_window_local"][0].endswith(("-05:00", "-04:00"))
    ev = pd.read_csv(demo_out / "events.csv", keep_default_na=False)
    assert ev["onset_utc"].str.endswith("+00:00").all()
    assert ev["onset_local"].str.endswith("-05:00").all()  # late November: EST
    for h in s["hourly_jerks"]:
        assert h["hour_start_local"][14:19] == "00:00"  # whole local clock hours
    assert sum(h["jerks"] for h in s["hourly_jerks"]) == s["counts_in_sleep_window"]["jerk"]


def test_summary_sums_are_consistent(demo_out):
    s = json.loads((demo_out / "summary.json").read_text())
    ev = pd.read_csv(demo_out / "events.csv", keep_default_na=False)
    assert sum(s["counts"].values()) == len(ev)
    assert s["gaps_s"] == pytest.approx(sum(g["duration_s"] for g in s["gaps"]), abs=0.01)
    assert s["sleep_s"] <= (pd.Timestamp(s["sleep_window_end_utc"]) - pd.Timestamp(s["sleep_window_start_utc"])).total_seconds()
    assert s["calibration_error_mg"]["after"] <= s["calibration_error_mg"]["before"]
    assert len(s["config_hash"]) == 16
