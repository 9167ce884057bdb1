"""A scripted Polar-like band and link for session tests without any Bluetooth.

Time runs ``speed`` times faster than the wall clock through :class:`FastTime`, which
the session and the band share.  The band stamps samples with its own clock (ns since
2000, starting at an arbitrary value) and sends raw ACC frames (type 1, int16 mG) of
``per_frame`` samples.  Faults are scheduled in band seconds: link drops (the link goes
down and refuses connections for a while), silent stalls (connected, nothing sent) and a
device-initiated stop.  Samples falling in an outage are lost, as on a real band; the
band logs what it sent so a test can check loss and duplication.
"""
from __future__ import annotations

import asyncio
import struct
import time

import numpy as np

from sensor import polar
from sensor.link import LinkError
from sensor.session import TimeSource


class FastTime(TimeSource):
    def __init__(self, speed: float, utc0: float = 1_795_557_600.0):
        self.speed = speed
        self.utc0 = utc0
        self.t0 = time.monotonic()

    def elapsed(self) -> float:
        return (time.monotonic() - self.t0) * self.speed

    def utc(self) -> float:
        return self.utc0 + self.elapsed()

    def mono_ns(self) -> int:
        return int(self.elapsed() * 1e9)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds) / self.speed)


def raw_frame(samples_mg: np.ndarray, last_ts_ns: int) -> bytes:
    return (bytes([polar.MeasurementType.ACC]) + struct.pack("<Q", last_ts_ns) + bytes([0x01])
            + np.asarray(samples_mg, dtype="<i2").tobytes())


class FakeBand:
    def __init__(self, clock: FastTime, fs: float = 100.0, per_frame: int = 10, *,
                 drops=(), stalls=(), device_stop_at=None, garbage_at=(), log_sent: bool = True):
        self.clock = clock
        self.fs = fs
        self.per_frame = per_frame
        self.dev0_ns = 790_000_000_123_456_789  # an arbitrary device clock start
        self.drops = list(drops)        # (start_s, length_s)
        self.stalls = list(stalls)
        self.device_stop_at = device_stop_at
        self.garbage_at = set(garbage_at)
        self.sent: list[np.ndarray] = []  # sample indices per delivered frame
        self.log_sent = log_sent            # off for memory benchmarks: the log grows
        self.link: "FakeLink | None" = None
        self.streaming = False
        self.stop_requests = 0
        rng = np.random.default_rng(0)
        self.signal_mg = np.round(rng.normal(0, 3, (int(fs * 7200), 3)) + [0, 0, 1000]).astype(int)
        self._task = None

    def now_s(self) -> float:
        return self.clock.elapsed()

    def down(self, t: float) -> bool:
        return any(a <= t < a + d for a, d in self.drops)

    def stalled(self, t: float) -> bool:
        return any(a <= t < a + d for a, d in self.stalls)

    async def run(self):
        """Make samples on the band's clock; deliver them when a subscriber is there."""
        k = 0
        dropped_now = set()
        while True:
            t_dev = (k + self.per_frame) / self.fs
            await self.clock.sleep(t_dev - self.now_s())
            idx = np.arange(k, k + self.per_frame)
            k += self.per_frame
            t = self.now_s()
            for a, d in self.drops:
                if a <= t < a + d and (a, d) not in dropped_now and self.link is not None:
                    dropped_now.add((a, d))
                    self.link.drop()
            if self.device_stop_at is not None and t >= self.device_stop_at and self.streaming:
                self.device_stop_at = None
                self.streaming = False
                self.link.cp_cb(bytes([polar.CP_NOTIFY_MEASUREMENT_STOPPED, polar.MeasurementType.ACC]))
            link = self.link
            if link is None or not link.connected or not self.streaming or self.stalled(t):
                continue
            last_ns = self.dev0_ns + int(round(idx[-1] * 1e9 / self.fs))
            if int(t) in self.garbage_at:
                self.garbage_at.discard(int(t))
                link.data_cb(bytes([2, 1, 2, 3]))  # malformed, then the real frame
            link.data_cb(raw_frame(self.signal_mg[idx], last_ns))
            if self.log_sent:
                self.sent.append(idx)


class FakeLink:
    def __init__(self, band: FakeBand):
        self.band = band
        self.address = "AA:BB:CC:DD:EE:FF"
        self.name = "Polar H10 FAKE"
        self.connected = False
        self.data_cb = None
        self.cp_cb = None
        self._on_disc = None

    async def connect(self, timeout_s: float) -> None:
        await self.band.clock.sleep(0.3)
        if self.band.down(self.band.now_s()):
            raise LinkError("device not found")
        self.connected = True
        self.band.link = self

    def on_disconnect(self, cb) -> None:
        self._on_disc = cb

    def drop(self) -> None:
        self.connected = False
        self.band.streaming = False
        if self._on_disc:
            self._on_disc()

    async def start_notify(self, uuid, callback) -> None:
        if uuid == polar.PMD_CP_UUID:
            self.cp_cb = callback
        else:
            self.data_cb = callback

    async def read(self, uuid) -> bytes:
        return bytes([0x0F, 0x04, 0x00])  # ACC only

    async def write(self, uuid, data: bytes) -> None:
        if not self.connected:
            raise LinkError("not connected")
        op = data[0]
        if op == polar.CpOpcode.REQUEST_MEASUREMENT_START:
            self.band.streaming = True
        elif op == polar.CpOpcode.STOP_MEASUREMENT:
            self.band.streaming = False
            self.band.stop_requests += 1
        asyncio.get_running_loop().call_soon(self.cp_cb, bytes([0xF0, op, data[1], 0, 0]))

    async def disconnect(self) -> None:
        self.connected = False
        if self.band.link is self:
            self.band.link = None

    @property
    def is_connected(self) -> bool:
        return self.connected
