"""Tests of sensor.polar against Polar's own test vectors and the PMD byte layout.

The vectors live outside the repository, in ``../shared/vectors/polar_pmd_vectors.json``
relative to the repository root; tests that need them skip (with the path they looked at)
when that directory is absent.  Everything else runs on frames built here.
"""
from __future__ import annotations

import calendar
import json
import struct
from pathlib import Path

import numpy as np
import pytest

from sensor import ControlPointError, DecodeError, TimestampError, UnsupportedFrameError
from sensor.polar import (
    CP_RESPONSE_CODE,
    FRAME_TYPE_COMPRESSED,
    PMD_CP_UUID,
    PMD_DATA_UUID,
    PMD_EPOCH_UNIX_S,
    PMD_HEADER_BYTES,
    PMD_SERVICE_UUID,
    CpOpcode,
    CpStatus,
    MeasurementType,
    PmdCpResponse,
    PmdFeatures,
    PmdFrame,
    PmdMeasurementStopped,
    PmdSettings,
    PmdTimestamper,
    SettingType,
    build_get_measurement_settings,
    build_get_measurement_status,
    build_start_measurement,
    build_stop_measurement,
    decode_delta_payload,
    decode_pmd_frame,
    device_ns_to_unix_ns,
    device_ns_to_unix_s,
    frame_layout,
    join_cp_responses,
    parse_cp_notification,
    parse_cp_response,
    parse_features,
    parse_pmd_header,
    parse_settings,
    pmd_sample_timestamps,
    serialize_settings,
)

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED = REPO_ROOT.parent / "shared"
VECTORS_PATH = SHARED / "vectors" / "polar_pmd_vectors.json"
SKIP_REASON = (f"Polar PMD test vectors not found: expected {VECTORS_PATH.name} in "
               f"../shared/vectors/ next to the repository root (looked at {VECTORS_PATH})")


def _load_vectors():
    if not VECTORS_PATH.is_file():
        return None
    with VECTORS_PATH.open(encoding="utf-8") as fh:
        return json.load(fh)


VECTORS = _load_vectors()
needs_vectors = pytest.mark.skipif(VECTORS is None, reason=SKIP_REASON)


def _params(items, idfn):
    """pytest params over vector items, or a single skipped param when the file is absent."""
    if VECTORS is None:
        return [pytest.param(None, id="vectors-missing", marks=pytest.mark.skip(reason=SKIP_REASON))]
    return [pytest.param(item, id=idfn(item)) for item in items]


FRAME_VECTORS = _params(VECTORS["vectors"] if VECTORS else [], lambda v: v["id"])
CP_EXAMPLES = _params(VECTORS["control_point"]["examples"] if VECTORS else [], lambda e: e["id"])
TS_CASES = _params(
    list(enumerate(VECTORS["timestamp_vectors"]["cases"])) if VECTORS else [],
    lambda c: f"case{c[0]}-prev{c[1]['prev']}-n{c[1]['n']}",
)

# The one start command quoted in the BLE brief (docs/ble.md section 2): Verity Sense ACC,
# 52 Hz, 16 bit, +-8 G, 3 channels.
BLE_MD_START_ACC = bytes.fromhex("02 02 00 01 34 00 01 01 10 00 02 01 08 00 04 01 03")


def frame_bytes(measurement_type: int, frame_type_byte: int, timestamp_ns: int,
                payload: bytes) -> bytes:
    """A PMD data frame: type, uint64 LE timestamp, frame type byte, payload."""
    return bytes([measurement_type]) + timestamp_ns.to_bytes(8, "little") + \
        bytes([frame_type_byte]) + payload


def acc_int16_frame(timestamp_ns: int, xyz) -> bytes:
    """ACC raw type 1 (the H10's): int16 LE x, y, z per sample."""
    payload = b"".join(struct.pack("<3h", *s) for s in xyz)
    return frame_bytes(MeasurementType.ACC, 0x01, timestamp_ns, payload)


def vector_decode_args(v) -> dict:
    """decode_pmd_frame keyword arguments from a vector's decode_params (ASSUMED variants too)."""
    p = v["decode_params"]
    factor = p["factor"] if "factor" in p else p["factor_ASSUMED"]
    rate = p["sample_rate_hz"] if "sample_rate_hz" in p else p["sample_rate_hz_ASSUMED"]
    return dict(factor=factor, previous_timestamp_ns=p["previous_timestamp_ns"],
                sample_rate_hz=rate)


def decode_vector(v) -> PmdFrame:
    return decode_pmd_frame(bytes.fromhex(v["frame_hex"]), **vector_decode_args(v))


