"""The firmware's packet code, run and decoded with sensor.open_imu.

- XIAO nRF52840 Sense: the sketch's Arduino-free header
  (firmware_notes/xiao-nrf52840-sense/twitchwatch_imu/packet.h) is compiled with g++ together
  with tests/firmware/packet_driver.cpp, which simulates an LSM6DS3 FIFO with a drifting
  oscillator, irregular reads on a millisecond clock and an overrun.
- Bangle.js 2: the app (firmware_notes/bangle2/twitchwatch-imu.js) runs under Node.js with a
  mock of the Espruino globals (tests/firmware/bangle_harness.js): control writes, accel events
  late by up to 0.6 period, coalesced events and a wall-clock jump.

Each skips with a clear message when its tool (g++ or node) is absent.
"""
from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from sensor.open_imu import (
    STATUS_BAD_COMMAND,
    STATUS_BAD_RANGE,
    STATUS_BAD_RATE,
    STATUS_NO_GYRO,
    STATUS_OK,
    STATUS_STREAMING,
    decode_packet,
    max_samples,
    parse_control_answer,
)

ROOT = Path(__file__).resolve().parents[1]
XIAO_DIR = ROOT / "firmware_notes" / "xiao-nrf52840-sense" / "twitchwatch_imu"
BANGLE_APP = ROOT / "firmware_notes" / "bangle2" / "twitchwatch-imu.js"
FIRMWARE_TESTS = Path(__file__).resolve().parent / "firmware"

GXX = shutil.which("g++")
NODE = shutil.which("node")
needs_gxx = pytest.mark.skipif(
    GXX is None, reason="g++ not found on PATH: install a C++ compiler (Debian/Ubuntu: "
    "apt-get install g++) to compile and test the XIAO packet code")
needs_node = pytest.mark.skipif(
    NODE is None, reason="node not found on PATH: install Node.js (v18 or later) to run the "
    "Bangle.js 2 app against the mocked Espruino globals")


# ---------------------------------------------------------------------------------------
# XIAO nRF52840 Sense: packet.h under g++
# ---------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def driver(tmp_path_factory) -> Path:
    exe = tmp_path_factory.mktemp("fw") / "packet_driver"
    base = [GXX, "-std=c++11", "-O1", "-Wall", "-Wextra", "-Werror", "-I", str(XIAO_DIR),
            str(FIRMWARE_TESTS / "packet_driver.cpp"), "-o", str(exe)]
    # with the sanitizers when this compiler has them (they catch out-of-bounds packing)
    for extra in (["-fsanitize=address,undefined", "-fno-sanitize-recover=all"], []):
        if subprocess.run(base + extra, capture_output=True).returncode == 0:
            return exe
    proc = subprocess.run(base, capture_output=True, text=True)
    pytest.fail(f"packet_driver did not compile:\n{proc.stderr}")


def run(exe: Path, *args: str) -> list[str]:
    proc = subprocess.run([str(exe), *args], capture_output=True, text=True, check=True)
    return proc.stdout.splitlines()


@needs_gxx
def test_xiao_control_commands(driver):
    writes = ["03", "0164000400", "0164000400", "02", "02", "0164000401", "02", "0100000400",
              "01ffff0400", "0164002000", "0164000300", "02", "0164000402", "016400", "04", ""]
    lines = run(driver, "cmd", *writes)
    answers = [parse_control_answer(bytes.fromhex(l.split()[1])) for l in lines[0::2]]
    states = [l.split()[1:] for l in lines[1::2]]
    info = answers[0].info
    assert info.version == 1 and info.max_rate_hz == 1666 and info.ranges_g == (2, 4, 8, 16)
    assert info.has_gyro and info.battery_percent == 87
    assert [a.status for a in answers[1:]] == [
        STATUS_OK, STATUS_STREAMING, STATUS_OK, STATUS_OK, STATUS_OK, STATUS_OK,
        STATUS_BAD_RATE, STATUS_BAD_RATE, STATUS_BAD_RANGE, STATUS_OK, STATUS_OK,
        STATUS_NO_GYRO, STATUS_BAD_COMMAND, STATUS_BAD_COMMAND, STATUS_BAD_COMMAND]
    assert [a.command for a in answers] == [3, 1, 1, 2, 2, 1, 2, 1, 1, 1, 1, 2, 1, 1, 4, 0]
    # START 100 Hz +-4 g streams at 104 Hz (rounded up); with gyro; 3 g rounds up to 4 g
    assert states[1] == ["1", "104000", "4", "0"]
    assert states[5] == ["1", "104000", "4", "1"]
    assert states[10] == ["1", "104000", "4", "0"]
    assert states[12][0] == "0"                   # a refused START does not stream


