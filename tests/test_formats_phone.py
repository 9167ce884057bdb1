"""Phone exports: Sensor Logger (zip, folder, one CSV, JSON; phone and watch) and phyphox.

Every export is made here, in tmp_path, in the layout the apps document (see the module
docstrings of twitchwatch.formats.sensorlogger and .phyphox), from a known
gravity-inclusive signal in g (Android's convention: a still device reads +1 g upwards).
The readers must give that signal back, whatever the file's units, sign convention and
split into user acceleration + gravity.
"""
from __future__ import annotations

import json
import zipfile

import numpy as np
import pandas as pd
import pytest

from twitchwatch.errors import InputFileError
from twitchwatch.formats.phyphox import read_phyphox
from twitchwatch.formats.sensorlogger import read_sensorlogger
from twitchwatch.readers import G

FS = 100.0
N = 3000
T0_NS = 1_764_021_600_123_456_789          # 2025-11-24 22:00:00.123456789 UTC
T0 = T0_NS / 1e9


def truth(n=N, phase=0.0):
    """A gravity-inclusive signal in g (Android convention) and a gravity part of it."""
    k = np.arange(n) / FS + phase
    gravity = np.column_stack([0.2 * np.sin(0.05 * k), 0.1 * np.cos(0.03 * k), np.ones(n)])
    gravity /= np.linalg.norm(gravity, axis=1, keepdims=True)
    user = np.column_stack([0.05 * np.sin(7 * k), 0.03 * np.sin(11 * k), 0.04 * np.cos(5 * k)])
    return gravity + user, gravity, user


def times_ns(n=N):
    return T0_NS + np.round(np.arange(n) * 1e9 / FS).astype(np.int64)


def axis_csv(path, t_ns, xyz):
    """A Sensor Logger per-axis CSV: time,seconds_elapsed,z,y,x (the app's column order)."""
    df = pd.DataFrame({"time": t_ns, "seconds_elapsed": (t_ns - T0_NS) / 1e9 + 0.05,
                       "z": xyz[:, 2], "y": xyz[:, 1], "x": xyz[:, 0]})
    df.to_csv(path, index=False)


def metadata_csv(path, platform, standardisation=False, sensors="Accelerometer|Gravity|Gyroscope",
                 rates="10|10|10"):
    pd.DataFrame([{
        "version": 3, "device name": "Someone's iPhone", "recording epoch time": T0_NS // 1_000_000,
        "recording time": "2025-11-24_23-00-00", "recording timezone": "Europe/Berlin",
        "platform": platform, "appVersion": "1.40.0", "device id": "0d1e2f-secret",
        "sensors": sensors, "sampleRateMs": rates,
        "standardisation": "true" if standardisation else "false",
    }]).to_csv(path, index=False)


def ios_export(folder, *, with_uncal=False, with_watch=False, meta=True):
    """iOS: Accelerometer (user, m/s^2) + Gravity (m/s^2), both negated (iOS convention)."""
    folder.mkdir(parents=True, exist_ok=True)
    total, grav, user = truth()
    t_ns = times_ns()
    axis_csv(folder / "Accelerometer.csv", t_ns, -user * G)
    axis_csv(folder / "Gravity.csv", t_ns, -grav * G)
    axis_csv(folder / "Gyroscope.csv", t_ns, np.column_stack([np.full(N, 0.1), np.zeros(N), np.zeros(N)]))
    if with_uncal:
        axis_csv(folder / "AccelerometerUncalibrated.csv", t_ns, -total)      # g on iOS
    if with_watch:
        wtot, wgrav, wuser = truth(phase=3.0)
        df = pd.DataFrame({"time": t_ns, "seconds_elapsed": (t_ns - T0_NS) / 1e9,
                           "rotationRateZ": 0.0, "rotationRateY": 0.0, "rotationRateX": np.pi,
                           "gravityZ": -wgrav[:, 2], "gravityY": -wgrav[:, 1], "gravityX": -wgrav[:, 0],
                           "accelerationZ": -wuser[:, 2], "accelerationY": -wuser[:, 1],
                           "accelerationX": -wuser[:, 0], "quaternionW": 1.0, "quaternionZ": 0.0,
                           "quaternionY": 0.0, "quaternionX": 0.0, "pitch": 0.0, "roll": 0.0, "yaw": 0.0})
        df.to_csv(folder / "WristMotion.csv", index=False)
    if meta:
        metadata_csv(folder / "Metadata.csv", "ios",
                     sensors="Accelerometer|Gravity|Gyroscope|Wrist Motion", rates="10|10|10|20")
    return total


