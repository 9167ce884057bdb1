"""Movesense GSP decoder and encoder (sensor/movesense.py), the per-sample timestamps and
the 32-bit ms wrap, and the virtual band's Movesense and open-IMU models (no D-Bus)."""
from __future__ import annotations

import struct

import numpy as np
import pytest

from sensor import movesense as ms
from sensor.errors import DecodeError, UnsupportedFrameError
from sensor.virtual_band.device import StreamConfig
from sensor.virtual_band.models import make_model


# ---------------------------------------------------------------------------------------
# Hand-built frames from the documented layout
# ---------------------------------------------------------------------------------------
def test_uuids_share_one_root():
    for u in (ms.SERVICE_UUID, ms.COMMAND_UUID, ms.DATA_UUID):
        assert u.endswith("-7185-4d5d-b431-630e7050e8f0")
    assert ms.COMMAND_UUID.startswith("34800001") and ms.DATA_UUID.startswith("34800002")


def test_commands_are_byte_exact():
    assert ms.build_hello(99) == bytes([0, 99])
    # the firmware sample's own client subscribes like this (reference 99, 13 Hz)
    assert ms.build_subscribe(99, "/Meas/Acc/13") == bytes([1, 99]) + b"/Meas/Acc/13"
    assert ms.build_unsubscribe(99) == bytes([2, 99])
    assert ms.measurement_path("imu6", 416) == "/Meas/IMU6/416"
    assert ms.parse_path("/Meas/IMU6/208") == ("imu6", 208)
    assert ms.parse_path("Meas/Acc/104") == ("acc", 104)
    for bad in (0, 256, -1, True):
        with pytest.raises(ValueError):
            ms.build_hello(bad)
    with pytest.raises(ValueError):
        ms.measurement_path("acc", 100)
    with pytest.raises(ValueError):
        ms.parse_path("/Meas/Ecg/125")


def test_acc_frame_from_the_layout():
    # 02 | ref 0x63 | ts 0x01020304 | two FloatVector3D samples, m/s^2
    frame = bytes([2, 0x63]) + struct.pack("<I", 0x01020304) + struct.pack(
        "<6f", 0.5, -1.25, 9.80665, 0.0, 2.0, -9.5)
    pkt = ms.decode_data(frame)
    assert pkt.reference == 0x63 and pkt.timestamp_ms == 0x01020304 and pkt.n == 2
    np.testing.assert_array_equal(pkt.acc_ms2, np.float32([[0.5, -1.25, 9.80665], [0, 2, -9.5]]))
    assert pkt.gyro_dps is None


def test_imu6_frame_has_all_acc_samples_then_all_gyro_samples():
    acc = [[1, 2, 3], [4, 5, 6], [7, 8, 9]]
    gyro = [[-1, -2, -3], [-4, -5, -6], [-7, -8, -9]]
    frame = bytes([2, 7]) + struct.pack("<I", 123) + struct.pack("<18f", *np.ravel(acc + gyro))
    pkt = ms.decode_data(frame, "imu6")
    np.testing.assert_array_equal(pkt.acc_ms2, acc)
    np.testing.assert_array_equal(pkt.gyro_dps, gyro)
    assert ms.encode_data(7, 123, acc, gyro) == frame
    with pytest.raises(DecodeError, match="whole number"):
        ms.decode_data(frame[:6 + 12 * 5], "imu6")  # 5 vectors cannot be n acc + n gyro
    assert ms.decode_data(frame[:6 + 24], "imu6").n == 1


def test_command_results():
    hello = ms.parse_command_result(bytes([1, 99]) + b"Hello")
    assert hello.hello and hello.ok and hello.reference == 99
    full = ms.parse_command_result(bytes([1, 99, 0x01, 0xFB]))  # the firmware's 507
    assert full.status == 507 and not full.ok
    assert ms.encode_command_result(5, 404) == bytes([1, 5, 0x01, 0x94])
    assert ms.encode_hello_reply(5) == bytes([1, 5]) + b"Hello"


@pytest.mark.parametrize("frame, match", [
    (b"", "empty"),
    (bytes([2, 1, 0, 0]), "truncated"),
    (bytes([2, 1, 0, 0, 0, 0]), "whole number"),
    (bytes([2, 1, 0, 0, 0, 0]) + bytes(11), "whole number"),
    (bytes([1, 1, 0, 0, 0, 0]) + bytes(12), "not DATA"),
    (bytes([2, 1, 0, 0, 0, 0]) + struct.pack("<3f", 0, float("nan"), 0), "finite"),
    (bytes([2, 1, 0, 0, 0, 0]) + struct.pack("<3f", 0, 0, float("inf")), "finite"),
    (bytes([2, 1]) + bytes(4 + 12 * 43), "longer than one attribute"),
])
def test_malformed_frames_raise_decode_error(frame, match):
    with pytest.raises(DecodeError, match=match):
        ms.decode_data(frame)


def test_data_part2_is_refused_with_a_typed_error():
    with pytest.raises(UnsupportedFrameError):
        ms.decode_data(bytes([3, 1, 0, 0, 0, 0]) + bytes(12))


