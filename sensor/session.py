"""An all-night recording session over BLE: connect, stream, survive, record every gap.

Shape (bleak's own advice): the notify callback only enqueues (host monotonic time, host
UTC, bytes); one consumer task decodes, maps device time to UTC, writes the night file
and feeds the live detector.  A supervisor reconnects with bounded exponential backoff,
forces a reconnect when a "connected" link goes silent (watchdog), restarts the stream
after every reconnect, and sends STOP before leaving.

Every interruption becomes a gap row with its reason: ``link_lost``, ``watchdog``,
``device_stopped``, ``sequence_jump`` (samples missing inside a connection) or
``clock_jump``.  Timestamps are the truth: nothing is filled.
"""
from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Awaitable, Callable

import numpy as np

from .backoff import Backoff
from .clock import ClockMap
from .errors import DecodeError, SensorError
from .link import Link, LinkError
from .profiles import UnsupportedDeviceError

log = logging.getLogger(__name__)

#: How often the supervisor looks at the link (s of session time).
SUPERVISE_EVERY_S = 0.2
#: A clock point goes into the night file this often (s), to re-map device time later.
CLOCK_SYNC_EVERY_S = 60.0


class TimeSource:
    """Wall clock, monotonic clock and sleep; tests substitute a faster one."""

    def utc(self) -> float:
        return time.time()

    def mono_ns(self) -> int:
        return time.monotonic_ns()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


@dataclass(frozen=True)
class SessionSettings:
    rate_hz: float
    duration_s: float | None = None     # None: until stopped
    watchdog_s: float = 5.0             # a connected link silent this long is reconnected
    connect_timeout_s: float = 20.0
    backoff: Backoff = Backoff()

    @property
    def max_contiguous_s(self) -> float:
        """Longer steps between samples are gaps (the detector's own rule)."""
        return max(0.1, 5.0 / self.rate_hz)


@dataclass
class SessionStats:
    samples: int = 0
    frames: int = 0
    malformed_frames: int = 0
    duplicate_samples: int = 0
    reconnects: int = 0
    gaps: list = field(default_factory=list)     # (start_utc, end_utc, reason)
    jerks: int = 0
    ended_by: str = ""


_RESET = object()  # queue marker: the connection ended; next samples follow a gap


