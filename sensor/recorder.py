"""Find a band, record it all night into a night file, feed the live detector.

The command line's `record` and `scan` are thin shells around :func:`record` and
:func:`scan_devices`.
"""
from __future__ import annotations

import asyncio
import logging
import signal
from dataclasses import dataclass

from .errors import SensorError
from .link import BleakLink, NoAdapterError, scan
from .profiles import PROFILES
from .session import RecordingSession, SessionSettings, SessionStats

log = logging.getLogger(__name__)

#: One scan while looking for the device (s); scans repeat until it advertises.
SCAN_WINDOW_S = 5.0


class DeviceNotFoundError(SensorError):
    """No advertising device matches the name or address asked for."""


@dataclass(frozen=True)
class FoundDevice:
    device: object          # bleak BLEDevice
    name: str
    address: str
    rssi: int | None
    profile: str | None     # key of PROFILES, or None when unsupported


def _profile_for(name, uuids) -> str | None:
    for key, cls in PROFILES.items():
        if cls.matches(name, uuids):
            return key
    return None


async def scan_devices(timeout_s: float = SCAN_WINDOW_S, *, adapter: str | None = None) -> list[FoundDevice]:
    out = []
    for dev, adv in await scan(timeout_s, adapter=adapter):
        name = adv.local_name or dev.name or ""
        out.append(FoundDevice(dev, name, dev.address, adv.rssi, _profile_for(name, adv.service_uuids)))
    return sorted(out, key=lambda d: (d.profile is None, -(d.rssi or -999)))


def _matches(found: FoundDevice, wanted: str) -> bool:
    w = wanted.lower()
    return found.address.lower() == w or (found.name and w in found.name.lower())


async def find_device(wanted: str, *, adapter: str | None, attempts: int | None = 1) -> FoundDevice:
    """Scan until a device matching ``wanted`` (address, or part of the name) advertises."""
    k = 0
    while attempts is None or k < attempts:
        for d in await scan_devices(SCAN_WINDOW_S, adapter=adapter):
            if _matches(d, wanted):
                return d
        k += 1
    raise DeviceNotFoundError(
        f"no device matching {wanted!r} is advertising; is it on, charged and near? "
        f"`twitchwatch scan` lists what is around")


async def record(*, wanted: str, profile_name: str, rate_hz: int, duration_s: float | None,
                 writer_factory, detector_factory=None, adapter: str | None = None, on_status=None,
                 watchdog_s: float = 5.0) -> tuple[SessionStats, FoundDevice]:
    """Record until the duration ends or SIGINT/SIGTERM arrives.

    writer_factory(found: FoundDevice, profile) -> an open NightWriter (called once the
    device is found, before it is connected: the session then replaces the device settings
    and the channel's rate and range with what the stream negotiated).
    detector_factory(rate_hz) -> a Detector, or None for no live detection; called at the
    first sample with the negotiated rate (a Movesense asked for 100 Hz streams 104 Hz).
    """
    found = await find_device(wanted, adapter=adapter)
    key = found.profile if profile_name == "auto" else profile_name
    if key not in PROFILES:
        raise SensorError(
            f"{found.name or found.address} is not a supported device (profiles: {', '.join(PROFILES)}); "
            f"pass --profile if you know what it speaks")
    profile = PROFILES[key](rate_hz=rate_hz)
    first = {"used": False}

    async def link_factory():
        if not first["used"]:
            first["used"] = True
            return BleakLink(found.device, adapter=adapter)
        # after a drop, wait for the band to advertise again (it may be out of range)
        again = await find_device(found.address, adapter=adapter, attempts=None)
        return BleakLink(again.device, adapter=adapter)

    writer = writer_factory(found, profile)
    session = RecordingSession(link_factory, profile, writer, None,
                               SessionSettings(rate_hz=float(rate_hz), duration_s=duration_s,
                                               watchdog_s=watchdog_s),
                               on_status=on_status, detector_factory=detector_factory)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, session.request_stop)
        except (NotImplementedError, RuntimeError):  # pragma: no cover - non-Unix
            pass
    try:
        stats = await session.run()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.remove_signal_handler(sig)
            except (NotImplementedError, RuntimeError):  # pragma: no cover
                pass
        writer.close()
    return stats, found


__all__ = ["scan_devices", "find_device", "record", "FoundDevice", "DeviceNotFoundError", "NoAdapterError"]
