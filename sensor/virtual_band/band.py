"""The virtual band: a simulated band that is a real BlueZ peripheral over D-Bus.

``run_virtual_band(settings)`` connects to the system bus (``DBUS_SYSTEM_BUS_ADDRESS``),
registers a GATT application (the profile's service with its control and data
characteristics, Device Information, Battery) and a connectable LE advertisement on
``settings.adapter``, then behaves like the device: answers control writes, streams ACC
from its content at the requested rate, and injects the faults of ``settings.faults``.
Everything it sends (and loses) goes to a :class:`GroundTruth`.

``settings.profile`` picks what it speaks (models.py): ``polar-h10`` (PMD, raw int16 mG
frames), ``polar-verity`` (PMD, delta-compressed frames, SDK mode), ``open-imu`` (the
open twitchwatch IMU profile) or ``movesense`` (the GATT SensorData protocol).

Clocks.  *Device time* is the band's own clock in ns (for Polar: since 2000-01-01; for
the others: since the band started, which each model turns into its own time base):
``clock_start_ns`` at band start, advancing ``speed`` device-seconds per wall second, plus
any ``jump`` faults.  *Content time* is seconds of the replayed night since
the content origin (the first stream start, or band start); it runs at the same rate and
keeps running whether or not anything streams, so the samples of a disconnection are lost
as they are with a real band.  Sample ``j`` of a stream started at content time c0 and
device time t0 replays source sample ``floor(c0 * src_rate) + floor(j * src_rate / fs)``
and carries device time ``t0 + round((j + 1) * 1e9 / fs)``; a frame is sent as soon as its
last sample's content time has passed (paced in wall time by ``speed``).

BlueZoo (the user-space BlueZ mock the tests run against) differs from bluetoothd in ways
the band papers over when it detects BlueZoo (object /org/bluezoo on org.bluez; setting
``bluezoo_workarounds``):

* a peripheral's Device1.Disconnect does not reach the central's side: to drop a link the
  band calls Adapter1.RemoveDevice on the *central's* adapter for the device object that
  represents the band there (the central sees Connected=False, then the device vanish);
* after any disconnection BlueZoo keeps the previous connection's GATT objects exported
  and cannot export them again (reconnecting fails with "File exists"), and a device it
  already knows is not reported again by a scan: so after every disconnection the band
  removes the central's device object (as above) and re-registers its GATT application
  (new attribute handles, new object paths).  The central must scan again to reconnect,
  and a new bleak manager (a new event loop or process) connecting to the same BlueZoo
  would see the stale services too: restart BlueZoo between tests (the test harness does).

On a real BlueZ none of this happens: the band disconnects a central with Device1.Disconnect
on its own adapter's device object.
"""
from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import math
import os
import time
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, Optional

import numpy as np

from .device import StreamConfig
from .faults import Fault, parse_faults
from .models import make_model
from .profiles import BAND_PROFILES
from .source import SampleSource, csv_source, default_night_settings, night_source
from .truth import FrameRecord, GroundTruth

log = logging.getLogger(__name__)

NS_PER_S = 1_000_000_000

DIS_UUID = "0000180a-0000-1000-8000-00805f9b34fb"
BATTERY_UUID = "0000180f-0000-1000-8000-00805f9b34fb"
MANUFACTURER_UUID = "00002a29-0000-1000-8000-00805f9b34fb"
MODEL_NUMBER_UUID = "00002a24-0000-1000-8000-00805f9b34fb"
FIRMWARE_UUID = "00002a26-0000-1000-8000-00805f9b34fb"
SERIAL_UUID = "00002a25-0000-1000-8000-00805f9b34fb"
BATTERY_LEVEL_UUID = "00002a19-0000-1000-8000-00805f9b34fb"

# How often the advertisement's payload changes (wall seconds): see _refresh_advertisement.
ADV_REFRESH_S = 0.5

DEVICE1 = "org.bluez.Device1"
ADAPTER1 = "org.bluez.Adapter1"


