"""A virtual band (Polar H10 or Verity Sense, an open-IMU band, a Movesense): a simulated
band that is a real BlueZ peripheral over D-Bus.

For tests of the BLE session without a radio: run it against BlueZoo (a user-space mock of
the BlueZ D-Bus API; tests/ble_harness.py starts one on a private bus) and connect to it with
real, unmodified bleak.  It also runs against a real bluetoothd with an adapter that can
advertise.

    settings = VirtualBandSettings(adapter="hci1", speed=20, faults="drop@60s:5s")
    async with VirtualBand(settings) as band:      # in-process asyncio task
        ...
    band.truth.sent_samples(1)                      # what stream 1 delivered

    proc = VirtualBandProcess(settings, truth_path)  # or as a child process
    proc.start(); ...; proc.stop(); proc.truth()

    python -m sensor.virtual_band --speed 20 --faults 'stall@30s:10s' --truth truth.jsonl
    python -m sensor.virtual_band --profile movesense

Modules: band (the peripheral, clocks, faults), device (PMD control point state machine),
models (what each profile looks like: identifiers, control protocol, notifications),
gatt (dbus-fast GATT server and advertisement objects), faults (the fault spec), source
(what is replayed), truth (the ground-truth log), process (the subprocess controller).
Importing this package does not import dbus-fast or the simulator; running a band does.
"""
from .band import VirtualBand, VirtualBandSettings, run_virtual_band
from .device import PmdDeviceModel, StreamConfig
from .faults import FAULT_KINDS, Fault, parse_faults
from .models import BandModel, make_model
from .profiles import BAND_PROFILES
from .process import VirtualBandProcess
from .source import SampleSource
from .truth import FrameRecord, GroundTruth

__all__ = [
    "VirtualBand", "VirtualBandSettings", "run_virtual_band", "VirtualBandProcess",
    "PmdDeviceModel", "StreamConfig", "Fault", "FAULT_KINDS", "parse_faults",
    "SampleSource", "GroundTruth", "FrameRecord", "BandModel", "make_model", "BAND_PROFILES",
]
