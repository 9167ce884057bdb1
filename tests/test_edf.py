"""EDF+ export, read back by independent readers: MNE-Python, pyedflib and edfio.

What each reader can check (each has limits of its own, found while writing these tests):

* MNE-Python reads EDF+D but concatenates the data records (no gaps) and drops the
  sub-second part of the start; its annotation onsets are seconds after the first sample.
* pyedflib (EDFlib) refuses EDF+D files ("The file is discontinuous and cannot be read");
  it reads the contiguous (EDF+C) file.  Its ``getStartdatetime`` scales the sub-second
  start wrongly (divides EDFlib's 100-ns units by 100), so the raw ``starttime_subsecond``
  (100-ns units) is checked instead.
* edfio reads EDF+D (``is_continuous`` False) and keeps the sub-second start; the onset of
  each data record (the EDF+ time-keeping annotation) has no public accessor in edfio, so
  its internal time-keeping signal is read (see ``record_onsets``).
"""
from __future__ import annotations

import datetime as dt
import math
import os
import stat

import edfio
import numpy as np
import pandas as pd
import pytest

from twitchwatch.edf import write_edf
from twitchwatch.errors import OutputExistsError
from twitchwatch.readers import Recording

mne = pytest.importorskip("mne")
pyedflib = pytest.importorskip("pyedflib")

FS = 100.0
T0 = 1_764_021_600.25                      # 2025-11-24 22:00:00.25 UTC
UTC = dt.timezone.utc
GAPS_S = [(40, 47), (120, 150)]            # whole seconds after T0: records left out
EVENTS_S = [(10.5, 0.2, "jerk", 0.31), (60.123, 0.35, "limb_movement", 0.12),
            (100.0, 1.0, "posture_change", 0.8), (155.55, 0.25, "jerk", 0.52)]


def signal(n, seed=0):
    rng = np.random.default_rng(seed)
    k = np.arange(n) / FS
    acc = np.column_stack([0.3 * np.sin(0.7 * k), 0.2 * np.cos(0.4 * k),
                           0.95 + 0.02 * rng.standard_normal(n)])
    gyro = np.column_stack([40 * np.sin(0.3 * k), 5 * rng.standard_normal(n), -20 * np.cos(k)])
    return acc, gyro


def recording_with_gaps(seconds=200):
    i = np.arange(int(seconds * FS))
    keep = np.ones(i.size, dtype=bool)
    for a, b in GAPS_S:
        keep &= ~((i >= a * FS) & (i < b * FS))
    acc, gyro = signal(i.size)
    rec = Recording(t=T0 + i[keep] / FS, acc=acc[keep], gyro=gyro[keep], source="test",
                    sample_rate_hz=FS, device={"type": "Test device", "serial": "SN-12345"})
    return rec, i[keep]


def events_frame():
    rows = [{"onset_t": T0 + on, "duration_s": dur, "kind": kind, "peak_accel_g": peak,
             "onset_utc": "ignored", "confidence": 0.9} for on, dur, kind, peak in EVENTS_S]
    return pd.DataFrame(rows)


def record_onsets(path):
    """Onset of each data record (s after the header's start second), parsed by edfio."""
    from edfio.edf_annotations import _get_data_record_onset

    edf = edfio.read_edf(path)
    tk = edf._timekeeping_signal                    # no public accessor in edfio 0.4
    records = tk.digital.reshape((-1, tk._bytes_per_data_record))
    return np.array([float(_get_data_record_onset(r)) for r in records])


def quantum(pmin, pmax):
    return (pmax - pmin) / 65535


@pytest.fixture(scope="module")
def edf_with_gaps(tmp_path_factory):
    rec, kept = recording_with_gaps()
    path = tmp_path_factory.mktemp("edf") / "night.edf"
    report = write_edf(path, rec, events=events_frame())
    return path, rec, kept, report


def test_report(edf_with_gaps):
    _, rec, _, report = edf_with_gaps
    assert report.edf_type == "EDF+D"
    assert report.records == 200 - 7 - 30
    assert report.gaps == 2 and report.events == 4
    assert report.filled_slots == report.repeated_samples == report.skipped_samples == 0
    assert report.max_time_error_s < 1e-6
    assert report.quantization_g == pytest.approx(quantum(-2, 2))


