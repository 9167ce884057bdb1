"""The open-IMU profile decoder: round trips, malformed packets, sequence gaps, fuzzing."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from sensor.errors import DecodeError
from sensor.open_imu import HEADER, decode_packet, encode_packet, packets_missing

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
