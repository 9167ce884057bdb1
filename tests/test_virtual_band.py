"""The virtual band against real, unmodified bleak, over BlueZoo on a private D-Bus.

tests/ble_harness.py starts the bus and BlueZoo (skipping, with the fix, when dbus-daemon or
bluezoo is missing).  bleak scans on hci0, connects to the band on hci1, drives the PMD
control point and decodes the data with sensor.polar; the band's ground truth says what it
sent.  Pure parts (fault specs, the control point state machine) are tested without a bus.
Every await is bounded.
"""
from __future__ import annotations

import asyncio
import dataclasses
import time

import numpy as np
import pytest

from sensor.errors import DecodeError
from sensor.polar import (
    PMD_CP_UUID,
    PMD_DATA_UUID,
    CpOpcode,
    CpStatus,
    MeasurementType,
    PmdCpResponse,
    PmdMeasurementStopped,
    PmdSettings,
    PmdTimestamper,
    build_get_measurement_settings,
    build_get_measurement_status,
    build_start_measurement,
    build_stop_measurement,
    parse_cp_notification,
    parse_features,
    parse_settings,
    pmd_sample_timestamps,
)
from sensor.virtual_band import (
    Fault,
    PmdDeviceModel,
    VirtualBand,
    VirtualBandProcess,
    VirtualBandSettings,
    parse_faults,
)
from tests.ble_harness import bluez_bus, fresh_bluez  # noqa: F401  (fixtures)

ACC = MeasurementType.ACC
START_ACC_100HZ = build_start_measurement(ACC, PmdSettings(sample_rate=(100,), resolution=(16,),
                                                           range=(8,), channels=(3,)))
# float64 spacing of present-day device times (~7e17 ns) is 128 ns: Polar's rule, computed
# in float64 as the SDK does, lands within half of that of the band's exact times.
FLOAT64_NS_SLACK = 64


# ---------------------------------------------------------------------------------------
# Pure parts
# ---------------------------------------------------------------------------------------
def test_fault_spec_parses_and_round_trips():
    faults = parse_faults("drop@120s:5s, stall@300s:20s,stop@500s,garbage@200s,jump@1min:-10s,"
                          "garbage@250ms:3")
    assert faults == (
        Fault("garbage", 0.25, count=3), Fault("jump", 60.0, -10.0), Fault("drop", 120.0, 5.0),
        Fault("garbage", 200.0), Fault("stall", 300.0, 20.0), Fault("stop", 500.0))
    assert parse_faults(",".join(f.spec() for f in faults)) == faults
    assert parse_faults("drop@2h") == (Fault("drop", 7200.0, 5.0),)
    assert parse_faults("") == () and parse_faults(None) == ()


@pytest.mark.parametrize("bad, match", [
    ("explode@1s", "unknown kind"), ("drop", "kind@time"), ("stall@1s", "needs a duration"),
    ("stop@1s:2s", "no argument"), ("jump@1s", "clock step"), ("drop@soon", "bad fault time"),
    ("garbage@1s:x", "count"), ("stall@1s:0s", "positive duration"),
])
def test_fault_spec_errors_name_the_problem(bad, match):
    with pytest.raises(ValueError, match=match):
        parse_faults(bad)


def test_control_point_state_machine():
    m = PmdDeviceModel()
    assert parse_features(m.feature_read()).measurement_types == {ACC}

    r = parse_cp_notification(m.handle_write(build_get_measurement_settings(ACC)).responses[0])
    assert r.ok and r.settings().sample_rate == (25, 50, 100, 200)
    assert r.settings().range == (2, 4, 8) and r.settings().resolution == (16,)

    out = m.handle_write(START_ACC_100HZ)
    r = parse_cp_notification(out.responses[0])
    assert r.ok and r.opcode == CpOpcode.REQUEST_MEASUREMENT_START
    assert r.settings().factor == (1.0,)
    assert out.start.sample_rate_hz == 100 and out.start.range_g == 8
    m.streaming = True
    assert parse_cp_notification(m.handle_write(START_ACC_100HZ).responses[0]).status == \
        CpStatus.ERROR_ALREADY_IN_STATE
    status = parse_cp_notification(m.handle_write(build_get_measurement_status()).responses[0])
    assert status.params == bytes([ACC])
    out = m.handle_write(build_stop_measurement(ACC))
    assert out.stop and parse_cp_notification(out.responses[0]).ok
    m.streaming = False

    def status_of(settings: PmdSettings, mt=ACC) -> int:
        return parse_cp_notification(
            m.handle_write(build_start_measurement(mt, settings)).responses[0]).status

    assert status_of(PmdSettings(sample_rate=(52,))) == CpStatus.ERROR_INVALID_SAMPLE_RATE
    assert status_of(PmdSettings(sample_rate=(100,), range=(16,))) == CpStatus.ERROR_INVALID_RANGE
    assert status_of(PmdSettings(resolution=(14,))) == CpStatus.ERROR_INVALID_RESOLUTION
    assert status_of(PmdSettings(channels=(2,))) == CpStatus.ERROR_INVALID_NUMBER_OF_CHANNELS
    assert status_of(PmdSettings(), mt=MeasurementType.ECG) == CpStatus.ERROR_NOT_SUPPORTED
    assert parse_cp_notification(m.handle_write(b"\x02\x02\x00\x01").responses[0]).status == \
        CpStatus.ERROR_INVALID_PARAMETER  # TLV cut short
    assert parse_cp_notification(m.handle_write(b"\x42\x02").responses[0]).status == \
        CpStatus.ERROR_INVALID_OP_CODE
    assert m.handle_write(b"").responses == []
    # A start without settings takes the H10's defaults.
    assert m.handle_write(build_start_measurement(ACC)).start.sample_rate_hz == 200