def decode_stream(lines: list[str]):
    meta = lines[0].split()
    assert meta[0] == "META"
    true_period, true_first, nominal = map(float, meta[1:4])
    packets = [(bytes.fromhex(l.split()[1])) for l in lines[1:]]
    return true_period, true_first, nominal, packets


@needs_gxx
@pytest.mark.parametrize("rate, drift_ppm, gyro, mtu", [
    (100, 25_000, 0, 247),    # IMU 2.5 % slow: 104 Hz nominal
    (400, -30_000, 1, 247),   # 416 Hz with gyro, IMU 3 % fast
    (50, 0, 0, 131),          # 52 Hz at the Bangle-sized MTU
])
def test_xiao_stream_times_and_losses(driver, rate, drift_ppm, gyro, mtu):
    seconds, stall_at, stall_len = 900, 400, 20   # 20 s without reads: the 4 kB FIFO overruns
    lines = run(driver, "stream", str(rate), str(drift_ppm), str(seconds), str(gyro), str(mtu),
                str(stall_at), str(stall_len), "7")
    true_period, true_first, nominal, raw = decode_stream(lines)
    pkts = [decode_packet(b) for b in raw]
    assert all(len(b) <= mtu - 3 for b in raw)
    assert max(len(p.acc_g) for p in pkts) == max_samples(mtu, bool(gyro))
    assert [p.seq for p in pkts] == list(range(len(pkts)))  # no packet lost on this "radio"

    lsb = 122e-6
    idx = [np.rint(p.acc_g[:, 0] / lsb).astype(np.int64) + (np.rint(p.acc_g[:, 1] / lsb).astype(np.int64) << 15)
           for p in pkts]
    for p, i in zip(pkts, idx):
        assert np.all(np.diff(i) == 1)                      # a packet never spans a loss
        np.testing.assert_allclose(p.acc_g[:, 2], 8192 * lsb)
        if gyro:
            np.testing.assert_allclose(p.gyro_dps[:, 0], -(i & 0x7FFF) * 0.07)
        else:
            assert p.gyro_dps is None
    all_idx = np.concatenate(idx)
    assert np.all(np.diff(all_idx) >= 1)                    # nothing twice, in order
    jumps = np.flatnonzero(np.diff(all_idx) > 1)
    assert len(jumps) == 1                                  # the overrun, and only it
    lost = int(np.diff(all_idx)[jumps[0]] - 1)
    # the samples made during the stall (plus up to two 80-ms read intervals) minus the FIFO
    expected = stall_len * 1e9 / true_period - 4096 // (12 if gyro else 6)
    assert expected - 2 <= lost <= expected + 0.2e9 / true_period

    t = np.concatenate([p.device_t_ns for p in pkts]).astype(np.float64)
    truth = true_first + all_idx * true_period
    err = t - truth
    settled = truth > true_first + 30e9                    # after 30 s the period is measured
    assert np.abs(err[settled]).max() < 1.5 * true_period, np.abs(err[settled]).max() / true_period
    assert np.all(np.diff(t) > 0)                           # device time only goes forward
    # the loss shows as a time gap of its own length
    gap = t[jumps[0] + 1] - t[jumps[0]]
    assert gap == pytest.approx((lost + 1) * true_period, abs=3 * true_period)
    # the period sent is measured, not nominal: within 100 ppm at the end
    assert pkts[-1].device_t_ns.size
    last_period = np.diff(pkts[-1].device_t_ns)[0] if len(pkts[-1].device_t_ns) > 1 else None
    if last_period is not None:
        assert abs(last_period / true_period - 1) < 1e-4
    if drift_ppm:
        assert abs(last_period / nominal - 1) > abs(drift_ppm) * 0.5e-6


# ---------------------------------------------------------------------------------------
# Bangle.js 2: the app under Node.js
# ---------------------------------------------------------------------------------------
def run_bangle(**cfg) -> tuple[dict[str, list[dict]], dict]:
    proc = subprocess.run([NODE, str(FIRMWARE_TESTS / "bangle_harness.js"), str(BANGLE_APP),
                           json.dumps(cfg)], capture_output=True, text=True, check=True)
    steps: dict[str, list[dict]] = {}
    meta = None
    current = None
    for line in proc.stdout.splitlines():
        o = json.loads(line)
        if o["kind"] == "step":
            current = steps.setdefault(o["name"], [])
        elif o["kind"] == "meta":
            meta = o
        else:
            current.append(o)
    return steps, meta