def zip_folder(folder, zpath, prefix=""):
    with zipfile.ZipFile(zpath, "w") as zf:
        for p in sorted(folder.iterdir()):
            zf.write(p, prefix + p.name)
    return zpath


# ------------------------------------------------------------------- Sensor Logger


def test_ios_zip_sums_user_acceleration_and_gravity_and_fixes_sign(tmp_path):
    total = ios_export(tmp_path / "exp")
    rec = read_sensorlogger(zip_folder(tmp_path / "exp", tmp_path / "rec.zip"))
    np.testing.assert_allclose(rec.acc, total, atol=1e-9)          # g, +1 g upwards
    assert rec.t[0] == pytest.approx(T0, abs=1e-6)
    assert np.all(np.diff(rec.t) > 0) and rec.t.size == N
    np.testing.assert_allclose(np.diff(rec.t), 1 / FS, atol=1e-6)
    assert rec.sample_rate_hz == pytest.approx(100.0)
    assert rec.timezone == "Europe/Berlin"
    assert rec.damage == ()
    np.testing.assert_allclose(rec.gyro[:, 0], np.degrees(0.1))      # rad/s -> deg/s
    d = rec.device
    assert d["platform"] == "ios" and d["units_in_file"] == "m/s2"
    assert "summed" in d["gravity"] and "negated" in d["axes"]
    assert "secret" not in repr(d) and "Someone" not in repr(d)      # no device id or name


def test_android_prefers_total_acceleration(tmp_path):
    folder = tmp_path / "android"
    folder.mkdir()
    total, grav, user = truth()
    t_ns = times_ns()
    axis_csv(folder / "TotalAcceleration.csv", t_ns, total * G)
    axis_csv(folder / "Accelerometer.csv", t_ns, user * G * 3)      # must not be used
    axis_csv(folder / "Gravity.csv", t_ns, grav * G)
    metadata_csv(folder / "Metadata.csv", "android", sensors="TotalAcceleration|Accelerometer",
                 rates="5|5")
    rec = read_sensorlogger(folder)
    np.testing.assert_allclose(rec.acc, total, atol=1e-9)
    assert rec.device["files"] == ["TotalAcceleration.csv"]
    assert rec.sample_rate_hz == pytest.approx(200.0)               # from sampleRateMs
    assert "Android" in rec.device["axes"]


def test_android_gravity_on_other_timestamps_is_interpolated(tmp_path):
    folder = tmp_path / "a"
    folder.mkdir()
    total, grav, user = truth()
    t_ns = times_ns()
    axis_csv(folder / "Accelerometer.csv", t_ns, user * G)
    g_ns = t_ns[:2500] + 3_000_000                                  # 3 ms later, shorter
    grav_later = truth(phase=0.003)[1][:2500]                       # gravity at those times
    axis_csv(folder / "Gravity.csv", g_ns, grav_later * G)
    metadata_csv(folder / "Metadata.csv", "android")
    rec = read_sensorlogger(folder)
    kinds = {d.kind: d for d in rec.damage}
    assert kinds["no_gravity"].count == N - 2500 - 10               # beyond 0.1 s slack
    np.testing.assert_allclose(rec.acc[1:2500], total[1:2500], atol=1e-5)
    # within 0.1 s of the gravity span's ends its edge value is held: off by the slope only
    np.testing.assert_allclose(rec.acc, total[: rec.t.size], atol=1e-3)
    assert "interpolated" in rec.device["gravity"]


def test_uncalibrated_ios_is_in_g(tmp_path):
    folder = tmp_path / "u"
    total = ios_export(folder, with_uncal=True)
    (folder / "Accelerometer.csv").unlink()
    rec = read_sensorlogger(folder)
    assert rec.device["files"] == ["AccelerometerUncalibrated.csv"]
    assert rec.device["units_in_file"] == "g"
    np.testing.assert_allclose(rec.acc, total, atol=1e-9)


