"""The recording session with the open-IMU and Movesense profiles against the scripted band
(tests/fakeband.py): a link drop, a silent stall, a short loss inside a connection,
malformed notifications and a device-initiated stop, in one run per profile.

Every delivered sample must be stored once with its value; every outage must be a gap with
its reason.  The Movesense band's 32-bit ms clock wraps 30 s into the run.
"""
from __future__ import annotations

import asyncio

import numpy as np
import pytest

from detect import Detector, DetectorConfig
from sensor.profiles import PROFILES, MovesenseProfile, OpenImuProfile
from sensor.session import RecordingSession, SessionSettings
from twitchwatch.store import ChannelSpec, NightReader, NightWriter

from .fakeband import FakeBand, FakeLink, FastTime

@pytest.fixture(autouse=True, scope="module")
def warm_detector():
    """Load the detector's compiled kernels before any session: the first feed in a process
    takes ~0.3 s of wall time, 6 band seconds at SPEED, which would stall the event loop past
    the watchdog and show as a spurious gap."""
    t = 1.7e9 + np.arange(10) / 100.0
    Detector(DetectorConfig(sample_rate_hz=100.0)).feed(t, np.zeros(10), np.zeros(10), np.ones(10))


SPEED = 20.0
DROP = (20.0, 5.0)
STALL = (45.0, 10.0)          # longer than the watchdog (3 s): a watchdog reconnect
LOSS = (75.0, 0.6)            # shorter than the watchdog: frames lost on a live link
GARBAGE = [30, 90]
DEVICE_STOP = 105.0
DURATION = 140.0


def record(tmp_path, protocol: str, profile, fs: float, per_frame: int):
    clock = FastTime(SPEED)
    band = FakeBand(clock, fs=fs, per_frame=per_frame, protocol=protocol, drops=[DROP],
                    stalls=[STALL], losses=[LOSS], garbage_at=GARBAGE, device_stop_at=DEVICE_STOP)
    path = tmp_path / "n.night"

    async def link_factory():
        while band.down(band.now_s()):
            await clock.sleep(0.2)
        return FakeLink(band)

    async def main():
        task = asyncio.create_task(band.run())
        with NightWriter.create(path, timezone="UTC", channels=(ChannelSpec("acc", fs),)) as w:
            s = RecordingSession(link_factory, profile, w, Detector(DetectorConfig(sample_rate_hz=fs)),
                                 SessionSettings(rate_hz=fs, duration_s=DURATION, watchdog_s=3.0),
                                 time_source=clock)
            stats = await s.run()
        task.cancel()
        return stats

    stats = asyncio.run(main())
    with NightReader(path) as r:
        t, acc = r.read()
        gaps = r.gaps()
    return band, stats, t, acc, gaps


def check_every_sample_once(band, t, acc, fs, tol_s):
    sent = np.concatenate(band.sent)
    assert np.all(np.diff(sent) > 0), "the band sent each sample once"
    assert t.size == sent.size, (t.size, sent.size)
    # the night file stores float32: equal to its precision
    np.testing.assert_allclose(acc, band.expected_g(sent), rtol=1e-6, atol=1e-7)
    assert np.all(np.diff(t) > 0)
    contiguous = np.diff(sent) == 1
    # the clock map follows the (noisy, 20x compressed) receive times: its drift estimate
    # and its 1 % slew move spacings by a few per cent, never more
    np.testing.assert_allclose(np.diff(t)[contiguous], 1.0 / fs, atol=tol_s + 0.03 / fs)


def gap_of(gaps, reason, near_s, t0):
    """The gap with this reason that starts closest to band second ``near_s``."""
    cands = [g for g in gaps if g[2] == reason]
    assert cands, (reason, gaps)
    return min(cands, key=lambda g: abs(g[0] - t0 - near_s))


def check_gaps(gaps, t0, device_stop_reason):
    """Faults are scheduled in band seconds of the shared FastTime, which starts at t0 (UTC)."""
    drop = gap_of(gaps, "link_lost", DROP[0], t0)
    assert DROP[1] - 0.1 <= drop[1] - drop[0] <= DROP[1] + 1.0, drop
    stall = gap_of(gaps, "watchdog", STALL[0], t0)
    assert STALL[1] - 0.1 <= stall[1] - stall[0] <= STALL[1] + 1.0, stall
    loss = gap_of(gaps, "sequence_jump", LOSS[0], t0)
    assert LOSS[1] - 0.2 <= loss[1] - loss[0] <= LOSS[1] + 0.2, loss
    stop = gap_of(gaps, device_stop_reason, DEVICE_STOP, t0)
    assert abs(stop[0] - t0 - DEVICE_STOP) < 1.0, stop
    assert len(gaps) == 4, gaps


def test_open_imu_session_survives_every_fault(tmp_path):
    profile = OpenImuProfile(rate_hz=100)
    band, stats, t, acc, gaps = record(tmp_path, "open-imu", profile, fs=100.0, per_frame=10)
    check_every_sample_once(band, t, acc, 100.0, 0.0)
    check_gaps(gaps, FastTime(1).utc0, "device_stopped")
    assert stats.malformed_frames == len(GARBAGE)
    assert stats.duplicate_samples == 0
    assert profile.missing_packets >= 1, "the sequence numbers saw the lost packets"
    assert profile.settings()["battery_percent"] == 80 and profile.range_g == 8
    assert band.stop_requests == 1 and stats.ended_by == "duration"


