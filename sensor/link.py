"""The BLE link the recording session talks to: a thin wrapper around bleak.

The session only needs connect, notify, read, write and disconnect, plus a callback when
the link drops.  :class:`BleakLink` gives that over real bleak (BlueZ over D-Bus on
Linux); tests script a fake with the same methods.  bleak is imported on use, so
``import sensor`` stays light.
"""
from __future__ import annotations

import logging
from typing import Callable, Protocol

from .errors import SensorError

log = logging.getLogger(__name__)

NotifyCallback = Callable[[bytes], None]


class LinkError(SensorError):
    """Connecting, reading or writing failed (the session decides whether to retry)."""


class NoAdapterError(SensorError):
    """No usable Bluetooth adapter or BlueZ; the message says what to install or enable."""


class Link(Protocol):
    address: str
    name: str

    async def connect(self, timeout_s: float) -> None: ...
    async def start_notify(self, uuid: str, callback: NotifyCallback) -> None: ...
    async def read(self, uuid: str) -> bytes: ...
    async def write(self, uuid: str, data: bytes) -> None: ...
    async def disconnect(self) -> None: ...
    @property
    def is_connected(self) -> bool: ...
    def on_disconnect(self, callback: Callable[[], None]) -> None: ...


class BleakLink:
    """A :class:`Link` over bleak.  ``device`` is the BLEDevice found by a scan (bleak
    wants the scanned object, not an address string)."""

    def __init__(self, device, *, adapter: str | None = None):
        self._device = device
        self._adapter = adapter
        self._client = None
        self._on_disconnect: Callable[[], None] | None = None
        self.address = getattr(device, "address", str(device))
        self.name = getattr(device, "name", None) or self.address

    def on_disconnect(self, callback: Callable[[], None]) -> None:
        self._on_disconnect = callback

    def _disconnected(self, _client) -> None:
        if self._on_disconnect is not None:
            self._on_disconnect()

    async def connect(self, timeout_s: float) -> None:
        from bleak import BleakClient
        from bleak.exc import BleakError

        kwargs = {"bluez": {"adapter": self._adapter}} if self._adapter else {}
        self._client = BleakClient(self._device, disconnected_callback=self._disconnected,
                                   timeout=timeout_s, **kwargs)
        try:
            await self._client.connect()
        except (BleakError, TimeoutError, OSError) as exc:
            raise LinkError(f"cannot connect to {self.name}: {exc}") from exc

    async def start_notify(self, uuid: str, callback: NotifyCallback) -> None:
        from bleak.exc import BleakError

        try:
            await self._client.start_notify(uuid, lambda _char, data: callback(bytes(data)))
        except (BleakError, TimeoutError, OSError) as exc:
            raise LinkError(f"cannot subscribe to {uuid}: {exc}") from exc

    async def read(self, uuid: str) -> bytes:
        from bleak.exc import BleakError

        try:
            return bytes(await self._client.read_gatt_char(uuid))
        except (BleakError, TimeoutError, OSError) as exc:
            raise LinkError(f"cannot read {uuid}: {exc}") from exc

    async def write(self, uuid: str, data: bytes) -> None:
        from bleak.exc import BleakError

        try:
            await self._client.write_gatt_char(uuid, data, response=True)
        except (BleakError, TimeoutError, OSError) as exc:
            raise LinkError(f"cannot write {uuid}: {exc}") from exc

    async def disconnect(self) -> None:
        if self._client is not None:
            try:
                await self._client.disconnect()
            except Exception as exc:  # noqa: BLE001 - a dying link may fail any way; log and go on
                log.info("disconnect of %s failed: %s", self.name, exc)

    @property
    def is_connected(self) -> bool:
        return bool(self._client is not None and self._client.is_connected)


async def scan(timeout_s: float = 5.0, *, adapter: str | None = None):
    """Discover nearby devices: a list of (BLEDevice, AdvertisementData).

    Raises NoAdapterError with a fix when there is no Bluetooth stack to talk to.
    """
    try:
        from bleak import BleakScanner
        from bleak.exc import BleakError
    except ImportError as exc:  # pragma: no cover - bleak is a dependency
        raise NoAdapterError("bleak is not installed: pip install bleak") from exc
    kwargs = {"bluez": {"adapter": adapter}} if adapter else {}
    try:
        found = await BleakScanner.discover(timeout=timeout_s, return_adv=True, **kwargs)
    except (BleakError, OSError, FileNotFoundError) as exc:
        raise NoAdapterError(
            f"no Bluetooth adapter is usable ({exc}); on Linux install and start BlueZ "
            f"(apt-get install bluez; systemctl start bluetooth) and check `bluetoothctl show`"
        ) from exc
    except Exception as exc:  # dbus-fast raises its own errors when there is no bus
        if "dbus" in type(exc).__module__.lower() or "DBus" in type(exc).__name__:
            raise NoAdapterError(
                f"cannot reach BlueZ over D-Bus ({exc}); start the system bus and bluetoothd") from exc
        raise
    return list(found.values())