# ---------------------------------------------------------------------------------------
# Frame vectors
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("v", FRAME_VECTORS)
def test_vector_header_and_params(v):
    data = bytes.fromhex(v["frame_hex"])
    assert len(data) == v["frame_length"]
    h = v["header"]
    header = parse_pmd_header(data)
    assert header.measurement_type == h["measurement_type"]
    assert header.measurement_type.name == v["measurement"]
    assert header.timestamp_ns == h["timestamp_ns_since_2000"]
    assert header.frame_type_byte == int(h["frame_type_byte"], 16)
    assert header.compressed is h["compressed"]
    assert header.frame_type == h["frame_type"]

    frame = decode_vector(v)
    assert frame.measurement_type == h["measurement_type"]
    assert frame.timestamp_ns == h["timestamp_ns_since_2000"]
    assert frame.frame_type == h["frame_type"]
    assert frame.compressed is h["compressed"]
    assert frame.frame_type_byte == int(h["frame_type_byte"], 16)

    p = v["decode_params"]
    layout = frame_layout(header.measurement_type, header.compressed, header.frame_type)
    assert frame.channels == p["channels"] == layout.channels
    if "bytes_per_channel" in p:
        assert layout.bytes_per_value == p["bytes_per_channel"]
    if "resolution_bits" in p:
        assert layout.resolution_bits == p["resolution_bits"]
    if "encoding" in p:
        assert p["encoding"].startswith("FLOAT_IEEE754") and layout.encoding == "float32"
    assert frame.unit == {"ACC": "mG", "GYRO": "deg/s"}[v["measurement"]]


@pytest.mark.parametrize("v", FRAME_VECTORS)
def test_vector_asserted_by_polar(v):
    """Every value Polar's test asserts (or, for the real capture, the structure check)."""
    frame = decode_vector(v)
    data = bytes.fromhex(v["frame_hex"])
    checked = set()
    asserted = v.get("asserted_by_polar_test", {})
    structure = v.get("structure_check", {})
    assert asserted or structure, "vector asserts nothing"

    def xyz(i):
        return frame.samples[int(i)].tolist()

    for key, want in asserted.items():
        if key == "n_samples":
            assert frame.n_samples == want
        elif key in ("samples_xyz_mG", "samples_xyz_deg_s"):
            for i, values in want.items():
                assert xyz(i) == values, f"sample {i}"
            if key == "samples_xyz_mG":
                assert frame.samples.dtype == np.int32
            else:
                assert frame.samples.dtype == np.float64
        elif key == "last_timestamp_ns":
            assert frame.timestamp_ns == want
            assert int(frame.sample_timestamps_ns[-1]) == want
        elif key == "first_timestamp_ns":
            assert int(frame.sample_timestamps_ns[0]) == want
        elif key == "reference_sample_raw":
            assert frame.raw_samples[0].tolist() == want
        elif key == "sample1_raw":
            assert frame.raw_samples[1].tolist() == want
        elif key == "all_abs_values_le_mG":
            assert int(np.abs(frame.samples).max()) <= want
        elif key == "delta_block_0":
            b = frame.delta_blocks[0]
            assert (b.delta_bits, b.sample_count) == (want["delta_bits"], want["sample_count"])
        elif key == "samples_[t_ns,x,y,z]":
            assert frame.n_samples == len(want)
            for i, (t, *values) in enumerate(want):
                assert int(frame.sample_timestamps_ns[i]) == t, f"t[{i}]"
                assert xyz(i) == values, f"sample {i}"
        elif key == "samples_bits_hex":
            bits = frame.raw_samples.view(np.uint32)
            for i, patterns in want.items():
                assert [f"0x{b:08X}" for b in bits[int(i)]] == [p.upper().replace("0X", "0x")
                                                                for p in patterns]
        else:
            pytest.fail(f"unhandled asserted key {key!r}: extend this test")
        checked.add(key)

    for key, want in structure.items():
        if key == "reference_raw":
            assert frame.raw_samples[0].tolist() == want
        elif key == "delta_blocks_[bits,count]":
            assert [[b.delta_bits, b.sample_count] for b in frame.delta_blocks] == want
        elif key == "n_samples":
            assert frame.n_samples == want
        elif key == "bytes_consumed_exactly":
            last = frame.delta_blocks[-1]
            assert (last.offset + 2 + last.n_bytes == len(data)) is want
        else:
            pytest.fail(f"unhandled structure key {key!r}: extend this test")
        checked.add(key)
    assert checked == set(asserted) | set(structure)


