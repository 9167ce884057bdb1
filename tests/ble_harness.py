"""BLE without a radio: a private D-Bus system bus with BlueZoo (a user-space BlueZ mock).

Fixtures (import them into a test module: ``from tests.ble_harness import bluez_bus,
fresh_bluez  # noqa: F401``):

``bluez_bus`` (module scope)
    Starts ``dbus-daemon`` with a permissive config written to a temporary folder, then
    ``bluezoo --auto-enable --scan-interval 1 -a 00:11:22:33:44:55 -a 00:AA:BB:CC:DD:EE``
    on it (two adapters: hci0 = the central bleak uses, hci1 = the peripheral the virtual
    band uses), waits until org.bluez is on the bus with both adapters powered, and points
    ``DBUS_SYSTEM_BUS_ADDRESS`` at the private bus while the module's tests run (restored
    afterwards).  Yields a :class:`BluezBus`.  Skips (naming the fix) when dbus-daemon,
    bluezoo, dbus-fast or bleak is missing.

``fresh_bluez`` (function scope)
    The same bus with BlueZoo restarted before the test, so that every test starts from an
    empty BlueZ: BlueZoo never forgets the GATT objects of a past connection, and a device
    it already knows is not reported again by a scan.

Every wait is bounded; a failure message carries the tail of both daemons' logs.

BlueZoo 1.0.2 fix applied here (:func:`patch_bluezoo`, loaded into the BlueZoo process the
harness starts; ``TW_BLUEZOO_UNPATCHED=1`` starts it unpatched).  ``Device.connect`` adds
"the central as the peripheral sees it" to the peripheral's adapter with ``add_device``,
which keeps the object it already has when the central connected before and only syncs
properties into it; but the connecting device keeps its *new*, never exported object as
``peer`` and sets Connected on that one.  So from the second connection of a central on,
the peripheral sees neither the connection nor a central-initiated disconnect (a
watchdog's), and a band that waits for the disconnect never advertises again.  The patch
makes ``peer`` the object the peripheral's adapter really holds before connecting.
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

CENTRAL_ADAPTER = "hci0"
PERIPHERAL_ADAPTER = "hci1"
CENTRAL_ADDRESS = "00:11:22:33:44:55"
PERIPHERAL_ADDRESS = "00:AA:BB:CC:DD:EE"
START_TIMEOUT_S = 20.0
STOP_TIMEOUT_S = 5.0

BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <!-- A private, throw-away bus for tests: anyone may own any name and call anything. -->
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_type="method_call"/>
    <allow send_destination="*" eavesdrop="true"/>
    <allow receive_sender="*"/>
    <allow eavesdrop="true"/>
  </policy>
</busconfig>
"""


def find_dbus_daemon() -> str | None:
    found = shutil.which("dbus-daemon")
    if found:
        return found
    for candidate in ("/usr/bin/dbus-daemon", "/bin/dbus-daemon", "/usr/local/bin/dbus-daemon"):
        if os.access(candidate, os.X_OK):
            return candidate
    return None


REPO_ROOT = Path(__file__).resolve().parents[1]


def patch_bluezoo() -> None:
    """Fix BlueZoo's lost peer across reconnections (see the module docstring)."""
    from bluezoo import device as zdev

    original = zdev.Device.connect
    if getattr(original, "_tw_patched", False):
        return

    async def connect(self, uuid=None):
        # the object standing for our side on the peer's adapter, if it already has one
        path = "/".join((self.peer_adapter.get_object_path(),
                         f"dev_{self.peer.address.replace(':', '_')}"))
        existing = self.peer_adapter.devices.get(path)
        if existing is not None and existing is not self.peer:
            self.peer = existing
        await original(self, uuid)

    connect._tw_patched = True
    zdev.Device.connect = connect


def run_patched_bluezoo() -> int:
    """Entry point of the BlueZoo process: the patch, then BlueZoo's own main()."""
    patch_bluezoo()
    from bluezoo.bluezoo import main

    return main()


