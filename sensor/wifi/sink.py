"""One acceleration stream of a Wi-Fi recording: order, de-duplicate, gap, store, detect.

Wi-Fi sources deliver samples in batches that can arrive twice (a retried POST, a
re-read phyphox buffer) or out of order (two HTTP connections racing).  A night file and
the detector need strictly increasing times, so each stream goes through a sink:

* samples wait in a **reorder window** of ``reorder_s`` of sample time: everything older
  than (newest sample - window) is sorted and written; a batch that is late by less than
  the window still lands in place;
* a sample whose time was written already is a **duplicate** (dropped, counted); one
  older than the last written sample but never seen is **late** (dropped, counted:
  the night file is append-only);
* a step longer than max(0.1 s, 5 samples), the detector's own rule, is a **gap**, stored
  with the reason of the outage that covers it (``note_outage``), else the sink's default
  reason.  Nothing is filled in.

Times are handled as integer microseconds (the night file's resolution), so two samples
that the file could not tell apart are one sample here too.

The detector can be created late: with no rate given, the sink measures the median step
of its first ``RATE_PROBE_SAMPLES`` samples and then builds the detector (phones do not
always deliver the rate that was set in the app).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

log = logging.getLogger(__name__)

#: Default reorder window (s of sample time): a couple of push periods of 1 s.
REORDER_S = 3.0
#: Samples whose median step sets the rate when none was given.
RATE_PROBE_SAMPLES = 256
#: Written sample times remembered to tell a duplicate from a late sample.
RECENT_TIMES = 16384


@dataclass
class SinkStats:
    samples: int = 0            # written
    duplicates: int = 0         # dropped: that time was written already
    late: int = 0               # dropped: older than the last written sample, never seen
    gaps: list = field(default_factory=list)   # (start_s, end_s, reason)
    jerks: int = 0


@dataclass
class _Outage:
    reason: str
    start_us: int
    end_us: int | None = None   # None: still going on


class ChannelSink:
    """Feed one channel of a NightWriter (and optionally a Detector) from unordered batches.

    writer : NightWriter (append / add_gap).
    kind : channel kind in the night file ('acc', 'acc_watch', ...).
    rate_hz : nominal rate, or None to measure it from the first samples.
    detector_factory : callable(rate_hz) -> Detector, or None for no live detection.
    default_gap_reason : reason stored for a gap no noted outage explains.
    """

    def __init__(self, writer, kind: str, *, rate_hz: float | None,
                 detector_factory: Callable[[float], object] | None = None,
                 reorder_s: float = REORDER_S, default_gap_reason: str = "no_data"):
        self.writer = writer
        self.kind = kind
        self.rate_hz = rate_hz
        self.detector = None
        self._detector_factory = detector_factory
        self._backlog: list[tuple[np.ndarray, np.ndarray]] = []   # fed once the rate is known
        self._backlog_n = 0
        self.reorder_us = int(reorder_s * 1e6)
        self.default_gap_reason = default_gap_reason
        self.stats = SinkStats()
        self._pend_t: list[np.ndarray] = []
        self._pend_v: list[np.ndarray] = []
        self._pend_d: list[np.ndarray] = []
        self._pend_n = 0
        self.newest_us: int | None = None
        self.last_us: int | None = None
        self._recent = np.zeros(0, dtype=np.int64)
        self._outages: list[_Outage] = []
        if rate_hz is not None:
            self._make_detector(rate_hz)

    # ------------------------------------------------------------------ input
    @property
    def pending(self) -> int:
        return self._pend_n

    def add(self, t_us: np.ndarray, acc_g: np.ndarray, device_ns: np.ndarray | None = None) -> None:
        """Queue samples: t_us (n,) int64 UTC microseconds, acc_g (n, 3) g, device_ns (n,) or None."""
        t_us = np.asarray(t_us, dtype=np.int64)
        if t_us.size == 0:
            return
        acc_g = np.asarray(acc_g, dtype=np.float64).reshape(-1, 3)
        dev = (np.asarray(device_ns, dtype=np.int64) if device_ns is not None
               else np.full(t_us.size, -1, dtype=np.int64))
        self._pend_t.append(t_us)
        self._pend_v.append(acc_g)
        self._pend_d.append(dev)
        self._pend_n += t_us.size
        top = int(t_us.max())
        self.newest_us = top if self.newest_us is None else max(self.newest_us, top)

    def note_outage(self, reason: str, start_s: float, end_s: float | None = None) -> None:
        """Say why data may be missing from ``start_s`` (UTC s) to ``end_s`` (None: ongoing)."""
        self._outages.append(_Outage(reason, int(round(start_s * 1e6)),
                                     None if end_s is None else int(round(end_s * 1e6))))

    def end_outage(self, reason: str, end_s: float) -> None:
        """Close the ongoing outages of this reason at ``end_s`` (UTC s)."""
        for o in self._outages:
            if o.reason == reason and o.end_us is None:
                o.end_us = int(round(end_s * 1e6))

    # ------------------------------------------------------------------ output
    def flush(self, everything: bool = False) -> int:
        """Write what is older than the reorder window (or everything); return samples written."""
        if not self._pend_n:
            return 0
        t = np.concatenate(self._pend_t)
        v = np.concatenate(self._pend_v)
        d = np.concatenate(self._pend_d)
        order = np.argsort(t, kind="stable")
        t, v, d = t[order], v[order], d[order]
        cut = t.size if everything else int(np.searchsorted(t, self.newest_us - self.reorder_us, side="right"))
        self._pend_t, self._pend_v, self._pend_d = [t[cut:]], [v[cut:]], [d[cut:]]
        self._pend_n = t.size - cut
        t, v, d = t[:cut], v[:cut], d[:cut]
        if t.size == 0:
            return 0
        # repeated times inside the batch: the first arrival wins
        first = np.ones(t.size, dtype=bool)
        first[1:] = t[1:] != t[:-1]
        self.stats.duplicates += int((~first).sum())
        t, v, d = t[first], v[first], d[first]
        if self.last_us is not None:
            old = t <= self.last_us
            if old.any():
                dup = np.isin(t[old], self._recent)
                self.stats.duplicates += int(dup.sum())
                self.stats.late += int((~dup).sum())
                t, v, d = t[~old], v[~old], d[~old]
        if t.size == 0:
            return 0
        self._record_gaps(t)
        secs = t / 1e6
        has_dev = d[0] >= 0 and d[-1] >= 0
        self.writer.append(secs, v, kind=self.kind,
                           device_t0_ns=int(d[0]) if has_dev else None,
                           device_t_last_ns=int(d[-1]) if has_dev else None)
        self._detect(secs, v)
        self.last_us = int(t[-1])
        self._recent = np.concatenate([self._recent, t])[-RECENT_TIMES:]
        self.stats.samples += int(t.size)
        # an outage that ended before the last written sample can explain no later gap;
        # an ongoing one stays until its source closes it (end_outage)
        self._outages = [o for o in self._outages if o.end_us is None or o.end_us >= self.last_us]
        return int(t.size)

    def _record_gaps(self, t: np.ndarray) -> None:
        limit = int(max(0.1, 5.0 / self.rate_hz if self.rate_hz else 0.1) * 1e6)
        prev = np.concatenate([[self.last_us], t[:-1]]) if self.last_us is not None else t[:-1]
        nxt = t if self.last_us is not None else t[1:]
        for k in np.flatnonzero(nxt - prev > limit):
            a, b = int(prev[k]), int(nxt[k])
            reason = self._reason_for(a, b)
            self.writer.add_gap(a / 1e6, b / 1e6, reason, kind=self.kind)
            self.stats.gaps.append((a / 1e6, b / 1e6, reason))

    def _reason_for(self, a_us: int, b_us: int) -> str:
        for o in self._outages:
            if o.start_us <= b_us and (o.end_us is None or o.end_us >= a_us):
                return o.reason
        return self.default_gap_reason

    # ------------------------------------------------------------------ detection
    def _make_detector(self, rate_hz: float) -> None:
        self.rate_hz = rate_hz
        if self._detector_factory is not None:
            self.detector = self._detector_factory(rate_hz)

    def _detect(self, secs: np.ndarray, v: np.ndarray) -> None:
        if self._detector_factory is None:
            if self.rate_hz is None:
                self._probe_rate(secs, v, keep=False)
            return
        if self.detector is None:
            self._probe_rate(secs, v, keep=True)
            return
        self._feed(secs, v)

    def _probe_rate(self, secs, v, *, keep: bool) -> None:
        self._backlog.append((secs, v))
        self._backlog_n += secs.size
        if self._backlog_n < RATE_PROBE_SAMPLES:
            return
        t = np.concatenate([b[0] for b in self._backlog])
        rate = round(1.0 / float(np.median(np.diff(t))), 2)
        log.info("%s: measured rate %.2f Hz", self.kind, rate)
        backlog, self._backlog, self._backlog_n = self._backlog, [], 0
        self._make_detector(rate)
        if keep:
            for s, x in backlog:
                self._feed(s, x)

    def _feed(self, secs, v) -> None:
        for ev in self.detector.feed(secs, v[:, 0], v[:, 1], v[:, 2]):
            self.stats.jerks += ev.kind == "jerk"

    def close(self) -> None:
        """Write everything still waiting; a detector still probing gets what there is."""
        self.flush(everything=True)
        if self._backlog and self._detector_factory is not None and self._backlog_n >= 2:
            t = np.concatenate([b[0] for b in self._backlog])
            rate = round(1.0 / float(np.median(np.diff(t))), 2)
            backlog, self._backlog, self._backlog_n = self._backlog, [], 0
            self._make_detector(rate)
            for s, x in backlog:
                self._feed(s, x)
