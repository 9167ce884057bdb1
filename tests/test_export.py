"""`twitchwatch export`: CSVs through pandas, EDF+ through MNE-Python and edfio, the FHIR
bundle through fhir.resources (R4B models), privacy, --force and bad input.

One data directory of 6 simulated one-hour nights at 50 Hz (real night files, real
detector), exported once per module through twitchwatch.cli.main.
"""
from __future__ import annotations

import json
import os
import re
import stat

import numpy as np
import pandas as pd
import pytest

from tests.nightdata import make_data_dir
from twitchwatch.cli import main
from twitchwatch.review.catalog import list_nights
from twitchwatch.review.export_csv import EVENT_EXPORT_COLUMNS
from twitchwatch.review.table import COLUMNS, IDENTIFIER_COLUMNS
from twitchwatch.store import add_note

N_NIGHTS = 6
FS = 50.0
OFFSET = re.compile(r"[+-]\d\d:\d\d$")
KINDS = {"jerk", "limb_movement", "posture_change", "other_movement"}


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    d = tmp_path_factory.mktemp("export") / "data"
    make_data_dir(d, N_NIGHTS)
    add_note(d / "2026-10-02.night", "bad flare, knees", "flare")
    return d


@pytest.fixture(scope="module")
def views(data):
    return list_nights(data, analyze=False)[0]


@pytest.fixture(scope="module")
def exported(data, tmp_path_factory):
    """csv, edf and fhir with a pseudonym, into a folder that does not exist yet."""
    out = tmp_path_factory.mktemp("out") / "for-dr-x"
    code = main(["export", "--data-dir", str(data), "--to", str(out), "--format", "csv,edf,fhir",
                 "--pseudonym", "P-017"])
    assert code == 0
    return out


# ------------------------------------------------------------------ files and modes
def test_files_modes_and_no_leftovers(exported, views):
    names = sorted(p.name for p in exported.iterdir())
    assert names == sorted(["events.csv", "nights.csv", "observations.fhir.json"]
                           + [f"{v.night_id}.edf" for v in views])
    assert stat.S_IMODE(os.stat(exported).st_mode) == 0o700
    for p in exported.iterdir():
        assert stat.S_IMODE(os.stat(p).st_mode) == 0o600
    assert not [p for p in exported.parent.iterdir() if p.name.startswith(".")]


# ------------------------------------------------------------------ CSV
def test_events_csv_round_trips_through_pandas(exported, views):
    ev = pd.read_csv(exported / "events.csv", keep_default_na=False, na_values=[""])
    assert list(ev.columns) == list(EVENT_EXPORT_COLUMNS)
    assert len(ev) == sum(len(v.events) for v in views)
    assert set(ev["kind"]) <= KINDS and ev["in_sleep_window"].dtype == bool
    for col in ("onset_local", "onset_utc", "end_utc"):
        assert ev[col].map(lambda s: bool(OFFSET.search(s))).all(), col
    local = pd.to_datetime(ev["onset_local"], utc=True, format="ISO8601")
    utc = pd.to_datetime(ev["onset_utc"], utc=True, format="ISO8601")
    assert (local == utc).all()
    assert ev["onset_local"].str.endswith("+01:00").all()          # October in London: BST
    for v in views:
        mine = ev[ev["night"] == v.night_id]
        assert len(mine) == len(v.events)
        assert int(((mine["kind"] == "jerk") & mine["in_sleep_window"]).sum()) == v.jerks
        np.testing.assert_allclose(mine["duration_s"], v.events["duration_s"], atol=1e-3)
        assert (pd.to_datetime(mine["end_utc"], utc=True, format="ISO8601")
                >= pd.to_datetime(mine["onset_utc"], utc=True, format="ISO8601")).all()


def test_nights_csv_round_trips_through_pandas(exported, views):
    nights = pd.read_csv(exported / "nights.csv", keep_default_na=False, na_values=[""])
    assert list(nights.columns) == list(COLUMNS)
    assert list(nights["night"]) == [v.night_id for v in views]
    assert list(nights["jerks"]) == [v.jerks for v in views]
    np.testing.assert_allclose(nights["jerks_per_h_sleep"], [v.jerks_per_hour_sleep for v in views])
    np.testing.assert_allclose(nights["sleep_h"], [v.sleep_hours for v in views], atol=1e-3)
    assert nights["calibration_applied"].dtype == bool
    for col in ("recording_start_local", "sleep_window_start_local", "sleep_window_end_local"):
        assert nights[col].map(lambda s: bool(OFFSET.search(s))).all()
    notes = dict(zip(nights["night"], nights["notes"]))
    assert notes["2026-10-02"] == "[flare] bad flare, knees"
    assert notes["2026-10-04"] == "[medication] new dose of clonazepam, 0.5 mg"