def bluezoo_command() -> list[str] | None:
    """How to start BlueZoo: with the patch (default), else its console script."""
    try:
        import bluezoo.bluezoo  # noqa: F401
    except Exception:
        importable = False
    else:
        importable = True
    if importable and os.environ.get("TW_BLUEZOO_UNPATCHED") != "1":
        return [sys.executable, "-c", "import sys; sys.path.insert(0, sys.argv.pop(1)); "
                "from tests.ble_harness import run_patched_bluezoo; sys.exit(run_patched_bluezoo())",
                str(REPO_ROOT)]
    script = Path(sys.executable).parent / "bluezoo"
    if script.is_file() and os.access(script, os.X_OK):
        return [str(script)]
    found = shutil.which("bluezoo")
    if found:
        return [found]
    if not importable:
        return None
    return [sys.executable, "-c", "import sys; from bluezoo.bluezoo import main; sys.exit(main())"]


def _tail(path: Path, lines: int = 25) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:]) or "(empty)"


def _terminate(proc: subprocess.Popen | None, timeout: float = STOP_TIMEOUT_S) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout)


def _in_thread(coro_fn, *args, timeout: float):
    """Run an async function in a fresh event loop on a worker thread (bounded)."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(lambda: asyncio.run(coro_fn(*args))).result(timeout)


async def _adapters_on_bus(bus_address: str) -> dict[str, tuple[str, bool]]:
    """{adapter name: (address, powered)} as org.bluez reports them; {} when not on the bus."""
    from dbus_fast import Message, MessageType
    from dbus_fast.aio import MessageBus

    bus = await MessageBus(bus_address=bus_address).connect()
    try:
        reply = await asyncio.wait_for(bus.call(Message(
            destination="org.bluez", path="/", interface="org.freedesktop.DBus.ObjectManager",
            member="GetManagedObjects")), 2.0)
        if reply.message_type == MessageType.ERROR:
            return {}
        out = {}
        for path, ifaces in reply.body[0].items():
            adapter = ifaces.get("org.bluez.Adapter1")
            if adapter is not None:
                out[path.rsplit("/", 1)[-1]] = (adapter["Address"].value,
                                                bool(adapter["Powered"].value))
        return out
    finally:
        bus.disconnect()


@dataclass
class BluezBus:
    """A private system bus with BlueZoo on it."""

    address: str                       # D-Bus address (what DBUS_SYSTEM_BUS_ADDRESS holds)
    workdir: Path
    central: str = CENTRAL_ADAPTER     # bleak's adapter
    peripheral: str = PERIPHERAL_ADAPTER  # the virtual band's adapter
    central_address: str = CENTRAL_ADDRESS
    peripheral_address: str = PERIPHERAL_ADDRESS
    daemon: subprocess.Popen | None = field(default=None, repr=False)
    bluezoo: subprocess.Popen | None = field(default=None, repr=False)
    bluezoo_starts: int = 0

    @property
    def daemon_log(self) -> Path:
        return self.workdir / "dbus-daemon.log"

    @property
    def bluezoo_log(self) -> Path:
        return self.workdir / "bluezoo.log"

    def env(self) -> dict[str, str]:
        """os.environ with DBUS_SYSTEM_BUS_ADDRESS set to this bus (for child processes)."""
        return {**os.environ, "DBUS_SYSTEM_BUS_ADDRESS": self.address}

    def logs(self) -> str:
        return (f"--- dbus-daemon log ({self.daemon_log}) ---\n{_tail(self.daemon_log)}\n"
                f"--- bluezoo log ({self.bluezoo_log}) ---\n{_tail(self.bluezoo_log)}")

    # --- processes -------------------------------------------------------------------
    def start_daemon(self, dbus_daemon: str) -> None:
        socket = self.workdir / "system_bus_socket"
        config = self.workdir / "bus.conf"
        config.write_text(BUS_CONFIG.format(socket=socket), encoding="utf-8")
        with open(self.daemon_log, "ab") as err:
            self.daemon = subprocess.Popen(
                [dbus_daemon, f"--config-file={config}", "--nofork", "--nopidfile",
                 "--print-address=1"], stdout=subprocess.PIPE, stderr=err,
                stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.daemon.poll() is not None:
                raise RuntimeError(f"dbus-daemon exited with {self.daemon.returncode}\n"
                                   f"{self.logs()}")
            ready, _, _ = select.select([self.daemon.stdout], [], [], 0.1)
            if ready:
                line = self.daemon.stdout.readline().decode().strip()
                if line:
                    self.address = line
                    return
        raise RuntimeError(f"dbus-daemon printed no address within {START_TIMEOUT_S} s\n"
                           f"{self.logs()}")

    def start_bluezoo(self, command: list[str]) -> None:
        args = command + ["--auto-enable", "--scan-interval", "1",
                          "-a", self.central_address, "-a", self.peripheral_address]
        with open(self.bluezoo_log, "ab") as log:
            log.write(f"\n=== start {self.bluezoo_starts + 1}: {' '.join(args)}\n".encode())
            log.flush()
            self.bluezoo = subprocess.Popen(args, stdout=log, stderr=log,
                                            stdin=subprocess.DEVNULL, env=self.env())
        self.bluezoo_starts += 1
        self._bluezoo_command = command
        deadline = time.monotonic() + START_TIMEOUT_S
        last: object = None
        while time.monotonic() < deadline:
            if self.bluezoo.poll() is not None:
                raise RuntimeError(f"bluezoo exited with {self.bluezoo.returncode}\n{self.logs()}")
            try:
                state = _in_thread(_adapters_on_bus, self.address, timeout=5.0)
            except Exception as exc:  # bus not answering yet
                state, last = {}, exc
            want = {self.central: (self.central_address, True),
                    self.peripheral: (self.peripheral_address, True)}
            if all(state.get(k) == v for k, v in want.items()):
                return
            last = state or last
            time.sleep(0.1)
        raise RuntimeError(f"bluezoo did not bring up {self.central} and {self.peripheral} "
                           f"(powered) within {START_TIMEOUT_S} s; last seen: {last!r}\n"
                           f"{self.logs()}")

    def stop_bluezoo(self) -> None:
        _terminate(self.bluezoo)
        self.bluezoo = None

    def restart_bluezoo(self) -> None:
        """A clean BlueZ: no devices, no registered applications, no stale GATT objects."""
        self.stop_bluezoo()
        self.start_bluezoo(self._bluezoo_command)

    def close(self) -> None:
        self.stop_bluezoo()
        _terminate(self.daemon)
        if self.daemon is not None and self.daemon.stdout is not None:
            self.daemon.stdout.close()
        self.daemon = None

    def check_alive(self) -> None:
        """Raise with the logs if a daemon died."""
        for name, proc in (("dbus-daemon", self.daemon), ("bluezoo", self.bluezoo)):
            if proc is None or proc.poll() is not None:
                raise RuntimeError(f"{name} is not running\n{self.logs()}")


def _requirements() -> tuple[str, list[str]]:
    daemon = find_dbus_daemon()
    if daemon is None:
        pytest.skip("dbus-daemon not found: BLE tests need a private D-Bus; install it with "
                    "'apt-get install dbus-daemon' (Debian package dbus-daemon, or dbus)")
    for module, fix in (("dbus_fast", "pip install dbus-fast"), ("bleak", "pip install bleak")):
        try:
            __import__(module)
        except ImportError:
            pytest.skip(f"{module} not importable: {fix}")
    command = bluezoo_command()
    if command is None:
        pytest.skip("bluezoo (the BlueZ D-Bus mock) not installed: 'pip install bluezoo'")
    return daemon, command


@pytest.fixture(scope="module")
def bluez_bus():
    daemon, command = _requirements()
    workdir = Path(tempfile.mkdtemp(prefix="tw-bluez-"))  # short: a socket path is <108 B
    bus = BluezBus(address="", workdir=workdir)
    saved = os.environ.get("DBUS_SYSTEM_BUS_ADDRESS")
    try:
        bus.start_daemon(daemon)
        bus.start_bluezoo(command)
        os.environ["DBUS_SYSTEM_BUS_ADDRESS"] = bus.address
        yield bus
    finally:
        if saved is None:
            os.environ.pop("DBUS_SYSTEM_BUS_ADDRESS", None)
        else:
            os.environ["DBUS_SYSTEM_BUS_ADDRESS"] = saved
        bus.close()
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture
def fresh_bluez(bluez_bus):
    if getattr(bluez_bus, "_used", False):
        bluez_bus.restart_bluezoo()
    bluez_bus._used = True
    bluez_bus.check_alive()
    yield bluez_bus
    bluez_bus.check_alive()


__all__ = ["BluezBus", "bluez_bus", "fresh_bluez", "find_dbus_daemon", "bluezoo_command",
           "CENTRAL_ADAPTER", "PERIPHERAL_ADAPTER", "CENTRAL_ADDRESS", "PERIPHERAL_ADDRESS"]