def test_mne_reads_samples_annotations_and_start(edf_with_gaps):
    path, rec, _, _ = edf_with_gaps
    raw = mne.io.read_raw_edf(path, preload=True, verbose="error")
    assert raw.info["sfreq"] == FS
    assert raw.ch_names == ["ax", "ay", "az", "gx", "gy", "gz"]
    data = raw.get_data()
    # MNE concatenates the records: exactly the recorded samples, in order, no gap filler
    assert data.shape == (6, rec.t.size)
    assert np.max(np.abs(data[:3].T - rec.acc)) <= quantum(-2, 2)
    assert np.max(np.abs(data[3:].T - rec.gyro)) <= quantum(-250, 250)
    # MNE keeps the start second only
    assert raw.info["meas_date"] == dt.datetime.fromtimestamp(math.floor(T0), tz=UTC)
    ann = [(on, du, de) for on, du, de in zip(raw.annotations.onset, raw.annotations.duration,
                                               raw.annotations.description)]
    events = [a for a in ann if a[2] != "data gap"]
    assert [e[2] for e in events] == ["jerk peak 0.31 g", "limb_movement peak 0.12 g",
                                      "posture_change peak 0.80 g", "jerk peak 0.52 g"]
    np.testing.assert_allclose([e[0] for e in events], [e[0] for e in EVENTS_S], atol=1e-6)
    np.testing.assert_allclose([e[1] for e in events], [e[1] for e in EVENTS_S], atol=1e-6)
    gaps = [a for a in ann if a[2] == "data gap"]
    np.testing.assert_allclose([g[0] for g in gaps], [a - 1 / FS for a, _ in GAPS_S], atol=1e-6)
    np.testing.assert_allclose([g[1] for g in gaps], [b - a + 1 / FS for a, b in GAPS_S], atol=1e-6)