def test_units_contradicting_the_documentation_are_refused(tmp_path):
    folder = tmp_path / "u"
    total = ios_export(folder, with_uncal=True)
    (folder / "Accelerometer.csv").unlink()
    axis_csv(folder / "AccelerometerUncalibrated.csv", times_ns(), -total * G)  # m/s^2, not g
    with pytest.raises(InputFileError, match="documented in g"):
        read_sensorlogger(folder)


def test_without_metadata_units_come_from_gravity_and_axes_stay(tmp_path):
    folder = tmp_path / "nometa"
    total = ios_export(folder, meta=False)
    rec = read_sensorlogger(folder)
    np.testing.assert_allclose(rec.acc, -total, atol=1e-9)          # sign unknown: as exported
    assert "platform unknown" in rec.device["axes"]
    assert rec.sample_rate_hz is None and rec.timezone is None


def test_gravity_free_acceleration_is_refused(tmp_path):
    folder = tmp_path / "user"
    ios_export(folder)
    (folder / "Gravity.csv").unlink()
    with pytest.raises(InputFileError, match="without gravity"):
        read_sensorlogger(folder)
    with pytest.raises(InputFileError, match="without gravity"):
        read_sensorlogger(folder / "Accelerometer.csv")
    # a 'total' file that holds no gravity cannot pass the magnitude check either
    (folder / "Accelerometer.csv").rename(folder / "TotalAcceleration.csv")
    with pytest.raises(InputFileError, match="not acceleration with gravity"):
        read_sensorlogger(folder)


def test_duplicates_dropped_and_disorder_sorted_and_reported(tmp_path):
    folder = tmp_path / "d"
    folder.mkdir()
    total, _, _ = truth()
    t_ns = times_ns()
    order = np.arange(N)
    order[[100, 101]] = order[[101, 100]]                           # one swap
    order[[2000, 2001, 2002]] = order[[2002, 2000, 2001]]
    rows_t = np.r_[t_ns[order], t_ns[[500, 501, 502]]]              # three repeated rows
    rows_v = np.r_[total[order], total[[500, 501, 502]] + 0.5] * G
    axis_csv(folder / "TotalAcceleration.csv", rows_t, rows_v)
    rec = read_sensorlogger(folder)
    kinds = {d.kind: d for d in rec.damage}
    assert kinds["duplicate"].count == 3
    assert kinds["duplicate"].start_s == pytest.approx(t_ns[500] / 1e9)
    assert "3 with different values" in kinds["duplicate"].detail
    assert kinds["out_of_order"].count == 3
    assert rec.t.size == N and np.all(np.diff(rec.t) > 0)
    np.testing.assert_allclose(rec.acc, total, atol=1e-9)           # first of each kept


def test_phone_and_watch_are_separate_streams(tmp_path):
    folder = tmp_path / "both"
    total = ios_export(folder, with_watch=True)
    wtotal, _, _ = truth(phase=3.0)
    rec = read_sensorlogger(folder)                                 # auto -> phone
    np.testing.assert_allclose(rec.acc, total, atol=1e-9)
    assert rec.device["streams_present"] == ["phone", "watch"]
    watch = read_sensorlogger(folder, stream="watch")
    np.testing.assert_allclose(watch.acc, wtotal, atol=1e-9)        # g + g, iOS sign fixed
    np.testing.assert_allclose(watch.gyro[:, 0], 180.0)             # pi rad/s
    assert watch.device["type"] == "Sensor Logger watch" and watch.device["placement"] == "wrist"
    assert watch.sample_rate_hz == pytest.approx(50.0)              # 'Wrist Motion' 20 ms

    # only the watch: auto takes it; asking for the phone names what is there
    for name in ("Accelerometer.csv", "Gravity.csv", "Gyroscope.csv"):
        (folder / name).unlink()
    assert read_sensorlogger(folder).device["type"] == "Sensor Logger watch"
    with pytest.raises(InputFileError, match="streams present: watch"):
        read_sensorlogger(folder, stream="phone")


