"""An all-night recording of phyphox's remote access into a night file and the detector.

Every ``poll_s`` the session asks for the rows after the last experiment time it holds
(``/get?...=<t>|<timebuffer>``, new data only), then reads ``/time`` and maps experiment
time to UTC with it (the START in force for each sample, so a pause is a gap).  Reading
``/time`` after ``/get`` matters: a START that came between the two only adds a later
reference, which maps no sample of this answer.

What it survives:

* **Wi-Fi drops, a phone that stops answering** (screen off, app in the background):
  requests fail or time out; the session retries with the recorder's bounded backoff
  (``sensor/backoff.py``).  phyphox keeps its buffers, so what the phone measured during
  the drop is fetched afterwards; whatever it did not measure is a gap with reason
  ``link_lost``.
* **a stall**: phyphox answers but has no new rows for ``stall_s`` while measuring: the
  gap that results has reason ``stalled``.
* **a pause**: phyphox answers "not measuring" twice in a row: the session starts the
  experiment again (the user asked for a night) and the gap is ``paused``.
* **a restart of the experiment** (cleared and begun again: ``/time`` is no longer the
  old list with events appended, or the remote session id changed): rows of the old run
  still in the answer are mapped with the old references; then everything of the new run
  is fetched (``full``).  The gap is ``experiment_restarted``.

On exit the experiment is stopped (``/control?cmd=stop``), best effort.
"""
from __future__ import annotations

import asyncio
import logging
import time
from typing import Callable

import numpy as np

from ..backoff import Backoff
from .errors import PhyphoxError, WifiError
from .phyphox_client import REQUEST_TIMEOUT_S, PhyphoxClient, TimeRef, acc_buffers, is_restart, utc_of
from .sensorlogger_push import G, unit_from_magnitude
from .sensorlogger_session import WifiStats
from .sink import ChannelSink

log = logging.getLogger(__name__)

#: Time between polls (s).  phyphox's own web page polls about this often; at 500 Hz a
#: poll carries ~250 rows per buffer.
POLL_S = 0.5
#: No new rows for this long while phyphox says it is measuring: a stall (s).
STALL_S = 5.0


def _network_errors():
    import aiohttp

    return (aiohttp.ClientError, asyncio.TimeoutError, OSError)


async def check_phyphox(url: str, *, timeout_s: float = REQUEST_TIMEOUT_S) -> dict:
    """Contact phyphox once: its /config, or WifiError / PhyphoxError saying what is wrong."""
    import aiohttp

    async with aiohttp.ClientSession() as http:
        client = PhyphoxClient(url, http, timeout_s=timeout_s)
        try:
            cfg = await client.config()
        except _network_errors() as exc:
            raise WifiError(f"cannot reach phyphox at {url} ({type(exc).__name__}); is remote access on "
                            f"(the Wi-Fi icon in the experiment) and this machine on the same Wi-Fi?") from None
    acc_buffers(cfg)
    return cfg