# ------------------------------------------------------------------ EDF+
def test_edf_read_by_mne_with_the_events_as_annotations(exported, views):
    mne = pytest.importorskip("mne")
    for v in views[:3]:
        raw = mne.io.read_raw_edf(exported / f"{v.night_id}.edf", preload=False, verbose="error")
        assert raw.info["sfreq"] == FS and raw.ch_names == ["ax", "ay", "az"]
        first = v.span_utc[0]
        ann = raw.annotations
        kinds = np.array([d.split(" ")[0] for d in ann.description])
        is_event = np.isin(kinds, list(KINDS))
        # MNE concatenates EDF+D records, so its data ends early by the nights' total gap
        # time and it drops the annotations after that end ("outside data range"); edfio
        # keeps them all (next test).  Every event before MNE's end is there:
        rel = v.events["onset_t"].to_numpy() - first
        seen = rel <= raw.times[-1] + 1 / FS
        assert seen.sum() >= len(v.events) - 5 and is_event.sum() == seen.sum()
        # MNE's onsets count from the first sample (edf.py docs); the events' within a sample
        np.testing.assert_allclose(ann.onset[is_event], rel[seen], atol=1 / FS)
        assert list(kinds[is_event]) == list(v.events["kind"][seen])
        np.testing.assert_allclose(ann.duration[is_event], v.events["duration_s"][seen], atol=1e-5)
        sw = [o for o, d in zip(ann.onset, ann.description) if d == "sleep window"]
        assert sw == pytest.approx([v.sleep_window_utc[0] - first], abs=1 / FS)
        assert sum(d == "data gap" for d in ann.description) == len(v.summary["gaps"])
    notes = mne.io.read_raw_edf(exported / "2026-10-04.edf", verbose="error").annotations.description
    assert "note [medication]: new dose of clonazepam, 0.5 mg" in notes


def test_edf_read_by_edfio_plus_d_and_pseudonymous(exported, views):
    edfio = pytest.importorskip("edfio")
    for v in views[:2]:
        path = exported / f"{v.night_id}.edf"
        edf = edfio.read_edf(path)
        has_long_gap = any(b - a > 1.0 for a, b, _ in v.gaps)
        assert edf.reserved == ("EDF+D" if has_long_gap else "EDF+C")
        assert edf.patient.code == "P-017"
        ax = edf.get_signal("ax")
        assert ax.physical_dimension == "g" and ax.sampling_frequency == FS
        t, acc = v.read_window(*v.span_utc)
        # one sample per slot of the nominal grid: the first ones are the first recorded
        # samples, to 16-bit precision (range +-8 g)
        assert abs(ax.data.size - t.size) < 0.01 * t.size
        assert np.max(np.abs(ax.data[:50] - acc[:50, 0])) <= 16 / 65535
        events = [a for a in edf.annotations if a.text.split(" ")[0] in KINDS]
        assert [a.text.split(" ")[0] for a in events] == list(v.events["kind"])   # after the gaps too
        np.testing.assert_allclose([a.onset for a in events], v.events["onset_t"] - v.span_utc[0], atol=1 / FS)
        head = path.read_bytes()[:256].decode("ascii")
        assert head[8:88].strip() == "P-017 X X X"


# ------------------------------------------------------------------ FHIR
def test_fhir_bundle_validates_and_holds_two_observations_per_night(exported, views):
    from fhir.resources.R4B.bundle import Bundle        # FHIR 4.3 models: R4-compatible here
    from fhir.resources.R4B.observation import Observation

    raw = json.loads((exported / "observations.fhir.json").read_text())
    bundle = Bundle.model_validate(raw)
    assert bundle.type == "collection" and len(bundle.entry) == 2 * N_NIGHTS
    # fhir.resources does not enforce required value-set bindings: check those here
    for e in bundle.entry:
        obs = e.resource
        assert isinstance(obs, Observation) and obs.status == "final"
        assert e.fullUrl == f"urn:uuid:{obs.id}"
        assert obs.code.text and not obs.code.coding          # no invented codes
        assert obs.subject.display == "P-017" and obs.subject.reference is None
        assert OFFSET.search(raw["entry"][0]["resource"]["effectivePeriod"]["start"])
        assert obs.effectivePeriod.start < obs.effectivePeriod.end
        q = obs.valueQuantity
        assert q.system == "http://unitsofmeasure.org" and q.code in ("{count}", "/h")
        assert any("not a diagnosis" in n.text for n in obs.note)
    counts = [e.resource for e in bundle.entry if e.resource.valueQuantity.code == "{count}"]
    index = [e.resource for e in bundle.entry if e.resource.valueQuantity.code == "/h"]
    assert [int(o.valueQuantity.value) for o in counts] == [v.jerks for v in views]
    np.testing.assert_allclose([float(o.valueQuantity.value) for o in index],
                               [v.jerks_per_hour_sleep for v in views])
    for o, v in zip(index, views):
        assert o.component[0].valueQuantity.code == "h"
        assert float(o.component[0].valueQuantity.value) == pytest.approx(v.sleep_hours, abs=1e-3)
    flare = [n.text for n in counts[1].note]
    assert "[flare] bad flare, knees" in flare