def test_ambiguous_auto_names_the_streams(tmp_path):
    folder = tmp_path / "amb"
    ios_export(folder, with_watch=True)
    (folder / "Gravity.csv").unlink()                               # phone unusable
    with pytest.raises(InputFileError, match="ambiguous.*stream='watch'"):
        read_sensorlogger(folder)
    assert read_sensorlogger(folder, stream="watch").device["type"] == "Sensor Logger watch"
    only_phone = tmp_path / "phone"
    ios_export(only_phone)
    with pytest.raises(InputFileError, match=r"no WristMotion.*streams present: phone"):
        read_sensorlogger(only_phone, stream="watch")
    with pytest.raises(ValueError):
        read_sensorlogger(only_phone, stream="left wrist")


def test_json_export_and_nested_zip(tmp_path):
    folder = tmp_path / "exp"
    total = ios_export(folder)
    records = [{"sensor": "Metadata", "version": "3", "device name": "x", "platform": "ios",
                "standardisation": "false", "recording timezone": "Europe/Berlin",
                "sensors": "Accelerometer|Gravity", "sampleRateMs": "10|10"}]
    for sensor in ("Accelerometer", "Gravity"):
        df = pd.read_csv(folder / f"{sensor}.csv")
        for row in df.itertuples(index=False):
            records.append({"sensor": sensor, "time": str(row.time),
                            "seconds_elapsed": str(row.seconds_elapsed),
                            "z": repr(row.z), "y": repr(row.y), "x": repr(row.x)})
    (tmp_path / "rec.json").write_text(json.dumps(records))
    rec = read_sensorlogger(tmp_path / "rec.json")
    np.testing.assert_allclose(rec.acc, total, atol=1e-9)
    assert rec.t[0] == pytest.approx(T0, abs=1e-6) and rec.timezone == "Europe/Berlin"

    nested = zip_folder(folder, tmp_path / "nested.zip", prefix="2025-11-24_23-00-00/")
    np.testing.assert_allclose(read_sensorlogger(nested).acc, total, atol=1e-9)


def test_not_an_export(tmp_path):
    with pytest.raises(InputFileError, match="no such file"):
        read_sensorlogger(tmp_path / "missing.zip")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputFileError, match="no per-sensor CSV"):
        read_sensorlogger(tmp_path / "empty")
    bad = tmp_path / "TotalAcceleration.csv"
    bad.write_text("a,b\n1,2\n")
    with pytest.raises(InputFileError, match="lacks column"):
        read_sensorlogger(bad)


# ------------------------------------------------------------------- phyphox


def phyphox_csv(te, acc_ms2, sep=",", decimal=".", linear=False, extra_nan_rows=0):
    name = "Linear Acceleration" if linear else "Acceleration"
    heads = ["Time (s)"] + [f"{name} {a} (m/s^2)" for a in "xyz"] + ["Absolute acceleration (m/s^2)"]
    fmt = lambda v: f"{v:.9E}".replace("E+0", "E").replace("E-0", "E-").replace(".", decimal)  # noqa: E731
    lines = [sep.join(f'"{h}"' for h in heads)]
    absval = np.linalg.norm(acc_ms2, axis=1)
    for i in range(len(te)):
        lines.append(sep.join(fmt(v) for v in (te[i], *acc_ms2[i], absval[i])))
    for _ in range(extra_nan_rows):
        lines.append(sep.join(["NaN"] * len(heads)))
    return "\n".join(lines) + "\n"


def time_csv(rows, sep=",", decimal="."):
    out = [sep.join(['"event"', '"experiment time"', '"system time"', '"system time text"'])]
    for event, exp_t, sys_t in rows:
        out.append(sep.join([f'"{event}"', f"{exp_t:.9E}".replace(".", decimal),
                             f"{sys_t:.3f}".replace(".", decimal),
                             '"2025-11-24 23:00:00.123 UTC+01:00"']))
    return "\n".join(out) + "\n"


def phyphox_zip(path, data_text, time_text=None, name="Raw Data.csv"):
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(name, data_text)
        zf.writestr("meta/device.csv", '"property","value"\n"deviceModel","Pixel"\n')
        if time_text is not None:
            zf.writestr("meta/time.csv", time_text)
    return path


