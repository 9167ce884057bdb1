"""Map a device's clock to UTC from host receive times, robust to bursty delivery.

BLE delivers notifications late and in bursts: a host receive time is the true time plus
a latency that is never negative and often large.  So the mapping follows the lower
envelope of (host time - device time): in each ``SEGMENT_S`` of device time the smallest
difference is kept, and a straight line (offset and drift) is fitted through the minima
of the last ``WINDOW_SEGMENTS`` segments.  Device clocks drift by tens of ppm; the line
follows that.  A jump of the device clock (a reset, a clock set) shows as a difference
far from the line and starts a new fit.

State is explicit and small.  The output never jumps: when a refit moves the line, the
mapping slews towards it by at most ``SLEW`` of the elapsed device time (like adjtime),
so timestamps stay strictly increasing with spacings within 1 % of the device's.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

#: Device-time length of one envelope segment (s): several notifications per segment.
SEGMENT_S = 10.0
#: Segments in the fit: 30 min of history follows drift without chasing noise.
WINDOW_SEGMENTS = 180
#: A difference this far below or above the line is a clock jump, not latency (s).
JUMP_S = 2.0
#: Largest share of elapsed time by which the output may be corrected towards the fit.
SLEW = 0.01


@dataclass
class ClockMap:
    """Device nanoseconds -> Unix seconds."""

    seg_dev: list = field(default_factory=list)      # device time (s) of each segment's minimum
    seg_min: list = field(default_factory=list)      # smallest host - device in that segment (s)
    cur_seg: int | None = None
    offset: float | None = None                      # host = offset + dev * (1 + drift) at dev=ref
    drift: float = 0.0
    ref_dev: float = 0.0
    last_utc: float | None = None
    last_dev: float | None = None
    jumps: int = 0

    def observe(self, device_ns: int, host_utc_s: float) -> bool:
        """Add one (device time of a notification's last sample, host receive time) pair.

        Returns True when the pair revealed a jump of the device clock (fit restarted).
        """
        dev = device_ns / 1e9
        diff = host_utc_s - dev
        jumped = False
        if self.offset is not None:
            pred = self._line(dev) - dev
            if diff < pred - JUMP_S or diff > pred + 60.0:
                # below the envelope by more than any clock error, or later than any
                # plausible latency: the device clock moved
                self.seg_dev.clear()
                self.seg_min.clear()
                self.cur_seg = None
                self.offset = None
                self.jumps += 1
                self.last_dev = None  # continuity across a jump would be wrong
                jumped = True
        seg = int(dev // SEGMENT_S)
        if seg != self.cur_seg:
            self.cur_seg = seg
            self.seg_dev.append(dev)
            self.seg_min.append(diff)
            if len(self.seg_dev) > WINDOW_SEGMENTS:
                del self.seg_dev[0]
                del self.seg_min[0]
        elif diff < self.seg_min[-1]:
            self.seg_dev[-1] = dev
            self.seg_min[-1] = diff
        self._fit()
        return jumped

    def _fit(self) -> None:
        d = np.asarray(self.seg_dev)
        m = np.asarray(self.seg_min)
        self.ref_dev = float(d[-1])
        if d.size < 3 or d[-1] - d[0] < 60.0:
            # too little history for a drift: the lowest difference seen is the offset
            self.drift = 0.0
            self.offset = float(m.min()) + self.ref_dev
            return
        x = d - self.ref_dev
        slope, icpt = np.polyfit(x, m, 1)
        # the envelope line must lie under every kept minimum
        icpt += float(np.min(m - (icpt + slope * x)))
        self.drift = float(slope)
        self.offset = float(icpt) + self.ref_dev

    def _line(self, dev_s):
        return self.offset + (np.asarray(dev_s) - self.ref_dev) * (1.0 + self.drift)

    def to_utc(self, device_ns: np.ndarray) -> np.ndarray:
        """Map device times (ns, increasing, after the previous call's) to Unix seconds.

        Continuous with the previous call: the first sample lands where the last mapping
        extrapolates, and the difference to the current fit shrinks by SLEW per second.
        """
        if self.offset is None:
            raise RuntimeError("ClockMap.to_utc before any observation")
        dev = np.asarray(device_ns, dtype=np.float64) / 1e9
        fit = self._line(dev)
        if self.last_dev is None:
            corr = 0.0
        else:
            elapsed = dev[0] - self.last_dev
            corr = self.last_utc + elapsed * (1.0 + self.drift) - fit[0]
            step = SLEW * max(elapsed, 0.0)
            corr -= min(max(corr, -step), step)
        t = fit + corr
        self.last_utc = float(t[-1])
        self.last_dev = float(dev[-1])
        return t