class PhyphoxSession:
    """Poll phyphox until the duration ends or ``request_stop()``.

    writer : NightWriter with channel 'acc'.
    detector_factory : callable(rate_hz) -> Detector, or None.
    """

    def __init__(self, writer, detector_factory, *, url: str, rate_hz: float | None = None,
                 duration_s: float | None = None, poll_s: float = POLL_S, stall_s: float = STALL_S,
                 timeout_s: float = REQUEST_TIMEOUT_S, backoff: Backoff = Backoff(),
                 on_status: Callable[[WifiStats, float], None] | None = None, utc=time.time):
        self.writer = writer
        self.url = url
        self.duration_s = duration_s
        self.poll_s, self.stall_s, self.timeout_s = poll_s, stall_s, timeout_s
        self.backoff = backoff
        self._on_status = on_status
        self._utc = utc
        self.sink = ChannelSink(writer, "acc", rate_hz=rate_hz, detector_factory=detector_factory,
                                reorder_s=0.0, default_gap_reason="no_data")
        self.stats = WifiStats()
        self._stop = asyncio.Event()
        self.bufs = None
        self.refs: list[TimeRef] = []
        self.session_id: str | None = None
        self.last_te: float | None = None
        self.unit: str | None = None
        self._last_data_mono = 0.0
        self._not_measuring = 0
        self._open: set[str] = set()       # outages noted and not yet closed
        self._synced_refs = 0

    @property
    def detector(self):
        return self.sink.detector

    def request_stop(self) -> None:
        self._stop.set()

    # ------------------------------------------------------------------ outages
    def _outage_start(self) -> float:
        s = self.sink
        return s.newest_us / 1e6 if s.newest_us is not None else self._utc()

    def _begin(self, reason: str) -> None:
        if reason not in self._open:
            self._open.add(reason)
            self.sink.note_outage(reason, self._outage_start())

    def _end_all(self, at_s: float) -> None:
        for reason in self._open:
            self.sink.end_outage(reason, at_s)
        self._open.clear()

    # ------------------------------------------------------------------ polling
    async def _connect(self, client: PhyphoxClient) -> None:
        self.bufs = acc_buffers(await client.config())
        last, self.session_id, measuring = await client.last_time(self.bufs)
        self.refs = await client.time_refs()
        self.last_te = last   # new data only: what phyphox held before we came is not ours
        if not measuring:
            log.info("phyphox is not measuring; starting the experiment")
            await client.control("start")
        self._last_data_mono = time.monotonic()

    async def _poll(self, client: PhyphoxClient) -> None:
        res = await client.get(self.bufs, self.last_te)
        refs = await client.time_refs()
        restarted = res.session != self.session_id or is_restart(self.refs, refs)
        te, acc = res.te, res.acc
        if self.last_te is not None:
            new = te > self.last_te   # a row re-sent around the server's threshold nudge
            te, acc = te[new], acc[new]
        if restarted:
            self.stats.restarts += 1
            log.info("the phyphox experiment was restarted")
            if te.size and self.refs:
                t = utc_of(te, self.refs)
                first_new = min((r.system_time for r in refs if r.event == "START"), default=np.inf)
                keep = t < first_new   # rows of the old run, measured before the new start
                self._store(t[keep], acc[keep], te[keep])
            if res.session != self.session_id:
                self.bufs = acc_buffers(await client.config())
                self.session_id = res.session
            self.refs, self._synced_refs = refs, 0
            self.last_te = None   # everything of the new run
            self._begin("experiment_restarted")
            return
        self.refs = refs
        self._sync_clock()
        if te.size:
            if not refs:
                log.warning("phyphox sent %d rows but no START time; they cannot be placed in time", te.size)
                return
            t = utc_of(te, refs)
            self._store(t, acc, te)
            self.last_te = float(te[-1])
            self._last_data_mono = time.monotonic()
            self._not_measuring = 0
            return
        if not res.measuring:
            self._not_measuring += 1
            if self._not_measuring >= 2:
                self._begin("paused")
                log.info("phyphox stopped measuring; starting it again")
                await client.control("start")
                self._not_measuring = 0
        elif time.monotonic() - self._last_data_mono > self.stall_s:
            self._begin("stalled")

    def _store(self, t: np.ndarray, raw: np.ndarray, te: np.ndarray) -> None:
        if t.size == 0:
            return
        if self.unit is None:
            # "Acceleration with g" is m/s^2; the data must agree (a still phone reads ~9.8)
            found = unit_from_magnitude(raw)
            self.unit = found or "m/s2"
            if found == "g":
                log.warning("phyphox's accelerometer reads ~1 in magnitude: taken as g, not m/s^2")
        acc = raw / G if self.unit == "m/s2" else raw
        t_us = np.rint(t * 1e6).astype(np.int64)
        self._end_all(float(t[0]))
        self.sink.add(t_us, acc, device_ns=np.rint(te * 1e9).astype(np.int64))
        self.sink.flush()

    def _sync_clock(self) -> None:
        """Each new START is a clock point: experiment time (device clock) and phone UTC."""
        for r in self.refs[self._synced_refs:]:
            if r.event == "START":
                self.writer.add_clock_sync(int(round(r.experiment_time * 1e9)), r.system_time)
        self._synced_refs = len(self.refs)

    def _collect(self) -> None:
        s, p = self.stats, self.sink.stats
        s.samples, s.gaps, s.jerks = p.samples, p.gaps, p.jerks
        s.duplicate_samples, s.late_samples = p.duplicates, p.late

    async def _wait(self, seconds: float) -> bool:
        """Sleep, waking on a stop request; True when stopped."""
        try:
            await asyncio.wait_for(self._stop.wait(), seconds)
            return True
        except asyncio.TimeoutError:
            return False

    async def run(self) -> WifiStats:
        import aiohttp

        started = time.monotonic()
        async with aiohttp.ClientSession() as http:
            client = PhyphoxClient(self.url, http, timeout_s=self.timeout_s)
            try:
                await self._connect(client)
            except _network_errors() as exc:
                raise WifiError(f"cannot reach phyphox at {self.url} ({type(exc).__name__}); is remote "
                                f"access on and this machine on the same Wi-Fi?") from None
            attempt = 0
            down = False
            try:
                while True:
                    elapsed = time.monotonic() - started
                    if self._stop.is_set():
                        self.stats.ended_by = "stop"
                        break
                    if self.duration_s is not None and elapsed >= self.duration_s:
                        self.stats.ended_by = "duration"
                        break
                    try:
                        await self._poll(client)
                    except (*_network_errors(), PhyphoxError) as exc:
                        if not down:
                            log.info("phyphox unreachable (%s); retrying", type(exc).__name__)
                            self._begin("link_lost")
                            down = True
                        delay = self.backoff.delay_s(attempt)
                        attempt += 1
                        await self._wait(delay)
                        continue
                    if down:
                        down = False
                        self.stats.reconnects += 1
                        log.info("phyphox reachable again")
                    attempt = 0
                    self._collect()
                    if self._on_status:
                        self._on_status(self.stats, elapsed)
                    await self._wait(self.poll_s)
            finally:
                try:
                    await client.control("stop")   # phyphox measures until its battery dies otherwise
                except (*_network_errors(), PhyphoxError) as exc:
                    log.info("the stop command did not reach phyphox: %s", type(exc).__name__)
                self.sink.close()
                self._collect()
                self.writer.commit()
        return self.stats