@pytest.mark.parametrize("v", FRAME_VECTORS)
def test_vector_all_samples_derived_by_port(v):
    """Every sample and per-sample timestamp of the independent port, exactly."""
    frame = decode_vector(v)
    rows = v["derived_by_port_all_samples_[t_ns,x,y,z]"]
    assert frame.n_samples == len(rows)
    assert frame.sample_timestamps_ns.dtype == np.int64
    assert frame.sample_timestamps_ns.tolist() == [r[0] for r in rows]
    assert frame.samples.tolist() == [r[1:] for r in rows]
    assert int(frame.sample_timestamps_ns[-1]) == frame.timestamp_ns


@pytest.mark.parametrize("v", FRAME_VECTORS)
def test_vector_without_timing_gives_no_sample_times(v):
    """No previous timestamp and no rate: samples decode, sample times are None."""
    args = vector_decode_args(v)
    frame = decode_pmd_frame(bytes.fromhex(v["frame_hex"]), factor=args["factor"])
    assert frame.sample_timestamps_ns is None
    assert frame.samples.tolist() == decode_vector(v).samples.tolist()


@pytest.mark.parametrize("v", FRAME_VECTORS)
def test_vector_every_truncation(v):
    """Each prefix either raises DecodeError or, at a sample boundary, decodes to a prefix."""
    data = bytes.fromhex(v["frame_hex"])
    args = vector_decode_args(v)
    full = decode_pmd_frame(data, **args)
    layout = frame_layout(full.measurement_type, full.compressed, full.frame_type)
    if full.compressed:
        valid = {PMD_HEADER_BYTES + layout.channels * layout.bytes_per_value}
        valid |= {b.offset + 2 + b.n_bytes for b in full.delta_blocks}
    else:
        step = layout.channels * layout.bytes_per_value
        valid = set(range(PMD_HEADER_BYTES + step, len(data) + 1, step))
    for cut in range(len(data)):
        prefix = data[:cut]
        if cut not in valid:
            with pytest.raises(DecodeError) as info:
                decode_pmd_frame(prefix, **args)
            err = info.value
            assert err.offset is not None and 0 <= err.offset <= cut
            if err.expected_length is not None:
                assert err.received_length < err.expected_length
            continue
        part = decode_pmd_frame(prefix, **args)
        n = part.n_samples
        assert part.raw_samples.tolist() == full.raw_samples[:n].tolist()
        assert part.samples.tolist() == full.samples[:n].tolist()


@needs_vectors
def test_vector_truncation_messages_name_offset_and_lengths():
    v = next(x for x in VECTORS["vectors"] if x["id"] == "acc_delta_type1_kotlin")
    data = bytes.fromhex(v["frame_hex"])
    args = vector_decode_args(v)
    block = decode_pmd_frame(data, **args).delta_blocks[0]
    with pytest.raises(DecodeError) as info:
        decode_pmd_frame(data[:-1], **args)
    err = info.value
    assert (err.offset, err.expected_length, err.received_length) == \
        (block.offset + 2, block.n_bytes, block.n_bytes - 1)
    assert "truncated delta block" in str(err)
    assert f"offset {block.offset + 2}" in str(err)
    assert f"expected {block.n_bytes} bytes, received {block.n_bytes - 1}" in str(err)

    with pytest.raises(DecodeError) as info:
        decode_pmd_frame(data[:7], **args)
    assert (info.value.offset, info.value.expected_length, info.value.received_length) == (0, 10, 7)
    assert "header" in str(info.value)


@needs_vectors
def test_real_capture_is_plausible_acceleration():
    """With the assumed factor the Verity frame is ~1 g at rest (why the factor is assumed)."""
    v = next(x for x in VECTORS["vectors"] if x["id"] == "acc_delta_type0_real_verity_capture")
    frame = decode_vector(v)
    norm_g = np.linalg.norm(frame.samples.astype(float), axis=1) / 1000.0
    assert 0.8 < float(np.median(norm_g)) < 1.2


# ---------------------------------------------------------------------------------------
# Timestamps
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("case", TS_CASES)
def test_timestamp_vectors(case):
    _, c = case
    t = pmd_sample_timestamps(c["ts"], c["n"], previous_timestamp_ns=c["prev"],
                              sample_rate_hz=c["fs"])
    assert t.dtype == np.int64 and t.shape == (c["n"],)
    assert t.tolist() == c["expected"]