def test_edfio_reads_edf_plus_d_record_onsets_and_start(edf_with_gaps):
    path, rec, kept, _ = edf_with_gaps
    edf = edfio.read_edf(path)
    assert edf.reserved == "EDF+D" and not edf.is_continuous
    assert edf.startdatetime == dt.datetime(2025, 11, 24, 22, 0, 0, 250000)   # UTC, naive
    assert edf.data_record_duration == 1.0
    # one record per second of data; the seconds inside the gaps are missing
    written = np.unique(kept // int(FS))
    np.testing.assert_allclose(record_onsets(path), 0.25 + written, atol=1e-9)
    assert edf.num_data_records == written.size
    for i, label in enumerate(["ax", "ay", "az"]):
        sig = edf.get_signal(label)
        assert sig.physical_dimension == "g" and sig.sampling_frequency == FS
        assert np.max(np.abs(sig.data - rec.acc[:, i])) <= quantum(-2, 2)
    assert edf.get_signal("gx").physical_dimension == "deg/s"
    texts = [a.text for a in edf.annotations]
    assert texts.count("data gap") == 2 and "jerk peak 0.31 g" in texts
    onsets = {a.text: a.onset for a in edf.annotations}
    assert onsets["limb_movement peak 0.12 g"] == pytest.approx(60.123, abs=1e-6)


def test_header_is_anonymous_and_says_utc(edf_with_gaps):
    path = edf_with_gaps[0]
    head = path.read_bytes()[:256].decode("ascii")
    assert head[8:88].strip() == "X X X X"
    recording = head[88:168]
    assert recording.startswith("Startdate 24-NOV-2025 X X Test_device start_time_is_UTC")
    assert head[168:176] == "24.11.25" and head[176:184] == "22.00.00"
    assert head[192:197] == "EDF+D"
    assert b"SN-12345" not in path.read_bytes()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_pyedflib_on_edf_plus_d(edf_with_gaps):
    path, rec, _, _ = edf_with_gaps
    try:
        reader = pyedflib.EdfReader(str(path))
    except OSError as exc:               # EDFlib's documented limit: no EDF+D reading
        assert "discontinuous" in str(exc)
        return
    with reader:                          # should pyedflib learn EDF+D, check what it reads
        assert np.max(np.abs(reader.readSignal(0) - rec.acc[:, 0])) <= quantum(-2, 2)


def test_contiguous_file_read_by_pyedflib_and_mne(tmp_path):
    n = int(120 * FS)
    acc, gyro = signal(n, seed=3)
    rec = Recording(t=T0 + np.arange(n) / FS, acc=acc, gyro=gyro, source="c", sample_rate_hz=FS)
    path = tmp_path / "c.edf"
    report = write_edf(path, rec, events=events_frame().iloc[:3], patient="P-017")
    assert report.edf_type == "EDF+C" and report.records == 120
    with pyedflib.EdfReader(str(path)) as f:
        assert f.getSignalLabels() == ["ax", "ay", "az", "gx", "gy", "gz"]
        assert f.getPhysicalDimension(0) == "g" and f.getPhysicalDimension(3) == "deg/s"
        assert f.getSampleFrequency(0) == FS
        for i in range(3):
            assert np.max(np.abs(f.readSignal(i) - acc[:, i])) <= quantum(-2, 2)
            assert np.max(np.abs(f.readSignal(3 + i) - gyro[:, i])) <= quantum(-250, 250)
        start = f.getStartdatetime()
        assert start.replace(microsecond=0) == dt.datetime(2025, 11, 24, 22, 0, 0)
        assert f.starttime_subsecond * 1e-7 == pytest.approx(0.25)      # 100-ns units
        onsets, durations, texts = f.readAnnotations()
        np.testing.assert_allclose(onsets, [e[0] for e in EVENTS_S[:3]], atol=1e-6)
        np.testing.assert_allclose(durations, [e[1] for e in EVENTS_S[:3]], atol=1e-6)
        assert list(texts)[0] == "jerk peak 0.31 g"
        assert f.getPatientCode() == "P-017"
    raw = mne.io.read_raw_edf(path, preload=True, verbose="error")
    assert np.max(np.abs(raw.get_data()[:3].T - acc)) <= quantum(-2, 2)
    np.testing.assert_allclose(record_onsets(path), 0.25 + np.arange(120), atol=1e-9)
    assert edfio.read_edf(path).is_continuous


def test_short_gap_inside_a_record_is_filled_and_annotated(tmp_path):
    n = int(30 * FS)
    i = np.arange(n)
    keep = ~((i >= 1030) & (i < 1060))                      # 0.3 s missing at 10.3 s
    acc, _ = signal(n)
    rec = Recording(t=T0 + i[keep] / FS, acc=acc[keep], source="g", sample_rate_hz=FS)
    path = tmp_path / "g.edf"
    report = write_edf(path, rec)
    assert report.edf_type == "EDF+C" and report.records == 30
    assert report.gaps == 1 and report.filled_slots == 30
    raw = mne.io.read_raw_edf(path, preload=True, verbose="error")
    x = raw.get_data()[0]
    # the empty slots hold the value of the nearest recorded sample
    expect = acc[:, 0].copy()
    expect[1030:1045] = acc[1029, 0]
    expect[1045:1060] = acc[1060, 0]
    assert np.max(np.abs(x - expect)) <= quantum(-2, 2)
    (gap,) = [(o, d) for o, d, t in zip(raw.annotations.onset, raw.annotations.duration,
                                          raw.annotations.description) if t == "data gap"]
    assert gap == pytest.approx((10.29, 0.31), abs=1e-6)


def test_events_from_an_events_csv_with_iso_onsets(tmp_path):
    n = int(20 * FS)
    acc, _ = signal(n)
    rec = Recording(t=T0 + np.arange(n) / FS, acc=acc, source="e", sample_rate_hz=FS)
    events = pd.DataFrame({"onset_utc": ["2025-11-24T22:00:05.750+00:00",
                                         "2025-11-24T23:00:12.000+01:00"],
                           "duration_s": [0.2, 0.3], "kind": ["jerk", "other_movement"],
                           "peak_accel_g": [0.3, float("nan")]})
    write_edf(tmp_path / "e.edf", rec, events=events)
    anns = edfio.read_edf(tmp_path / "e.edf").annotations
    assert [(round(a.onset, 6), a.duration, a.text) for a in anns] == [
        (5.5, 0.2, "jerk peak 0.30 g"), (11.75, 0.3, "other_movement")]


@pytest.mark.parametrize("device_hz", [103.0, 97.0])
def test_clock_drift_error_is_bounded(tmp_path, device_hz):
    n = int(60 * device_hz)
    t = T0 + np.arange(n) / device_hz
    acc = np.column_stack([np.arange(n) * 1e-4, np.zeros(n), np.ones(n)])   # sample index in x
    report = write_edf(tmp_path / "d.edf", Recording(t=t, acc=acc, source="d",
                                                     sample_rate_hz=100.0))
    assert report.records == 60 and report.edf_type == "EDF+C"
    assert report.max_time_error_s <= 0.5 / device_hz + 1e-6     # float64 Unix s: ~0.2 us
    if device_hz > 100:
        assert report.skipped_samples == n - 6000 and report.repeated_samples == 0
    else:
        assert report.repeated_samples == 6000 - n and report.skipped_samples == 0
    # every slot shows a sample recorded within half a device period of the slot time
    raw = mne.io.read_raw_edf(tmp_path / "d.edf", preload=True, verbose="error")
    shown = np.rint(raw.get_data()[0] / 1e-4).astype(int)
    slot_t = np.arange(shown.size) / FS
    assert np.max(np.abs(shown / device_hz - slot_t)) <= 0.5 / device_hz + 1e-3


def test_refuses_to_overwrite_without_force(edf_with_gaps, tmp_path):
    rec, _ = recording_with_gaps(seconds=20)
    path = tmp_path / "x.edf"
    path.write_bytes(b"precious")
    with pytest.raises(OutputExistsError):
        write_edf(path, rec)
    assert path.read_bytes() == b"precious"
    write_edf(path, rec, force=True)
    assert path.read_bytes()[:8] == b"0       "
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["x.edf"]             # no temporary left


# ---- byte identity with the former numpy writer (tests/edf_reference.py)

def _jittered(seed, seconds, device_hz, jitter, t0=T0):
    rng = np.random.default_rng(seed)
    n = int(seconds * device_hz)
    t = t0 + np.arange(n) / device_hz + rng.uniform(-jitter, jitter, n) / device_hz
    acc, gyro = signal(n, seed)
    return t, acc, gyro


def _identity_cases():
    """(name, Recording, write_edf keyword arguments) covering every branch of the writer."""
    gaps, _ = recording_with_gaps()
    cases = [("gaps EDF+D, gyro, events", gaps, dict(events=events_frame()))]
    t, acc, gyro = _jittered(1, 90, 50.3, 0.3)
    cases.append(("jitter and drift, no rate stated", Recording(t=t, acc=acc, source="j"), {}))
    t, acc, gyro = _jittered(2, 95.5, 85.7, 0.05, t0=T0 + 0.987654)
    cases.append(("85.7 Hz: 10-s records, end inside a record",
                  Recording(t=t, acc=acc, gyro=gyro, source="r", sample_rate_hz=85.7,
                            device={"range_g": 2, "gyro_range_dps": 125}), dict(events=events_frame())))
    t, acc, _ = _jittered(3, 60, 103.0, 0.0)
    cases.append(("faster device: skipped samples", Recording(t=t, acc=acc, source="f", sample_rate_hz=100.0),
                  dict(record_duration_s=2.5)))
    t, acc, _ = _jittered(4, 60, 97.0, 0.0)
    keep = np.ones(t.size, dtype=bool)
    keep[1000:1003] = keep[3000:3400] = False                  # a short gap and a long one
    acc[keep.nonzero()[0][:5], 1] = [9.9, -9.9, 2.0, -2.0, 16.5]   # range widened past 16 g
    cases.append(("slower device, gaps inside and across records, wide range",
                  Recording(t=t[keep], acc=acc[keep], source="s", sample_rate_hz=100.0,
                            device={"type": "phone x", "range_g": 8.0}),
                  dict(events=events_frame().iloc[::-1], patient="P 9", gap_s=0.05)))
    rec, _ = recording_with_gaps(seconds=60)
    cases.append(("gaps not annotated, float32 signals",
                  Recording(t=rec.t, acc=rec.acc.astype(np.float32), gyro=rec.gyro.astype(np.float32),
                            source="f32", sample_rate_hz=FS), dict(annotate_gaps=False)))
    odd = pd.DataFrame({"onset_t": [T0 - 5.0, T0 + 3.0, T0 + 3.0], "duration_s": [np.nan, -1.0, 0.5],
                        "kind": ["before\x14start", "note [x]: ünïcode", "sleep window"],
                        "peak_accel_g": [np.nan, np.inf, 0.125]})
    n = int(12 * FS)
    acc, _ = signal(n, 5)
    cases.append(("odd annotations, Fortran-ordered signal",
                  Recording(t=T0 + 0.5 + np.arange(n) / FS, acc=np.asfortranarray(acc), source="o",
                            sample_rate_hz=FS), dict(events=odd)))
    cases.append(("one sample", Recording(t=np.array([T0]), acc=np.array([[0.1, 0.2, 1.0]]), source="1",
                                          sample_rate_hz=25.0), {}))
    return cases


@pytest.mark.parametrize("case", _identity_cases(), ids=lambda c: c[0])
def test_bytes_identical_to_the_former_writer(tmp_path, case):
    from tests.edf_reference import reference_edf

    _, rec, kwargs = case
    expected, fields = reference_edf(rec, **kwargs)
    report = write_edf(tmp_path / "x.edf", rec, **kwargs)
    assert (tmp_path / "x.edf").read_bytes() == expected
    assert {k: getattr(report, k) for k in fields} == fields


def test_night_export_identical_to_the_former_writer(tmp_path):
    """The export path (float32 signals straight from the night file) writes the bytes
    the former writer wrote from NightReader.to_recording()."""
    from tests.edf_reference import reference_edf
    from tests.nightdata import make_data_dir
    from twitchwatch.review.catalog import list_nights
    from twitchwatch.review.export_edf import annotations_frame, export_night_edf
    from twitchwatch.store import NightReader

    make_data_dir(tmp_path / "data", 1, hours=0.25)
    (view,), _ = list_nights(tmp_path / "data", progress=False)
    export_night_edf(view, tmp_path / "n.edf", pseudonym="P-1")
    with NightReader(view.path) as r:
        full = r.to_recording()
        ch = r.channel("acc")
    rec = Recording(t=full.t, acc=full.acc, gyro=full.gyro, source=view.night_id,
                    sample_rate_hz=full.sample_rate_hz, device={"type": view.device["kind"], "range_g": ch[2]})
    expected, _ = reference_edf(rec, events=annotations_frame(view), patient="P-1")
    assert (tmp_path / "n.edf").read_bytes() == expected


@pytest.mark.parametrize("change, message", [
    (lambda t, a, g: (t[::-1].copy(), a, g), "strictly increasing"),
    (lambda t, a, g: (np.r_[t[:5], t[4], t[6:]], a, g), "strictly increasing"),
    (lambda t, a, g: (t, np.where(np.arange(t.size)[:, None] == 7, np.nan, a), g), "acceleration has non-finite"),
    (lambda t, a, g: (t, a, np.where(np.arange(t.size)[:, None] == 9, np.inf, g)), "gyroscope has non-finite"),
    (lambda t, a, g: (t, a[:-1], g), "acceleration has shape"),
    (lambda t, a, g: (t, a, g[:, :2]), "gyroscope has shape"),
    (lambda t, a, g: (t[:0], a[:0], None), "no samples"),
    (lambda t, a, g: (t[:1] * np.nan, a[:1], g[:1]), "finite numbers"),
    (lambda t, a, g: (np.r_[t[:-1], np.inf], a, g), "finite numbers"),
])
def test_bad_input_is_a_typed_error_and_writes_nothing(tmp_path, change, message):
    from twitchwatch.errors import InputFileError

    n = 300
    acc, gyro = signal(n)
    t, acc, gyro = change(T0 + np.arange(n) / FS, acc, gyro)
    with pytest.raises(InputFileError, match=message):
        write_edf(tmp_path / "bad.edf", Recording(t=t, acc=acc, gyro=gyro, source="bad", sample_rate_hz=FS))
    assert list(tmp_path.iterdir()) == []
