"""Sensor Logger's HTTP push into a night file, over real HTTP on loopback.

The batches follow the recorded push format (awesome-sensor-logger PUSHING.md; the push
log in mhaberler/sensorlogger-telegraf): messageId / sessionId / deviceId and a payload of
{name, time (ns), values}.  The phone sends iOS-style accelerometer (no gravity) + gravity
in m/s^2 and the watch sends wrist motion in g, at 100 Hz, in 1-s batches.
"""
from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import subprocess
import sys
from pathlib import Path

import aiohttp
import numpy as np
import pytest

from sensor.wifi.sensorlogger_push import G, PushAssembler, parse_message
from sensor.wifi.sensorlogger_session import SensorLoggerSession
from twitchwatch.store import ChannelSpec, NightReader, NightWriter

ROOT = Path(__file__).resolve().parents[1]
RATE = 100
T0_NS = 1_764_000_000_000_000_000   # 2025-11-24T16:00:00Z


class Phone:
    """A phone + watch producing 100-Hz samples with a little timestamp jitter."""

    def __init__(self, seed=1, t0_ns=T0_NS, session="c5241337-a594-480d-b2f8-4aa2fd8b6c53"):
        self.seed = seed
        self.t0_ns = t0_ns
        self.session = session
        self.device = "7d1c0bff-f830-4dc9-a431-26873453ebb1"
        self.mid = 0

    def second(self, k: int):
        """Arrays of second k: t_ns (n,), phone user acc and gravity (m/s^2), watch acc + gravity (g)."""
        n = RATE
        self.rng = np.random.default_rng([self.seed, k])   # the same second whatever the order
        t = self.t0_ns + (k * n + np.arange(n)) * (1_000_000_000 // RATE) + self.rng.integers(0, 2000, n)
        grav = np.tile([0.3, -0.2, 9.79], (n, 1)) + self.rng.normal(0, 0.001, (n, 3))
        user = self.rng.normal(0, 0.02, (n, 3))
        w_acc = self.rng.normal(0, 0.002, (n, 3))
        w_grav = np.tile([0.1, 0.05, -0.99], (n, 1))
        return t.astype(np.int64), user, grav, w_acc, w_grav

    def message(self, k: int, watch=True) -> dict:
        t, user, grav, w_acc, w_grav = self.second(k)
        payload = []
        for i in range(t.size):
            payload.append({"name": "accelerometer", "time": int(t[i]),
                            "values": dict(zip("xyz", map(float, user[i]))), "accuracy": 3})
            payload.append({"name": "gravity", "time": int(t[i]), "values": dict(zip("xyz", map(float, grav[i])))})
            if watch:
                v = {f"acceleration{a}": float(w_acc[i, j]) for j, a in enumerate("XYZ")}
                v.update({f"gravity{a}": float(w_grav[i, j]) for j, a in enumerate("XYZ")})
                v.update({f"rotationRate{a}": 0.0 for a in "XYZ"})
                payload.append({"name": "wrist motion", "time": int(t[i]) + 3_000_000, "values": v})
            payload.append({"name": "battery", "time": int(t[i]), "values": {"batteryLevel": 0.8}})
        self.mid += 1
        return {"messageId": self.mid, "sessionId": self.session, "deviceId": self.device, "payload": payload}


def _expected(phone: Phone, seconds) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    ref = Phone(seed=1, t0_ns=phone.t0_ns)
    ts, acc, wt, wacc = [], [], [], []
    for k in range(max(seconds) + 1):
        t, user, grav, w_acc, w_grav = ref.second(k)
        if k in seconds:
            ts.append(t)
            acc.append((user + grav) / G)
            wt.append(t + 3_000_000)
            wacc.append(w_acc + w_grav)
    return np.concatenate(ts), np.concatenate(acc), np.concatenate(wt), np.concatenate(wacc)


async def _post(http, url, body, headers=None):
    async with http.post(url, data=body, headers=headers or {"Content-Type": "application/json"}) as r:
        await r.read()
        return r.status


def _session(path, **kw):
    from detect import Detector, DetectorConfig

    w = NightWriter.create(path, timezone="UTC",
                           channels=(ChannelSpec("acc", 100.0), ChannelSpec("acc_watch")))
    s = SensorLoggerSession(w, lambda r: Detector(DetectorConfig(sample_rate_hz=r)), rate_hz=100.0,
                            host="127.0.0.1", port=0, **kw)
    return w, s


def test_ten_minutes_at_100hz_every_sample_right_times(tmp_path, caplog):
    """600 one-second batches over HTTP, with a replayed batch, swapped batches, a 20-s pause
    in the pushes and every kind of bad request in between: every sample stored once."""
    caplog.set_level(logging.DEBUG)
    path = tmp_path / "n.night"
    phone = Phone()
    pause = set(range(300, 320))               # the phone stops pushing for 20 s
    sent = [k for k in range(600) if k not in pause]
    order = list(sent)
    for i in range(10, 580, 37):               # neighbours arrive swapped
        order[i], order[i + 1] = order[i + 1], order[i]
    bodies = {k: json.dumps(phone.message(k)).encode() for k in sent}
    statuses = {}

    async def main():
        w, s = _session(path)
        task = asyncio.create_task(s.run())
        while s.receiver.port is None:
            await asyncio.sleep(0.01)
        url = s.receiver.url()
        base = url.rsplit("/", 1)[0]
        async with aiohttp.ClientSession() as http:
            for i, k in enumerate(order):
                assert await _post(http, url, bodies[k]) == 200
                if i == 100:
                    assert await _post(http, url, bodies[order[50]]) == 200      # replayed batch
                    statuses["wrong"] = await _post(http, base + "/not-the-token", bodies[k])
                    statuses["missing"] = await _post(http, base, bodies[k])
                    statuses["missing2"] = await _post(http, base + "/", bodies[k])
                    statuses["big"] = await _post(http, url, b"[" + b"1," * (1_100_000) + b"1]")
                    statuses["json"] = await _post(http, url, b'{"payload": [')
                    statuses["shape"] = await _post(http, url, b'{"messageId": 1}')
                    statuses["other_path"] = await _post(http, url.replace("/push/", "/pull/"), b"{}")
                    async with http.get(url) as r:
                        statuses["get"] = r.status
                    statuses["test"] = await _post(http, url, json.dumps(
                        {"messageId": 0, "sessionId": "x", "deviceId": phone.device,
                         "payload": [{"name": "test", "time": 0, "values": {}}]}).encode())
        s.request_stop()
        stats = await task
        w.close()
        return s, stats

    s, stats = asyncio.run(main())
    assert statuses == {"wrong": 403, "missing": 403, "missing2": 403, "big": 413, "json": 400, "shape": 400,
                        "other_path": 404, "get": 405, "test": 200}
    assert stats.duplicate_batches == 1
    assert stats.late_samples == 0
    t_exp, acc_exp, wt_exp, wacc_exp = _expected(phone, set(sent))
    with NightReader(path) as r:
        t, acc = r.read("acc")
        tw, accw = r.read("acc_watch")
        gaps = r.gaps("acc") + r.gaps("acc_watch")   # each stream has its own gaps
    assert t.size == t_exp.size == 58_000
    np.testing.assert_array_equal(np.rint(t * 1e6).astype(np.int64), (t_exp + 500) // 1000)
    np.testing.assert_allclose(acc, acc_exp, atol=2e-6)
    np.testing.assert_array_equal(np.rint(tw * 1e6).astype(np.int64), (wt_exp + 500) // 1000)
    np.testing.assert_allclose(accw, wacc_exp, atol=1e-6)
    # the 20-s pause is a gap of each stream, with its reason; nothing else is
    acc_gaps = [g for g in gaps if g[2] == "no_push"]
    assert len(acc_gaps) == 2, gaps
    for a, b, _ in acc_gaps:
        assert 20.0 < b - a < 20.05
    assert stats.samples == 58_000 and stats.other_samples == 58_000
    # the live detector ran on the phone stream; the token was never logged in full
    assert s.detector is not None
    assert s.receiver.token not in caplog.text
    assert s.receiver.token[:4] + "…" in caplog.text


def test_analyzer_reads_the_primary_stream(tmp_path):
    from twitchwatch.analyze import analyze_night_file

    path = tmp_path / "n.night"
    phone = Phone(seed=3)

    async def main():
        w, s = _session(path)
        task = asyncio.create_task(s.run())
        while s.receiver.port is None:
            await asyncio.sleep(0.01)
        async with aiohttp.ClientSession() as http:
            for k in range(330):
                assert await _post(http, s.receiver.url(), json.dumps(phone.message(k, watch=k % 2 == 0))) == 200
        s.request_stop()
        await task
        w.close()

    asyncio.run(main())
    result = analyze_night_file(path, timezone="UTC")
    assert result.summary["samples"] == 33_000


def test_output_path_not_steered_by_request_content(tmp_path):
    """Ids full of path syntax change nothing on disk but the one night file."""
    path = tmp_path / "night" / "n.night"
    path.parent.mkdir()
    phone = Phone(seed=5, session="../../../evil")
    phone.device = "/tmp/../../evil.night"

    async def main():
        w, s = _session(path)
        task = asyncio.create_task(s.run())
        while s.receiver.port is None:
            await asyncio.sleep(0.01)
        async with aiohttp.ClientSession() as http:
            for k in range(5):
                assert await _post(http, s.receiver.url(), json.dumps(phone.message(k))) == 200
        s.request_stop()
        await task
        w.close()

    asyncio.run(main())
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["n.night", "night"]
    with NightReader(path) as r:
        assert r.n_samples() == 500


def test_second_phone_refused_and_app_restart_is_a_gap(tmp_path):
    path = tmp_path / "n.night"
    a = Phone(seed=1)
    b = Phone(seed=2)
    b.device = "another-phone"
    restarted = Phone(seed=1, t0_ns=T0_NS + 30 * 10**9, session="second-recording")

    async def main():
        w, s = _session(path)
        task = asyncio.create_task(s.run())
        while s.receiver.port is None:
            await asyncio.sleep(0.01)
        url = s.receiver.url()
        async with aiohttp.ClientSession() as http:
            for k in range(10):
                assert await _post(http, url, json.dumps(a.message(k))) == 200
            assert await _post(http, url, json.dumps(b.message(20))) == 409
            restarted.device = a.device
            for k in range(10):
                assert await _post(http, url, json.dumps(restarted.message(k))) == 200
        s.request_stop()
        stats = await task
        w.close()
        return stats

    stats = asyncio.run(main())
    assert stats.rejected == {409: 1}
    assert stats.app_sessions == 2
    with NightReader(path) as r:
        assert r.n_samples() == 2000
        assert {g[2] for g in r.gaps()} == {"app_restarted"}


def test_units_decided_from_the_data_for_wrist_motion_in_m_s2():
    asm = PushAssembler()
    phone = Phone(seed=7)
    msg = phone.message(0)
    for rec in msg["payload"]:
        if rec["name"] == "wrist motion":
            rec["values"] = {k: v * G for k, v in rec["values"].items()}
    out = asm.convert(parse_message(msg))
    norm = np.linalg.norm(out["watch"][1], axis=1)
    np.testing.assert_allclose(norm, 1.0, atol=0.02)
    assert asm.streams["watch"].unit == "m/s2"


def test_total_acceleration_preferred_and_converted():
    asm = PushAssembler()
    msg = {"messageId": 1, "sessionId": "s", "deviceId": "d", "payload": [
        {"name": "totalacceleration", "time": T0_NS + k * 10**7, "values": {"x": 0.0, "y": 0.0, "z": G}}
        for k in range(10)] + [
        {"name": "accelerometer", "time": T0_NS + k * 10**7, "values": {"x": 5.0, "y": 0.0, "z": 0.0}}
        for k in range(10)]}
    out = asm.convert(parse_message(msg))
    assert asm.phone_source == "totalacceleration"
    np.testing.assert_allclose(out["phone"][1], np.tile([0, 0, 1.0], (10, 1)))


def test_accelerometer_without_gravity_is_never_used():
    asm = PushAssembler()
    msg = {"messageId": 1, "sessionId": "s", "deviceId": "d", "payload": [
        {"name": "accelerometer", "time": T0_NS + k * 10**7, "values": {"x": 0.1, "y": 0.0, "z": 0.0}}
        for k in range(10)]}
    assert asm.convert(parse_message(msg)) == {}


def _rss_hwm_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise AssertionError("no VmHWM")


#: Peak resident memory the recorder may gain under the flood (MB).  Unbounded buffering
#: would hold 300 x 2 MB = 600 MB of bodies alone; measured ~35 MB (1 parsed body ~15 MB,
#: 4 bodies in flight, 32 connection buffers).
FLOOD_LIMIT_MB = 60


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc to read peak memory")
def test_flood_keeps_memory_bounded_cli(tmp_path):
    """`twitchwatch record --source sensorlogger` in its own process, flooded with 300
    concurrent near-limit posts (valid token) and 300 wrong-token posts: its peak resident
    memory grows by less than FLOOD_LIMIT_MB, it keeps recording, and SIGINT ends it with a
    complete night file."""
    out = tmp_path / "flood.night"
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen([sys.executable, "-m", "twitchwatch", "record", "--source", "sensorlogger",
                             "--listen", "127.0.0.1:0", "--out", str(out), "--tz", "UTC", "--rate", "100"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT)
    try:
        url = None
        deadline_lines = 0
        while url is None and deadline_lines < 20:
            line = proc.stdout.readline()
            deadline_lines += 1
            if "/push/" in line:
                url = line.strip()
        assert url, proc.stderr.read() if proc.poll() is not None else "no URL printed"
        phone = Phone(seed=11)
        big = json.dumps(phone.message(0, watch=True)).encode()
        # pad a valid message to just under the 2 MiB limit with records of an unused sensor
        filler = json.dumps({"name": "battery", "time": T0_NS, "values": {"batteryLevel": 0.5}}) + ","
        pad = (2 * 1024 * 1024 - 4096 - len(big)) // len(filler)
        big = big.replace(b'"payload": [', b'"payload": [' + (filler * pad).encode(), 1)
        assert len(big) < 2 * 1024 * 1024

        async def flood():
            conn = aiohttp.TCPConnector(limit=0)
            async with aiohttp.ClientSession(connector=conn) as http:
                async def one(u, body):
                    try:
                        return await _post(http, u, body)
                    except aiohttp.ClientError:
                        return -1
                # warm up: 8 s of batches, written once the phone is quiet for longer than
                # the reorder window (3 s), create the detector (numba); measure after that
                for k in range(1, 9):
                    assert await _post(http, url, json.dumps(phone.message(k))) == 200
                await asyncio.sleep(4.0)
                base = _rss_hwm_kb(proc.pid)
                res = await asyncio.gather(*[one(url, big) for _ in range(300)],
                                           *[one(url.rsplit("/", 1)[0] + "/wrong", big) for _ in range(300)])
                peak = _rss_hwm_kb(proc.pid)
                for k in range(9, 13):
                    assert await _post(http, url, json.dumps(phone.message(k))) == 200
                return base, peak, res

        base, peak, res = asyncio.run(flood())
        grown_mb = (peak - base) / 1024
        print(f"flood: peak RSS grew {grown_mb:.1f} MB (limit {FLOOD_LIMIT_MB} MB); statuses "
              f"{ {s: res.count(s) for s in set(res)} }")
        assert grown_mb < FLOOD_LIMIT_MB
        assert res[:300].count(200) >= 1, "valid batches still get through"
        assert 200 not in res[300:], "a wrong token never does"
        assert set(res) <= {200, 403, 503, -1}
    finally:
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 0, stderr
    assert "recorded" in stdout
    with NightReader(out) as r:
        assert r.n_samples() >= 800