def test_timestamps_round_half_to_even():
    # delta = 0.5: first = 100.5 -> 100 (half to even), as Kotlin's round(); not 101.
    assert pmd_sample_timestamps(101, 2, previous_timestamp_ns=100).tolist() == [100, 101]
    # 102.5 -> 102, 103.5 -> 104
    assert pmd_sample_timestamps(104, 4, previous_timestamp_ns=102).tolist() == [102, 103, 104, 104]


def test_timestamps_from_rate_anchor_last_sample():
    t = pmd_sample_timestamps(10_000_000_000, 10, sample_rate_hz=1)
    assert t.tolist() == [i * 1_000_000_000 for i in range(1, 11)]
    # previous 0 means "none", as in the SDK, so the rate is used
    assert pmd_sample_timestamps(10_000_000_000, 10, previous_timestamp_ns=0,
                                 sample_rate_hz=1).tolist() == t.tolist()


def test_timestamps_errors():
    with pytest.raises(TimestampError):
        pmd_sample_timestamps(100, 3, previous_timestamp_ns=100)       # not after previous
    with pytest.raises(TimestampError):
        pmd_sample_timestamps(100, 3, previous_timestamp_ns=200)       # backwards
    with pytest.raises(TimestampError):
        pmd_sample_timestamps(1_000, 3, sample_rate_hz=1)              # first sample before 2000
    with pytest.raises(TimestampError):
        pmd_sample_timestamps(2 ** 63, 3, sample_rate_hz=1)            # beyond int64
    with pytest.raises(ValueError, match="neither"):
        pmd_sample_timestamps(100, 3)
    with pytest.raises(ValueError, match="n_samples"):
        pmd_sample_timestamps(100, 0, sample_rate_hz=1)
    with pytest.raises(ValueError, match="sample_rate_hz"):
        pmd_sample_timestamps(100, 3, sample_rate_hz=-5)
    # one sample: its time is the frame's, whatever the rate
    assert pmd_sample_timestamps(7, 1, sample_rate_hz=1e-9).tolist() == [7]


def test_timestamps_saturate_at_int64_max():
    ts = 2 ** 63 - 1
    t = pmd_sample_timestamps(ts, 2, previous_timestamp_ns=ts - 1)
    assert t.tolist() == [ts, ts]  # first = ts - 0.5 in float64 is 2**63: saturates
    t = pmd_sample_timestamps(ts, 2, previous_timestamp_ns=100)
    assert t.tolist() == [4611686018427387904, ts]


def test_epoch_and_unix_conversion():
    assert PMD_EPOCH_UNIX_S == calendar.timegm((2000, 1, 1, 0, 0, 0)) == 946684800
    assert device_ns_to_unix_s(0) == 946684800.0
    assert device_ns_to_unix_s(1_500_000_000) == pytest.approx(946684801.5)
    assert device_ns_to_unix_ns(684454708634868630) == 684454708634868630 + 946684800 * 10 ** 9
    arr = np.array([0, 2_000_000_000], dtype=np.int64)
    assert device_ns_to_unix_s(arr).tolist() == [946684800.0, 946684802.0]
    assert device_ns_to_unix_ns(arr).dtype == np.int64


# ---------------------------------------------------------------------------------------
# Frames built here
# ---------------------------------------------------------------------------------------
def test_acc_raw_types_0_1_2():
    xyz = [(-128, 0, 127), (1, -1, 5)]
    f0 = decode_pmd_frame(frame_bytes(2, 0x00, 10 ** 9, bytes(b & 0xFF for s in xyz for b in s)),
                          sample_rate_hz=50)
    assert f0.samples.tolist() == [list(s) for s in xyz]
    xyz16 = [(-32768, 999, 32767)]
    f1 = decode_pmd_frame(acc_int16_frame(10 ** 9, xyz16), sample_rate_hz=50)
    assert f1.samples.tolist() == [list(s) for s in xyz16]
    xyz24 = [(-8388608, 8388607, -1), (123456, -654321, 0)]
    payload = b"".join(v.to_bytes(3, "little", signed=True) for s in xyz24 for v in s)
    f2 = decode_pmd_frame(frame_bytes(2, 0x02, 10 ** 9, payload), sample_rate_hz=50)
    assert f2.samples.tolist() == [list(s) for s in xyz24]
    assert f2.samples.dtype == np.int32 and f2.unit == "mG"
    # raw frames ignore the factor (the values are mG already), as the SDK does
    assert decode_pmd_frame(acc_int16_frame(10 ** 9, xyz16), factor=0.5).samples.tolist() == \
        [list(s) for s in xyz16]


