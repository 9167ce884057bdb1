"""The recording session against a scripted band: drops, a silent stall, a device stop and
malformed frames end in a complete night file with every outage recorded as a gap."""
from __future__ import annotations

import asyncio

import numpy as np
import pytest

from detect import Detector, DetectorConfig
from sensor.profiles import PolarProfile
from sensor.session import RecordingSession, SessionSettings
from twitchwatch.store import ChannelSpec, NightReader, NightWriter

from .fakeband import FakeBand, FakeLink, FastTime

SPEED = 20.0


def record(tmp_path, band_kwargs, duration_s=600.0):
    clock = FastTime(SPEED)
    band = FakeBand(clock, **band_kwargs)
    path = tmp_path / "n.night"

    async def link_factory():
        # like a scan: wait until the band advertises again (outage over)
        while band.down(band.now_s()):
            await clock.sleep(0.2)
        return FakeLink(band)

    async def main():
        task = asyncio.create_task(band.run())
        with NightWriter.create(path, timezone="UTC", channels=(ChannelSpec("acc", 100.0),)) as w:
            s = RecordingSession(link_factory, PolarProfile(rate_hz=100), w,
                                 Detector(DetectorConfig(sample_rate_hz=100.0)),
                                 SessionSettings(rate_hz=100.0, duration_s=duration_s, watchdog_s=3.0),
                                 time_source=clock)
            stats = await s.run()
        task.cancel()
        return stats

    stats = asyncio.run(main())
    with NightReader(path) as r:
        t, acc = r.read()
        gaps = r.gaps()
    return band, stats, t, acc, gaps


def check_no_loss_no_duplicates(band, t, acc):
    sent = np.concatenate(band.sent)
    assert np.all(np.diff(sent) > 0), "the band sent each sample once"
    # every delivered sample is stored once, with its value
    assert t.size == sent.size
    np.testing.assert_allclose(acc, band.signal_mg[sent] / 1000.0, atol=1e-6)
    # device time steps map to 10 ms steps except at gaps
    step = np.diff(t)
    contiguous = np.diff(sent) == 1
    np.testing.assert_allclose(step[contiguous], 0.01, atol=2e-4)


@pytest.mark.slow
def test_drops_and_a_stall():
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as d:
        band, stats, t, acc, gaps = record(
            Path(d), dict(drops=[(100.0, 8.0), (250.0, 15.0), (420.0, 5.0)], stalls=[(320.0, 20.0)]))
    check_no_loss_no_duplicates(band, t, acc)
    reasons = [g[2] for g in gaps]
    assert reasons.count("link_lost") == 3, gaps
    assert "watchdog" in reasons
    outages = [(100.0, 8.0), (250.0, 15.0), (420.0, 5.0)]
    link_gaps = [g for g in gaps if g[2] == "link_lost"]
    for (a, d), g in zip(outages, link_gaps):
        # the gap spans the outage plus the reconnect (connect 0.3 s + start); never less
        assert d - 0.05 <= g[1] - g[0] <= d + 1.0, (a, d, g)
    assert stats.reconnects >= 4
    assert band.stop_requests == 1, "STOP is sent on the way out"


def test_device_stop_and_malformed_frames(tmp_path):
    band, stats, t, acc, gaps = record(tmp_path, dict(device_stop_at=60.0, garbage_at=[30, 90]),
                                       duration_s=150.0)
    check_no_loss_no_duplicates(band, t, acc)
    assert stats.malformed_frames == 2
    assert [g[2] for g in gaps] == ["device_stopped"]
    assert stats.ended_by == "duration"


def test_no_bluetooth_is_one_clear_line(tmp_path):
    import os
    import subprocess
    import sys

    env = dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS=f"unix:path={tmp_path}/no-such-bus")
    for cmd in (["scan", "--timeout", "1"], ["record", "--device", "polar", "--duration", "1m",
                                             "--out", str(tmp_path / "n.night")]):
        res = subprocess.run([sys.executable, "-m", "twitchwatch", *cmd], capture_output=True, text=True, env=env)
        assert res.returncode == 2, res.stderr
        lines = res.stderr.strip().splitlines()
        assert len(lines) == 1 and "Traceback" not in res.stderr
        assert "BlueZ" in lines[0] or "Bluetooth" in lines[0]
    assert not (tmp_path / "n.night").exists()