def test_movesense_session_survives_every_fault_and_the_ms_wrap(tmp_path):
    profile = MovesenseProfile(rate_hz=100)
    assert profile.rate_hz == 104 and profile.path == "/Meas/Acc/104"
    band, stats, t, acc, gaps = record(tmp_path, "movesense", profile, fs=104.0, per_frame=8)
    # whole-ms packet times: per-sample times are within 1 ms of the true spacing
    check_every_sample_once(band, t, acc, 104.0, 1.1e-3)
    # GSP has no stop message: a sensor that stops sending is a silent link -> watchdog
    check_gaps(gaps, FastTime(1).utc0, "watchdog")
    assert profile._ts.wraps >= 1, "the uint32 ms clock wrapped during the run"
    assert stats.malformed_frames == len(GARBAGE)
    assert stats.duplicate_samples == 0
    assert band.stop_requests == 1 and stats.ended_by == "duration"


def test_profiles_are_registered_and_detected():
    from sensor.recorder import _profile_for

    assert set(PROFILES) >= {"polar", "open-imu", "movesense"}
    assert _profile_for("Movesense 174630000192", []) == "movesense"
    assert _profile_for("", ["34802252-7185-4D5D-B431-630E7050E8F0"]) == "movesense"
    assert _profile_for("TW-IMU 01", []) == "open-imu"
    assert _profile_for(None, ["74770001-7477-4a8e-9d3f-5c1e2b3a4d00"]) == "open-imu"
    assert _profile_for("Polar Sense B5A4B32F", []) == "polar"
    assert _profile_for("Fitbit", ["0000180d-0000-1000-8000-00805f9b34fb"]) is None


@pytest.mark.parametrize("wanted, got", [(12, 13), (13, 13), (100, 104), (200, 208), (5000, 1666)])
def test_movesense_rate_rounds_up_to_a_sensor_rate(wanted, got):
    assert MovesenseProfile(rate_hz=wanted).rate_hz == got


@pytest.mark.parametrize("protocol, asked, got, accepts", [
    ("open-imu", 150, 104, (52, 104, 208)),   # refuses 150 Hz: the profile falls back to 104
    ("open-imu", 100, 104, None),             # accepts 100 Hz and rounds it up (the spec allows it)
    ("movesense", 100, 104, None),            # subscribes to the sensor rate 104
])
def test_night_file_and_detector_get_the_negotiated_rate(tmp_path, protocol, asked, got, accepts):
    """The file is created before the band is reached, with the asked-for rate (as
    `twitchwatch record` does); the band streams at another rate.  The stored settings and
    nominal rate, and the detector's rate, must be the rate streamed."""
    clock = FastTime(SPEED)
    band = FakeBand(clock, fs=float(got), per_frame=8, protocol=protocol, open_imu_rates=accepts)
    profile = PROFILES[protocol](rate_hz=asked)
    path = tmp_path / "n.night"
    made = []

    def detector_factory(rate_hz):
        made.append(Detector(DetectorConfig(sample_rate_hz=rate_hz)))
        return made[-1]

    async def link_factory():
        return FakeLink(band)

    async def main():
        task = asyncio.create_task(band.run())
        with NightWriter.create(path, timezone="UTC", device={"kind": profile.name, "settings": {"rate_hz": asked}},
                                channels=(ChannelSpec("acc", float(asked), 16.0),)) as w:
            s = RecordingSession(link_factory, profile, w, None,
                                 SessionSettings(rate_hz=float(asked), duration_s=20.0, watchdog_s=3.0),
                                 time_source=clock, detector_factory=detector_factory)
            stats = await s.run()
        task.cancel()
        return s, stats

    session, stats = asyncio.run(main())
    assert stats.samples > 0 and profile.rate_hz == got
    with NightReader(path) as r:
        _, nominal, rng = r.channel("acc")
        device = r.device()
    assert nominal == got and rng == 8.0, (nominal, rng)
    assert device["settings"] == profile.settings() and device["settings"]["rate_hz"] == got
    assert len(made) == 1 and session.detector is made[0] and made[0].config.sample_rate_hz == got
    if protocol == "open-imu":
        assert device["settings"]["battery_percent"] == 80


@pytest.mark.parametrize("info_answer, why", [
    (bytes([0xF1, 3, 0, 1]), "oddly"),                  # an INFO answer cut short
    (bytes([0xF1, 3, 5]), "refused INFO"),              # a band without INFO
])
def test_open_imu_start_refuses_a_band_with_a_bad_info_answer(info_answer, why):
    """A garbled or refused INFO answer fails start at once (not after the answer timeout)."""
    from sensor import open_imu
    from sensor.profiles import UnsupportedDeviceError

    class Link:
        name = "TW-IMU odd"

        async def start_notify(self, uuid, callback):
            if uuid == open_imu.CONTROL_UUID:
                self.control = callback

        async def write(self, uuid, data):
            assert data == open_imu.encode_info()
            asyncio.get_running_loop().call_soon(self.control, info_answer)

    with pytest.raises(UnsupportedDeviceError, match=why):
        # (a timeout would raise a plain SensorError, "did not answer", after CP_TIMEOUT_S)
        asyncio.run(OpenImuProfile().start(Link(), lambda data: None))