def test_phyphox_zip_absolute_time_from_meta(tmp_path):
    total, _, _ = truth()
    te = np.arange(N) / FS + 0.0123
    start = 1_764_021_600.123
    z = phyphox_zip(tmp_path / "Acceleration with g 2025-11-24 23-00-00.zip",
                    phyphox_csv(te, total * G),
                    time_csv([("START", 0.0, start), ("PAUSE", 30.5, start + 30.5)]))
    rec = read_phyphox(z)
    np.testing.assert_allclose(rec.t, start + te, atol=1e-6)
    np.testing.assert_allclose(rec.acc, total, atol=1e-8)
    assert rec.device["utc_offset_at_start"] == "+01:00"
    assert rec.damage == ()


def test_phyphox_pause_becomes_a_gap(tmp_path):
    total, _, _ = truth()
    te = np.arange(N) / FS
    start = 1_764_021_600.0
    # paused at 10 s of experiment time for 60 s of wall time
    rows = [("START", 0.0, start), ("PAUSE", 10.0, start + 10.0),
            ("START", 10.0, start + 70.0), ("PAUSE", 30.0, start + 90.0)]
    rec = read_phyphox(phyphox_zip(tmp_path / "p.zip", phyphox_csv(te, total * G), time_csv(rows)))
    expect = np.where(te < 10.0 - 1e-9, start + te, start + 60.0 + te)
    np.testing.assert_allclose(rec.t, expect, atol=1e-6)
    assert np.max(np.diff(rec.t)) == pytest.approx(60.01, abs=1e-6)
    assert rec.device["starts"] == 2


def test_phyphox_tab_decimal_comma_folder_with_padding(tmp_path):
    total, _, _ = truth(n=2000)
    te = np.arange(2000) / FS
    folder = tmp_path / "export"
    (folder / "meta").mkdir(parents=True)
    (folder / "Raw Data.csv").write_text(
        phyphox_csv(te, total * G, sep="\t", decimal=",", extra_nan_rows=4))
    (folder / "meta" / "time.csv").write_text(time_csv([("START", 0.0, 1_764_021_600.5)], "\t", ","))
    rec = read_phyphox(folder)
    np.testing.assert_allclose(rec.acc, total, atol=1e-8)
    np.testing.assert_allclose(rec.t, 1_764_021_600.5 + te, atol=1e-6)
    assert [d.kind for d in rec.damage] == ["missing_values"] and rec.damage[0].count == 4


def test_phyphox_minimal_csv_needs_start_utc(tmp_path):
    total, _, _ = truth(n=1000)
    te = np.arange(1000) / FS
    csv = tmp_path / "Raw Data.csv"
    csv.write_text(phyphox_csv(te, total * G, sep=";"))
    with pytest.raises(InputFileError, match="absolute time is unknown.*start_utc"):
        read_phyphox(csv)
    rec = read_phyphox(csv, start_utc="2025-11-24T22:00:00+00:00")
    np.testing.assert_allclose(rec.t, 1_764_021_600.0 + te, atol=1e-6)
    assert "start_utc" in rec.device["time_source"]
    with pytest.raises(ValueError, match="zone"):
        read_phyphox(csv, start_utc="2025-11-24T22:00:00")


def test_phyphox_without_g_is_refused(tmp_path):
    total, _, user = truth(n=500)
    te = np.arange(500) / FS
    t_csv = time_csv([("START", 0.0, 1_764_021_600.0)])
    z = phyphox_zip(tmp_path / "lin.zip", phyphox_csv(te, user * G, linear=True), t_csv)
    with pytest.raises(InputFileError, match="gravity-inclusive"):
        read_phyphox(z)
    z = phyphox_zip(tmp_path / "Acceleration without g 2025-11-24.zip", phyphox_csv(te, total * G), t_csv)
    with pytest.raises(InputFileError, match="without g"):
        read_phyphox(z)


def test_phyphox_duplicate_times(tmp_path):
    total, _, _ = truth(n=1000)
    te = np.arange(1000) / FS
    te2 = np.r_[te[:300], te[299:]]                                 # one repeated time
    acc2 = np.r_[total[:300], total[299:]] * G
    rec = read_phyphox(phyphox_zip(tmp_path / "d.zip", phyphox_csv(te2, acc2),
                                   time_csv([("START", 0.0, 1_764_021_600.0)])))
    assert [d.kind for d in rec.damage] == ["duplicate"] and rec.damage[0].count == 1
    assert rec.t.size == 1000 and np.all(np.diff(rec.t) > 0)
