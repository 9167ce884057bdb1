"""An all-night recording of Sensor Logger's HTTP push into a night file and the detector.

One :class:`~sensor.wifi.receiver.PushReceiver` takes the batches; each accepted batch
is parsed (:mod:`sensor.wifi.sensorlogger_push`) and its phone and watch streams go to
their own :class:`~sensor.wifi.sink.ChannelSink`.  The stream chosen as primary is the
night's ``acc`` channel and feeds the live detector; the other is stored beside it as
``acc_watch`` (or ``acc_phone``).

Batches are handled synchronously on the event loop, in arrival order, so two never
interleave.  Replays of a batch (same sessionId and messageId) are acknowledged and
ignored; samples seen twice are dropped by the sinks.  The phone's timestamps are UTC
epoch nanoseconds from its own clock and are stored as they are; every minute a clock
point (phone time, this machine's receive time) goes into the night file, so an offset
between the two clocks can be seen and corrected later.

Gaps: a pause in the pushes is a gap with reason ``no_push``; a new app recording
(another sessionId) marks the gap between the two as ``app_restarted``.
"""
from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Callable

from .errors import ForeignDeviceError
from .receiver import PushReceiver, redact
from .sensorlogger_push import PHONE, WATCH, PushAssembler, parse_message
from .sink import REORDER_S, ChannelSink

log = logging.getLogger(__name__)

#: How often the session looks at the clock, flushes idle streams and reports (s).
TICK_S = 0.5
#: A clock point goes into the night file this often (s).
CLOCK_SYNC_EVERY_S = 60.0
#: (sessionId, messageId) pairs remembered to spot a replayed batch.
SEEN_MESSAGES = 4096


def secondary_kind(primary: str) -> str:
    return "acc_watch" if primary == PHONE else "acc_phone"


@dataclass
class WifiStats:
    """What a Wi-Fi recording did (the command line prints it)."""
    samples: int = 0                  # primary stream, written
    other_samples: int = 0            # secondary stream, written
    batches: int = 0                  # accepted and used
    duplicate_batches: int = 0
    duplicate_samples: int = 0
    late_samples: int = 0
    malformed_records: int = 0
    test_pushes: int = 0
    app_sessions: int = 0
    rejected: dict = field(default_factory=dict)   # HTTP status -> count
    reconnects: int = 0               # phyphox: connections regained
    restarts: int = 0                 # phyphox: experiment restarts seen
    gaps: list = field(default_factory=list)       # primary stream: (start_s, end_s, reason)
    jerks: int = 0
    ended_by: str = ""


