"""What each ``--profile`` of the virtual band looks like on the air: GATT identifiers, the
control protocol (a pure state machine each) and the data notifications.

The band (band.py) owns clocks, content, faults and D-Bus; a model only turns control
writes into answers and stream changes, and samples into notification bytes::

    model = make_model("movesense")
    outcome = model.handle_write(b"\\x01\\x74/Meas/Acc/104")     # -> CpOutcome(start=...)
    frame = model.encode_frame(cfg, samples_mg, times_ns, seq)  # one notification

Device clocks (``times_ns`` is the band's device clock, ns):

* Polar (``polar-h10``, ``polar-verity``): ns since 2000-01-01, stamped on the last sample;
* ``open-imu``: µs since the band started (``t0_us = times_ns[0] // 1000``), period in ns;
* ``movesense``: uint32 ms since the sensor started, first sample, wrapping at 2**32.

Device-initiated stop (the ``stop`` fault): Polar notifies ``01 02`` on the control point;
the open IMU band notifies an unsolicited ``F1 02 00`` on its control characteristic; GSP
has no such message, so a Movesense band just falls silent (its subscription is gone).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import movesense, open_imu
from ..errors import DecodeError
from ..polar import PMD_CP_UUID, PMD_DATA_UUID, PMD_SERVICE_UUID, MeasurementType
from ..polar_encode import (
    encode_acc_delta_frame,
    encode_acc_raw_frame,
    encode_measurement_stopped,
    max_raw_samples_per_frame,
)
from .device import (
    VERITY_ACC_DEFAULTS,
    VERITY_ACC_SETTINGS,
    VERITY_SDK_ACC_SETTINGS,
    CpOutcome,
    PmdDeviceModel,
    StreamConfig,
)

NS_PER_S = 1_000_000_000


@dataclass
class BandModel:
    """The common part: identifiers and defaults.  Subclasses implement the protocol."""

    profile: str = ""
    service_uuid: str = ""
    control_uuid: str = ""
    control_flags: tuple = ()
    data_uuid: str = ""
    responses_on: str = "control"      # characteristic the answers are notified on
    name_prefix: str = ""
    manufacturer: str = ""
    model_number: str = ""
    streaming: bool = False

    def control_read(self) -> bytes:
        return b""

    def handle_write(self, data: bytes) -> CpOutcome:
        raise NotImplementedError

    def samples_per_frame(self, mtu: int, cfg: StreamConfig, override: int | None) -> int:
        raise NotImplementedError

    def encode_frame(self, cfg: StreamConfig, samples_mg: np.ndarray, times_ns: np.ndarray,
                     seq: int) -> bytes:
        raise NotImplementedError

    def device_stop_message(self) -> bytes | None:
        """Sent on the answer characteristic when the band stops on its own (or None)."""
        return None

    def on_link_lost(self) -> None:
        """The central is gone: forget per-connection state."""

    def clock_start_ns(self, rng: np.random.Generator) -> int:
        """Default device clock at band start (ns of the model's own time base)."""
        # A band that has been on for 1 h to 10 days.
        return int(rng.integers(3600, 10 * 86400)) * NS_PER_S


# ---------------------------------------------------------------------------------------
# Polar
# ---------------------------------------------------------------------------------------
_CLOCK_2020_NS = 7305 * 86400 * NS_PER_S     # 2020-01-01 in ns since 2000-01-01
_YEAR_NS = 365 * 86400 * NS_PER_S


@dataclass
class PolarModel(BandModel):
    """H10 (raw int16 frames) or Verity Sense (delta-compressed frames, SDK mode)."""

    pmd: PmdDeviceModel = None
    compressed: bool = False

    def control_read(self) -> bytes:
        return self.pmd.feature_read()

    def handle_write(self, data: bytes) -> CpOutcome:
        self.pmd.streaming = self.streaming
        return self.pmd.handle_write(data)

    def samples_per_frame(self, mtu, cfg, override):
        n = override or max_raw_samples_per_frame(mtu)
        # a compressed frame can be larger than a raw one (block headers, 17-bit deltas)
        return max(1, n - 6) if self.compressed and not override else n

    def encode_frame(self, cfg, samples_mg, times_ns, seq):
        if self.compressed:
            return encode_acc_delta_frame(samples_mg, int(times_ns[-1]))
        return encode_acc_raw_frame(samples_mg, int(times_ns[-1]))

    def device_stop_message(self):
        return encode_measurement_stopped([MeasurementType.ACC])

    def clock_start_ns(self, rng):
        return _CLOCK_2020_NS + int(rng.integers(0, 5 * _YEAR_NS))


def polar_h10(factor: float | None = 1.0) -> PolarModel:
    return PolarModel("polar-h10", PMD_SERVICE_UUID, PMD_CP_UUID, ("read", "write", "indicate"),
                      PMD_DATA_UUID, "control", "Polar H10", "Polar Electro Oy", "H10",
                      pmd=PmdDeviceModel(factor=factor))


def polar_verity(factor: float | None = 1.0) -> PolarModel:
    return PolarModel("polar-verity", PMD_SERVICE_UUID, PMD_CP_UUID, ("read", "write", "indicate"),
                      PMD_DATA_UUID, "control", "Polar Sense", "Polar Electro Oy", "Polar Verity Sense",
                      pmd=PmdDeviceModel(acc_settings=VERITY_ACC_SETTINGS, factor=factor,
                                         defaults=dict(VERITY_ACC_DEFAULTS),
                                         sdk_settings=VERITY_SDK_ACC_SETTINGS),
                      compressed=True)


# ---------------------------------------------------------------------------------------
# Open twitchwatch IMU
# ---------------------------------------------------------------------------------------
#: accelerometer LSB (µg) per range at 16 bit (LSM6DS3 sensitivities 0.061-0.488 mg/LSB)
OPEN_IMU_LSB_UG = {2: 61, 4: 122, 8: 244, 16: 488}
OPEN_IMU_RATES = (12, 26, 52, 100, 104, 200, 208, 416)


@dataclass
class OpenImuModel(BandModel):
    """A band speaking firmware_notes/open-imu-profile.md (an LSM6DS3-like IMU)."""

    rates_hz: tuple = OPEN_IMU_RATES
    ranges_g: tuple = (2, 4, 8, 16)
    has_gyro: bool = False
    battery_percent: int = 100
    version: int = 1

    def handle_write(self, data: bytes) -> CpOutcome:
        data = bytes(data)
        command = data[0] if data else 0
        if command == open_imu.CMD_INFO and len(data) == 1:
            return CpOutcome([open_imu.encode_info_answer(open_imu.BandInfo(
                self.version, max(self.rates_hz), tuple(self.ranges_g), self.has_gyro,
                self.battery_percent))])
        if command == open_imu.CMD_STOP and len(data) == 1:
            return CpOutcome([open_imu.encode_answer(command)], stop=self.streaming)
        if command != open_imu.CMD_START or len(data) != 5:
            # unknown, empty or of the wrong length: F1 cmd 05 (an empty write: F1 00 05)
            return CpOutcome([open_imu.encode_answer(command, open_imu.STATUS_BAD_COMMAND)])
        rate = int.from_bytes(data[1:3], "little")
        range_g, gyro = data[3], bool(data[4])
        if self.streaming:
            status = open_imu.STATUS_STREAMING
        elif rate not in self.rates_hz:
            status = open_imu.STATUS_BAD_RATE
        elif range_g not in self.ranges_g:
            status = open_imu.STATUS_BAD_RANGE
        elif gyro and not self.has_gyro:
            status = open_imu.STATUS_NO_GYRO
        else:
            return CpOutcome([open_imu.encode_answer(command)],
                             start=StreamConfig(rate, range_g, 16, gyro=gyro))
        return CpOutcome([open_imu.encode_answer(command, status)])

    def samples_per_frame(self, mtu, cfg, override):
        per = 12 if cfg.gyro else 6
        return override or max(1, min(255, (min(mtu - 3, 512) - open_imu.HEADER.size) // per))

    def encode_frame(self, cfg, samples_mg, times_ns, seq):
        lsb = OPEN_IMU_LSB_UG[cfg.range_g]
        raw = np.clip(np.round(np.asarray(samples_mg, np.float64) * 1000.0 / lsb), -32768, 32767)
        period_ns = int(round(NS_PER_S / cfg.sample_rate_hz))
        gyro = np.zeros_like(raw) if cfg.gyro else None
        return open_imu.encode_packet(seq, int(times_ns[0]) // 1000, period_ns, raw.astype(np.int16),
                                      acc_lsb_ug=lsb, gyro_raw=gyro)

    def device_stop_message(self):
        return open_imu.DEVICE_STOPPED


def open_imu_model(battery_percent: int = 100) -> OpenImuModel:
    return OpenImuModel("open-imu", open_imu.SERVICE_UUID, open_imu.CONTROL_UUID,
                        ("write", "notify"), open_imu.DATA_UUID, "control", "TW-IMU",
                        "twitchwatch", "TW-IMU virtual", battery_percent=battery_percent)


# ---------------------------------------------------------------------------------------
# Movesense (GATT SensorData app)
# ---------------------------------------------------------------------------------------
#: Samples per notification: 8 (Acc: 102 bytes, IMU6: 198 bytes).  An assumption: the
#: firmware sends what the sensor driver hands it, which varies with the rate.
MOVESENSE_SAMPLES_PER_FRAME = 8


@dataclass
class MovesenseModel(BandModel):
    """A Movesense running gatt_sensordata_app: HELLO, SUBSCRIBE, UNSUBSCRIBE (see
    sensor/movesense.py).  One subscription at a time; a second SUBSCRIBE while one runs, or
    a path it does not serve, is answered with an HTTP status (507 as the firmware answers
    a full table; 404 for an unknown path: our choice, the sample firmware stays silent)."""

    range_g: int = 8
    reference: int | None = None

    def handle_write(self, data: bytes) -> CpOutcome:
        try:
            cmd, ref, body = movesense.parse_command(data)
        except DecodeError:
            return CpOutcome()
        if cmd == movesense.Command.HELLO:
            return CpOutcome([movesense.encode_hello_reply(ref)])
        if cmd == movesense.Command.UNSUBSCRIBE:
            if self.reference is not None and ref == self.reference:
                self.reference = None
                return CpOutcome(stop=self.streaming)
            return CpOutcome()
        if cmd != movesense.Command.SUBSCRIBE or ref == 0:
            return CpOutcome()
        if self.streaming or self.reference is not None:
            return CpOutcome([movesense.encode_command_result(ref, 507)])
        try:
            kind, rate = movesense.parse_path(body.decode("ascii", "replace"))
        except ValueError:
            return CpOutcome([movesense.encode_command_result(ref, 404)])
        if rate not in movesense.RATES_HZ:
            return CpOutcome([movesense.encode_command_result(ref, 404)])
        self.reference = ref
        return CpOutcome(start=StreamConfig(rate, self.range_g, 32, kind=kind, reference=ref))

    def samples_per_frame(self, mtu, cfg, override):
        per = movesense.VECTOR_BYTES * movesense.KIND_VECTORS[cfg.kind]
        cap = (min(mtu - 3, movesense.MAX_NOTIFICATION_BYTES) - movesense.HEADER.size) // per
        return max(1, min(override or MOVESENSE_SAMPLES_PER_FRAME, cap))

    def encode_frame(self, cfg, samples_mg, times_ns, seq):
        acc = np.asarray(samples_mg, np.float64) / 1000.0 * movesense.STANDARD_GRAVITY
        ts_ms = (int(times_ns[0]) // 1_000_000) % movesense.MS_MODULO
        gyro = np.zeros_like(acc) if cfg.kind == "imu6" else None
        return movesense.encode_data(cfg.reference, ts_ms, acc, gyro)

    def on_link_lost(self) -> None:
        # the firmware unsubscribes everything when the peer disconnects
        self.reference = None

    def device_stop_message(self):
        self.reference = None
        return None


def movesense_model() -> MovesenseModel:
    return MovesenseModel("movesense", movesense.SERVICE_UUID, movesense.COMMAND_UUID,
                          ("write",), movesense.DATA_UUID, "data", movesense.NAME_PREFIX,
                          "Movesense", "Movesense MD")


def make_model(profile: str, *, factor: float | None = 1.0, battery_percent: int = 100) -> BandModel:
    """The device model for a ``virtual-band --profile`` value."""
    if profile == "polar-h10":
        return polar_h10(factor)
    if profile == "polar-verity":
        return polar_verity(factor)
    if profile == "open-imu":
        return open_imu_model(battery_percent)
    if profile == "movesense":
        return movesense_model()
    raise ValueError(f"unknown band profile {profile!r}")


__all__ = ["BandModel", "PolarModel", "OpenImuModel", "MovesenseModel", "make_model",
           "OPEN_IMU_LSB_UG", "MOVESENSE_SAMPLES_PER_FRAME"]
