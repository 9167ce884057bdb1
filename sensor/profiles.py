"""Device profiles: how to start, decode and stop one kind of band over a :class:`Link`.

A profile turns notifications into (device times in ns, acceleration in g).  The
session owns the queue, the clock, the night file and the detector.
"""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Callable

import numpy as np

from . import polar
from .errors import ControlPointError, DecodeError, SensorError

log = logging.getLogger(__name__)

#: How long a device has to answer a control point write (s).
CP_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class Decoded:
    device_ns: np.ndarray     # (n,) int64 device clock of each sample
    acc_g: np.ndarray         # (n, 3) float64 g


class UnsupportedDeviceError(SensorError):
    """The device does not offer what twitchwatch needs (an accelerometer stream)."""


class PolarProfile:
    """Polar H10 / Verity Sense / OH1 over the PMD service (sensor/polar.py decodes)."""

    name = "polar"
    service_uuid = polar.PMD_SERVICE_UUID

    def __init__(self, rate_hz: int = 100, range_g: int = 8):
        self.rate_hz = int(rate_hz)
        self.range_g = int(range_g)
        self.factor = 1.0
        self._ts = polar.PmdTimestamper()
        self._cp: asyncio.Queue | None = None
        self.on_device_stop: Callable[[], None] | None = None

    @staticmethod
    def matches(name: str | None, service_uuids) -> bool:
        uuids = {u.lower() for u in (service_uuids or ())}
        return polar.PMD_SERVICE_UUID in uuids or bool(name and name.startswith("Polar"))

    def settings(self) -> dict:
        return {"rate_hz": self.rate_hz, "range_g": self.range_g, "factor": self.factor}

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
        if self._cp is not None:
            self._cp.put_nowait(msg)

    async def _command(self, link, data: bytes, opcode: int):
        await link.write(polar.PMD_CP_UUID, data)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + CP_TIMEOUT_S
        while True:
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise SensorError(f"the device did not answer control point command {opcode} "
                                  f"within {CP_TIMEOUT_S:g} s")
            msg = await asyncio.wait_for(self._cp.get(), remaining)
            if msg.opcode == opcode:
                return msg

    async def start(self, link, on_data: Callable[[bytes], None]) -> None:
        """Subscribe (control point first, as Polar's SDK insists), check the features,
        start ACC, keep the FACTOR the device reports."""
        self._cp = asyncio.Queue()
        self._ts.reset()  # a new stream starts its timestamps from the rate again
        await link.start_notify(polar.PMD_CP_UUID, self._cp_notified)
        await link.start_notify(polar.PMD_DATA_UUID, on_data)
        try:
            features = polar.parse_features(await link.read(polar.PMD_CP_UUID))
        except DecodeError as exc:
            raise UnsupportedDeviceError(f"{link.name} answered the PMD feature read oddly: {exc}") from exc
        if not features.supports(polar.MeasurementType.ACC):
            raise UnsupportedDeviceError(f"{link.name} has no accelerometer stream over PMD")
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


PROFILES = {"polar": PolarProfile}

#: Names accepted by ``record --profile`` (besides ``auto``).
PROFILE_NAMES = tuple(PROFILES)