# ---------------------------------------------------------------------------------------
# Timestamps
# ---------------------------------------------------------------------------------------
def test_sample_times_from_the_rate_and_the_packets():
    ts = ms.MovesenseTimestamper(104)
    period = 1e9 / 104
    t = ts.times_ns(1000, 8)
    np.testing.assert_array_equal(t, 1000 * 10**6 + np.round(np.arange(8) * period).astype(np.int64))
    # a sensor running 1 % fast: the period estimate follows the packet times
    true = 0.99 * period
    start = 1000 * 10**6
    for k in range(1, 200):
        t = ts.times_ns(int((start + k * 8 * true) // 10**6), 8)
    assert abs(ts.period_ns - true) < 0.002 * period
    assert np.all(np.diff(t) > 0)


def test_ms_counter_wraps_after_49_7_days():
    ts = ms.MovesenseTimestamper(52)
    near = ms.MS_MODULO - 100
    a = ts.times_ns(near, 4)
    b = ts.times_ns(near + 177 - ms.MS_MODULO, 4)       # 177 ms later: the counter reads 77
    assert b[0] - a[0] == 177 * 10**6 and ts.wraps == 1
    assert b[0] == (ms.MS_MODULO + 77) * 10**6
    ts.reset()                                           # a disconnect keeps the unwrapping
    c = ts.times_ns(5000, 4)
    assert c[0] == (ms.MS_MODULO + 5000) * 10**6
    # a step back (the sensor restarted) stays a step back: the clock map sees a jump
    d = ts.times_ns(10, 4)
    assert d[0] < c[0]
    assert (ms.MS_MODULO / 1000 / 86400) == pytest.approx(49.71, abs=0.01)


# ---------------------------------------------------------------------------------------
# Frames the virtual band produces
# ---------------------------------------------------------------------------------------
def test_virtual_band_movesense_frames_decode_to_its_samples():
    m = make_model("movesense")
    assert m.handle_write(ms.build_hello(9)).responses == [bytes([1, 9]) + b"Hello"]
    out = m.handle_write(ms.build_subscribe(9, "/Meas/IMU6/208"))
    assert out.start.sample_rate_hz == 208 and out.start.kind == "imu6" and out.start.reference == 9
    m.streaming = True
    assert ms.parse_command_result(m.handle_write(ms.build_subscribe(10, "/Meas/Acc/52"))
                                   .responses[0]).status == 507
    cfg = out.start
    n = m.samples_per_frame(232, cfg, None)
    rng = np.random.default_rng(1)
    mg = rng.integers(-8000, 8000, (n, 3))
    times = (ms.MS_MODULO - 3) * 10**6 + np.arange(n) * 4_807_692   # the first sample's ms
    frame = m.encode_frame(cfg, mg, times, 0)
    assert len(frame) == 6 + 24 * n <= 229
    pkt = ms.decode_data(frame, "imu6")
    assert pkt.reference == 9 and pkt.timestamp_ms == ms.MS_MODULO - 3
    np.testing.assert_allclose(pkt.acc_ms2 / ms.STANDARD_GRAVITY, mg / 1000.0, rtol=1e-6)
    assert m.handle_write(ms.build_unsubscribe(9)).stop
    bad = ms.parse_command_result(make_model("movesense").handle_write(
        ms.build_subscribe(3, "/Meas/Acc/100")).responses[0])
    assert bad.status == 404


def test_virtual_band_open_imu_control():
    from sensor import open_imu as oi

    m = make_model("open-imu")

    def answer(command: bytes) -> oi.ControlAnswer:
        (data,) = m.handle_write(command).responses
        return oi.parse_control_answer(data)

    info = answer(oi.encode_info()).info
    assert info == oi.BandInfo(1, 416, (2, 4, 8, 16), False, 100)
    assert answer(oi.encode_start(99, 8)).status == oi.STATUS_BAD_RATE
    assert answer(oi.encode_start(100, 3)).status == oi.STATUS_BAD_RANGE
    assert answer(oi.encode_start(100, 8, gyro=True)).status == oi.STATUS_NO_GYRO
    assert (answer(b"\x09").command, answer(b"\x09").status) == (9, oi.STATUS_BAD_COMMAND)
    assert (answer(b"").command, answer(b"").status) == (0, oi.STATUS_BAD_COMMAND)
    assert answer(oi.encode_stop() + b"\x00").status == oi.STATUS_BAD_COMMAND
    out = m.handle_write(oi.encode_start(100, 8))
    assert out.start == StreamConfig(100, 8, 16)
    m.streaming = True
    assert answer(oi.encode_start(100, 8)).status == oi.STATUS_STREAMING
    assert m.handle_write(oi.encode_stop()).stop
    assert oi.parse_control_answer(m.device_stop_message()) == oi.ControlAnswer(oi.CMD_STOP, oi.STATUS_OK)
    times = 7_200_000_000_000 + np.arange(34) * 10_000_000
    pkt = oi.decode_packet(m.encode_frame(out.start, np.full((34, 3), 1000), times, 65537))
    assert pkt.seq == 1 and pkt.device_t_ns[0] == times[0]
    np.testing.assert_allclose(pkt.acc_g, 1.0, atol=0.000244 / 2)