class SensorLoggerSession:
    """Receive Sensor Logger pushes until the duration ends or ``request_stop()``.

    writer : NightWriter with channels 'acc' and secondary_kind(primary).
    detector_factory : callable(rate_hz) -> Detector, or None.
    primary : 'phone' or 'watch': the stream stored as 'acc' and fed to the detector.
    rate_hz : the rate set in the app, or None to measure it.
    """

    def __init__(self, writer, detector_factory, *, primary: str = PHONE, rate_hz: float | None = None,
                 host: str = "127.0.0.1", port: int = 0, duration_s: float | None = None,
                 token: str | None = None, on_status: Callable[[WifiStats, float], None] | None = None,
                 reorder_s: float = REORDER_S, receiver_kwargs: dict | None = None, utc=None):
        if primary not in (PHONE, WATCH):
            raise ValueError("primary must be 'phone' or 'watch'")
        import time

        self.writer = writer
        self.primary = primary
        self.host, self.port = host, port
        self.duration_s = duration_s
        self.stats = WifiStats()
        self._on_status = on_status
        self._utc = utc or time.time
        self.receiver = PushReceiver(self._handle, token=token, **(receiver_kwargs or {}))
        self.assembler = PushAssembler()
        other = WATCH if primary == PHONE else PHONE
        self.sinks = {
            primary: ChannelSink(writer, "acc", rate_hz=rate_hz, detector_factory=detector_factory,
                                 reorder_s=reorder_s, default_gap_reason="no_push"),
            other: ChannelSink(writer, secondary_kind(primary), rate_hz=None, reorder_s=reorder_s,
                               default_gap_reason="no_push"),
        }
        self.device_id: str | None = None
        self.app_session: str | None = None
        self._seen: OrderedDict = OrderedDict()
        self._last_sync = float("-inf")
        self._stop = asyncio.Event()

    @property
    def detector(self):
        return self.sinks[self.primary].detector

    def request_stop(self) -> None:
        self._stop.set()

    # ------------------------------------------------------------------ one batch
    def _handle(self, obj) -> None:
        msg = parse_message(obj)
        self.stats.malformed_records += msg.malformed_records
        if msg.is_test:
            self.stats.test_pushes += 1
            log.info("test push received")
            return
        if self.device_id is None:
            self.device_id = msg.device_id
        elif msg.device_id and msg.device_id != self.device_id:
            raise ForeignDeviceError(f"a batch from another phone (deviceId {redact(msg.device_id)})")
        if msg.message_id is not None:
            key = (msg.session_id, msg.message_id)
            if key in self._seen:
                self.stats.duplicate_batches += 1
                return
            self._seen[key] = None
            if len(self._seen) > SEEN_MESSAGES:
                self._seen.popitem(last=False)
        restarted = self.app_session is not None and msg.session_id != self.app_session
        if msg.session_id != self.app_session:
            self.stats.app_sessions += 1
            self.app_session = msg.session_id
            if restarted:
                log.info("a new recording started in the app")
        self.stats.batches += 1
        now = self._utc()
        for name, (t_ns, acc) in self.assembler.convert(msg).items():
            sink = self.sinks[name]
            t_us = (t_ns + 500) // 1000
            if restarted and sink.newest_us is not None:
                sink.note_outage("app_restarted", sink.newest_us / 1e6, float(t_us.min()) / 1e6)
            sink.add(t_us, acc, device_ns=t_ns)
            sink.flush()
            if name == self.primary and now - self._last_sync >= CLOCK_SYNC_EVERY_S:
                self.writer.add_clock_sync(int(t_ns.max()), now)
                self._last_sync = now
        self._collect()

    def _collect(self) -> None:
        p = self.sinks[self.primary].stats
        o = self.sinks[WATCH if self.primary == PHONE else PHONE].stats
        s = self.stats
        s.samples, s.other_samples, s.gaps, s.jerks = p.samples, o.samples, p.gaps, p.jerks
        s.duplicate_samples = p.duplicates + o.duplicates
        s.late_samples = p.late + o.late
        s.rejected = dict(self.receiver.stats.rejected)

    # ------------------------------------------------------------------ main loop
    async def run(self, on_ready: Callable[[PushReceiver], None] | None = None) -> WifiStats:
        """Serve until stopped.  ``on_ready(receiver)`` runs once listening (print the URL there)."""
        loop = asyncio.get_running_loop()
        await self.receiver.start(self.host, self.port)
        started = loop.time()
        try:
            if on_ready is not None:
                on_ready(self.receiver)
            while True:
                try:
                    await asyncio.wait_for(self._stop.wait(), TICK_S)
                    self.stats.ended_by = "stop"
                    break
                except asyncio.TimeoutError:
                    pass
                elapsed = loop.time() - started
                if self.duration_s is not None and elapsed >= self.duration_s:
                    self.stats.ended_by = "duration"
                    break
                last = self.receiver.last_request_mono
                if last is None or loop.time() - last > self.sinks[self.primary].reorder_us / 1e6:
                    # the phone is quiet: write what waits, so the file and detector are current
                    for sink in self.sinks.values():
                        sink.flush(everything=True)
                self._collect()
                if self._on_status:
                    self._on_status(self.stats, elapsed)
        finally:
            await self.receiver.stop()
            for sink in self.sinks.values():
                sink.close()
            self._collect()
            self.writer.commit()
        return self.stats