def test_settings_json_round_trip():
    from twitchwatch.simulate import NightSettings

    s = VirtualBandSettings(speed=20, faults="drop@5s:2s,jump@1s:+1h", seed=3,
                            night=NightSettings(seed=4, sleep_hours=0.1))
    again = VirtualBandSettings.from_json(s.to_json())
    assert again.fault_list() == s.fault_list()
    assert dataclasses.replace(again, faults=s.faults) == s
    with pytest.raises(ValueError, match="speed"):
        VirtualBandSettings(speed=0)


# ---------------------------------------------------------------------------------------
# With bleak over BlueZoo
# ---------------------------------------------------------------------------------------
def run(coro, timeout: float):
    """Run a coroutine on a fresh loop with an overall deadline."""
    return asyncio.run(asyncio.wait_for(coro, timeout))


async def find_device(name: str, adapter: str, timeout: float = 15.0):
    """Scan (discover) until a device with this name shows up."""
    from bleak import BleakScanner

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for dev in await BleakScanner.discover(timeout=1.2, bluez={"adapter": adapter}):
            if dev.name == name:
                return dev
    raise AssertionError(f"no device named {name!r} found on {adapter} within {timeout} s")


class PmdLink:
    """A bleak client's view of one band: CP responses in a queue, data frames in a list."""

    def __init__(self, client) -> None:
        self.client = client
        self.cp: asyncio.Queue = asyncio.Queue()
        self.frames: list[bytes] = []
        self.got_data = asyncio.Event()

    async def subscribe(self) -> None:
        await asyncio.wait_for(self.client.start_notify(
            PMD_CP_UUID, lambda _c, b: self.cp.put_nowait(bytes(b))), 10)
        await asyncio.wait_for(self.client.start_notify(PMD_DATA_UUID, self._on_data), 10)

    def _on_data(self, _char, data: bytearray) -> None:
        self.frames.append(bytes(data))
        self.got_data.set()

    async def command(self, payload: bytes) -> PmdCpResponse:
        await asyncio.wait_for(self.client.write_gatt_char(PMD_CP_UUID, payload, response=True), 10)
        resp = parse_cp_notification(await asyncio.wait_for(self.cp.get(), 10))
        assert isinstance(resp, PmdCpResponse), resp
        assert resp.opcode == payload[0]
        return resp

    async def wait_frames(self, n: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while len(self.frames) < n:
            if time.monotonic() > deadline:
                raise AssertionError(f"{len(self.frames)} data frames after {timeout} s, "
                                     f"expected {n}")
            await asyncio.sleep(0.02)


def decode_stream(frames: list[bytes], rate: int = 100):
    """Decode frames as a client does (PmdTimestamper): samples, per-sample times, frame ts."""
    ts = PmdTimestamper()
    decoded = [ts.decode(f, sample_rate_hz=rate) for f in frames]
    return (np.concatenate([d.samples for d in decoded]),
            np.concatenate([d.sample_timestamps_ns for d in decoded]),
            [d.timestamp_ns for d in decoded], [d.n_samples for d in decoded])


def test_bleak_streams_acc_from_the_virtual_band(fresh_bluez):
    """Scan, connect, subscribe, read features, start ACC 100 Hz, receive, decode, stop."""
    from bleak import BleakClient

    bus = fresh_bluez
    settings = VirtualBandSettings(adapter=bus.peripheral, speed=20, seed=7)

    async def scenario():
        async with VirtualBand(settings) as band:
            assert band.address == bus.peripheral_address
            dev = await find_device(settings.local_name, bus.central)
            async with BleakClient(dev, bluez={"adapter": bus.central}, timeout=15) as client:
                link = PmdLink(client)
                await link.subscribe()
                features = parse_features(await asyncio.wait_for(
                    client.read_gatt_char(PMD_CP_UUID), 10))
                assert features.supports(ACC)
                offered = (await link.command(build_get_measurement_settings(ACC))).settings()
                assert 100 in offered.sample_rate and 8 in offered.range
                started = await link.command(START_ACC_100HZ)
                started.raise_for_status()
                factor = started.settings().scale_factor()
                # >= 2 s of device time: 100 Hz x 36 samples per frame -> 0.36 s per frame
                await link.wait_frames(8, timeout=10)
                stopped = await link.command(build_stop_measurement(ACC))
                stopped.raise_for_status()
                n_at_stop = len(link.frames)
                await asyncio.sleep(0.3)  # nothing may follow the STOP response
                assert len(link.frames) == n_at_stop
                model = await asyncio.wait_for(client.read_gatt_char(
                    "00002a24-0000-1000-8000-00805f9b34fb"), 10)
                assert model == b"H10"
        return link.frames, factor, band.truth

    frames, factor, truth = run(scenario(), 60)
    assert factor == 1.0
    samples, times, frame_ts, counts = decode_stream(frames)

    sent = truth.stream_frames(1)
    assert [f.stream for f in truth.frames] == [1] * len(truth.frames)
    assert not truth.stream_frames(1, delivered=False), "no frame may be lost"
    # Every frame the band sent arrived once, in order: no loss, no duplicates.
    assert frame_ts == [f.timestamp_ns for f in sent]
    assert counts == [f.n for f in sent]
    assert [f.first for f in sent] == list(np.cumsum([0] + counts[:-1]))
    assert np.array_equal(samples, truth.sent_samples(1))
    assert (frame_ts[-1] - frame_ts[0]) >= 2 * 10 ** 9, "at least 2 s of device time"

    # The content is the simulated night, replayed sample after sample from its start.
    src = settings.load_source().samples_mg
    assert sent[0].source_first == 0
    assert np.array_equal(samples, src[:len(samples)])

    # Timestamps: the band's own clock (not the night's), 10 ms apart; Polar's rule
    # reconstructs the per-sample times the band used, to float64 precision.
    true_times = truth.sent_timestamps(1)
    assert np.all(np.diff(true_times) == 10_000_000)
    assert np.max(np.abs(times - true_times)) <= FLOAT64_NS_SLACK
    prev = None
    for f, ts, n in zip(sent, frame_ts, counts):
        want = pmd_sample_timestamps(ts, n, previous_timestamp_ns=prev, sample_rate_hz=100)
        got = times[f.first:f.first + n]
        assert np.array_equal(got, want)
        prev = ts
    started = truth.events_named("band_started")[0]
    stream = truth.events_named("stream_started")[0]
    assert stream["t0_ns"] >= started["clock_start_ns"]
    assert true_times[0] == stream["t0_ns"] + 10_000_000
    reasons = [e["reason"] for e in truth.events_named("stream_stopped")]
    assert reasons == ["client"]


def test_link_drop_fires_disconnected_callback_and_band_comes_back(fresh_bluez):
    """drop@2s:3s: bleak's disconnected_callback fires; after the drop the band advertises
    again and a new connection streams again (band in a child process)."""
    from bleak import BleakClient

    bus = fresh_bluez
    settings = VirtualBandSettings(adapter=bus.peripheral, speed=20, faults="drop@2s:3s",
                                   seed=2, log_samples=True)

    async def session(dev, expect_drop: bool):
        dropped = asyncio.Event()
        client = BleakClient(dev, bluez={"adapter": bus.central}, timeout=15,
                             disconnected_callback=lambda _c: dropped.set())
        await asyncio.wait_for(client.connect(), 20)
        try:
            link = PmdLink(client)
            await link.subscribe()
            (await link.command(START_ACC_100HZ)).raise_for_status()
            await link.wait_frames(2, timeout=10)
            if expect_drop:
                t0 = time.monotonic()
                await asyncio.wait_for(dropped.wait(), 10)
                assert not client.is_connected
                return link.frames, time.monotonic() - t0
            (await link.command(build_stop_measurement(ACC))).raise_for_status()
            return link.frames, None
        finally:
            if client.is_connected:
                await asyncio.wait_for(client.disconnect(), 10)

    async def scenario():
        dev = await find_device(settings.local_name, bus.central)
        first, waited = await session(dev, expect_drop=True)
        # The band stops advertising for 3 s of device time; scan until it is back.
        dev = await find_device(settings.local_name, bus.central, timeout=20)
        second, _ = await session(dev, expect_drop=False)
        return first, second, waited

    with VirtualBandProcess(settings, env=bus.env()) as proc:
        assert proc.address == bus.peripheral_address
        first, second, waited = run(scenario(), 90)
    assert waited < 5.0, "the drop comes 2 s of device time = 0.1 s wall into the stream"
    truth = proc.truth()
    assert proc.proc.returncode == 0, proc.stderr_tail()

    fault = truth.faults()[0]
    assert fault["kind"] == "drop" and fault["connected"] and fault["streaming"]
    assert [e["reason"] for e in truth.events_named("stream_stopped")][:1] == ["disconnect"]
    assert truth.events_named("gatt_reregistered"), "BlueZoo workaround ran"
    # Up to the drop, stream 1 arrived complete; stream 2 started after the band was back.
    s1, t1, _, _ = decode_stream(first)
    assert np.array_equal(s1, truth.sent_samples(1))
    s2, _, _, _ = decode_stream(second)
    assert np.array_equal(s2, truth.sent_samples(2))
    back = [e for e in truth.events_named("advertising") if e["on"]][0]
    assert truth.events_named("stream_started")[1]["content_s"] >= back["content_s"]
    # The content ran on through the drop: stream 2 resumes later in the night.
    assert truth.stream_frames(2)[0].source_first > truth.stream_frames(1)[-1].source_last + 300


def test_stall_garbage_clock_jump_and_device_stop(fresh_bluez):
    """garbage@1s:2, stall@2s:1.5s, jump@4s:+1h, stop@6s on one stream."""
    from bleak import BleakClient

    bus = fresh_bluez
    rng = np.random.default_rng(5)
    walk = np.cumsum(rng.integers(-20, 21, (20000, 3)), axis=0) + [0, 0, 1000]
    settings = VirtualBandSettings(adapter=bus.peripheral, speed=10, samples_mg=walk,
                                   source_rate_hz=100,
                                   faults="garbage@1s:2,stall@2s:1.5s,jump@4s:+1h,stop@6s")

    async def scenario():
        async with VirtualBand(settings) as band:
            dev = await find_device(settings.local_name, bus.central)
            async with BleakClient(dev, bluez={"adapter": bus.central}, timeout=15) as client:
                link = PmdLink(client)
                await link.subscribe()
                (await link.command(START_ACC_100HZ)).raise_for_status()
                stop_note = parse_cp_notification(await asyncio.wait_for(link.cp.get(), 15))
                await asyncio.sleep(0.2)
        return link.frames, stop_note, band.truth

    frames, stop_note, truth = run(scenario(), 60)
    assert isinstance(stop_note, PmdMeasurementStopped)
    assert stop_note.measurement_types == (ACC,)
    assert [e["reason"] for e in truth.events_named("stream_stopped")] == ["device_stop"]

    garbage = [bytes.fromhex(e["hex"]) for e in truth.events_named("garbage")]
    assert len(garbage) == 2 and all(e["delivered"] for e in truth.events_named("garbage"))
    good = [f for f in frames if f not in garbage]
    assert [f for f in frames if f in garbage] == garbage  # both arrived, in order
    for junk in garbage:  # malformed: a client must survive them
        try:
            PmdTimestamper().decode(junk, sample_rate_hz=100)
        except (DecodeError, ValueError):
            pass

    sent = truth.stream_frames(1)
    lost = truth.stream_frames(1, delivered=False)
    assert lost and {f.lost for f in lost} == {"stall"}
    assert all(2.0 <= f.content_s < 3.5 for f in lost)
    assert [int.from_bytes(f[1:9], "little") for f in good] == [f.timestamp_ns for f in sent]
    samples, _, frame_ts, _ = decode_stream(good)
    assert np.array_equal(samples, truth.sent_samples(1))
    # The stall loses its samples: the delivered stream has a hole of exactly those.
    firsts = [f.first for f in sent]
    gaps = [(a.first + a.n, b.first) for a, b in zip(sent, sent[1:]) if a.first + a.n != b.first]
    assert len(gaps) == 1 and gaps[0][1] - gaps[0][0] == sum(f.n for f in lost)
    assert firsts == sorted(firsts)
    # The clock jump shows in the frame timestamps: one step of 1 h + 0.36 s.
    steps = np.diff(frame_ts)
    big = steps[steps > 10 ** 12]
    assert len(big) == 1 and abs(int(big[0]) - 3600 * 10 ** 9) < 10 ** 9
    # The replayed content is the array, from its start.
    assert np.array_equal(truth.sent_samples(1), np.clip(
        walk, -8000, 8000)[[i for f in sent for i in range(f.source_first, f.source_last + 1)]])


def test_band_refuses_a_second_start_and_reports_bad_settings(fresh_bluez):
    from bleak import BleakClient

    bus = fresh_bluez
    settings = VirtualBandSettings(adapter=bus.peripheral, speed=20,
                                   samples_mg=np.zeros((5000, 3), int))

    async def scenario():
        async with VirtualBand(settings):
            dev = await find_device(settings.local_name, bus.central)
            async with BleakClient(dev, bluez={"adapter": bus.central}, timeout=15) as client:
                link = PmdLink(client)
                await link.subscribe()
                bad = await link.command(build_start_measurement(
                    ACC, PmdSettings(sample_rate=(52,), resolution=(16,), range=(8,))))
                ok = await link.command(START_ACC_100HZ)
                again = await link.command(START_ACC_100HZ)
                await link.command(build_stop_measurement(ACC))
                return bad, ok, again

    bad, ok, again = run(scenario(), 60)
    assert bad.status == CpStatus.ERROR_INVALID_SAMPLE_RATE
    assert ok.ok and parse_settings(ok.params).factor == (1.0,)
    assert again.status == CpStatus.ERROR_ALREADY_IN_STATE


def test_second_scan_finds_the_band_and_source_end_stops_the_stream(fresh_bluez):
    """find_device_by_name, then find_device_by_address (a second scan: the band's changing
    advertisement makes BlueZoo report it again), connect (through bleak-retry-connector
    when installed), and stream a 250-sample content to its end: the band sends 01 02."""
    from bleak import BleakClient, BleakScanner

    bus = fresh_bluez
    content = np.arange(750).reshape(250, 3) - 300
    settings = VirtualBandSettings(adapter=bus.peripheral, speed=20, samples_mg=content)

    async def connect(dev):
        try:
            from bleak_retry_connector import BleakClientWithServiceCache, establish_connection
        except ImportError:
            client = BleakClient(dev, bluez={"adapter": bus.central}, timeout=15)
            await asyncio.wait_for(client.connect(), 20)
            return client
        return await asyncio.wait_for(establish_connection(
            BleakClientWithServiceCache, dev, dev.name, max_attempts=2), 40)

    async def scenario():
        async with VirtualBand(settings) as band:
            first = await BleakScanner.find_device_by_name(
                settings.local_name, timeout=10, bluez={"adapter": bus.central})
            assert first is not None, "first scan"
            dev = await BleakScanner.find_device_by_address(
                band.address, timeout=10, bluez={"adapter": bus.central})
            assert dev is not None, "second scan"
            client = await connect(dev)
            try:
                link = PmdLink(client)
                await link.subscribe()
                (await link.command(START_ACC_100HZ)).raise_for_status()
                note = parse_cp_notification(await asyncio.wait_for(link.cp.get(), 15))
            finally:
                await asyncio.wait_for(client.disconnect(), 10)
        return link.frames, note, band.truth

    frames, note, truth = run(scenario(), 90)
    assert isinstance(note, PmdMeasurementStopped) and note.measurement_types == (ACC,)
    assert [e["reason"] for e in truth.events_named("stream_stopped")] == ["source_end"]
    samples, _, _, counts = decode_stream(frames)
    assert np.array_equal(samples, content)  # all of it, once, the last frame shorter
    assert counts[-1] == 250 % 36 and sum(counts) == 250


def test_content_from_a_canonical_csv(tmp_path):
    path = tmp_path / "night.csv"
    t = 1.7e9 + np.arange(6) / 50
    rows = "\n".join(f"{ti:.4f},{i * 0.001:.4f},-0.5005,1.0" for i, ti in enumerate(t))
    path.write_text("time_s,ax_g,ay_g,az_g\n" + rows + "\n", encoding="utf-8")
    src = VirtualBandSettings(csv_path=str(path)).load_source()
    assert src.rate_hz == 50.0
    assert src.samples_mg.tolist() == [[i, -500, 1000] for i in range(6)]  # half to even
    assert VirtualBandSettings(csv_path=str(path), source_rate_hz=25).load_source().rate_hz == 25
