"""Typed errors of the Wi-Fi sources (subclasses of :class:`sensor.errors.SensorError`,
so the command line turns them into one line and exit status 2)."""
from __future__ import annotations

from ..errors import SensorError


class WifiError(SensorError):
    """A Wi-Fi source cannot be used as asked (bad --listen, unreachable phone, ...)."""


class PayloadError(WifiError, ValueError):
    """A pushed batch is not a Sensor Logger message (the receiver answers 400)."""


class ForeignDeviceError(WifiError):
    """A batch came from a second phone (another deviceId) than the one being recorded
    (the receiver answers 409; one phone per recording)."""


class PhyphoxError(WifiError):
    """phyphox answered, but not with what a recording needs (wrong experiment, bad JSON)."""
