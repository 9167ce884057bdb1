"""A BlueZ GATT server and LE advertisement over D-Bus, with dbus-fast.

The objects a peripheral program exports so that BlueZ (or BlueZoo, its user-space mock)
serves them over the air (BlueZ doc: org.bluez.GattManager, GattService, GattCharacteristic,
LEAdvertisingManager, LEAdvertisement)::

    <app>                      ObjectManager (dbus-fast answers GetManagedObjects for any path)
    <app>/serviceN             org.bluez.GattService1         UUID, Primary
    <app>/serviceN/charM       org.bluez.GattCharacteristic1  UUID, Service, Flags, Value,
                                                              Notifying; ReadValue, WriteValue,
                                                              StartNotify, StopNotify, Confirm
    <adv>                      org.bluez.LEAdvertisement1     Type, LocalName, ServiceUUIDs, ...

A notification is a PropertiesChanged signal for ``Value`` while ``Notifying`` is true;
BlueZ forwards it to the connected central.  Nothing here is specific to BlueZoo: the same
objects register with a real bluetoothd.

This module deliberately does not use ``from __future__ import annotations``: dbus-fast reads
the D-Bus signatures from the annotation strings.
"""
import asyncio
import logging
from typing import Any, Awaitable, Callable, Optional, Union

from dbus_fast import Variant
from dbus_fast.aio import MessageBus
from dbus_fast.constants import PropertyAccess
from dbus_fast.service import ServiceInterface, dbus_property, method

log = logging.getLogger(__name__)

BLUEZ = "org.bluez"
GATT_MANAGER = "org.bluez.GattManager1"
ADV_MANAGER = "org.bluez.LEAdvertisingManager1"

ReadHandler = Callable[[dict], Union[bytes, Awaitable[bytes]]]
WriteHandler = Callable[[bytes, dict], Union[None, Awaitable[None]]]
NotifyHandler = Callable[[bool], None]


def _plain_options(options: dict) -> dict:
    """a{sv} options as plain Python values."""
    return {k: (v.value if isinstance(v, Variant) else v) for k, v in (options or {}).items()}


class Characteristic(ServiceInterface):
    """org.bluez.GattCharacteristic1, served by this process.

    ``on_read(options) -> bytes`` answers ReadValue (default: the current value);
    ``on_write(value, options)`` receives WriteValue; ``on_notify(bool)`` is told when a
    client subscribes or unsubscribes.  Handlers may be coroutines.
    """

    def __init__(self, path: str, uuid: str, service_path: str, flags: list[str], *,
                 value: bytes = b"", on_read: Optional[ReadHandler] = None,
                 on_write: Optional[WriteHandler] = None,
                 on_notify: Optional[NotifyHandler] = None) -> None:
        super().__init__("org.bluez.GattCharacteristic1")
        self.path = path
        self.uuid = uuid
        self.service_path = service_path
        self.flags = list(flags)
        self._value = bytes(value)
        self._notifying = False
        self.on_read = on_read
        self.on_write = on_write
        self.on_notify = on_notify
        self.notifications_sent = 0

    # --- D-Bus methods -------------------------------------------------------------
    @method()
    async def ReadValue(self, options: "a{sv}") -> "ay":  # noqa: N802,F821
        opts = _plain_options(options)
        if self.on_read is None:
            value = self._value
        else:
            value = self.on_read(opts)
            if asyncio.iscoroutine(value):
                value = await value
        offset = int(opts.get("offset", 0) or 0)
        return bytes(value)[offset:]

    @method()
    async def WriteValue(self, value: "ay", options: "a{sv}"):  # noqa: N802,F821
        if self.on_write is not None:
            result = self.on_write(bytes(value), _plain_options(options))
            if asyncio.iscoroutine(result):
                await result

    @method()
    def StartNotify(self):  # noqa: N802
        if self._notifying:
            return
        self.set_notifying(True)

    @method()
    def StopNotify(self):  # noqa: N802
        if not self._notifying:
            return
        self.set_notifying(False)

    @method()
    def Confirm(self):  # noqa: N802
        # Indication confirmed by the central (BlueZ calls this; BlueZoo for every value).
        pass

    # --- D-Bus properties ----------------------------------------------------------
    @dbus_property(access=PropertyAccess.READ)
    def UUID(self) -> "s":  # noqa: N802,F821
        return self.uuid

    @dbus_property(access=PropertyAccess.READ)
    def Service(self) -> "o":  # noqa: N802,F821
        return self.service_path

    @dbus_property(access=PropertyAccess.READ)
    def Flags(self) -> "as":  # noqa: N802,F821,F722
        return self.flags

    @dbus_property(access=PropertyAccess.READ)
    def Value(self) -> "ay":  # noqa: N802,F821
        return self._value

    @dbus_property(access=PropertyAccess.READ)
    def Notifying(self) -> "b":  # noqa: N802,F821
        return self._notifying

    # --- local API -----------------------------------------------------------------
    @property
    def notifying(self) -> bool:
        return self._notifying

    def set_notifying(self, on: bool) -> None:
        """Change the subscription state and tell BlueZ (also used to reset on disconnect)."""
        on = bool(on)
        if on == self._notifying:
            return
        self._notifying = on
        self.emit_properties_changed({"Notifying": on})
        if self.on_notify is not None:
            self.on_notify(on)

    def notify(self, value: bytes) -> bool:
        """Send one notification; False (nothing sent) when no client is subscribed."""
        self._value = bytes(value)
        if not self._notifying:
            return False
        self.emit_properties_changed({"Value": self._value})
        self.notifications_sent += 1
        return True