def answers(items: list[dict]):
    return [parse_control_answer(bytes.fromhex(o["hex"])) for o in items if o["kind"] == "ctrl"]


def data(items: list[dict]):
    return [bytes.fromhex(o["hex"]) for o in items if o["kind"] == "data"]


@needs_node
def test_bangle_control_and_services():
    steps, meta = run_bangle(rate=100, range=4, polls=300, busy=0.0, seed=3)
    info = answers(steps["info"])[0].info
    assert (info.version, info.max_rate_hz, info.ranges_g, info.has_gyro, info.battery_percent) \
        == (1, 100, (2, 4, 8), False, 73)
    assert [(a.command, a.status) for a in answers(steps["bad"])] == \
        [(9, STATUS_BAD_COMMAND), (0, STATUS_BAD_COMMAND), (1, STATUS_BAD_COMMAND)]
    assert [a.status for a in answers(steps["refused"])] == \
        [STATUS_NO_GYRO, STATUS_BAD_RATE, STATUS_BAD_RANGE, STATUS_BAD_RATE]
    assert [a.status for a in answers(steps["start"])] == [STATUS_OK]
    assert [a.status for a in answers(steps["start-again"])] == [STATUS_STREAMING]
    # STOP sends what is left, then answers; a second STOP answers ok too
    assert steps["stop"][-1]["kind"] == "ctrl" and len(data(steps["stop"])) <= 1
    assert [(a.command, a.status) for a in answers(steps["stop"] + steps["stop-again"])] == \
        [(2, STATUS_OK), (2, STATUS_OK)]
    assert not data(steps["stop-again"]) and not data(steps["disconnect"])
    # the sensor set-up and its undoing
    assert meta["poll_ms_at_start"] == 10
    assert meta["kx_at_start"]["27"] == 0x05 and meta["kx_at_start"]["24"] == 0xEC
    assert meta["after_stop"] == {"pollMs": 80, "powerSave": True, "kx": {"24": 0xEC, "27": 0}}
    assert meta["advertising"]["name"].startswith("TW-IMU")
    assert meta["service_opts"]["advertise"] == ["74770001-7477-4a8e-9d3f-5c1e2b3a4d00"]
    assert meta["service_opts"]["uart"] is True   # or the Web IDE can no longer reach it
    assert meta["battery_value"] == [73] and 60000 in meta["intervals_ms"]
    assert meta["rejected"] == 0


@needs_node
@pytest.mark.parametrize("rate, range_g, period_ms, lsb_ug, busy", [
    (100, 4, 10, 122, 0.03),
    (30, 2, 20, 61, 0.01),      # 30 Hz rounds up to the 50 Hz poll
    (10, 8, 80, 244, 0.0),      # 10 Hz rounds up to 12.5 Hz
])
def test_bangle_stream(rate, range_g, period_ms, lsb_ug, busy):
    polls = 4000
    steps, meta = run_bangle(rate=rate, range=range_g, polls=polls, busy=busy, lateness=0.6,
                             jump_at=polls // 2, seed=11)
    raw = data(steps["stream"]) + data(steps["stop"])
    assert all(len(b) <= 128 for b in raw)                  # Espruino's MTU of 131
    pkts = [decode_packet(b) for b in raw]
    assert [p.seq for p in pkts] == list(range(len(pkts)))
    assert max(len(p.acc_g) for p in pkts) == max_samples(131)
    lsb = lsb_ug * 1e-6
    k = [np.rint(p.acc_g[:, 0] / lsb).astype(np.int64) for p in pkts]   # poll index (< 32768)
    got = np.concatenate(k)
    np.testing.assert_array_equal(got, meta["delivered"])   # every event once, in order
    for p, i in zip(pkts, k):
        assert np.all(np.diff(i) == 1)                      # a coalesced poll ends a packet
        np.testing.assert_allclose(p.acc_g[:, 2], -8192 * lsb)
        assert np.all(np.diff(p.device_t_ns) == period_ms * 1_000_000)
    # device time = the true poll time + one constant (the app's start and the least
    # lateness), across lost polls and across the wall-clock jump of an hour
    t_us = np.concatenate([p.device_t_ns for p in pkts]) / 1000.0
    offset = t_us - (meta["s0_us"] + got * meta["period_us"])
    settled = got > 50
    assert np.ptp(offset[settled]) < 0.6 * meta["period_us"]
    assert np.all(np.diff(t_us) > 0)
    if busy:
        assert len(np.unique(np.diff(got))) > 1             # there were losses to handle
