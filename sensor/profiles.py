"""Device profiles: how to start, decode and stop one kind of band over a :class:`Link`.

A profile turns notifications into (device times in ns, acceleration in g).  The
session owns the queue, the clock, the night file and the detector.

Every profile has the same interface (the session and the recorder use nothing else)::

    name, service_uuid                  registry key and advertised service
    matches(name, service_uuids)        auto-detection from an advertisement (static)
    rate_hz, range_g, settings()        what was negotiated (settings() goes in the night file)
    on_device_stop                      set by the session; called when the device ends
                                        the stream on its own
    await start(link, on_data)          subscribe, negotiate, start the stream
    decode(data) -> Decoded | None      one data notification; DecodeError when malformed
    reset()                             the link dropped: forget per-connection state
    await stop(link)                    end the stream (sent before leaving)

Profiles:

* :class:`PolarProfile` (``polar``): H10 / Verity Sense / OH1 over PMD; SDK mode for rates
  the normal mode does not offer (a Verity Sense above 52 Hz).
* :class:`OpenImuProfile` (``open-imu``): the open twitchwatch IMU profile
  (firmware_notes/open-imu-profile.md).
* :class:`MovesenseProfile` (``movesense``): Movesense sensors running the GATT
  SensorData app (sensor/movesense.py).
"""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Callable

import numpy as np

from . import movesense, open_imu, polar
from .errors import ControlPointError, DecodeError, SensorError
from .names import PROFILE_NAMES

log = logging.getLogger(__name__)

#: How long a device has to answer a control point write (s).
CP_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class Decoded:
    device_ns: np.ndarray     # (n,) int64 device clock of each sample
    acc_g: np.ndarray         # (n, 3) float64 g


class UnsupportedDeviceError(SensorError):
    """The device does not offer what twitchwatch needs (an accelerometer stream)."""


def _pick(offered, wanted: int) -> int:
    """The offered value equal to ``wanted``, else the smallest above it, else the largest."""
    offered = sorted(int(v) for v in offered)
    if wanted in offered:
        return wanted
    above = [v for v in offered if v > wanted]
    return above[0] if above else offered[-1]