class Service(ServiceInterface):
    """org.bluez.GattService1 (primary)."""

    def __init__(self, path: str, uuid: str, primary: bool = True) -> None:
        super().__init__("org.bluez.GattService1")
        self.path = path
        self.uuid = uuid
        self.primary = primary
        self.characteristics: list[Characteristic] = []

    @dbus_property(access=PropertyAccess.READ)
    def UUID(self) -> "s":  # noqa: N802,F821
        return self.uuid

    @dbus_property(access=PropertyAccess.READ)
    def Primary(self) -> "b":  # noqa: N802,F821
        return self.primary

    def add_characteristic(self, uuid: str, flags: list[str], **kwargs: Any) -> Characteristic:
        char = Characteristic(f"{self.path}/char{len(self.characteristics)}", uuid, self.path,
                              flags, **kwargs)
        self.characteristics.append(char)
        return char


class Advertisement(ServiceInterface):
    """org.bluez.LEAdvertisement1: a connectable ('peripheral') advertisement.

    No ManufacturerData: BlueZoo 1.0 declares it a{sv} instead of BlueZ's a{qv} and then
    fails to serve the device's properties.  ServiceData (a{sv} in both) works.
    """

    def __init__(self, path: str, local_name: str, service_uuids: list[str],
                 service_data: Optional[dict[str, bytes]] = None) -> None:
        super().__init__("org.bluez.LEAdvertisement1")
        self.path = path
        self.local_name = local_name
        self.service_uuids = list(service_uuids)
        self.service_data = dict(service_data or {})
        self.released = False

    @method()
    def Release(self):  # noqa: N802
        self.released = True

    @dbus_property(access=PropertyAccess.READ)
    def Type(self) -> "s":  # noqa: N802,F821
        return "peripheral"

    @dbus_property(access=PropertyAccess.READ)
    def LocalName(self) -> "s":  # noqa: N802,F821
        return self.local_name

    @dbus_property(access=PropertyAccess.READ)
    def ServiceUUIDs(self) -> "as":  # noqa: N802,F821,F722
        return self.service_uuids

    @dbus_property(access=PropertyAccess.READ)
    def ServiceData(self) -> "a{sv}":  # noqa: N802,F821,F722
        return {k: Variant("ay", v) for k, v in self.service_data.items()}

    def set_service_data(self, data: dict[str, bytes]) -> None:
        """Change the advertised service data (PropertiesChanged: BlueZ re-reads it)."""
        self.service_data = dict(data)
        self.emit_properties_changed({"ServiceData": {
            k: Variant("ay", v) for k, v in self.service_data.items()}})

    @dbus_property(access=PropertyAccess.READ)
    def Discoverable(self) -> "b":  # noqa: N802,F821
        # General discoverable: BlueZoo's scanner reports the advertisement only then
        # (or when the whole adapter is discoverable).
        return True


class GattApplication:
    """A set of services exported under ``path``, registered with GattManager1 on an adapter."""

    def __init__(self, bus: MessageBus, path: str, adapter_path: str) -> None:
        self.bus = bus
        self.path = path
        self.adapter_path = adapter_path
        self.services: list[Service] = []
        self.registered = False
        self._exported = False

    def add_service(self, uuid: str, primary: bool = True) -> Service:
        service = Service(f"{self.path}/service{len(self.services)}", uuid, primary)
        self.services.append(service)
        return service

    def export(self) -> None:
        if self._exported:
            return
        for service in self.services:
            self.bus.export(service.path, service)
            for char in service.characteristics:
                self.bus.export(char.path, char)
        self._exported = True

    def unexport(self) -> None:
        if not self._exported:
            return
        for service in self.services:
            for char in service.characteristics:
                self.bus.unexport(char.path, char)
            self.bus.unexport(service.path, service)
        self._exported = False

    async def register(self) -> None:
        """Export the objects and call GattManager1.RegisterApplication on the adapter."""
        self.export()
        manager = await _interface(self.bus, self.adapter_path, GATT_MANAGER)
        await manager.call_register_application(self.path, {})
        self.registered = True

    async def unregister(self) -> None:
        if not self.registered:
            return
        self.registered = False
        manager = await _interface(self.bus, self.adapter_path, GATT_MANAGER)
        await manager.call_unregister_application(self.path)


class AdvertisementHandle:
    """Registers and unregisters one advertisement with LEAdvertisingManager1."""

    def __init__(self, bus: MessageBus, adv: Advertisement, adapter_path: str) -> None:
        self.bus = bus
        self.adv = adv
        self.adapter_path = adapter_path
        self.registered = False
        bus.export(adv.path, adv)

    async def register(self) -> None:
        if self.registered:
            return
        manager = await _interface(self.bus, self.adapter_path, ADV_MANAGER)
        await manager.call_register_advertisement(self.adv.path, {})
        self.registered = True

    async def unregister(self) -> None:
        if not self.registered:
            return
        self.registered = False
        manager = await _interface(self.bus, self.adapter_path, ADV_MANAGER)
        await manager.call_unregister_advertisement(self.adv.path)


async def _interface(bus: MessageBus, path: str, name: str):
    """A proxy for interface ``name`` of org.bluez at ``path``."""
    intro = await bus.introspect(BLUEZ, path)
    return bus.get_proxy_object(BLUEZ, path, intro).get_interface(name)


__all__ = ["Characteristic", "Service", "Advertisement", "GattApplication",
           "AdvertisementHandle", "BLUEZ"]
