"""The phyphox client against a stand-in that follows phyphox's remote-access interface
(tests/phyphox_server.py), over real HTTP on loopback, with a stall, a restart of the
experiment and a dropped connection: nothing is lost outside the outages."""
from __future__ import annotations

import asyncio
import json

import numpy as np
import pytest

from sensor.backoff import Backoff
from sensor.wifi.errors import PhyphoxError
from sensor.wifi.phyphox_client import TimeRef, acc_buffers, is_restart, parse_get, utc_of
from sensor.wifi.phyphox_session import PhyphoxSession
from twitchwatch.store import ChannelSpec, NightReader, NightWriter

from .phyphox_server import G, PhyphoxStandIn

SPEED = 10.0


def _record(tmp_path, duration_wall_s, **server_kw):
    from detect import Detector, DetectorConfig

    path = tmp_path / "p.night"
    server = PhyphoxStandIn(speed=SPEED, **server_kw)

    async def main():
        url = await server.start()
        with NightWriter.create(path, timezone="UTC", channels=(ChannelSpec("acc"),)) as w:
            s = PhyphoxSession(w, lambda r: Detector(DetectorConfig(sample_rate_hz=r)), url=url,
                               duration_s=duration_wall_s, poll_s=0.1, stall_s=1.0, timeout_s=1.0,
                               backoff=Backoff(first_s=0.1, max_s=0.4, jitter=0.0))
            stats = await s.run()
        await server.stop()
        return s, stats

    s, stats = asyncio.run(main())
    with NightReader(path) as r:
        t, acc = r.read()
        gaps = r.gaps()
    return server, s, stats, t, acc, gaps


def _check_nothing_lost(server, t, acc):
    def key(p):
        return tuple(round(v, 6) for v in p)

    lost = {key(p) for p in server.lost_in_restart}
    want = np.array([p for p in server.produced if key(p) not in lost])
    # the session stops the experiment only after its last poll: the tail after it is not ours
    want = want[want[:, 0] <= t[-1] + 1e-3]
    assert t.size == want.shape[0], (t.size, want.shape[0])
    # experiment times come with 8 significant digits: <= 50 us at these times
    np.testing.assert_allclose(t, want[:, 0], atol=1e-4, rtol=0)
    np.testing.assert_allclose(acc, want[:, 1:4] / G, atol=1e-6)
    assert np.all(np.diff(t) > 0)


@pytest.mark.slow
def test_stall_restart_and_drop_lose_nothing_outside_the_outages(tmp_path):
    # virtual seconds after the first start: 10x faster than the wall clock
    server, s, stats, t, acc, gaps = _record(
        tmp_path, duration_wall_s=30.0,
        stalls=[(60.0, 20.0)], restarts=[140.0], drops=[(200.0, 15.0)])
    assert server.stop_requests == 1, "the experiment is stopped on exit"
    _check_nothing_lost(server, t, acc)
    # at most one poll (0.1 s wall = 1 s of experiment at 100 Hz) was cleared unread
    assert len(server.lost_in_restart) <= 1.5 * SPEED * 100 * 0.1 + 20
    reasons = [g[2] for g in gaps]
    assert "stalled" in reasons and "experiment_restarted" in reasons, gaps
    stall = next(g for g in gaps if g[2] == "stalled")
    assert 19.9 < stall[1] - stall[0] < 20.1
    assert stats.restarts == 1
    assert stats.reconnects >= 1
    # the drop cost nothing: phyphox kept measuring and its buffers were read afterwards
    t0 = server.first_start_v
    in_drop = (t > t0 + 195.0) & (t < t0 + 220.0)
    assert np.all(np.diff(t[in_drop]) < 0.0101)
    assert s.detector is not None


def test_short_recording_maps_time_and_stops(tmp_path):
    server, s, stats, t, acc, gaps = _record(tmp_path, duration_wall_s=3.0)
    _check_nothing_lost(server, t, acc)
    assert t.size >= 2000
    assert gaps == []
    assert server.stop_requests == 1
    assert abs(t[0] - server.first_start_v) < 1e-3


def test_linear_acceleration_is_refused():
    cfg = {"title": "Acceleration without g",
           "inputs": [{"source": "linear_acceleration",
                       "outputs": [{"x": "accX"}, {"y": "accY"}, {"z": "accZ"}, {"t": "acc_time"}]}]}
    with pytest.raises(PhyphoxError, match="without g"):
        acc_buffers(cfg)


def test_time_mapping_pause_is_a_gap_and_restart_detection():
    refs = [TimeRef("START", 0.0, 1000.0), TimeRef("PAUSE", 10.0, 1010.0), TimeRef("START", 10.0, 1100.0)]
    np.testing.assert_allclose(utc_of(np.array([0.0, 9.99, 10.0, 12.0]), refs),
                               [1000.0, 1009.99, 1100.0, 1102.0])
    assert not is_restart(refs[:1], refs)
    assert is_restart(refs, [TimeRef("START", 0.0, 2000.0)])


def test_get_answer_with_nulls_and_uneven_lengths():
    bufs = acc_buffers({"inputs": [{"source": "accelerometer", "outputs": [
        {"x": "accX"}, {"y": "accY"}, {"z": "accZ"}, {"t": "acc_time"}]}]})
    obj = json.loads('{"buffer":{"accX":{"buffer":[1.0E0,null,3.0E0]},"accY":{"buffer":[0,0,0]},'
                     '"accZ":{"buffer":[9.8E0,9.8E0,9.8E0]},"acc_time":{"buffer":[1.0E-2,2.0E-2,3.0E-2,4.0E-2]}},'
                     '"status":{"session":"ab","measuring":true,"timedRun":false,"countDown":0}}')
    res = parse_get(obj, bufs)
    np.testing.assert_allclose(res.te, [0.01, 0.03])
    assert res.dropped_rows == 1 and res.measuring
