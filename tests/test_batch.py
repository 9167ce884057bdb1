"""`twitchwatch batch`: simulated nights, one corrupt and one unsupported file, on the local
process pool and on a local Dask cluster with 2 workers.

Each night folder must be byte-identical to what `twitchwatch analyze` writes for the same
night, the two bad files must be reported and nothing else, `--resume` must do no work,
and no worker process may outlive the batch.
"""
from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import psutil
import pytest

from twitchwatch import cli
from twitchwatch.batch.driver import run_batch
from twitchwatch.batch.inputs import BatchInputError, expand_inputs, safe_id
from twitchwatch.batch.ledger import LEDGER_NAME
from twitchwatch.batch.report import REPORT_NAME
from twitchwatch.readers import Recording
from twitchwatch.simulate import NightSettings, simulate_night, write_night
from twitchwatch.store import write_recording

CHECKER = Path(__file__).resolve().parents[2] / "shared" / "tools" / "check_analyze_output.py"
DAY = 86400.0
START = 1795557600.0  # 2026-11-24T22:00Z: London local 22:00, the night of 2026-11-24
TZ = "Europe/London"

#: night folder -> (reference input for `analyze`, the zone analyze is given)
EXPECTED = ("P01/2026-11-24", "P01/2026-11-25", "P02/2026-11-24", "P02/2026-11-25")
BAD = {"study/P02/broken.csv.gz", "study/P02/notes.edf"}