class _Answers:
    """Answers to control writes, matched by a key, with the CP_TIMEOUT_S deadline."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue | None = None

    def open(self) -> None:
        self.queue = asyncio.Queue()

    def put(self, msg) -> None:
        if self.queue is not None:
            self.queue.put_nowait(msg)

    async def wait(self, match: Callable[[object], bool], what: str):
        loop = asyncio.get_running_loop()
        deadline = loop.time() + CP_TIMEOUT_S
        while True:
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise SensorError(f"the device did not answer {what} within {CP_TIMEOUT_S:g} s")
            try:
                msg = await asyncio.wait_for(self.queue.get(), remaining)
            except asyncio.TimeoutError:
                continue
            if match(msg):
                return msg


# =======================================================================================
# Polar PMD
# =======================================================================================
class PolarProfile:
    """Polar H10 / Verity Sense / OH1 over the PMD service (sensor/polar.py decodes).

    Rate and range: the device's offered ACC settings are read first; the requested rate
    is used when offered, else the nearest offered one above it (the largest when none is
    above).  When the normal mode does not offer the requested rate and the device has SDK
    mode (feature bit, docs/ble.md section 2), the SDK-mode settings are read
    (GET_SDK_MODE_SETTINGS, opcode 4), SDK mode is switched on (``02 09``, "start" of
    measurement type 9) and the stream started with those.  A Verity Sense streams 52 Hz
    in normal mode and 26-416 Hz in SDK mode.  STOP ends SDK mode too (``03 09``).
    """

    name = "polar"
    service_uuid = polar.PMD_SERVICE_UUID

    def __init__(self, rate_hz: int = 100, range_g: int = 8):
        self.requested_rate_hz = int(rate_hz)
        self._rate_checked = False
        self.requested_range_g = int(range_g)
        self.rate_hz = int(rate_hz)
        self.range_g = int(range_g)
        self.factor = 1.0
        self.sdk_mode = False
        self._ts = polar.PmdTimestamper()
        self._answers = _Answers()
        self.on_device_stop: Callable[[], None] | None = None

    @staticmethod
    def matches(name: str | None, service_uuids) -> bool:
        uuids = {u.lower() for u in (service_uuids or ())}
        return polar.PMD_SERVICE_UUID in uuids or bool(name and name.startswith("Polar"))

    def settings(self) -> dict:
        return {"rate_hz": self.rate_hz, "range_g": self.range_g, "factor": self.factor,
                "sdk_mode": self.sdk_mode}

    def _cp_notified(self, data: bytes) -> None:
        try:
            msg = polar.parse_cp_notification(data)
        except DecodeError as exc:
            log.warning("ignoring a malformed control point notification: %s", exc)
            return
        if isinstance(msg, polar.PmdMeasurementStopped):
            if polar.MeasurementType.ACC in msg.measurement_types and self.on_device_stop:
                self.on_device_stop()
            return
        self._answers.put(msg)

    async def _command(self, link, data: bytes, opcode: int):
        await link.write(polar.PMD_CP_UUID, data)
        return await self._answers.wait(lambda m: m.opcode == opcode,
                                        f"control point command {opcode}")

    async def _offered(self, link, opcode: int) -> polar.PmdSettings:
        """ACC settings the device offers (GET_MEASUREMENT_SETTINGS or GET_SDK_MODE_SETTINGS);
        empty when it answers without any (then the requested values are tried as they are)."""
        cmd = bytes((opcode, polar.MeasurementType.ACC))
        parts = [await self._command(link, cmd, opcode)]
        while parts[-1].ok and parts[-1].more:
            parts.append(await self._answers.wait(lambda m: m.opcode == opcode,
                                                  f"control point command {opcode} (more)"))
        resp = polar.join_cp_responses(parts) if len(parts) > 1 else parts[0]
        if not resp.ok or not resp.params:
            return polar.PmdSettings()
        try:
            return resp.settings()
        except DecodeError as exc:
            log.warning("ignoring malformed ACC settings: %s", exc)
            return polar.PmdSettings()

    async def start(self, link, on_data: Callable[[bytes], None]) -> None:
        """Subscribe (control point first, as Polar's SDK insists), check the features,
        negotiate rate and range (SDK mode when needed), start ACC, keep the FACTOR."""
        self._answers.open()
        self._ts.reset()  # a new stream starts its timestamps from the rate again
        await link.start_notify(polar.PMD_CP_UUID, self._cp_notified)
        await link.start_notify(polar.PMD_DATA_UUID, on_data)
        try:
            features = polar.parse_features(await link.read(polar.PMD_CP_UUID))
        except DecodeError as exc:
            raise UnsupportedDeviceError(f"{link.name} answered the PMD feature read oddly: {exc}") from exc
        if not features.supports(polar.MeasurementType.ACC):
            raise UnsupportedDeviceError(f"{link.name} has no accelerometer stream over PMD")
        offered = await self._offered(link, polar.CpOpcode.GET_MEASUREMENT_SETTINGS)
        want = self.requested_rate_hz
        if offered.sample_rate and want not in offered.sample_rate and features.sdk_mode:
            sdk = await self._offered(link, polar.CpOpcode.GET_SDK_MODE_SETTINGS)
            if sdk.sample_rate and max(sdk.sample_rate) > max(offered.sample_rate):
                resp = await self._command(link, polar.build_start_measurement(polar.MeasurementType.SDK_MODE),
                                           polar.CpOpcode.REQUEST_MEASUREMENT_START)
                if resp.status not in (polar.CpStatus.SUCCESS, polar.CpStatus.ERROR_ALREADY_IN_STATE):
                    raise UnsupportedDeviceError(f"{link.name} refused SDK mode: {resp.status_name}")
                self.sdk_mode = True
                offered = sdk
        self.rate_hz = _pick(offered.sample_rate, want) if offered.sample_rate else want
        self.range_g = _pick(offered.range, self.requested_range_g) if offered.range else self.requested_range_g
        cmd = polar.build_start_measurement(
            polar.MeasurementType.ACC,
            polar.PmdSettings(sample_rate=(self.rate_hz,), resolution=(16,), range=(self.range_g,),
                              channels=(3,)))
        resp = await self._command(link, cmd, polar.CpOpcode.REQUEST_MEASUREMENT_START)
        if resp.status == polar.CpStatus.ERROR_ALREADY_IN_STATE:
            # a stream left running by an earlier session: restart it with our settings
            await self._command(link, polar.build_stop_measurement(polar.MeasurementType.ACC),
                                polar.CpOpcode.STOP_MEASUREMENT)
            resp = await self._command(link, cmd, polar.CpOpcode.REQUEST_MEASUREMENT_START)
        try:
            resp.raise_for_status()
        except ControlPointError as exc:
            raise UnsupportedDeviceError(
                f"{link.name} refused to stream ACC at {self.rate_hz} Hz, +-{self.range_g} G: "
                f"{resp.status_name}; try another --rate") from exc
        self.factor = float(resp.settings().scale_factor(1.0)) if resp.params else 1.0

    def decode(self, data: bytes) -> Decoded | None:
        """One data notification -> samples, or None for other measurement types.

        Raises DecodeError (typed) on a malformed frame: the session counts and drops it.
        """
        frame = self._ts.decode(data, factor=self.factor, sample_rate_hz=self.rate_hz)
        if frame.measurement_type != polar.MeasurementType.ACC:
            return None
        return Decoded(np.asarray(frame.sample_timestamps_ns, dtype=np.int64),
                       np.asarray(frame.samples, dtype=np.float64) / 1000.0)

    def reset(self) -> None:
        """Forget frame timestamps (disconnect)."""
        self._ts.reset()

    async def stop(self, link) -> None:
        await link.write(polar.PMD_CP_UUID, polar.build_stop_measurement(polar.MeasurementType.ACC))
        if self.sdk_mode:
            await link.write(polar.PMD_CP_UUID, polar.build_stop_measurement(polar.MeasurementType.SDK_MODE))


# =======================================================================================
# Open twitchwatch IMU profile (its bytes: sensor/open_imu.py)
# =======================================================================================
#: Rates tried, highest first, when a band refuses the requested one (status 1).
OPEN_IMU_FALLBACK_RATES = (416, 208, 200, 104, 100, 52, 50, 26, 25)


class OpenImuProfile:
    """The open twitchwatch IMU profile (sensor/open_imu.py encodes and decodes its bytes).

    Start: INFO (version, highest rate, ranges, battery), then START at the requested rate
    (capped at the band's highest) and range (the requested one if offered, else the
    nearest offered above it, else the largest), gyro off.  A band that refuses the rate
    (status 1) is asked again at the next lower usual rate; one already streaming
    (status 4) is stopped and started again with our settings.  ``rate_hz`` is the rate
    the band accepted; a band may round it up (the packets' period says what it streams).

    Data: device time is the band's own µs counter (t0 of each packet + i x its period), so
    a lost packet shows as a step in device time: the session records it as a
    ``sequence_jump`` gap; ``missing_packets`` counts what the sequence numbers say was
    lost.  An unsolicited STOP answer (``open_imu.DEVICE_STOPPED``, ``F1 02 00`` when no
    STOP was sent) means the band stopped on its own: ``device_stopped``.
    """

    name = "open-imu"
    service_uuid = open_imu.SERVICE_UUID

    def __init__(self, rate_hz: int = 100, range_g: int = 8):
        self.requested_rate_hz = int(rate_hz)
        self.requested_range_g = int(range_g)
        self.rate_hz = int(rate_hz)
        self.range_g = int(range_g)
        self.info: open_imu.BandInfo | None = None
        self.missing_packets = 0
        self._prev_seq: int | None = None
        self._answers = _Answers()
        self._pending: set[int] = set()
        self.on_device_stop: Callable[[], None] | None = None

    @staticmethod
    def matches(name: str | None, service_uuids) -> bool:
        uuids = {u.lower() for u in (service_uuids or ())}
        return open_imu.SERVICE_UUID in uuids or bool(name and name.startswith("TW-IMU"))

    def settings(self) -> dict:
        out = {"rate_hz": self.rate_hz, "range_g": self.range_g, "missing_packets": self.missing_packets}
        if self.info is not None:
            out.update(version=self.info.version, battery_percent=self.info.battery_percent)
        return out

    def _control_notified(self, data: bytes) -> None:
        try:
            ans = open_imu.parse_control_answer(data)
        except DecodeError as exc:
            if len(data) >= 2 and data[0] == open_imu.ANSWER:
                # an answer to a command we wait for, but garbled: fail that command now
                self._answers.put(_MalformedAnswer(data[1], exc))
            log.warning("ignoring a malformed open-IMU control answer: %s", exc)
            return
        if ans.command == open_imu.CMD_STOP and open_imu.CMD_STOP not in self._pending:
            log.info("the band stopped streaming on its own")
            if self.on_device_stop:
                self.on_device_stop()
            return
        self._answers.put(ans)

    async def _command(self, link, data: bytes) -> open_imu.ControlAnswer:
        """Write one command; its answer (DecodeError when the band garbled it)."""
        command = data[0]
        self._pending.add(command)
        try:
            await link.write(open_imu.CONTROL_UUID, data)
            ans = await self._answers.wait(lambda a: a.command == command, f"open-IMU command {command}")
        finally:
            self._pending.discard(command)
        if isinstance(ans, _MalformedAnswer):
            raise ans.error
        return ans

    async def start(self, link, on_data: Callable[[bytes], None]) -> None:
        self._answers.open()
        self._prev_seq = None
        self._rate_checked = False
        await link.start_notify(open_imu.CONTROL_UUID, self._control_notified)
        await link.start_notify(open_imu.DATA_UUID, on_data)
        try:
            ans = await self._command(link, open_imu.encode_info())
        except DecodeError as exc:
            raise UnsupportedDeviceError(f"{link.name} answered INFO oddly: {exc}") from exc
        if ans.info is None:
            raise UnsupportedDeviceError(f"{link.name} refused INFO: {ans.status_name}")
        self.info = ans.info
        if not self.info.ranges_g:
            raise UnsupportedDeviceError(f"{link.name} reports no accelerometer range")
        self.range_g = _pick(self.info.ranges_g, self.requested_range_g)
        top = min(self.requested_rate_hz, self.info.max_rate_hz or self.requested_rate_hz)
        rates = [top] + [r for r in OPEN_IMU_FALLBACK_RATES if r < top]
        restarted = False
        for rate in rates:
            start = open_imu.encode_start(rate, self.range_g)
            ans = await self._command(link, start)
            if ans.status == open_imu.STATUS_STREAMING and not restarted:
                restarted = True
                await self._command(link, open_imu.encode_stop())
                ans = await self._command(link, start)
            if ans.ok:
                self.rate_hz = rate
                return
            if ans.status != open_imu.STATUS_BAD_RATE:
                raise UnsupportedDeviceError(
                    f"{link.name} refused to stream at {rate} Hz, +-{self.range_g} g: {ans.status_name}")
        raise UnsupportedDeviceError(f"{link.name} refused every rate up to {top} Hz; try another --rate")

    def decode(self, data: bytes) -> Decoded | None:
        try:
            pkt = open_imu.decode_packet(data)
        except OverflowError as exc:  # a u64 device time beyond int64 ns
            raise DecodeError(f"open-IMU device time out of range: {exc}", offset=4) from None
        missing = open_imu.packets_missing(self._prev_seq, pkt.seq)
        if missing:
            self.missing_packets += missing
            log.debug("%d open-IMU packets missing before sequence %d", missing, pkt.seq)
        self._prev_seq = pkt.seq
        if not self._rate_checked and pkt.device_t_ns.size >= 2:
            # START rounds the rate up to the band's next setting (spec): the packets'
            # period says what it streams, and the night file and detector need that
            self._rate_checked = True
            streamed = 1e9 * (pkt.device_t_ns.size - 1) / float(pkt.device_t_ns[-1] - pkt.device_t_ns[0])
            if abs(streamed - self.rate_hz) > 0.01 * self.rate_hz:
                log.info("the band accepted %d Hz and streams at %.2f Hz", self.rate_hz, streamed)
                self.rate_hz = round(streamed, 2)
        return Decoded(pkt.device_t_ns, pkt.acc_g)

    def reset(self) -> None:
        self._prev_seq = None

    async def stop(self, link) -> None:
        self._pending.add(open_imu.CMD_STOP)   # its answer is not a device stop
        await link.write(open_imu.CONTROL_UUID, open_imu.encode_stop())


@dataclass(frozen=True)
class _MalformedAnswer:
    """A control answer for ``command`` that did not parse (put in the answer queue)."""
    command: int
    error: DecodeError


# =======================================================================================
# Movesense (GATT SensorData app)
# =======================================================================================
class MovesenseProfile:
    """Movesense with the GATT SensorData app (sensor/movesense.py).

    Start: notifications on, HELLO (its ``Hello`` answer proves the app runs), UNSUBSCRIBE
    of our reference (a subscription a lost link may have left; the firmware ignores an
    unknown one), SUBSCRIBE ``/Meas/Acc/{rate}`` with the requested rate rounded up to a
    Movesense rate (100 -> 104 Hz).  The firmware does not acknowledge a SUBSCRIBE, so
    start waits for the first data packet or an error answer (up to CP_TIMEOUT_S; after
    that the session's watchdog takes over).  The range is the sensor's configured one
    (+-8 g by default; GSP cannot change it).

    Data: the uint32 ms packet times are unwrapped and spread over the samples
    (:class:`sensor.movesense.MovesenseTimestamper`) -> device ns; m/s^2 -> g.  GSP has no
    "stopped" notification: a stream the sensor ends falls silent and the watchdog
    reconnects.
    """

    name = "movesense"
    service_uuid = movesense.SERVICE_UUID
    REFERENCE = 0x74   # any 1-255; ours

    def __init__(self, rate_hz: int = 100, range_g: int = 8, kind: str = "acc"):
        self.requested_rate_hz = int(rate_hz)
        above = [r for r in movesense.RATES_HZ if r >= int(rate_hz)]
        self.rate_hz = above[0] if above else movesense.RATES_HZ[-1]
        self.range_g = int(range_g)
        self.kind = kind
        self.path = movesense.measurement_path(kind, self.rate_hz)
        self._ts = movesense.MovesenseTimestamper(self.rate_hz)
        self._answers = _Answers()
        self._got_data: asyncio.Event | None = None
        self._on_data: Callable[[bytes], None] | None = None
        self.on_device_stop: Callable[[], None] | None = None

    @staticmethod
    def matches(name: str | None, service_uuids) -> bool:
        uuids = {u.lower() for u in (service_uuids or ())}
        return movesense.SERVICE_UUID in uuids or bool(name and name.startswith(movesense.NAME_PREFIX))

    def settings(self) -> dict:
        return {"rate_hz": self.rate_hz, "range_g": self.range_g, "path": self.path,
                "period_ns": round(self._ts.period_ns, 1)}

    def _notified(self, data: bytes) -> None:
        # bleak's callback: route command answers here, pass everything else on untouched
        if data[:1] == bytes((movesense.Response.COMMAND_RESULT,)) and len(data) >= 2:
            self._answers.put(movesense.parse_command_result(data))
            return
        if self._got_data is not None and data[:2] == bytes((movesense.Response.DATA, self.REFERENCE)):
            self._got_data.set()
        self._on_data(data)

    async def start(self, link, on_data: Callable[[bytes], None]) -> None:
        self._answers.open()
        self._on_data = on_data
        self._ts.reset()
        self._got_data = asyncio.Event()
        await link.start_notify(movesense.DATA_UUID, self._notified)
        ref = self.REFERENCE
        await link.write(movesense.COMMAND_UUID, movesense.build_hello(ref))
        await self._answers.wait(lambda a: a.reference == ref and a.hello, "HELLO")
        await link.write(movesense.COMMAND_UUID, movesense.build_unsubscribe(ref))
        await link.write(movesense.COMMAND_UUID, movesense.build_subscribe(ref, self.path))
        data = asyncio.ensure_future(self._got_data.wait())
        error = asyncio.ensure_future(self._answers.wait(
            lambda a: a.reference == ref and not a.ok, f"SUBSCRIBE {self.path}"))
        done, pending = await asyncio.wait({data, error}, timeout=CP_TIMEOUT_S,
                                           return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
        if error in done and error.exception() is None:
            status = error.result().status
            if status is not None and 400 <= status < 500 and status != 408:
                raise UnsupportedDeviceError(f"{link.name} refused {self.path} (HTTP status {status})")
            raise SensorError(f"{link.name} could not subscribe {self.path} (status {status})")
        if not done:
            log.info("no data %g s after subscribing %s; the watchdog takes over", CP_TIMEOUT_S, self.path)

    def decode(self, data: bytes) -> Decoded | None:
        pkt = movesense.decode_data(data, self.kind)
        if pkt.reference != self.REFERENCE:
            return None
        t = self._ts.times_ns(pkt.timestamp_ms, pkt.n)
        return Decoded(t, pkt.acc_ms2 / movesense.STANDARD_GRAVITY)

    def reset(self) -> None:
        self._ts.reset()

    async def stop(self, link) -> None:
        await link.write(movesense.COMMAND_UUID, movesense.build_unsubscribe(self.REFERENCE))


PROFILES = {"polar": PolarProfile, "open-imu": OpenImuProfile, "movesense": MovesenseProfile}

if tuple(PROFILES) != PROFILE_NAMES:  # the CLI offers sensor/names.py's list without importing this
    raise ImportError(f"sensor/names.py PROFILE_NAMES {PROFILE_NAMES} != PROFILES {tuple(PROFILES)}")
