"""Slow fuzz of the open-IMU decoders (hypothesis): 100,000 random and mutated inputs.

Contract: whatever the bytes, ``decode_packet`` and ``parse_control_answer`` either return a
well-formed result or raise :class:`sensor.DecodeError`; nothing else escapes and numpy warns
about nothing. Packets that decode are checked against the header fields read independently
with ``struct``. Inputs: random bytes, valid packets (with and without gyro, any device time)
and valid packets with 1-4 random edits. Derandomized with the example database off, so a run is reproducible.
"""
from __future__ import annotations

import random
import struct
import warnings

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sensor import DecodeError
from sensor.open_imu import FLAG_GYRO, HEADER, ImuPacket, decode_packet, parse_control_answer

SLOW = settings(max_examples=20_000, deadline=None, database=None, derandomize=True,
                suppress_health_check=list(HealthCheck))

i16 = st.integers(-32768, 32767)


@st.composite
def valid_packets(draw) -> bytes:
    """A well-formed packet, drawn as a header and a body of the right length: any bytes
    make valid int16 samples, so each body costs one draw (cheap for 100,000 examples)."""
    n = draw(st.integers(1, 40))
    gyro = draw(st.booleans())
    t0_us = draw(st.one_of(st.integers(0, 2**53), st.integers(0, 2**64 - 1)))
    head = HEADER.pack(1, FLAG_GYRO if gyro else 0, draw(st.integers(0, 2**16 - 1)), t0_us,
                       draw(st.integers(1, 2**32 - 1)), draw(st.integers(1, 2**16 - 1)), n,
                       draw(st.integers(1, 255)) if gyro else 0)
    size = 6 * n * (2 if gyro else 1)
    return head + draw(st.binary(min_size=size, max_size=size))


@st.composite
def mutated(draw, seeds) -> bytes:
    data = bytearray(draw(seeds))
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["set", "flip", "insert", "delete", "truncate", "extend"]))
        i = draw(st.integers(0, max(len(data) - 1, 0)))
        if op == "set" and data:
            data[i] = draw(st.integers(0, 255))
        elif op == "flip" and data:
            data[i] ^= 1 << draw(st.integers(0, 7))
        elif op == "insert":
            data[i:i] = draw(st.binary(min_size=1, max_size=12))
        elif op == "delete" and data:
            del data[i:i + draw(st.integers(1, 12))]
        elif op == "truncate":
            del data[i:]
        else:
            data += draw(st.binary(min_size=1, max_size=12))
    return bytes(data)


any_bytes = st.one_of(st.binary(max_size=300), valid_packets(), mutated(valid_packets()))


def check(data: bytes) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            p = decode_packet(data)
        except DecodeError as exc:
            assert str(exc)
        else:
            assert isinstance(p, ImuPacket)
            version, flags, seq, t0_us, period, lsb, n, glsb = struct.unpack_from("<BBHQIHBB", data)
            assert version == 1 and n >= 1 and p.seq == seq
            assert len(data) == 20 + 6 * n * (2 if flags & 1 else 1)
            assert p.acc_g.shape == (n, 3) and p.device_t_ns.shape == (n,)
            assert int(p.device_t_ns[-1]) == t0_us * 1000 + (n - 1) * period < 2**63
            assert (p.gyro_dps is None) == (not flags & 1)
        try:
            parse_control_answer(data)
        except DecodeError as exc:
            assert str(exc)


def quick_mutations(data: bytes, rng: random.Random, count: int) -> list[bytes]:
    """`count` cheap variants of data: 1-3 byte edits, cuts and extensions each."""
    out = []
    for _ in range(count):
        b = bytearray(data)
        for _ in range(rng.randint(1, 3)):
            op = rng.randrange(5)
            i = rng.randrange(len(b)) if b else 0
            if op == 0 and b:
                b[i] = rng.randrange(256)
            elif op == 1 and b:
                b[i] ^= 1 << rng.randrange(8)
            elif op == 2:
                del b[i:]
            elif op == 3:
                b += bytes(rng.randrange(256) for _ in range(rng.randint(1, 12)))
            elif b:
                del b[i:i + rng.randint(1, 12)]
        out.append(bytes(b))
    return out


@pytest.mark.slow
@SLOW
@given(data=any_bytes, seed=st.integers(0, 2**32 - 1))
def test_fuzz_open_imu_decoders(data, seed):
    """20,000 hypothesis examples x (the example + 4 seeded mutations) = 100,000 inputs."""
    check(data)
    for variant in quick_mutations(data, random.Random(seed), 4):
        check(variant)
