"""sensor.polar_encode is the exact inverse of sensor.polar's decoders.

Round trips (hypothesis: random samples, timestamps, widths and block plans) through
decode_pmd_frame / parse_cp_notification / parse_features, plus the byte-exact check that
re-encoding the values decoded from Polar's own vectors gives back the vector bytes.
The vectors live in ../shared/vectors/ (skipped with the path when absent).
"""
from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from sensor.polar import (
    CpOpcode,
    CpStatus,
    MeasurementType,
    PmdCpResponse,
    PmdMeasurementStopped,
    PmdSettings,
    decode_delta_payload,
    decode_pmd_frame,
    join_cp_responses,
    parse_cp_notification,
    parse_features,
    parse_pmd_header,
    pmd_sample_timestamps,
)
from sensor.polar_encode import (
    delta_bits_needed,
    encode_acc_delta_frame,
    encode_acc_raw_frame,
    encode_cp_response,
    encode_delta_payload,
    encode_features,
    encode_measurement_stopped,
    encode_pmd_header,
    encode_settings_response,
    encode_start_response,
    encode_stop_response,
    max_raw_samples_per_frame,
    split_cp_response,
)

VECTORS_PATH = Path(__file__).resolve().parents[1].parent / "shared" / "vectors" / \
    "polar_pmd_vectors.json"
VECTORS = json.loads(VECTORS_PATH.read_text(encoding="utf-8")) if VECTORS_PATH.is_file() else None
SKIP = f"Polar PMD vectors not found (looked at {VECTORS_PATH})"

COMMON = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow])
FAST = settings(max_examples=300, **COMMON)

# Device times: 2000-01-01 + up to ~290 years, well inside int64.
timestamps = st.integers(min_value=10 ** 10, max_value=2 ** 63 - 1)


def sample_arrays(lo: int, hi: int, max_n: int):
    return st.integers(1, max_n).flatmap(
        lambda n: hnp.arrays(np.int64, (n, 3), elements=st.integers(lo, hi)))


# ---------------------------------------------------------------------------------------
# Raw frames
# ---------------------------------------------------------------------------------------
@FAST
@given(samples=sample_arrays(-32768, 32767, 83), ts=timestamps,
       fs=st.sampled_from([25, 50, 100, 200]))