def test_raw_frame_errors():
    with pytest.raises(DecodeError) as info:
        decode_pmd_frame(acc_int16_frame(10 ** 9, [(1, 2, 3)]) + b"\x01\x02")
    assert (info.value.offset, info.value.expected_length, info.value.received_length) == (16, 6, 2)
    with pytest.raises(DecodeError, match="no samples"):
        decode_pmd_frame(frame_bytes(2, 0x01, 10 ** 9, b""))
    with pytest.raises(DecodeError, match="512"):
        decode_pmd_frame(acc_int16_frame(10 ** 9, [(1, 2, 3)] * 90))


def test_unsupported_frames():
    for mt, ft in [(0, 0x00), (1, 0x80), (5, 0x00), (2, 0x82), (2, 0x03), (6, 0x80), (4, 0x01)]:
        with pytest.raises(UnsupportedFrameError) as info:
            decode_pmd_frame(frame_bytes(mt, ft, 10 ** 9, b"\x00" * 12))
        assert isinstance(info.value, DecodeError)
        assert f"frame type {ft & 0x7F}" in str(info.value)
    # byte 0 is masked with 0x3F: 0xC2 is ACC
    f = decode_pmd_frame(frame_bytes(0xC2, 0x01, 10 ** 9, b"\x01\x00\x02\x00\x03\x00"))
    assert f.measurement_type is MeasurementType.ACC


