"""A scripted band and link for session tests without any Bluetooth.

Time runs ``speed`` times faster than the wall clock through :class:`FastTime`, which
the session and the band share.  The band stamps samples with its own clock and sends
``per_frame`` samples per notification in one of three protocols (``protocol``):

* ``polar`` (default): raw PMD ACC frames (type 1, int16 mG), ns since 2000;
* ``open-imu``: open twitchwatch IMU packets (int16 counts of 244 µg, ±8 g), µs since the
  band started, a sequence number per packet;
* ``movesense``: GSP data notifications (float32 m/s^2), uint32 ms since the sensor
  started; the clock starts 30 s before its 32-bit wrap, so every run crosses it.

Faults are scheduled in band seconds: link drops (the link goes down and refuses
connections for a while), silent stalls (connected, nothing sent), short losses (frames
not delivered, shorter than the watchdog: a ``sequence_jump``), malformed notifications
and a device-initiated stop (Polar ``01 02``, open IMU ``F1 02 00``; a Movesense just
stops sending).  Samples falling in an outage are lost, as on a real band; the band logs
what it sent so a test can check loss and duplication (:meth:`FakeBand.expected_g` is
what a decoder must give for them).
"""
from __future__ import annotations

import asyncio
import struct
import time

import numpy as np

from sensor import movesense, open_imu, polar
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


OPEN_IMU_LSB_UG = 244                 # ±8 g at 16 bit
MOVESENSE_DEV0_MS = (1 << 32) - 30_000  # 30 s before the ms counter wraps


