"""The phone as the sensor, live over Wi-Fi.

Two widely used phone apps stream over the local network instead of BLE:

* Sensor Logger pushes JSON batches over HTTP (``sensorlogger_push`` parses them,
  ``receiver`` is the aiohttp server, ``sensorlogger_session`` records them);
* phyphox offers a REST remote-access interface (``phyphox_client`` polls it,
  ``phyphox_session`` records it).

Both end in the same place as a BLE band: a night file (``NightWriter``) and the live
``Detector``, through one :class:`~sensor.wifi.sink.ChannelSink` per acceleration stream,
which puts samples in time order, drops duplicates and records gaps with their reasons.
``record`` holds the entry points the command line calls.

Nothing here imports aiohttp at package import time.
"""
from __future__ import annotations

from .errors import ForeignDeviceError, PayloadError, PhyphoxError, WifiError

__all__ = ["WifiError", "PayloadError", "ForeignDeviceError", "PhyphoxError"]