class RecordingSession:
    """Record one device until ``duration`` or ``request_stop()``.

    link_factory : async callable returning a fresh, unconnected :class:`Link`
        (rescanning if needed); called before every (re)connect.
    profile : a device profile (sensor.profiles).
    writer : twitchwatch.store.NightWriter (anything with append/add_gap/add_clock_sync/
        update_device_settings).  After every start, and once more at the end, the
        profile's negotiated settings, rate and range replace what the file was created
        with: a file is created before the device is reached, and a band may stream at
        another rate than asked (a Verity Sense or a Movesense asked for 100 Hz: 104 Hz).
    detector : detect.Detector or None.
    detector_factory : instead of ``detector``, a callable ``rate_hz -> Detector`` called
        at the first sample with the negotiated ``profile.rate_hz`` (the detector's
        filters depend on the rate); the result (None: no detection) is ``self.detector``.
    """

    def __init__(self, link_factory: Callable[[], Awaitable[Link]], profile, writer, detector,
                 settings: SessionSettings, *, time_source: TimeSource | None = None,
                 on_status: Callable[[SessionStats, float], None] | None = None,
                 detector_factory: Callable[[float], object] | None = None):
        if detector is not None and detector_factory is not None:
            raise ValueError("give a detector or a detector_factory, not both")
        self._link_factory = link_factory
        self.profile = profile
        self.writer = writer
        self.detector = detector
        self._detector_factory = detector_factory
        self.settings = settings
        self.ts = time_source or TimeSource()
        self.stats = SessionStats()
        self.clock = ClockMap()
        self._on_status = on_status
        self._queue: asyncio.Queue = asyncio.Queue()
        self._stop = asyncio.Event()
        self._dropped = asyncio.Event()
        self._device_stopped = asyncio.Event()
        self._last_data_mono = 0
        self._gap_reason: str | None = None
        self._last_t: float | None = None
        self._last_dev_ns: int | None = None
        self._last_sync_utc = -np.inf

    # ------------------------------------------------------------------ control
    def request_stop(self) -> None:
        """Ask the session to stop (signal handlers call this); it sends STOP and closes."""
        self._stop.set()

    def _on_data(self, data: bytes) -> None:
        # runs in bleak's callback: enqueue only, never block or decode here
        mono = self.ts.mono_ns()
        self._last_data_mono = mono
        self._queue.put_nowait((mono, self.ts.utc(), data))

    def _on_disconnect(self) -> None:
        self._dropped.set()

    def _on_device_stop(self) -> None:
        self._device_stopped.set()

    def _record_negotiated(self) -> None:
        """Put what the profile negotiated into the night file (settings, rate, range)."""
        self.writer.update_device_settings(self.profile.settings(),
                                           nominal_rate_hz=float(self.profile.rate_hz),
                                           range=float(self.profile.range_g))

    # ------------------------------------------------------------------ main loop
    async def run(self) -> SessionStats:
        self.profile.on_device_stop = self._on_device_stop
        consumer = asyncio.create_task(self._consume())
        started = self.ts.mono_ns()
        attempt = 0
        connected_once = False
        try:
            while not self._stop.is_set():
                if self._elapsed(started) >= (self.settings.duration_s or np.inf):
                    self.stats.ended_by = "duration"
                    break
                link = await self._unless_stopped(self._link_factory())
                if link is None:
                    self.stats.ended_by = "stop"
                    break
                try:
                    await link.connect(self.settings.connect_timeout_s)
                    link.on_disconnect(self._on_disconnect)
                    self._dropped.clear()
                    self._device_stopped.clear()
                    self._last_data_mono = self.ts.mono_ns()
                    await self.profile.start(link, self._on_data)
                except UnsupportedDeviceError:
                    await link.disconnect()
                    raise
                except (LinkError, SensorError, asyncio.TimeoutError) as exc:
                    await link.disconnect()
                    delay = self.settings.backoff.delay_s(attempt)
                    attempt += 1
                    log.info("connect attempt %d failed (%s); retrying in %.1f s", attempt, exc, delay)
                    await self._wait_stop(delay)
                    continue
                self._record_negotiated()
                if connected_once:
                    self.stats.reconnects += 1
                connected_once = True
                attempt = 0
                reason = await self._supervise(link, started)
                if reason in ("stop", "duration"):
                    self.stats.ended_by = reason
                    try:
                        await self.profile.stop(link)  # an H10 streams until its battery dies otherwise
                    except (LinkError, SensorError) as exc:
                        log.info("STOP was not delivered: %s", exc)
                    await link.disconnect()
                    break
                log.info("link ended (%s); reconnecting", reason)
                await self._queue.put((_RESET, reason))
                await link.disconnect()
        finally:
            await self._queue.put(None)
            await consumer
        if connected_once:
            self._record_negotiated()  # counters a profile keeps (missing packets) at the end
        return self.stats

    async def _unless_stopped(self, coro):
        """Await ``coro`` (a scan, say) unless a stop request comes first (then None)."""
        work = asyncio.ensure_future(coro)
        stop = asyncio.ensure_future(self._stop.wait())
        done, _ = await asyncio.wait({work, stop}, return_when=asyncio.FIRST_COMPLETED)
        if work in done:
            stop.cancel()
            return work.result()
        work.cancel()
        try:
            await work
        except (asyncio.CancelledError, Exception):  # noqa: BLE001 - abandoned on purpose
            pass
        return None

    def _elapsed(self, started_ns: int) -> float:
        return (self.ts.mono_ns() - started_ns) / 1e9

    async def _wait_stop(self, seconds: float) -> None:
        """Sleep ``seconds`` of session time, waking early on a stop request."""
        end = self.ts.mono_ns() + int(seconds * 1e9)
        while not self._stop.is_set():
            left = (end - self.ts.mono_ns()) / 1e9
            if left <= 0:
                return
            await self.ts.sleep(min(SUPERVISE_EVERY_S, left))

    async def _supervise(self, link, started_ns: int) -> str:
        """Watch the link until it must end; return why."""
        while True:
            if self._stop.is_set():
                return "stop"
            if self._elapsed(started_ns) >= (self.settings.duration_s or np.inf):
                return "duration"
            if self._dropped.is_set() or not link.is_connected:
                return "link_lost"
            if self._device_stopped.is_set():
                return "device_stopped"
            if (self.ts.mono_ns() - self._last_data_mono) / 1e9 > self.settings.watchdog_s:
                return "watchdog"
            await self.ts.sleep(SUPERVISE_EVERY_S)
            if self._on_status:
                self._on_status(self.stats, self._elapsed(started_ns))

    # ------------------------------------------------------------------ consumer
    async def _consume(self) -> None:
        while True:
            item = await self._queue.get()
            if item is None:
                return
            if item[0] is _RESET:
                self.profile.reset()
                self._gap_reason = item[1]
                continue
            mono, utc, data = item
            self.stats.frames += 1
            try:
                dec = self.profile.decode(data)
            except DecodeError as exc:
                self.stats.malformed_frames += 1
                log.debug("dropped a malformed frame: %s", exc)
                continue
            if dec is None or dec.device_ns.size == 0:
                continue
            jumped = self.clock.observe(int(dec.device_ns[-1]), utc)
            dev, acc = dec.device_ns, dec.acc_g
            if self._last_dev_ns is not None and not jumped:
                keep = dev > self._last_dev_ns  # a resent frame after a reconnect
                if not keep.all():
                    self.stats.duplicate_samples += int((~keep).sum())
                    dev, acc = dev[keep], acc[keep]
                    if dev.size == 0:
                        continue
            t = self.clock.to_utc(dev)
            if self._last_t is not None and t[0] - self._last_t > self.settings.max_contiguous_s:
                reason = self._gap_reason or ("clock_jump" if jumped else "sequence_jump")
                self.writer.add_gap(self._last_t, float(t[0]), reason)
                self.stats.gaps.append((self._last_t, float(t[0]), reason))
            self._gap_reason = None
            self.writer.append(t, acc, device_t0_ns=int(dev[0]), device_t_last_ns=int(dev[-1]))
            if utc - self._last_sync_utc >= CLOCK_SYNC_EVERY_S:
                self.writer.add_clock_sync(int(dev[-1]), utc, mono)
                self._last_sync_utc = utc
            if self._detector_factory is not None:
                # the first sample comes after the start's negotiation: its rate is known
                factory, self._detector_factory = self._detector_factory, None
                self.detector = factory(float(self.profile.rate_hz))
            if self.detector is not None:
                for ev in self.detector.feed(t, acc[:, 0], acc[:, 1], acc[:, 2]):
                    self.stats.jerks += ev.kind == "jerk"
            self._last_t = float(t[-1])
            self._last_dev_ns = int(dev[-1])
            self.stats.samples += int(t.size)