def test_fhir_night_without_sleep_window_gives_a_reason_not_a_value(views):
    from fhir.resources.R4B.bundle import Bundle

    from twitchwatch.review.export_fhir import build_bundle

    v = views[0]
    no_sleep = type(v)(**{**v.__dict__, "summary": {**v.summary, "sleep_window_start_utc": None,
                                                   "sleep_window_end_utc": None, "jerks_per_hour_sleep": None,
                                                   "sleep_s": 0.0}})
    b = build_bundle([no_sleep])
    Bundle.model_validate(b)
    for e in b["entry"]:
        r = e["resource"]
        assert "valueQuantity" not in r and "no sleep period" in r["dataAbsentReason"]["text"]
        assert "subject" not in r                           # no pseudonym given


# ------------------------------------------------------------------ privacy
def test_no_identifiers_unless_asked(exported, data, capsys, tmp_path):
    forbidden = [b"SIM0", b"simulated-10", str(data).encode(), str(data.parent).encode()]
    for p in exported.iterdir():
        body = p.read_bytes()
        for word in forbidden:
            assert word not in body, (p.name, word)
    out = tmp_path / "with-ids"
    code, _, err = run(capsys, "export", "--data-dir", data, "--to", out, "--format", "csv,fhir",
                       "--include-identifiers")
    assert code == 0, err
    nights = pd.read_csv(out / "nights.csv", keep_default_na=False)
    assert list(nights.columns) == list(COLUMNS) + list(IDENTIFIER_COLUMNS)
    assert nights["device_serial"].str.startswith("SIM0").all()
    assert b"SIM0" in (out / "observations.fhir.json").read_bytes()


# ------------------------------------------------------------------ force, bad input
def assert_refused(code, err, *words):
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("twitchwatch: error:"), err
    for w in words:
        assert w in lines[0], lines[0]


def test_existing_files_need_force(data, capsys, tmp_path):
    out = tmp_path / "x"
    out.mkdir()
    (out / "mine.txt").write_text("keep me")
    args = ["export", "--data-dir", data, "--to", out, "--format", "csv", "--since", "2026-10-05"]
    assert run(capsys, *args)[0] == 0
    assert sorted(p.name for p in out.iterdir()) == ["events.csv", "mine.txt", "nights.csv"]
    (out / "nights.csv").write_text("precious")
    code, _, err = run(capsys, *args)
    assert_refused(code, err, "nights.csv", "--force")
    assert (out / "nights.csv").read_text() == "precious"
    code, _, err = run(capsys, *args, "--force")
    assert code == 0, err
    assert pd.read_csv(out / "nights.csv")["night"].tolist() == ["2026-10-05", "2026-10-06"]
    assert (out / "mine.txt").read_text() == "keep me"
    assert sorted(p.name for p in out.iterdir()) == ["events.csv", "mine.txt", "nights.csv"]
    assert stat.S_IMODE(os.stat(out / "nights.csv").st_mode) == 0o600


def test_bad_input_is_one_line_and_exit_2(data, capsys, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    out = tmp_path / "out"
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    cases = [
        (["--data-dir", empty, "--to", out], ["no night files"]),
        (["--data-dir", data, "--to", out, "--since", "2026-10-05", "--until", "2026-10-01"], ["swap"]),
        (["--data-dir", data, "--to", out, "--since", "2026-12-01"], ["no analysed nights"]),
        (["--data-dir", data, "--to", out, "--until", "01/10/2026"], ["--until", "YYYY-MM-DD"]),
        (["--data-dir", data, "--to", out, "--format", "csv,xls"], ["--format", "pdf,csv,edf,fhir"]),
        (["--data-dir", data, "--to", out, "--pseudonym", "Jane <Doe>"], ["--pseudonym"]),
        (["--data-dir", data, "--to", a_file], ["is a file"]),
        (["--data-dir", data, "--to", a_file / "sub"], ["cannot create", "choose another folder"]),
    ]
    for args, words in cases:
        code, _, err = run(capsys, "export", *args)
        assert_refused(code, err, *words)
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file", "empty"]


def test_unwritable_folder(data, capsys, tmp_path):
    if os.geteuid() != 0:
        ro = tmp_path / "ro"
        ro.mkdir(mode=0o500)
        target, words = ro / "out", ["permission denied"]
    elif os.path.isdir("/proc"):           # root writes anywhere, except into procfs
        ro, target, words = None, "/proc/twitchwatch-export-test", ["cannot write into", "choose a folder"]
    else:
        pytest.skip("running as root without /proc: no unwritable folder to try")
    try:
        code, _, err = run(capsys, "export", "--data-dir", data, "--to", target, "--format", "csv")
        assert_refused(code, err, *words)
    finally:
        if ro is not None:
            ro.chmod(0o700)


def test_pdf_report(data, capsys, tmp_path):
    pytest.importorskip("twitchwatch.review.report", reason="the PDF report module has not landed yet")
    pypdf = pytest.importorskip("pypdf")
    out = tmp_path / "pdf"
    code, _, err = run(capsys, "export", "--data-dir", data, "--to", out, "--format", "pdf",
                       "--pseudonym", "P-017")
    assert code == 0, err
    assert [p.name for p in out.iterdir()] == ["report.pdf"]
    text = "".join(page.extract_text() or "" for page in pypdf.PdfReader(out / "report.pdf").pages)
    assert "P-017" in text
    assert "SIM0" not in text and str(data) not in text