class FakeBand:
    def __init__(self, clock: FastTime, fs: float = 100.0, per_frame: int = 10, *,
                 drops=(), stalls=(), device_stop_at=None, garbage_at=(), log_sent: bool = True,
                 protocol: str = "polar", losses=(), open_imu_rates=None):
        if protocol not in ("polar", "open-imu", "movesense"):
            raise ValueError(protocol)
        self.protocol = protocol
        self.clock = clock
        self.fs = fs
        self.per_frame = per_frame
        self.losses = list(losses)      # (start_s, length_s): frames not delivered, link up
        self.open_imu_rates = open_imu_rates  # rates (Hz) an open IMU band accepts; None: any
        self.seq = 0                    # open IMU packet counter (lost packets count too)
        self.movesense_ref = None       # the reference of the running Movesense subscription
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

    def lost(self, t: float) -> bool:
        return any(a <= t < a + d for a, d in self.losses)

    def frame(self, idx: np.ndarray) -> bytes:
        """The notification carrying samples ``idx`` in this band's protocol."""
        mg = self.signal_mg[idx]
        if self.protocol == "open-imu":
            t0_us = 3_600_000_000 + int(idx[0]) * 1_000_000 // int(self.fs)
            return open_imu.encode_packet(self.seq, t0_us, int(round(1e9 / self.fs)), mg,
                                          acc_lsb_ug=OPEN_IMU_LSB_UG)
        if self.protocol == "movesense":
            ts = (MOVESENSE_DEV0_MS + int(idx[0]) * 1000 // int(self.fs)) % movesense.MS_MODULO
            return movesense.encode_data(self.movesense_ref or 1, ts,
                                         mg / 1000.0 * movesense.STANDARD_GRAVITY)
        last_ns = self.dev0_ns + int(round(idx[-1] * 1e9 / self.fs))
        return raw_frame(mg, last_ns)

    def expected_g(self, idx: np.ndarray) -> np.ndarray:
        """What a correct decoder returns for samples ``idx`` (g)."""
        mg = self.signal_mg[idx].astype(np.float64)
        if self.protocol == "open-imu":
            return mg * (OPEN_IMU_LSB_UG * 1e-6)
        if self.protocol == "movesense":
            wire = (mg / 1000.0 * movesense.STANDARD_GRAVITY).astype(np.float32)
            return wire.astype(np.float64) / movesense.STANDARD_GRAVITY
        return mg / 1000.0

    def device_stop(self) -> None:
        self.streaming = False
        if self.protocol == "polar":
            self.link.cp_cb(bytes([polar.CP_NOTIFY_MEASUREMENT_STOPPED, polar.MeasurementType.ACC]))
        elif self.protocol == "open-imu":
            self.link.cp_cb(open_imu.DEVICE_STOPPED)
        else:
            self.movesense_ref = None  # GSP has no "stopped" message: the data just stop

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
                self.device_stop()
            link = self.link
            if link is None or not link.connected or not self.streaming or self.stalled(t):
                continue
            frame = self.frame(idx)
            self.seq += 1
            if self.lost(t):
                continue
            if int(t) in self.garbage_at:
                self.garbage_at.discard(int(t))
                link.data_cb(bytes([2, 1, 2, 3]))  # malformed, then the real frame
            link.data_cb(frame)
            if self.log_sent:
                self.sent.append(idx)


class FakeLink:
    NAMES = {"polar": "Polar H10 FAKE", "open-imu": "TW-IMU FAKE", "movesense": "Movesense FAKE"}

    def __init__(self, band: FakeBand):
        self.band = band
        self.address = "AA:BB:CC:DD:EE:FF"
        self.name = self.NAMES[band.protocol]
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
        self.band.movesense_ref = None
        if self._on_disc:
            self._on_disc()

    async def start_notify(self, uuid, callback) -> None:
        if uuid in (polar.PMD_CP_UUID, open_imu.CONTROL_UUID):
            self.cp_cb = callback
        else:
            self.data_cb = callback

    async def read(self, uuid) -> bytes:
        return bytes([0x0F, 0x04, 0x00])  # ACC only

    def _answer(self, cb, data: bytes) -> None:
        asyncio.get_running_loop().call_soon(cb, data)

    def _write_open_imu(self, data: bytes) -> None:
        op = data[0]
        if op == open_imu.CMD_INFO:  # version 1, 416 Hz, ±2-16 g, no gyro, 80 %
            info = open_imu.BandInfo(1, 416, open_imu.RANGES_G, False, 80)
            self._answer(self.cp_cb, open_imu.encode_info_answer(info))
        elif op == open_imu.CMD_START:
            rate = int.from_bytes(data[1:3], "little")
            if self.band.streaming:
                status = open_imu.STATUS_STREAMING
            elif self.band.open_imu_rates is not None and rate not in self.band.open_imu_rates:
                status = open_imu.STATUS_BAD_RATE
            else:
                status = open_imu.STATUS_OK
            self.band.streaming = self.band.streaming or status == open_imu.STATUS_OK
            self._answer(self.cp_cb, open_imu.encode_answer(op, status))
        elif op == open_imu.CMD_STOP:
            self.band.streaming = False
            self.band.stop_requests += 1
            self._answer(self.cp_cb, open_imu.encode_answer(op))

    def _write_movesense(self, data: bytes) -> None:
        cmd, ref = data[0], data[1]
        band = self.band
        if cmd == movesense.Command.HELLO:
            self._answer(self.data_cb, movesense.encode_hello_reply(ref))
        elif cmd == movesense.Command.SUBSCRIBE:
            band.movesense_ref = ref
            band.streaming = True
        elif cmd == movesense.Command.UNSUBSCRIBE and band.movesense_ref == ref:
            band.movesense_ref = None
            band.streaming = False
            band.stop_requests += 1

    async def write(self, uuid, data: bytes) -> None:
        if not self.connected:
            raise LinkError("not connected")
        if self.band.protocol == "open-imu":
            return self._write_open_imu(data)
        if self.band.protocol == "movesense":
            return self._write_movesense(data)
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
            if self.band.protocol != "polar":
                # both stop streaming when the central goes (the open IMU spec; the GSP
                # firmware unsubscribes everything on a disconnect)
                self.band.streaming = False
                self.band.movesense_ref = None

    @property
    def is_connected(self) -> bool:
        return self.connected