def test_compressed_blocks_of_different_widths():
    # reference (1, -1, 1000); block 1: 2 bits x 1 sample: deltas (1, -2, 0);
    # block 2: 4 bits x 2 samples: (7, -8, 1), (-1, 0, 3)
    def pack(bits, values):
        acc, n = 0, 0
        for val in values:
            acc |= (val & ((1 << bits) - 1)) << n
            n += bits
        return acc.to_bytes((n + 7) // 8, "little")

    payload = struct.pack("<3h", 1, -1, 1000)
    payload += bytes([2, 1]) + pack(2, [1, -2, 0])
    payload += bytes([4, 2]) + pack(4, [7, -8, 1, -1, 0, 3])
    f = decode_pmd_frame(frame_bytes(2, 0x81, 10 ** 9, payload), sample_rate_hz=100)
    assert f.samples.tolist() == [[1, -1, 1000], [2, -3, 1000], [9, -11, 1001], [8, -11, 1004]]
    assert [(b.delta_bits, b.sample_count) for b in f.delta_blocks] == [(2, 1), (4, 2)]
    assert f.sample_timestamps_ns.tolist() == [970_000_000, 980_000_000, 990_000_000, 10 ** 9]


def test_delta_edge_widths():
    ref = struct.pack("<3h", 0, 0, 0)
    # 1-bit deltas are 0 or -1 (two's complement of width 1)
    raw, _ = decode_delta_payload(ref + bytes([1, 2, 0b101101]), 3, 16)
    assert raw.tolist() == [[0, 0, 0], [-1, 0, -1], [-2, 0, -2]]
    # 0-bit blocks: count repeats of the previous sample, no packed bytes
    raw, blocks = decode_delta_payload(ref + bytes([0, 3]), 3, 16)
    assert raw.tolist() == [[0, 0, 0]] * 4 and blocks[0].n_bytes == 0
    # 32-bit deltas wrap at 32 bits like the SDK's Int
    big = struct.pack("<3h", 32767, 0, 0) + bytes([32, 1]) + struct.pack("<3i", 2 ** 31 - 1, -1, 0)
    raw, _ = decode_delta_payload(big, 3, 16)
    assert raw[1].tolist() == [32767 + 2 ** 31 - 1 - 2 ** 32, -1, 0]
    with pytest.raises(DecodeError, match="exceeds 32"):
        decode_delta_payload(ref + bytes([33, 1]) + b"\x00" * 13, 3, 16)
    with pytest.raises(DecodeError, match="block header"):
        decode_delta_payload(ref + bytes([4]), 3, 16)
    with pytest.raises(DecodeError, match="reference"):
        decode_delta_payload(ref[:5], 3, 16)


def test_compressed_scaling_rules():
    payload = struct.pack("<3h", 4096, -4096, 1)
    ts = 10 ** 9
    # ACC type 0: mG = trunc(raw * factor * 1000) in float32
    f = decode_pmd_frame(frame_bytes(2, 0x80, ts, payload), factor=0.000244)
    assert f.samples.tolist() == [[999, -999, 0]]
    # ACC type 1 with factor != 1: trunc(raw * factor)
    f = decode_pmd_frame(frame_bytes(2, 0x81, ts, payload), factor=0.5)
    assert f.samples.tolist() == [[2048, -2048, 0]]
    # GYRO type 0: float deg/s, times factor when != 1
    f = decode_pmd_frame(frame_bytes(5, 0x80, ts, payload), factor=0.25)
    assert f.samples.tolist() == [[1024.0, -1024.0, 0.25]] and f.unit == "deg/s"
    with pytest.raises(ValueError, match="factor"):
        decode_pmd_frame(frame_bytes(5, 0x80, ts, payload), factor=0.0)


def test_frame_is_frozen_and_comparable():
    a = decode_pmd_frame(acc_int16_frame(10 ** 9, [(1, 2, 3), (4, 5, 6)]), sample_rate_hz=52)
    b = decode_pmd_frame(acc_int16_frame(10 ** 9, [(1, 2, 3), (4, 5, 6)]), sample_rate_hz=52)
    assert a == b
    assert a != decode_pmd_frame(acc_int16_frame(10 ** 9, [(1, 2, 3), (4, 5, 7)]), sample_rate_hz=52)
    with pytest.raises(ValueError):
        a.samples[0, 0] = 9
    with pytest.raises(AttributeError):
        a.timestamp_ns = 5
    assert a.samples.shape == (2, 3) and a.sample_timestamps_ns.shape == (2,)


def test_input_types():
    data = acc_int16_frame(10 ** 9, [(1, 2, 3)])
    assert decode_pmd_frame(bytearray(data)) == decode_pmd_frame(memoryview(data))
    with pytest.raises(TypeError):
        decode_pmd_frame(list(data))


# ---------------------------------------------------------------------------------------
# PmdTimestamper
# ---------------------------------------------------------------------------------------
def test_timestamper_sequence_and_reset():
    ts0 = 5 * 10 ** 9
    period = 20_000_000  # 50 Hz
    frames = [acc_int16_frame(ts0 + k * 3 * period, [(k, 0, 0)] * 3) for k in range(3)]
    st = PmdTimestamper()
    first = st.decode(frames[0], sample_rate_hz=50)
    assert first.sample_timestamps_ns.tolist() == [ts0 - 2 * period, ts0 - period, ts0]
    assert st.previous_timestamp_ns(MeasurementType.ACC, 0x01) == ts0
    second = st.decode(frames[1], sample_rate_hz=50)
    assert second.sample_timestamps_ns.tolist() == [ts0 + period, ts0 + 2 * period, ts0 + 3 * period]
    # a different frame type has its own previous timestamp; the compression bit is ignored
    assert st.previous_timestamp_ns(MeasurementType.ACC, 0x00) is None
    assert st.previous_timestamp_ns(MeasurementType.ACC, 0x81) == ts0 + 3 * period
    st.reset()
    assert st.previous_timestamp_ns(MeasurementType.ACC, 0x01) is None
    again = st.decode(frames[2], sample_rate_hz=50)
    assert again.sample_timestamps_ns.tolist() == \
        pmd_sample_timestamps(ts0 + 6 * period, 3, sample_rate_hz=50).tolist()


def test_timestamper_matches_explicit_previous():
    st = PmdTimestamper()
    prev = None
    for k in range(5):
        data = acc_int16_frame(10 ** 10 + k * 77_777_777, [(k, k, k)] * 4)
        got = st.decode(data, sample_rate_hz=52)
        want = decode_pmd_frame(data, previous_timestamp_ns=prev, sample_rate_hz=52)
        assert got == want
        prev = want.timestamp_ns


def test_timestamper_clock_step_back_and_bad_payload():
    st = PmdTimestamper()
    st.decode(acc_int16_frame(10 ** 10, [(0, 0, 0)] * 2), sample_rate_hz=50)
    # clock stepped back: anchored on its own timestamp and the rate, counted
    back = st.decode(acc_int16_frame(9 * 10 ** 9, [(0, 0, 0)] * 2), sample_rate_hz=50)
    assert back.sample_timestamps_ns.tolist() == [9 * 10 ** 9 - 20_000_000, 9 * 10 ** 9]
    assert st.backward_steps == 1
    # without a rate the error propagates, and the new timestamp is still remembered
    with pytest.raises(TimestampError):
        st.decode(acc_int16_frame(8 * 10 ** 9, [(0, 0, 0)] * 2))
    assert st.previous_timestamp_ns(2, 1) == 8 * 10 ** 9
    # a frame whose payload is cut still moves the previous timestamp on
    with pytest.raises(DecodeError):
        st.decode(acc_int16_frame(8 * 10 ** 9 + 10 ** 8, [(0, 0, 0)] * 2)[:-1])
    assert st.previous_timestamp_ns(2, 1) == 8 * 10 ** 9 + 10 ** 8
    # a frame without a header changes nothing
    with pytest.raises(DecodeError):
        st.decode(b"\x02\x00")
    assert st.previous_timestamp_ns(2, 1) == 8 * 10 ** 9 + 10 ** 8


# ---------------------------------------------------------------------------------------
# Control point
# ---------------------------------------------------------------------------------------
@needs_vectors
def test_uuids_match_vectors():
    cp = VECTORS["control_point"]
    assert PMD_SERVICE_UUID == cp["pmd_service"].lower()
    assert PMD_CP_UUID == cp["pmd_control_point"].lower()
    assert PMD_DATA_UUID == cp["pmd_data"].lower()


def _check_settings_response_parse(ex):
    data = bytes.fromhex(ex["bytes_hex"])
    settings = parse_settings(data)
    assert settings.to_dict() == ex["expected"]
    assert serialize_settings(settings) == data
    # the same bytes as the params of a GET_MEASUREMENT_SETTINGS response
    resp = parse_cp_response(bytes([CP_RESPONSE_CODE, 0x01, 0x05, 0x00, 0x00]) + data)
    assert resp.settings() == settings


def _check_start_acc(ex):
    settings = PmdSettings(sample_rate=(52,), resolution=(16,), range=(8,), channels=(3,))
    assert build_start_measurement(MeasurementType.ACC, settings) == bytes.fromhex(ex["write_hex"])
    resp = parse_cp_notification(bytes.fromhex(ex["expected_cp_notification_hex"]))
    assert resp == PmdCpResponse(opcode=CpOpcode.REQUEST_MEASUREMENT_START,
                                 measurement_type=MeasurementType.ACC, status=CpStatus.SUCCESS,
                                 more=False, params=b"")
    assert resp.ok and resp.status_name == "SUCCESS"
    resp.raise_for_status()


def _check_cp_success_response_queue(ex):
    data = bytes.fromhex(ex["bytes_hex"])
    resp = parse_cp_notification(data)
    assert isinstance(resp, PmdCpResponse)
    assert (resp.opcode, resp.measurement_type, resp.status, resp.more) == \
        (CpOpcode.GET_MEASUREMENT_SETTINGS, MeasurementType.ECG, CpStatus.SUCCESS, False)
    assert resp.params == data[5:]
    # Polar's test only checks the bytes reach the queue; they are no valid settings TLV
    with pytest.raises(DecodeError, match="unknown setting type 0x70"):
        resp.settings()


def _check_device_initiated_stop(ex):
    note = parse_cp_notification(bytes.fromhex(ex["bytes_hex"]))
    assert note == PmdMeasurementStopped((MeasurementType.PPG, MeasurementType.ACC))


def _check_start_response_with_factor(ex):
    resp = parse_cp_notification(bytes.fromhex(ex["bytes_hex"]))
    assert (resp.opcode, resp.measurement_type, resp.status, resp.more) == (2, 1, 0, False)
    settings = resp.settings()
    assert settings.factor == (2.5,) and settings.to_dict() == {"FACTOR": [2.5]}
    assert settings.scale_factor() == 2.5


CP_CHECKS = {
    "settings_response_parse": _check_settings_response_parse,
    "start_acc_verity_52hz_8g_16bit": _check_start_acc,
    "cp_success_response_queue": _check_cp_success_response_queue,
    "device_initiated_stop": _check_device_initiated_stop,
    "start_response_with_factor": _check_start_response_with_factor,
}


@pytest.mark.parametrize("ex", CP_EXAMPLES)
def test_control_point_vectors(ex):
    check = CP_CHECKS.get(ex["id"])
    if check is None:
        pytest.fail(f"no check for control point example {ex['id']!r}: extend CP_CHECKS")
    check(ex)


def test_start_command_round_trip_ble_md_example():
    settings = PmdSettings(sample_rate=(52,), resolution=(16,), range=(8,), channels=(3,))
    built = build_start_measurement(MeasurementType.ACC, settings)
    assert built == BLE_MD_START_ACC
    assert built[0] == CpOpcode.REQUEST_MEASUREMENT_START and built[1] == MeasurementType.ACC
    parsed = parse_settings(built[2:])
    assert parsed == settings
    assert parsed.to_dict() == {"SAMPLE_RATE": [52], "RESOLUTION": [16], "RANGE": [8], "CHANNELS": [3]}
    assert build_start_measurement(built[1], parsed) == built


def test_command_builders():
    assert build_get_measurement_settings(MeasurementType.ACC) == b"\x01\x02"
    assert build_stop_measurement(MeasurementType.ACC) == b"\x03\x02"
    assert build_start_measurement(MeasurementType.SDK_MODE) == b"\x02\x09"
    assert build_get_measurement_status() == b"\x05"
    with pytest.raises(ValueError, match="exactly one"):
        build_start_measurement(2, PmdSettings(sample_rate=(52, 104)))
    with pytest.raises(ValueError, match="factor"):
        build_start_measurement(2, PmdSettings(factor=(1.0,)))
    with pytest.raises(ValueError, match="CHANNELS"):
        build_start_measurement(2, PmdSettings(channels=(256,)))
    with pytest.raises(ValueError, match="measurement_type"):
        build_stop_measurement(64)


def test_settings_tlv_all_types_round_trip():
    s = PmdSettings(sample_rate=(26, 52, 104), resolution=(16,), range=(2, 4, 8, 16),
                    range_milliunit=(2000, 70000), channels=(3,), factor=(0.000244140625,),
                    security=(bytes(range(16)),))
    data = serialize_settings(s)
    assert parse_settings(data) == s
    assert parse_settings(b"") == PmdSettings()
    with pytest.raises(DecodeError) as info:
        parse_settings(data[:-3])
    assert info.value.expected_length == 16 and info.value.received_length == 13
    with pytest.raises(DecodeError, match="record header"):
        parse_settings(b"\x00")
    # a type that occurs twice keeps all its values
    assert parse_settings(bytes.fromhex("0001340000011a00")).sample_rate == (52, 26)


def test_cp_response_more_and_errors():
    parts = [bytes.fromhex("f0 01 02 00 01 00 01 34 00"),
             bytes.fromhex("f0 01 02 00 01 01 01 10 00"),
             bytes.fromhex("f0 01 02 00 00 04 01 03")]
    joined = join_cp_responses(parts)
    assert joined.more is False
    assert joined.settings().to_dict() == {"SAMPLE_RATE": [52], "RESOLUTION": [16], "CHANNELS": [3]}
    with pytest.raises(DecodeError, match="announces more"):
        join_cp_responses(parts[:2])
    with pytest.raises(DecodeError, match="ends the sequence"):
        join_cp_responses([parts[2], parts[2]])
    with pytest.raises(DecodeError, match="opcode"):
        join_cp_responses([parts[0], bytes.fromhex("f0 02 02 00 00")])

    refused = parse_cp_response(bytes.fromhex("f0 02 02 06 01"))
    assert refused.status_name == "ERROR_ALREADY_IN_STATE" and not refused.ok
    assert refused.more is False  # only honoured on success, as in the SDK
    with pytest.raises(ControlPointError) as info:
        refused.raise_for_status()
    assert info.value.status == CpStatus.ERROR_ALREADY_IN_STATE
    assert parse_cp_response(bytes.fromhex("f0 03 02 00")).params == b""
    assert parse_cp_response(bytes.fromhex("f0 03 02 2a")).status_name == "UNKNOWN_0x2a"
    for bad in [b"", b"\xf0\x01\x02", b"\x7f\x01\x02\x00"]:
        with pytest.raises(DecodeError):
            parse_cp_notification(bad)


def test_features():
    f = parse_features(bytes([0x0F, 0x01 | 0x04 | 0x20, 0x02]))
    assert f.measurement_types == {MeasurementType.ECG, MeasurementType.ACC,
                                   MeasurementType.GYRO, MeasurementType.SDK_MODE}
    assert f.supports(MeasurementType.ACC) and not f.supports(MeasurementType.PPG) and f.sdk_mode
    assert parse_features(bytes([0x0F, 0x05, 0x00, 0xFF])) == PmdFeatures(0x05, 0x00)
    with pytest.raises(DecodeError) as info:
        parse_features(b"\x0f\x05")
    assert (info.value.expected_length, info.value.received_length) == (3, 2)
    with pytest.raises(DecodeError, match="0x0f"):
        parse_features(b"\x0e\x05\x00")


def test_setting_type_sizes_cover_every_type():
    from sensor.polar import SETTING_VALUE_BYTES
    assert set(SETTING_VALUE_BYTES) == set(SettingType)
    assert FRAME_TYPE_COMPRESSED == 0x80


def test_package_import_is_light():
    """`import sensor` must not pull in bleak or numba (checked in a fresh interpreter)."""
    import subprocess
    import sys
    code = ("import sys, sensor, sensor.polar; "
            "bad = [m for m in ('bleak', 'numba') if m in sys.modules]; "
            "print(','.join(bad))")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True,
                         text=True, check=True)
    assert out.stdout.strip() == ""
