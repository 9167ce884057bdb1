"""The PMD control point of a Polar H10, as a pure state machine (no D-Bus, no clock).

What a real H10 answers, as far as twitchwatch needs (ACC only):

* read of the control point: ``0F 04 00`` (ACC; configurable);
* ``01 02`` GET_MEASUREMENT_SETTINGS ACC: rates 25/50/100/200 Hz, 16 bit, +-2/4/8 G;
* ``02 02 <TLV>`` REQUEST_MEASUREMENT_START ACC: validated against those values (status 8
  bad rate, 7 bad resolution, 9 bad range, 11 bad channel count, 5 malformed TLV, 6 already
  streaming); success answers ``F0 02 02 00 00 05 01 <float32 factor>``; a setting left
  out takes the H10 default (200 Hz, 16 bit, 8 G);
* ``03 02`` STOP: ``F0 03 02 00 00`` (also when nothing streams: stopping is idempotent);
* ``05`` GET_MEASUREMENT_STATUS: ``F0 05 00 00 00`` + one byte per streaming type;
* other measurement types: status 3 (not supported); other opcodes: status 1 (invalid
  opcode); an empty write: ignored.

With ``sdk_settings`` set (a Verity Sense, :data:`VERITY_ACC_SETTINGS`), the model also
has SDK mode: the feature read sets the SDK-mode bit, ``04 02`` GET_SDK_MODE_SETTINGS
answers the SDK-mode ACC settings, ``02 09`` switches SDK mode on (``F0 02 09 00 00``; 6
when already on) and ``03 09`` off; while it is on, GET_MEASUREMENT_SETTINGS and START use
the SDK-mode settings.  SDK mode stays on across connections (until ``03 09``).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ..polar import (
    CpOpcode,
    CpStatus,
    MeasurementType,
    PmdSettings,
    SettingType,
    parse_settings,
    serialize_settings,
)
from ..errors import DecodeError
from ..polar_encode import (
    encode_cp_response,
    encode_features,
    encode_settings_response,
    encode_start_response,
    encode_stop_response,
)

H10_ACC_SETTINGS = PmdSettings(sample_rate=(25, 50, 100, 200), resolution=(16,), range=(2, 4, 8))
H10_ACC_DEFAULTS = {"sample_rate": 200, "resolution": 16, "range": 8}
#: Verity Sense ACC: 52 Hz in normal mode; 26-416 Hz and +-2-16 G in SDK mode (docs/ble.md).
VERITY_ACC_SETTINGS = PmdSettings(sample_rate=(52,), resolution=(16,), range=(8,))
VERITY_SDK_ACC_SETTINGS = PmdSettings(sample_rate=(26, 52, 104, 208, 416), resolution=(16,),
                                      range=(2, 4, 8, 16))
VERITY_ACC_DEFAULTS = {"sample_rate": 52, "resolution": 16, "range": 8}


@dataclass(frozen=True)
class StreamConfig:
    """The settings a START selected."""

    sample_rate_hz: int
    range_g: int
    resolution_bits: int = 16
    kind: str = "acc"          # Movesense: "acc" or "imu6"
    reference: int = 0         # Movesense: the client's subscription reference
    gyro: bool = False         # open IMU: gyro requested


@dataclass
class CpOutcome:
    """What a control point write leads to: responses to notify, and the stream change."""

    responses: list[bytes] = field(default_factory=list)
    start: StreamConfig | None = None
    stop: bool = False


@dataclass
class PmdDeviceModel:
    """Control point behaviour of the band.  ``streaming`` is owned by the caller."""

    acc_settings: PmdSettings = H10_ACC_SETTINGS
    features: tuple[int, ...] = (MeasurementType.ACC,)
    factor: float | None = 1.0
    streaming: bool = False
    defaults: dict = field(default_factory=lambda: dict(H10_ACC_DEFAULTS))
    sdk_settings: PmdSettings | None = None      # SDK-mode ACC settings (None: no SDK mode)
    sdk_mode: bool = False

    def feature_read(self) -> bytes:
        types = tuple(self.features)
        if self.sdk_settings is not None and MeasurementType.SDK_MODE not in types:
            types += (MeasurementType.SDK_MODE,)
        return encode_features(types)

    def _current(self) -> PmdSettings:
        return self.sdk_settings if self.sdk_mode and self.sdk_settings is not None else self.acc_settings

    def handle_write(self, data: bytes) -> CpOutcome:
        data = bytes(data)
        if not data:
            return CpOutcome()
        op = data[0]
        mt = data[1] if len(data) > 1 else 0
        if op == CpOpcode.GET_MEASUREMENT_STATUS:
            params = bytes((MeasurementType.ACC,)) if self.streaming else b""
            return CpOutcome([encode_cp_response(op, 0, CpStatus.SUCCESS, params)])
        known = (CpOpcode.GET_MEASUREMENT_SETTINGS, CpOpcode.REQUEST_MEASUREMENT_START,
                 CpOpcode.STOP_MEASUREMENT)
        if self.sdk_settings is not None:
            known += (CpOpcode.GET_SDK_MODE_SETTINGS,)
        if op not in known:
            return CpOutcome([encode_cp_response(op, mt, CpStatus.ERROR_INVALID_OP_CODE)])
        if len(data) < 2:
            return CpOutcome([encode_cp_response(op, 0, CpStatus.ERROR_INVALID_LENGTH)])
        if mt == MeasurementType.SDK_MODE and self.sdk_settings is not None and \
                op in (CpOpcode.REQUEST_MEASUREMENT_START, CpOpcode.STOP_MEASUREMENT):
            return self._sdk(op, mt)
        if mt != MeasurementType.ACC:
            return CpOutcome([encode_cp_response(op, mt, CpStatus.ERROR_NOT_SUPPORTED)])
        if op == CpOpcode.GET_SDK_MODE_SETTINGS:
            return CpOutcome([encode_cp_response(op, mt, CpStatus.SUCCESS,
                                                 serialize_settings(self.sdk_settings))])
        if op == CpOpcode.GET_MEASUREMENT_SETTINGS:
            return CpOutcome([encode_settings_response(mt, self._current())])
        if op == CpOpcode.STOP_MEASUREMENT:
            return CpOutcome([encode_stop_response(mt)], stop=self.streaming)
        return self._start(mt, data[2:])

    def _sdk(self, op: int, mt: int) -> CpOutcome:
        if op == CpOpcode.STOP_MEASUREMENT:
            self.sdk_mode = False
            return CpOutcome([encode_stop_response(mt)], stop=self.streaming)
        if self.streaming:
            return CpOutcome([encode_start_response(mt, CpStatus.ERROR_INVALID_STATE)])
        status = CpStatus.ERROR_ALREADY_IN_STATE if self.sdk_mode else CpStatus.SUCCESS
        self.sdk_mode = True
        return CpOutcome([encode_start_response(mt, status, None)])

    def _start(self, mt: int, tlv: bytes) -> CpOutcome:
        def fail(status: CpStatus) -> CpOutcome:
            return CpOutcome([encode_start_response(mt, status)])

        if self.streaming:
            return fail(CpStatus.ERROR_ALREADY_IN_STATE)
        try:
            req = parse_settings(tlv, base_offset=2)
        except DecodeError:
            return fail(CpStatus.ERROR_INVALID_PARAMETER)
        checks = (
            (SettingType.SAMPLE_RATE, "sample_rate", CpStatus.ERROR_INVALID_SAMPLE_RATE),
            (SettingType.RESOLUTION, "resolution", CpStatus.ERROR_INVALID_RESOLUTION),
            (SettingType.RANGE, "range", CpStatus.ERROR_INVALID_RANGE),
        )
        chosen = {}
        for stype, name, status in checks:
            values = req.get(stype)
            if len(values) > 1:
                return fail(CpStatus.ERROR_INVALID_PARAMETER)
            if not values:
                chosen[name] = self.defaults[name]
            elif values[0] not in self._current().get(stype):
                return fail(status)
            else:
                chosen[name] = values[0]
        if req.channels and req.channels != (3,):
            return fail(CpStatus.ERROR_INVALID_NUMBER_OF_CHANNELS)
        if req.factor or req.security or req.range_milliunit:
            return fail(CpStatus.ERROR_INVALID_PARAMETER)
        cfg = StreamConfig(sample_rate_hz=int(chosen["sample_rate"]),
                           range_g=int(chosen["range"]),
                           resolution_bits=int(chosen["resolution"]))
        return CpOutcome([encode_start_response(mt, CpStatus.SUCCESS, self.factor)], start=cfg)


__all__ = ["PmdDeviceModel", "StreamConfig", "CpOutcome", "H10_ACC_SETTINGS", "H10_ACC_DEFAULTS",
           "VERITY_ACC_SETTINGS", "VERITY_SDK_ACC_SETTINGS", "VERITY_ACC_DEFAULTS"]
