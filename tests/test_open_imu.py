"""The open-IMU profile decoder: round trips, malformed packets, sequence gaps, fuzzing."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from sensor.errors import DecodeError
from sensor.open_imu import (
    CMD_STOP,
    DEVICE_STOPPED,
    HEADER,
    RANGES_G,
    STATUS_BAD_COMMAND,
    STATUS_OK,
    BandInfo,
    ControlAnswer,
    decode_packet,
    encode_answer,
    encode_info,
    encode_info_answer,
    encode_packet,
    encode_start,
    encode_stop,
    max_samples,
    packets_missing,
    parse_control_answer,
)

i16 = st.integers(-32768, 32767)


@given(st.integers(0, 2**20), st.integers(0, 2**50), st.integers(1, 10**8),
       st.lists(st.tuples(i16, i16, i16), min_size=1, max_size=40), st.booleans())
def test_round_trip(seq, t0_us, period_ns, acc, with_gyro):
    acc = np.array(acc)
    gyro = acc[::-1].copy() if with_gyro else None
    p = decode_packet(encode_packet(seq, t0_us, period_ns, acc, gyro_raw=gyro))
    assert p.seq == seq % 65536
    np.testing.assert_array_equal(p.device_t_ns, t0_us * 1000 + np.arange(len(acc)) * period_ns)
    np.testing.assert_allclose(p.acc_g, acc * 122e-6)
    if with_gyro:
        np.testing.assert_allclose(p.gyro_dps, gyro * 0.07)
    else:
        assert p.gyro_dps is None


def test_header_is_20_bytes_and_37_samples_fit_an_mtu_of_247():
    assert HEADER.size == 20
    assert len(encode_packet(0, 0, 10_000_000, np.zeros((37, 3)))) <= 244


@pytest.mark.parametrize("mutate, what", [
    (lambda b: b[:10], "truncated"),
    (lambda b: bytes([2]) + b[1:], "version"),
    (lambda b: b[:1] + bytes([0x80]) + b[2:], "flags"),
    (lambda b: b + b"\x00", "length"),
    (lambda b: b[:-1], "length"),
])
def test_malformed_packets_raise_decode_error(mutate, what):
    good = encode_packet(1, 5, 10_000_000, np.ones((4, 3)))
    with pytest.raises(DecodeError, match=what):
        decode_packet(mutate(good))


def test_sequence_gaps_wrap_around():
    assert packets_missing(None, 7) == 0
    assert packets_missing(7, 8) == 0
    assert packets_missing(7, 10) == 2
    assert packets_missing(65535, 0) == 0
    assert packets_missing(65534, 1) == 2


@settings(max_examples=2000)
@given(st.binary(max_size=300))
def test_fuzz_only_decode_errors(data):
    try:
        decode_packet(data)
    except DecodeError:
        pass


def test_samples_per_packet_follow_the_mtu():
    assert max_samples(247) == 37 and max_samples(247, gyro=True) == 18
    assert max_samples(131) == 18                  # Espruino on the Bangle.js 2
    assert max_samples(23) == 0 and max_samples(28) == 0 and max_samples(29) == 1
    assert max_samples(517) == 82
    for mtu in (29, 131, 247, 517):
        n = max_samples(mtu)
        assert len(encode_packet(0, 0, 1, np.zeros((n, 3)))) <= mtu - 3


def test_device_time_beyond_int64_nanoseconds_is_refused():
    ok = encode_packet(0, (2**63 - 1) // 1000 - 1, 1, np.zeros((1, 3)))
    assert decode_packet(ok).device_t_ns[0] > 0
    with pytest.raises(DecodeError, match="int64"):
        decode_packet(encode_packet(0, 2**63 // 1000 + 1, 1, np.zeros((1, 3))))
    with pytest.raises(DecodeError, match="int64"):       # used to wrap silently
        decode_packet(encode_packet(0, 2**64 - 1, 10_000_000, np.zeros((2, 3))))


def test_control_commands_and_answers():
    assert encode_start(100, 4) == bytes([1, 100, 0, 4, 0])
    assert encode_start(416, 8, gyro=True) == bytes([1, 0xA0, 0x01, 8, 1])
    assert encode_stop() == b"\x02" and encode_info() == b"\x03"
    with pytest.raises(ValueError):
        encode_start(0, 4)
    a = parse_control_answer(bytes([0xF1, 1, 0]))
    assert a.ok and a.command == 1 and a.info is None
    bad = parse_control_answer(bytes([0xF1, 9, 5]))
    assert bad.status == STATUS_BAD_COMMAND and not bad.ok and bad.status_name.startswith("unknown")
    info = parse_control_answer(bytes([0xF1, 3, 0, 1, 100, 0, 0x07, 0, 255])).info
    assert (info.version, info.max_rate_hz, info.ranges_g, info.has_gyro, info.battery_percent) \
        == (1, 100, (2, 4, 8), False, None)
    assert parse_control_answer(bytes([0xF1, 3, 0, 1, 0x82, 6, 0x0F, 1, 87])).info.battery_percent == 87
    assert parse_control_answer(bytes([0xF1, 3, STATUS_OK + 5])).info is None


def test_band_side_answers_round_trip():
    assert encode_answer(1) == bytes([0xF1, 1, 0]) and encode_answer(9, 5) == bytes([0xF1, 9, 5])
    assert DEVICE_STOPPED == bytes([0xF1, 2, 0])
    assert parse_control_answer(DEVICE_STOPPED) == ControlAnswer(CMD_STOP, STATUS_OK)
    # the spec's example: LSM6DS3 band, 416 Hz, every range, gyro, battery unknown
    info = BandInfo(1, 416, (2, 4, 8, 16), True, None)
    assert encode_info_answer(info) == bytes([0xF1, 3, 0, 1, 0xA0, 1, 0x0F, 1, 255])
    assert parse_control_answer(encode_info_answer(info)).info == info
    with pytest.raises(ValueError):
        encode_info_answer(BandInfo(1, 100, (3,), False, 50))     # 3 g has no bit
    with pytest.raises(ValueError):
        encode_info_answer(BandInfo(1, 100, (2,), False, 101))    # neither 0-100 nor unknown
    with pytest.raises(ValueError):
        encode_answer(256)


@given(st.integers(0, 255), st.integers(0, 0xFFFF), st.sets(st.sampled_from(RANGES_G)), st.booleans(),
       st.one_of(st.none(), st.integers(0, 100)))
def test_info_answer_round_trip(version, max_rate, ranges, gyro, battery):
    info = BandInfo(version, max_rate, tuple(sorted(ranges)), gyro, battery)
    assert parse_control_answer(encode_info_answer(info)) == ControlAnswer(3, STATUS_OK, info)


@pytest.mark.parametrize("data, what", [
    (b"", "truncated"), (b"\xf1\x01", "truncated"), (b"\xf0\x01\x00", "0xf0"),
    (b"\xf1\x01\x00\x00", "length"), (b"\xf1\x03\x00\x01", "INFO"),
])
def test_malformed_control_answers_raise_decode_error(data, what):
    with pytest.raises(DecodeError, match=what):
        parse_control_answer(data)