@dataclass(frozen=True)
class VirtualBandSettings:
    """Everything a virtual band run depends on.

    Content (first that is set): ``samples_mg`` ((n, 3) int mG; in-process only),
    ``csv_path`` (canonical CSV), ``night`` (a twitchwatch NightSettings); none: a short
    simulated night (about 20 min at 100 Hz, see source.default_night_settings(seed)).
    ``source_rate_hz`` overrides the content's nominal rate.
    """

    adapter: str = "hci1"
    profile: str = "polar-h10"              # what it speaks: a key of BAND_PROFILES
    serial: str = "TW0001"
    name: Optional[str] = None              # default "<profile's name prefix> <serial>"
    night: Any = None                       # twitchwatch.simulate.NightSettings
    csv_path: Optional[str] = None
    samples_mg: Any = None
    source_rate_hz: Optional[float] = None
    speed: float = 1.0                      # device seconds per wall second
    faults: Any = ""                        # spec string or Fault objects (see faults.py)
    content_origin: str = "first_stream"    # or "band"
    loop: bool = False                      # replay the content again at its end
    clock_start_ns: Optional[int] = None    # None: drawn from seed (Polar: 2020-2025 in ns
                                            # since 2000; others: 1 h-10 days since start)
    seed: int = 0
    mtu: int = 232                          # what an H10 negotiates; sets samples per frame
    samples_per_frame: Optional[int] = None
    factor: Optional[float] = 1.0           # FACTOR record of the start response
    battery_percent: int = 100
    truth_path: Optional[str] = None        # JSON-lines ground truth
    log_samples: bool = False               # sample values in the JSON lines too
    bluezoo_workarounds: str = "auto"       # "auto" | "on" | "off"

    def __post_init__(self) -> None:
        if not (math.isfinite(self.speed) and self.speed > 0):
            raise ValueError(f"speed must be positive, got {self.speed}")
        if self.content_origin not in ("first_stream", "band"):
            raise ValueError("content_origin must be 'first_stream' or 'band'")
        if self.profile not in BAND_PROFILES:
            raise ValueError(f"unknown profile {self.profile!r}; known: {', '.join(BAND_PROFILES)}")
        if self.bluezoo_workarounds not in ("auto", "on", "off"):
            raise ValueError("bluezoo_workarounds must be 'auto', 'on' or 'off'")
        parse_faults(self.faults)  # validate early
        if self.samples_per_frame is not None and not 1 <= self.samples_per_frame <= 83:
            raise ValueError("samples_per_frame must be 1-83 (a frame is at most 512 bytes)")

    def model(self):
        """A new device model for this profile (models.py)."""
        return make_model(self.profile, factor=self.factor, battery_percent=self.battery_percent)

    @property
    def local_name(self) -> str:
        return self.name or f"{self.model().name_prefix} {self.serial}"

    def fault_list(self) -> tuple[Fault, ...]:
        return parse_faults(self.faults)

    def frame_samples(self, cfg: StreamConfig | None = None) -> int:
        cfg = cfg or StreamConfig(100, 8)
        return self.model().samples_per_frame(self.mtu, cfg, self.samples_per_frame)

    def device_clock_start_ns(self) -> int:
        if self.clock_start_ns is not None:
            return int(self.clock_start_ns)
        return self.model().clock_start_ns(np.random.default_rng([self.seed, 0x7C10C]))

    def load_source(self) -> SampleSource:
        if self.samples_mg is not None:
            return SampleSource(np.asarray(self.samples_mg), float(self.source_rate_hz or 100.0),
                                "array")
        if self.csv_path is not None:
            return csv_source(self.csv_path, self.source_rate_hz)
        night = self.night if self.night is not None else default_night_settings(self.seed)
        src = night_source(night)
        if self.source_rate_hz:
            src = SampleSource(src.samples_mg, float(self.source_rate_hz), src.description)
        return src

    # --- JSON, for a band in a subprocess -----------------------------------------
    def to_json(self) -> str:
        if self.samples_mg is not None:
            raise ValueError("samples_mg cannot cross a process boundary; use csv_path")
        d = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)
             if f.name not in ("night", "samples_mg", "faults")}
        d["faults"] = ",".join(f.spec() for f in self.fault_list())
        d["night"] = None if self.night is None else self.night.to_dict()
        return json.dumps(d)

    @classmethod
    def from_json(cls, text: str) -> "VirtualBandSettings":
        d = json.loads(text)
        night = d.pop("night", None)
        if night is not None:
            from twitchwatch.simulate import NightSettings
            night = NightSettings(**{k: tuple(v) if isinstance(v, list) else v
                                     for k, v in night.items()})
        return cls(night=night, **d)