def test_raw_int16_round_trip(samples, ts, fs):
    frame = encode_acc_raw_frame(samples, ts)
    assert len(frame) == 10 + 6 * len(samples)
    assert frame[0] == MeasurementType.ACC and frame[9] == 0x01
    if ts - (len(samples) - 1) * (10 ** 9 // fs) < 0:
        return
    dec = decode_pmd_frame(frame, sample_rate_hz=fs)
    assert dec.timestamp_ns == ts
    assert np.array_equal(dec.samples, samples)
    assert np.array_equal(dec.sample_timestamps_ns,
                          pmd_sample_timestamps(ts, len(samples), sample_rate_hz=fs))


@FAST
@given(ft=st.sampled_from([0, 1, 2]), data=st.data(), ts=timestamps)
def test_raw_all_widths_round_trip(ft, data, ts):
    bits = {0: 8, 1: 16, 2: 24}[ft]
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    samples = data.draw(sample_arrays(lo, hi, 500 // (3 * (bits // 8))))
    frame = encode_acc_raw_frame(samples, ts, frame_type=ft)
    dec = decode_pmd_frame(frame)
    assert dec.frame_type == ft and not dec.compressed
    assert np.array_equal(dec.samples, samples)


def test_raw_rejects_values_that_do_not_fit():
    with pytest.raises(ValueError, match="does not fit 16-bit"):
        encode_acc_raw_frame([[0, 40000, 0]], 10 ** 12)
    with pytest.raises(ValueError, match="shape"):
        encode_acc_raw_frame([[0, 0]], 10 ** 12)
    with pytest.raises(ValueError, match="512-byte"):
        encode_acc_raw_frame(np.zeros((100, 3), int), 10 ** 12)
    with pytest.raises(ValueError, match="integers"):
        encode_acc_raw_frame([[0.5, 0, 0]], 10 ** 12)
    with pytest.raises(ValueError, match="timestamp_ns"):
        encode_acc_raw_frame([[0, 0, 0]], -1)


def test_samples_per_frame_from_mtu():
    assert max_raw_samples_per_frame(232) == 36        # what an H10 negotiates
    assert max_raw_samples_per_frame(23) == 1
    assert max_raw_samples_per_frame(517) == (512 - 10) // 6
    n = max_raw_samples_per_frame(232)
    assert len(encode_acc_raw_frame(np.zeros((n, 3), int), 10 ** 12)) <= 232 - 3


# ---------------------------------------------------------------------------------------
# Delta-compressed frames
# ---------------------------------------------------------------------------------------
@FAST
@given(samples=sample_arrays(-32768, 32767, 200), ts=timestamps,
       min_bits=st.integers(0, 16), block=st.integers(1, 255))
def test_delta_type1_round_trip(samples, ts, min_bits, block):
    try:
        frame = encode_acc_delta_frame(samples, ts, min_delta_bits=min_bits,
                                       max_block_samples=block)
    except ValueError as exc:
        assert "512-byte" in str(exc)
        return
    assert frame[9] == 0x81
    dec = decode_pmd_frame(frame, previous_timestamp_ns=ts - 1000 if ts > 1000 else None,
                           sample_rate_hz=100)
    assert dec.compressed and dec.frame_type == 1
    assert np.array_equal(dec.samples, samples)
    assert all(b.delta_bits >= min_bits for b in dec.delta_blocks)
    assert all(b.sample_count <= block for b in dec.delta_blocks)


@FAST
@given(data=st.data(), res=st.sampled_from([8, 16, 24, 32]), channels=st.integers(1, 4))
def test_delta_payload_round_trip_any_width(data, res, channels):
    lo, hi = -(1 << (res - 1)), (1 << (res - 1)) - 1
    n = data.draw(st.integers(1, 60))
    ref = data.draw(st.lists(st.integers(lo, hi), min_size=channels, max_size=channels))
    rest = data.draw(st.lists(st.lists(st.integers(-2 ** 31, 2 ** 31 - 1), min_size=channels,
                                       max_size=channels), min_size=n - 1, max_size=n - 1))
    raw = np.array([ref] + rest, dtype=np.int64)
    payload = encode_delta_payload(raw, res, min_delta_bits=data.draw(st.integers(0, 32)))
    out, _ = decode_delta_payload(payload, channels, res)
    assert np.array_equal(out, raw)


@FAST
@given(deltas=st.lists(st.integers(-2 ** 31, 2 ** 31 - 1), min_size=1, max_size=20))
def test_delta_bits_needed_is_minimal(deltas):
    b = delta_bits_needed(deltas)
    if not any(deltas):
        assert b == 0
        return
    assert all(-(1 << (b - 1)) <= d < (1 << (b - 1)) for d in deltas)
    if b > 1:
        assert not all(-(1 << (b - 2)) <= d < (1 << (b - 2)) for d in deltas)


def test_delta_explicit_blocks_and_errors():
    raw = np.array([[0, 0, 0], [1, -1, 2], [3, -2, 2], [100, 0, 0]])
    frame = encode_acc_delta_frame(raw, 10 ** 12, blocks=[(4, 2), (8, 1)])
    dec = decode_pmd_frame(frame)
    assert [(b.delta_bits, b.sample_count) for b in dec.delta_blocks] == [(4, 2), (8, 1)]
    assert np.array_equal(dec.samples, raw)
    with pytest.raises(ValueError, match="cover"):
        encode_acc_delta_frame(raw, 10 ** 12, blocks=[(8, 2)])
    with pytest.raises(ValueError, match="does not fit 4-bit"):
        encode_acc_delta_frame(raw, 10 ** 12, blocks=[(4, 3)])
    with pytest.raises(ValueError, match="reference"):
        encode_acc_delta_frame([[40000, 0, 0]], 10 ** 12)


# ---------------------------------------------------------------------------------------
# Control point
# ---------------------------------------------------------------------------------------
@FAST
@given(types=st.sets(st.sampled_from([MeasurementType.ECG, MeasurementType.PPG,
                                      MeasurementType.ACC, MeasurementType.PPI,
                                      MeasurementType.GYRO, MeasurementType.MAG,
                                      MeasurementType.SDK_MODE])))
def test_features_round_trip(types):
    assert parse_features(encode_features(types)).measurement_types == frozenset(types)


def test_h10_features():
    assert encode_features([MeasurementType.ECG, MeasurementType.ACC]) == bytes.fromhex("0f0500")


@FAST
@given(op=st.integers(0, 255), mt=st.integers(0, 255), params=st.binary(max_size=40))
def test_cp_response_round_trip(op, mt, params):
    r = parse_cp_notification(encode_cp_response(op, mt, CpStatus.SUCCESS, params))
    assert isinstance(r, PmdCpResponse)
    assert (r.opcode, r.measurement_type, r.status, r.more, r.params) == (op, mt, 0, False, params)


@FAST
@given(params=st.binary(max_size=100), chunk=st.integers(1, 30))
def test_split_response_joins_back(params, chunk):
    parts = split_cp_response(CpOpcode.GET_MEASUREMENT_SETTINGS, MeasurementType.ACC, params,
                              chunk)
    joined = join_cp_responses(parts)
    assert joined.params == params and joined.ok and not joined.more


@FAST
@given(rates=st.lists(st.integers(1, 65535), min_size=1, max_size=8),
       ranges=st.lists(st.integers(1, 65535), max_size=4),
       status=st.sampled_from(list(CpStatus)))
def test_settings_response_round_trip(rates, ranges, status):
    s = PmdSettings(sample_rate=tuple(rates), resolution=(16,), range=tuple(ranges))
    r = parse_cp_notification(encode_settings_response(MeasurementType.ACC, s, status))
    assert r.opcode == CpOpcode.GET_MEASUREMENT_SETTINGS and r.status == status
    if status == CpStatus.SUCCESS:
        assert r.settings() == s
    else:
        assert r.params == b""


def test_h10_acc_settings_bytes():
    s = PmdSettings(sample_rate=(25, 50, 100, 200), resolution=(16,), range=(2, 4, 8))
    assert encode_settings_response(MeasurementType.ACC, s) == bytes.fromhex(
        "f0 01 02 00 00 00 04 19 00 32 00 64 00 c8 00 01 01 10 00 02 03 02 00 04 00 08 00")


@pytest.mark.parametrize("factor", [1.0, 2.5, 0.000244, None])
def test_start_response_carries_factor(factor):
    data = encode_start_response(MeasurementType.ACC, factor=factor)
    r = parse_cp_notification(data)
    r.raise_for_status()
    assert r.opcode == CpOpcode.REQUEST_MEASUREMENT_START
    want = () if factor is None else (struct.unpack("<f", struct.pack("<f", factor))[0],)
    assert r.settings().factor == want
    assert data[:5] == bytes.fromhex("f002020000")


def test_error_responses_and_stop():
    r = parse_cp_notification(encode_start_response(MeasurementType.ACC,
                                                    CpStatus.ERROR_INVALID_SAMPLE_RATE))
    assert r.status_name == "ERROR_INVALID_SAMPLE_RATE" and r.params == b""
    assert encode_stop_response(MeasurementType.ACC) == bytes.fromhex("f003020000")
    stopped = parse_cp_notification(encode_measurement_stopped([1, 2]))
    assert isinstance(stopped, PmdMeasurementStopped)
    assert stopped.measurement_types == (MeasurementType.PPG, MeasurementType.ACC)


def test_header_round_trip():
    h = parse_pmd_header(encode_pmd_header(MeasurementType.GYRO, 123456789, 1, compressed=True))
    assert (h.measurement_type, h.timestamp_ns, h.frame_type, h.compressed) == (5, 123456789, 1,
                                                                               True)


# ---------------------------------------------------------------------------------------
# Polar's vectors, byte for byte
# ---------------------------------------------------------------------------------------
def _acc_vectors():
    if VECTORS is None:
        return [pytest.param(None, marks=pytest.mark.skip(reason=SKIP), id="vectors-missing")]
    return [pytest.param(v, id=v["id"]) for v in VECTORS["vectors"] if v["measurement"] == "ACC"]


def _mask_padding(frame: bytes, blocks) -> bytes:
    """Zero the unused high bits of each delta block's last byte (they carry no data)."""
    out = bytearray(frame)
    for b in blocks:
        used = b.delta_bits * b.sample_count * 3
        if used % 8 and b.n_bytes:
            out[b.offset + 2 + b.n_bytes - 1] &= (1 << (used % 8)) - 1
    return bytes(out)


@pytest.mark.parametrize("v", _acc_vectors())
def test_reencoding_vector_values_gives_vector_bytes(v):
    data = bytes.fromhex(v["frame_hex"])
    h = v["header"]
    dec = decode_pmd_frame(data)
    if not h["compressed"]:
        assert encode_acc_raw_frame(dec.samples, h["timestamp_ns_since_2000"],
                                    frame_type=h["frame_type"]) == data
        return
    blocks = [(b.delta_bits, b.sample_count) for b in dec.delta_blocks]
    again = encode_acc_delta_frame(dec.raw_samples, h["timestamp_ns_since_2000"],
                                   frame_type=h["frame_type"], blocks=blocks)
    # Polar's hand-made type-1 vectors carry stray bits in the padding after the last
    # delta; everything else is byte-exact.
    assert again == _mask_padding(data, dec.delta_blocks)
    if v["id"] in ("acc_delta_type0_factor", "acc_delta_type0_real_verity_capture"):
        assert again == data