def _night(seed: int, day: int):
    # 48 minutes at 50 Hz: long enough for a sleep window, light enough for a test
    return simulate_night(NightSettings(seed=seed, sample_rate_hz=50.0, sleep_hours=0.6, awake_before_min=6,
                                        awake_after_min=6, start_utc=START + day * DAY))


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    """study/P01: a CSV night and a night file; study/P02: a two-night CSV (cut at noon),
    a truncated .csv.gz and an .edf (no reader).  ref/: each night alone, for `analyze`."""
    root = tmp_path_factory.mktemp("batch")
    s, ref = root / "study", root / "ref"
    for d in (s / "P01", s / "P02", ref):
        d.mkdir(parents=True)
    write_night(_night(1, 0), str(s / "P01" / "a.csv.gz"))
    shutil.copy(s / "P01" / "a.csv.gz", ref / "P01-2026-11-24.csv.gz")
    b = _night(2, 1).samples
    write_recording(s / "P01" / "b.night", Recording(
        t=b["time_s"].to_numpy(), acc=b[["ax_g", "ay_g", "az_g"]].to_numpy(), source="b.csv",
        sample_rate_hz=50.0), timezone=TZ)
    shutil.copy(s / "P01" / "b.night", ref / "P01-2026-11-25.night")
    texts = []
    for day, seed in ((0, 3), (1, 4)):
        path = ref / f"P02-2026-11-2{4 + day}.csv.gz"
        write_night(_night(seed, day), str(path))
        texts.append(gzip.decompress(path.read_bytes()).decode())
    week = texts[0] + texts[1].split("\n", 1)[1]  # one file, two nights
    (s / "P02" / "week.csv.gz").write_bytes(gzip.compress(week.encode(), mtime=0))
    whole = (s / "P01" / "a.csv.gz").read_bytes()
    (s / "P02" / "broken.csv.gz").write_bytes(whole[: len(whole) // 2])  # cut mid-stream
    (s / "P02" / "notes.edf").write_bytes(b"0       not read by twitchwatch")

    # what `twitchwatch analyze` writes for each night on its own
    for folder in EXPECTED:
        src = next(ref.glob(folder.replace("/", "-") + ".*"))
        args = ["analyze", str(src), "--out", str(root / "analyze" / folder)]
        assert cli.main(args + ([] if src.suffix == ".night" else ["--tz", TZ])) == 0
    return root


def _children() -> set[int]:
    """Child processes, without multiprocessing's resource tracker (it lives as long as
    this process, whatever the batch does)."""
    out = set()
    for p in psutil.Process().children(recursive=True):
        try:
            if "resource_tracker" not in " ".join(p.cmdline()):
                out.add(p.pid)
        except psutil.Error:
            pass
    return out


def _run(study, out_name, **kw):
    cwd = os.getcwd()
    os.chdir(study)  # sources as a user would type them: study/P02/...
    try:
        return run_batch(["study"], study / out_name, tz=TZ, **kw)
    finally:
        os.chdir(cwd)


def _check_outputs(study: Path, out: Path, outcome) -> None:
    r = outcome.report
    assert {f["source"] for f in r["failed"]} == BAD, r["failed"]
    reasons = {f["source"]: f["reason"] for f in r["failed"]}
    assert "unknown format" in reasons["study/P02/notes.edf"]
    assert "not a number" in reasons["study/P02/broken.csv.gz"] or "cannot read" in reasons["study/P02/broken.csv.gz"]
    assert r["totals"]["nights_analysed"] == 4 and r["totals"]["inputs_failed"] == 2
    nights = sorted(f"{p.parent.name}/{p.name}" for p in out.glob("*/*") if p.is_dir())
    assert nights == sorted(EXPECTED)
    for folder in EXPECTED:
        for name in ("events.csv", "summary.json"):
            got, want = out / folder / name, study / "analyze" / folder / name
            assert got.read_bytes() == want.read_bytes(), f"{folder}/{name} differs from `analyze`"
            assert got.stat().st_mode & 0o777 == 0o600
        assert (out / folder).stat().st_mode & 0o777 == 0o700
        if CHECKER.exists():
            res = subprocess.run([sys.executable, str(CHECKER), str(out / folder)], capture_output=True, text=True)
            assert res.returncode == 0, res.stdout
    # the cohort: one row per night, the same in CSV and Parquet, no file names
    csv = pd.read_csv(out / "cohort.csv")
    pq = pd.read_parquet(out / "cohort.parquet")
    assert list(csv["person"] + "/" + csv["night"]) == list(EXPECTED)
    assert list(pq.columns) == list(csv.columns) and len(pq) == 4
    assert np.allclose(pq["jerks_per_hour_sleep"].astype(float), csv["jerks_per_hour_sleep"], equal_nan=True)
    for folder, row in zip(EXPECTED, csv.itertuples()):
        s = json.loads((out / folder / "summary.json").read_text())
        assert row.jerks == s["counts"]["jerk"] and row.sleep_window_start_utc == s["sleep_window_start_utc"]
        assert row.jerks_per_hour_sleep == pytest.approx(s["jerks_per_hour_sleep"])
    assert csv["sleep_window_start_utc"].notna().all()  # the nights are long enough for one
    text = (out / "cohort.csv").read_text()
    assert "study" not in text and ".csv" not in text


@pytest.fixture(scope="module")
def pool_run(study):
    before = _children()
    outcome = _run(study, "pool", workers=2)
    assert _children() <= before, "pool worker processes outlived the batch"
    return outcome


def test_pool_matches_analyze_and_reports_bad_files(study, pool_run):
    assert pool_run.report["engine"] == "process pool" and pool_run.report["workers"] == 2
    _check_outputs(study, study / "pool", pool_run)
    assert (study / "pool").stat().st_mode & 0o777 == 0o700


def test_resume_does_no_work(study, pool_run):
    out = study / "pool"
    mtimes = {p: p.stat().st_mtime_ns for p in out.glob("*/*/*")}
    ledger_lines = len((out / LEDGER_NAME).read_text().splitlines())
    again = _run(study, "pool", workers=2, resume=True)
    t = again.report["totals"]
    assert t["nights_analysed"] == 0 and t["nights_skipped"] == 4 and t["inputs_failed"] == 2
    assert again.report["workers"] == 0 and again.work_s == 0.0  # no engine was even started
    assert {p: p.stat().st_mtime_ns for p in out.glob("*/*/*")} == mtimes
    assert len((out / LEDGER_NAME).read_text().splitlines()) == ledger_lines
    assert len(pd.read_parquet(out / "cohort.parquet")) == 4  # the table still lists every night


def _copy_batch(study: Path, dst: Path) -> Path:
    """The study and its finished batch in a new place, the ledger's paths moved along."""
    shutil.copytree(study / "study", dst / "study")
    shutil.copytree(study / "pool", dst / "pool")
    ledger = dst / "pool" / LEDGER_NAME
    lines = []
    for line in ledger.read_text().splitlines():
        e = json.loads(line)
        e["path"] = str(dst / Path(e["path"]).relative_to(study.resolve()))
        lines.append(json.dumps(e))
    ledger.write_text("\n".join(lines) + "\n")
    return dst / "pool"


def test_resume_redoes_a_changed_input_only(study, pool_run, tmp_path):
    out = _copy_batch(study, tmp_path)
    night = out / "P01" / "2026-11-24"
    os.utime(tmp_path / "study" / "P01" / "a.csv.gz")  # the file changed
    before = (night / "summary.json").stat().st_mtime_ns
    again = _run(tmp_path, "pool", workers=1, resume=True)
    t = again.report["totals"]
    assert t["nights_analysed"] == 1 and t["nights_skipped"] == 3, t
    assert (night / "summary.json").stat().st_mtime_ns > before
    assert (night / "events.csv").read_bytes() == (study / "analyze" / "P01" / "2026-11-24" / "events.csv").read_bytes()


def test_resume_redoes_nights_of_another_detector_version(study, pool_run, tmp_path):
    out = _copy_batch(study, tmp_path)
    f = out / "P01" / "2026-11-25" / "summary.json"
    s = json.loads(f.read_text())
    s["detector_version"] = "0.0.1"
    f.write_text(json.dumps(s))
    again = _run(tmp_path, "pool", workers=1, resume=True)
    t = again.report["totals"]
    assert t["nights_analysed"] == 1 and t["nights_skipped"] == 3, t
    assert f.read_bytes() == (study / "analyze" / "P01" / "2026-11-25" / "summary.json").read_bytes()


def test_dask_local_cluster_matches_pool(study, pool_run):
    before = _children()
    outcome = _run(study, "dask", workers=2, scheduler="local")
    assert _children() <= before, "Dask worker processes outlived the batch"
    assert outcome.report["engine"] == "dask local cluster" and outcome.report["workers"] == 2
    _check_outputs(study, study / "dask", outcome)
    again = _run(study, "dask", workers=2, scheduler="local", resume=True)
    assert again.report["totals"]["nights_analysed"] == 0 and again.report["workers"] == 0
    pd.testing.assert_frame_equal(pd.read_parquet(study / "dask" / "cohort.parquet"),
                                  pd.read_parquet(study / "pool" / "cohort.parquet"))


@pytest.mark.slow
def test_submits_to_a_running_scheduler_by_address(study, pool_run, tmp_path):
    """The path a real cluster takes: connect by address, check the workers' detector
    version and what they see, register the warm-up plugin, submit."""
    from distributed import LocalCluster

    with LocalCluster(n_workers=1, threads_per_worker=1, host="127.0.0.1", dashboard_address=None) as cluster:
        outcome = run_batch([str(study / "study" / "P01")], tmp_path / "out", tz=TZ,
                            scheduler=cluster.scheduler_address)
    assert outcome.report["engine"].startswith("dask cluster at tcp://127.0.0.1")
    assert outcome.report["totals"]["nights_analysed"] == 2 and not outcome.failed
    for folder in ("P01/2026-11-24", "P01/2026-11-25"):
        for name in ("events.csv", "summary.json"):
            assert (tmp_path / "out" / folder / name).read_bytes() == (study / "analyze" / folder / name).read_bytes()


# ---- the command line ------------------------------------------------------------------

def test_cli_refuses_a_used_folder_and_bad_inputs(study, pool_run, capsys):
    assert cli.main(["batch", str(study / "study"), "--out", str(study / "pool")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--resume" in err[0]
    assert cli.main(["batch", str(study / "nowhere"), "--out", str(study / "x")]) == 2
    assert "no such file or folder" in capsys.readouterr().err
    assert cli.main(["batch", str(study / "study" / "*.cwa"), "--out", str(study / "x")]) == 2
    assert "no file matches" in capsys.readouterr().err
    assert cli.main(["batch", str(study / "study"), "--out", str(study / "pool"), "--resume", "--force"]) == 2
    assert not (study / "x").exists()


def test_cli_summary_line_and_exit_status(study, pool_run, capsys):
    code = cli.main(["batch", str(study / "study"), "--out", str(study / "pool"), "--resume", "--tz", TZ])
    out, err = capsys.readouterr()
    assert code == 1  # two inputs failed
    assert "0 nights analysed, 4 already done, 2 of 5 inputs failed" in out
    assert err.count("failed:") == 2 and "notes.edf" in err and "Traceback" not in err
    report = json.loads((study / "pool" / REPORT_NAME).read_text())
    assert report["totals"]["inputs"] == 5


# ---- inputs ----------------------------------------------------------------------------

def test_expand_inputs_people_globs_and_output_folder(study, tmp_path):
    found = expand_inputs([str(study / "study")], out_dir=study / "study" / "P01")  # an out inside: skipped
    assert {(Path(i.path).name, i.person) for i in found} == {
        ("broken.csv.gz", "P02"), ("notes.edf", "P02"), ("week.csv.gz", "P02")}
    found = expand_inputs([str(study / "study" / "*" / "*.csv.gz"), str(study / "study" / "P01" / "b.night")])
    assert [(Path(i.path).name, i.person) for i in found] == [
        ("a.csv.gz", "P01"), ("broken.csv.gz", "P02"), ("week.csv.gz", "P02"), ("b.night", "P01")]
    assert [i.unsupported is not None for i in expand_inputs([str(study / "study" / "P02")])] == [False, True, False]
    with pytest.raises(BatchInputError):
        expand_inputs([str(tmp_path)])  # an empty folder
    assert safe_id("../Mr Smith/") == "Mr_Smith" and safe_id("...") == "unknown"


# ---- a worker that dies ----------------------------------------------------------------

def dying_task(spec: dict) -> dict:
    """Runs in a pool worker: the input marked 'die' kills its process, as an OOM kill would."""
    if spec.get("die"):
        os._exit(9)
    return {"source": spec["source"], "status": "done", "error": None, "nights": [], "seconds": 0.0}


def test_pool_survives_a_worker_death():
    from twitchwatch.batch.runner import MAX_TRIES, PoolRunner

    before = _children()
    specs = [{"source": "ok1"}, {"source": "dies", "die": True}, {"source": "ok2"}]
    with PoolRunner(1) as runner:
        results = {s["source"]: r for s, r in runner.run(dying_task, specs)}
    assert _children() <= before
    assert results["ok1"]["status"] == results["ok2"]["status"] == "done"
    assert results["dies"]["status"] == "failed" and f"tried {MAX_TRIES} times" in results["dies"]["error"]


# ---- one task, in this process -----------------------------------------------------------

def test_task_cuts_at_noon_and_takes_the_device_id(tmp_path):
    """A recording from 11:58 to 12:46 local: 2 minutes of one night (too short, listed)
    and 46 of the next (analysed); with person_from='device' the serial names the person."""
    from twitchwatch.batch.task import analyze_input

    night = _night(7, 0).samples
    t = night["time_s"].to_numpy() - (22 * 3600 - 11 * 3600 - 58 * 60)  # 22:00Z -> 11:58Z
    src = tmp_path / "in" / "x.night"
    src.parent.mkdir()
    write_recording(src, Recording(t=t, acc=night[["ax_g", "ay_g", "az_g"]].to_numpy(), source="x",
                                   sample_rate_hz=50.0, device={"serial": "AX 123"}), timezone="UTC")
    csv = tmp_path / "in" / "x.csv"
    assert cli.main(["convert", str(src), str(csv)]) == 0
    out = tmp_path / "out"
    out.mkdir()
    spec = {"path": str(csv), "source": "x.csv", "person": "in", "person_from": "folder", "out_dir": str(out),
            "tz": "UTC", "units": "g", "replace": False, "run_started": 0.0}
    r = analyze_input(spec)
    assert r["status"] == "done", r
    assert [(n["folder"], n["status"]) for n in r["nights"]] == [("in/2026-11-23", "short"), ("in/2026-11-24", "done")]
    assert (out / "in" / "2026-11-24" / "summary.json").exists() and not (out / "in" / "2026-11-23").exists()
    # a night file is one night, named by its start; the serial only when asked for
    r = analyze_input({**spec, "path": str(src), "person_from": "device"})
    assert r["status"] == "done" and r["nights"][0]["folder"] == "AX_123/2026-11-23", r
    # the same night again from another input of this run: refused, not overwritten
    r = analyze_input({**spec, "path": str(src), "person_from": "device", "replace": True,
                       "run_started": 0.0})
    assert r["status"] == "failed" and "another input of this batch" in r["error"]