@dataclass
class _Stream:
    id: int
    cfg: StreamConfig
    t0_ns: int          # device time at start (without later jumps)
    c0: float           # content seconds at start
    k0: int             # source index of sample 0
    clock_offset0: int  # band clock offset (jumps) at start
    next_j: int = 0
    seq: int = 0

    @property
    def fs(self) -> int:
        return self.cfg.sample_rate_hz

    def content_s(self, j: int) -> float:
        """Content time at which sample j has been taken."""
        return self.c0 + (j + 1) / self.fs

    def device_ns(self, j: np.ndarray) -> np.ndarray:
        """Device time of samples j (before jumps), exact for rates dividing 1e9."""
        num = (j.astype(np.int64) + 1) * NS_PER_S
        q, r = np.divmod(num, self.fs)
        # round half to even of num / fs
        up = (2 * r > self.fs) | ((2 * r == self.fs) & (q % 2 == 1))
        return self.t0_ns + q + up


class _Band:
    """One run of the virtual band (see the module docstring)."""

    def __init__(self, settings: VirtualBandSettings, truth: GroundTruth) -> None:
        self.s = settings
        self.truth = truth
        self.faults = list(settings.fault_list())
        self.model = settings.model()
        self.spf = settings.frame_samples()
        self.rng = np.random.default_rng([settings.seed, 0xBAD])
        self.clock0 = settings.device_clock_start_ns()
        self.clock_offset_ns = 0
        self.stream: _Stream | None = None
        self.stream_count = 0
        self.connected: set[str] = set()
        self.drop_until: float | None = None
        self.bluezoo = False
        self.address = ""
        self.adapter_path = f"/org/bluez/{settings.adapter}"
        self.app_path = f"/org/twitchwatch/band_{_path_safe(settings.serial)}"
        self.bus = None
        self.app = None
        self.adv = None
        self.cp = None
        self.data = None
        self.battery = None
        self._wake = asyncio.Event()
        self._stop: asyncio.Event | None = None
        self._tasks: set[asyncio.Task] = set()
        self._relink_lock = asyncio.Lock()
        self.mono0 = time.monotonic()
        self.content_mono0: float | None = None
        self.source: SampleSource | None = None
        self._src_rate: Fraction | None = None
        self._next_fault = 0
        self._closing = False
        self._adv_counter = 0
        self._adv_refreshed = 0.0

    # --- clocks --------------------------------------------------------------------
    def wall_s(self, now: float | None = None) -> float:
        return (time.monotonic() if now is None else now) - self.mono0

    def device_ns(self, now: float | None = None) -> int:
        now = time.monotonic() if now is None else now
        return self.clock0 + int(round((now - self.mono0) * self.s.speed * NS_PER_S)) + \
            self.clock_offset_ns

    def content_s(self, now: float | None = None) -> float | None:
        if self.content_mono0 is None:
            return None
        now = time.monotonic() if now is None else now
        return (now - self.content_mono0) * self.s.speed

    def _wall_at_content(self, c: float) -> float:
        return self.content_mono0 + c / self.s.speed

    def _ev(self, event: str, **fields: Any) -> None:
        now = time.monotonic()
        c = self.content_s(now)
        self.truth.event(event, wall_s=round(self.wall_s(now), 6),
                         content_s=None if c is None else round(c, 6),
                         device_ns=self.device_ns(now), **fields)

    def _spawn(self, coro) -> asyncio.Task:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("virtual band task failed", exc_info=task.exception())
            self._ev("error", message=repr(task.exception()))

    # --- set-up --------------------------------------------------------------------
    async def run(self, ready: asyncio.Event | None, stop: asyncio.Event) -> None:
        from dbus_fast import BusType
        from dbus_fast.aio import MessageBus

        self._stop = stop
        self.truth.open()
        try:
            self.source = await asyncio.to_thread(self.s.load_source)
            self._src_rate = Fraction(self.source.rate_hz).limit_denominator(10 ** 6)
            try:
                self.bus = await MessageBus(bus_type=BusType.SYSTEM).connect()
            except Exception as exc:
                address = os.environ.get("DBUS_SYSTEM_BUS_ADDRESS")
                raise RuntimeError(f"virtual band: cannot connect to the system bus "
                                   f"(DBUS_SYSTEM_BUS_ADDRESS={address!r}): {exc}") from exc
            await self._setup()
            self.mono0 = time.monotonic()
            if self.s.content_origin == "band":
                self.content_mono0 = self.mono0
            self._ev("band_started", local_name=self.s.local_name, address=self.address,
                     adapter=self.s.adapter, source=self.source.description,
                     source_samples=len(self.source), source_rate_hz=self.source.rate_hz,
                     speed=self.s.speed, samples_per_frame=self.spf, clock_start_ns=self.clock0,
                     faults=[dataclasses.asdict(f) for f in self.faults], bluezoo=self.bluezoo)
            if ready is not None:
                ready.set()
            await self._main_loop()
        finally:
            await self._shutdown()

    async def _setup(self) -> None:
        from .gatt import Advertisement, AdvertisementHandle, GattApplication

        props = await self._get_all(self.adapter_path, ADAPTER1)
        if props is None:
            raise RuntimeError(f"virtual band: no Bluetooth adapter {self.s.adapter} on the "
                               f"system bus (is bluetoothd or bluezoo running?)")
        self.address = props["Address"]
        if not props.get("Powered", False):
            await self._call("org.bluez", self.adapter_path, "org.freedesktop.DBus.Properties",
                             "Set", "ssv", [ADAPTER1, "Powered", _variant("b", True)])
        mode = self.s.bluezoo_workarounds
        self.bluezoo = mode == "on" or (mode == "auto" and await self._is_bluezoo())

        self.app = GattApplication(self.bus, self.app_path, self.adapter_path)
        m = self.model
        main = self.app.add_service(m.service_uuid)
        self.cp = main.add_characteristic(m.control_uuid, list(m.control_flags),
                                          on_read=lambda opts: self.model.control_read(),
                                          on_write=self._on_cp_write)
        self.data = main.add_characteristic(m.data_uuid, ["notify"])
        dis = self.app.add_service(DIS_UUID)
        for uuid, text in ((MANUFACTURER_UUID, m.manufacturer), (MODEL_NUMBER_UUID, m.model_number),
                           (FIRMWARE_UUID, "virtual-1")):
            dis.add_characteristic(uuid, ["read"], value=text.encode())
        dis.add_characteristic(SERIAL_UUID, ["read"], value=self.s.serial.encode())
        bat = self.app.add_service(BATTERY_UUID)
        self.battery = bat.add_characteristic(BATTERY_LEVEL_UUID, ["read", "notify"],
                                              value=bytes((self.s.battery_percent,)))
        await self.app.register()

        self.adv = AdvertisementHandle(
            self.bus, Advertisement(f"{self.app_path}/advertisement0", self.s.local_name,
                                    [self.model.service_uuid], self._adv_payload()),
            self.adapter_path)
        await self.adv.register()

        rule = ("type='signal',sender='org.bluez',interface='org.freedesktop.DBus.Properties',"
                f"member='PropertiesChanged',path_namespace='{self.adapter_path}'")
        await self._call("org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                         "AddMatch", "s", [rule])
        self.bus.add_message_handler(self._on_signal)

    async def _is_bluezoo(self) -> bool:
        try:
            reply = await self._call("org.bluez", "/org/bluezoo",
                                     "org.freedesktop.DBus.Introspectable", "Introspect", "", [])
        except RuntimeError:
            return False
        return "org.bluezoo.Manager1" in reply[0]

    # --- D-Bus helpers -------------------------------------------------------------
    async def _call(self, dest: str, path: str, iface: str, member: str, sig: str,
                    body: list) -> list:
        from dbus_fast import Message, MessageType

        reply = await self.bus.call(Message(destination=dest, path=path, interface=iface,
                                            member=member, signature=sig, body=body))
        if reply.message_type == MessageType.ERROR:
            raise RuntimeError(f"{iface}.{member} on {path}: {reply.error_name} {reply.body}")
        return reply.body

    async def _get_all(self, path: str, iface: str) -> dict | None:
        try:
            body = await self._call("org.bluez", path, "org.freedesktop.DBus.Properties",
                                    "GetAll", "s", [iface])
        except RuntimeError:
            return None
        return {k: v.value for k, v in body[0].items()}

    # --- connections ---------------------------------------------------------------
    def _on_signal(self, msg) -> None:
        if msg.member != "PropertiesChanged" or not msg.body or msg.body[0] != DEVICE1:
            return
        changed = msg.body[1]
        if "Connected" not in changed:
            return
        path = msg.path
        if changed["Connected"].value:
            if path not in self.connected:
                self.connected.add(path)
                self._ev("connected", device=path)
                if self._in_drop():
                    self._ev("connection_refused", device=path)
                    self._spawn(self._drop_link())
        elif path in self.connected:
            self.connected.discard(path)
            self._ev("disconnected", device=path)
            if not self.connected:
                self._on_link_lost()
        self._wake.set()

    def _on_link_lost(self) -> None:
        if self.stream is not None:
            self._end_stream("disconnect")
        self.model.streaming = False
        self.model.on_link_lost()
        for char in (self.cp, self.data, self.battery):
            char.set_notifying(False)
        if self.bluezoo and not self._closing:
            self._spawn(self._relink())

    async def _central_mirrors(self) -> list[tuple[str, str]]:
        """(adapter path, device path) of the centrals' device objects that stand for us."""
        body = await self._call("org.bluez", "/", "org.freedesktop.DBus.ObjectManager",
                                "GetManagedObjects", "", [])
        out = []
        for path, ifaces in body[0].items():
            dev = ifaces.get(DEVICE1)
            if dev is None:
                continue
            addr = dev.get("Address")
            adapter = dev.get("Adapter")
            if addr is not None and adapter is not None and addr.value == self.address \
                    and adapter.value != self.adapter_path:
                out.append((adapter.value, path))
        return out

    async def _drop_link(self) -> None:
        """Break the link(s) as a radio loss would."""
        if self.bluezoo:
            for adapter, path in await self._central_mirrors():
                try:
                    await self._call("org.bluez", adapter, ADAPTER1, "RemoveDevice", "o", [path])
                except RuntimeError as exc:
                    self._ev("error", message=str(exc))
        else:
            for path in list(self.connected):
                try:
                    await self._call("org.bluez", path, DEVICE1, "Disconnect", "", [])
                except RuntimeError as exc:
                    self._ev("error", message=str(exc))

    async def _relink(self) -> None:
        """BlueZoo only: let the central forget the old connection and reconnect cleanly."""
        async with self._relink_lock:
            await self._drop_link()
            try:
                await self.app.unregister()
            except RuntimeError:
                pass
            await self.app.register()
            self._ev("gatt_reregistered")

    def _adv_payload(self) -> dict[str, bytes]:
        # Service data under the profile's service UUID: one counter byte, so that the
        # advertisement changes like a real device's (see _refresh_advertisement).
        return {self.model.service_uuid: bytes((self._adv_counter & 0xFF,))}

    def _refresh_advertisement(self, now: float) -> None:
        """Change the advertisement payload now and then while nobody is connected.

        BlueZoo reports a device it already knows to a scanning central only when an
        advertised property changes (a real radio repeats advertisements and BlueZ
        updates RSSI); without this a second scan in the same BlueZoo misses the band.
        """
        if now - self._adv_refreshed < ADV_REFRESH_S or self.connected or \
                not self.adv.registered:
            return
        self._adv_refreshed = now
        self._adv_counter += 1
        self.adv.adv.set_service_data(self._adv_payload())

    def _in_drop(self) -> bool:
        return self.drop_until is not None

    # --- control point -------------------------------------------------------------
    def _on_cp_write(self, value: bytes, options: dict) -> None:
        self._ev("cp_write", hex=value.hex())
        self.model.streaming = self.stream is not None
        outcome = self.model.handle_write(value)
        # The write's reply goes out first, then the indication, as from a device.
        asyncio.get_running_loop().call_soon(self._apply_cp, outcome)

    def _apply_cp(self, outcome) -> None:
        answer_char = self.data if self.model.responses_on == "data" else self.cp
        for resp in outcome.responses:
            delivered = answer_char.notify(resp)
            self._ev("cp_response", hex=resp.hex(), delivered=delivered)
        if outcome.stop and self.stream is not None:
            self._end_stream("client")
        if outcome.start is not None:
            self._start_stream(outcome.start)
        self._wake.set()

    def _start_stream(self, cfg: StreamConfig) -> None:
        now = time.monotonic()
        if self.content_mono0 is None:
            self.content_mono0 = now
        c0 = self.content_s(now)
        self.stream_count += 1
        k0 = math.floor(Fraction(c0) * self._src_rate)
        self.stream = _Stream(self.stream_count, cfg, self.device_ns(now), c0, k0,
                              self.clock_offset_ns)
        self.spf = self.model.samples_per_frame(self.s.mtu, cfg, self.s.samples_per_frame)
        self.model.streaming = True
        self._ev("stream_started", stream=self.stream.id, sample_rate_hz=cfg.sample_rate_hz,
                 range_g=cfg.range_g, t0_ns=self.stream.t0_ns, source_index=k0,
                 samples_per_frame=self.spf, kind=cfg.kind)

    def _end_stream(self, reason: str) -> None:
        st = self.stream
        if st is None:
            return
        self.stream = None
        self.model.streaming = False
        self._ev("stream_stopped", stream=st.id, reason=reason, samples=st.next_j)

    # --- frames --------------------------------------------------------------------
    def _frame_due_content(self) -> float | None:
        st = self.stream
        if st is None:
            return None
        return st.content_s(st.next_j + self.spf - 1)

    def _send_due_frames(self, max_frames: int) -> int:
        sent = 0
        now = time.monotonic()
        c_now = self.content_s(now)
        while sent < max_frames and self.stream is not None:
            st = self.stream
            last_j = st.next_j + self.spf - 1
            if st.content_s(last_j) > c_now:
                break
            # Faults due before this frame's last sample act first.
            if self._next_fault < len(self.faults) and \
                    self.faults[self._next_fault].at_s <= st.content_s(last_j):
                break
            self._emit_frame(st, now)
            sent += 1
        return sent

    def _emit_frame(self, st: _Stream, now: float) -> None:
        j = np.arange(st.next_j, st.next_j + self.spf, dtype=np.int64)
        src = st.k0 + (j * self._src_rate.numerator) // (self._src_rate.denominator * st.fs)
        n_src = len(self.source)
        end_of_source = False
        if self.s.loop:
            src = src % n_src
        elif src[-1] >= n_src:
            keep = src < n_src
            j, src = j[keep], src[keep]
            end_of_source = True
        if len(j):
            lim = min(st.cfg.range_g * 1000, 32767)
            samples = np.clip(self.source.samples_mg[src], -lim, lim).astype(np.int32)
            times = st.device_ns(j) + (self.clock_offset_ns - st.clock_offset0)
            times = np.maximum(times, 1)
            frame = self.model.encode_frame(st.cfg, samples, times, st.seq)
            c_last = st.content_s(int(j[-1]))
            lost = None
            if self._in_stall(c_last):
                lost = "stall"
            elif not self.data.notify(frame):
                lost = "not_subscribed"
            self.truth.frame(FrameRecord(
                stream=st.id, seq=st.seq, first=int(j[0]), n=len(j), source_first=int(src[0]),
                source_last=int(src[-1]), timestamp_ns=int(times[-1]),
                first_timestamp_ns=int(times[0]), content_s=c_last, wall_s=self.wall_s(now),
                delivered=lost is None, lost=lost, samples=samples, sample_timestamps_ns=times))
            st.seq += 1
            st.next_j = int(j[-1]) + 1
        if end_of_source:
            self._device_stop("source_end")

    def _in_stall(self, c: float) -> bool:
        return any(f.kind == "stall" and f.at_s <= c < f.at_s + f.duration_s for f in self.faults)

    def _device_stop(self, reason: str) -> None:
        if self.stream is None:
            return
        msg = self.model.device_stop_message()
        if msg is not None:
            answer_char = self.data if self.model.responses_on == "data" else self.cp
            delivered = answer_char.notify(msg)
            self._ev("cp_response", hex=msg.hex(), delivered=delivered)
        self._end_stream(reason)

    # --- faults --------------------------------------------------------------------
    async def _run_due_faults(self) -> None:
        c = self.content_s()
        if c is None:
            return
        if self.drop_until is not None and c >= self.drop_until:
            self.drop_until = None
            await self.adv.register()
            self._ev("advertising", on=True)
        while self._next_fault < len(self.faults) and self.faults[self._next_fault].at_s <= c:
            f = self.faults[self._next_fault]
            self._next_fault += 1
            await self._apply_fault(f)

    async def _apply_fault(self, f: Fault) -> None:
        self._ev("fault", kind=f.kind, at_s=f.at_s, duration_s=f.duration_s, count=f.count,
                 streaming=self.stream is not None, connected=bool(self.connected))
        if f.kind == "jump":
            self.clock_offset_ns += int(round(f.duration_s * NS_PER_S))
        elif f.kind == "stop":
            self._device_stop("device_stop")
        elif f.kind == "garbage":
            for _ in range(f.count):
                n = int(self.rng.integers(1, 40))
                junk = self.rng.integers(0, 256, n, dtype=np.uint8).tobytes()
                delivered = self.data.notify(junk)
                self._ev("garbage", hex=junk.hex(), delivered=delivered)
        elif f.kind == "drop":
            self.drop_until = f.at_s + f.duration_s
            await self.adv.unregister()
            self._ev("advertising", on=False)
            if self.stream is not None:
                self._end_stream("disconnect")
            await self._drop_link()
        # stall: the window is applied frame by frame (_in_stall)

    def _seconds_until_next(self, now: float) -> float:
        targets = []
        if self.content_mono0 is not None:
            due = self._frame_due_content()
            if due is not None:
                targets.append(due)
            if self._next_fault < len(self.faults):
                targets.append(self.faults[self._next_fault].at_s)
            if self.drop_until is not None:
                targets.append(self.drop_until)
        if not targets:
            return 1.0
        return min(1.0, max(0.0, self._wall_at_content(min(targets)) - now))

    async def _main_loop(self) -> None:
        while not self._stop.is_set():
            await self._run_due_faults()
            if self._send_due_frames(max_frames=64):
                await asyncio.sleep(0)
                continue
            self._refresh_advertisement(time.monotonic())
            self._wake.clear()
            delay = min(ADV_REFRESH_S, self._seconds_until_next(time.monotonic()))
            if delay > 0:
                try:
                    await asyncio.wait_for(self._wake.wait(), timeout=delay)
                except asyncio.TimeoutError:
                    pass
            else:
                await asyncio.sleep(0)

    async def _shutdown(self) -> None:
        self._closing = True
        try:
            if self.bus is not None and self.bus.connected:
                if self.stream is not None:
                    self._end_stream("shutdown")
                if (self.connected or self.bluezoo) and self.app is not None:
                    # A band switched off: the central loses the link (and, on BlueZoo,
                    # forgets the device, so that the next band is seen by a scan).
                    try:
                        await asyncio.wait_for(self._drop_link(), 5)
                    except Exception as exc:  # noqa: BLE001 - best effort while closing
                        self._ev("error", message=f"dropping the link at shutdown: {exc!r}")
                for task in list(self._tasks):
                    task.cancel()
                for obj in (self.adv, self.app):
                    if obj is not None:
                        try:
                            await asyncio.wait_for(obj.unregister(), 5)
                        except Exception:  # noqa: BLE001 - the bus may be going away
                            pass
        finally:
            self._ev("band_stopped")
            if self.bus is not None:
                self.bus.disconnect()
            self.truth.close()

    def wake(self) -> None:
        self._wake.set()


def _variant(sig: str, value: Any):
    from dbus_fast import Variant
    return Variant(sig, value)


def _path_safe(text: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in text) or "band"


async def run_virtual_band(settings: VirtualBandSettings, *, truth: GroundTruth | None = None,
                           ready: asyncio.Event | None = None,
                           stop: asyncio.Event | None = None) -> None:
    """Run the band until ``stop`` is set (or the task is cancelled).

    ``truth`` receives the ground truth (a new one writing to ``settings.truth_path`` when
    None); ``ready`` is set once the GATT application and the advertisement are registered.
    """
    if truth is None:
        truth = GroundTruth(path=Path(settings.truth_path) if settings.truth_path else None,
                            log_samples=settings.log_samples)
    band = _Band(settings, truth)
    stop = stop if stop is not None else asyncio.Event()
    waiter = asyncio.get_running_loop().create_task(stop.wait())
    waiter.add_done_callback(lambda _: band.wake())
    try:
        await band.run(ready, stop)
    finally:
        waiter.cancel()


class VirtualBand:
    """A virtual band as an asyncio task of the current loop::

        async with VirtualBand(VirtualBandSettings(speed=20)) as band:
            ...  # scan for band.settings.local_name, connect, stream
        band.truth.sent_samples(1)
    """

    def __init__(self, settings: VirtualBandSettings) -> None:
        self.settings = settings
        self.truth = GroundTruth(path=Path(settings.truth_path) if settings.truth_path else None,
                                 log_samples=settings.log_samples)
        self._task: asyncio.Task | None = None
        self._stop = asyncio.Event()

    @property
    def address(self) -> str | None:
        started = self.truth.events_named("band_started")
        return started[0]["address"] if started else None

    async def start(self, timeout: float = 30.0) -> "VirtualBand":
        ready = asyncio.Event()
        self._task = asyncio.get_running_loop().create_task(
            run_virtual_band(self.settings, truth=self.truth, ready=ready, stop=self._stop))
        waiter = asyncio.ensure_future(ready.wait())
        done, _ = await asyncio.wait({waiter, self._task}, timeout=timeout,
                                     return_when=asyncio.FIRST_COMPLETED)
        if waiter not in done:
            waiter.cancel()
            if self._task.done():
                self._task.result()  # raises the band's error
                raise RuntimeError("virtual band stopped before it was ready")
            self._task.cancel()
            raise TimeoutError(f"virtual band not ready after {timeout} s")
        return self

    async def stop(self, timeout: float = 10.0) -> None:
        if self._task is None:
            return
        self._stop.set()
        try:
            await asyncio.wait_for(asyncio.shield(self._task), timeout)
        except asyncio.TimeoutError:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):
                pass
        finally:
            task, self._task = self._task, None
            if task.done() and not task.cancelled() and task.exception() is not None:
                raise task.exception()

    async def __aenter__(self) -> "VirtualBand":
        return await self.start()

    async def __aexit__(self, *exc) -> None:
        await self.stop()


__all__ = ["VirtualBandSettings", "run_virtual_band", "VirtualBand"]
