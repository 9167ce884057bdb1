"""Fuzz tests of the Movesense GSP decoder (hypothesis).

Contract: whatever the bytes, ``decode_data`` (and ``MovesenseProfile.decode`` on top of
it) returns a well-formed packet or raises :class:`sensor.DecodeError` (or a subclass);
nothing else escapes and numpy emits no warnings.  Packets that decode are compared with
a slow, obviously correct reference decoder written from the byte layout (``struct``, one
value at a time).

Inputs: random bytes; well-encoded Acc and IMU6 packets; and those packets mutated (bytes
flipped, cut, inserted, the type byte changed).  The unmarked test runs 500 hypothesis
examples.  The ``slow`` ones run 5,000 more hypothesis examples, then 12,000 hypothesis
seeds of 10 frames each from numpy's generator (120,000 frames: hypothesis's own drawing
costs ~3 ms an example, the frames from a seed ~0.3 ms).  All derandomized, the example
database off.
"""
from __future__ import annotations

import math
import struct
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sensor import DecodeError
from sensor import movesense as ms
from sensor.profiles import MovesenseProfile

COMMON = dict(deadline=None, database=None, derandomize=True, suppress_health_check=list(HealthCheck))
FAST = settings(max_examples=500, **COMMON)
SLOW = settings(max_examples=5_000, **COMMON)
SEEDS = settings(max_examples=12_000, **COMMON)
FRAMES_PER_SEED = 10


def naive_decode(data: bytes, kind: str):
    """Straight from the layout: [02][ref][u32 ms][n x 3 f32 acc][n x 3 f32 gyro if IMU6]."""
    groups = 2 if kind == "imu6" else 1
    if len(data) < 6 or data[0] != 2 or len(data) > 512:
        return None
    body = data[6:]
    if len(body) == 0 or len(body) % (12 * groups):
        return None
    n = len(body) // (12 * groups)
    vals = [struct.unpack_from("<f", body, 4 * i)[0] for i in range(len(body) // 4)]
    if not all(math.isfinite(v) for v in vals):
        return None
    acc = [vals[3 * i:3 * i + 3] for i in range(n)]
    gyro = [vals[3 * (n + i):3 * (n + i) + 3] for i in range(n)] if groups == 2 else None
    return data[1], struct.unpack_from("<I", data, 2)[0], acc, gyro


@st.composite
def good_packet(draw):
    """A well-encoded Acc or IMU6 packet: random float32 bit patterns made finite (one
    exponent bit cleared), drawn as bytes because that is fast."""
    kind = draw(st.sampled_from(["acc", "imu6"]))
    groups = ms.KIND_VECTORS[kind]
    n = draw(st.integers(1, (512 - 6) // (12 * groups)))
    raw = np.frombuffer(draw(st.binary(min_size=12 * groups * n, max_size=12 * groups * n)), "<u4")
    body = (raw & np.uint32(0xBFFFFFFF)).astype("<u4").tobytes()
    head = bytes((2, draw(st.integers(1, 255)))) + struct.pack("<I", draw(st.integers(0, ms.MS_MODULO - 1)))
    return kind, head + body


@st.composite
def mutated_packet(draw):
    kind, data = draw(good_packet())
    buf = bytearray(data)
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["flip", "cut", "insert", "type", "tail"]))
        if op == "flip" and buf:
            i = draw(st.integers(0, len(buf) - 1))
            buf[i] ^= 1 << draw(st.integers(0, 7))
        elif op == "cut" and buf:
            i = draw(st.integers(0, len(buf)))
            del buf[i:i + draw(st.integers(1, 16))]
        elif op == "insert":
            i = draw(st.integers(0, len(buf)))
            buf[i:i] = draw(st.binary(min_size=1, max_size=16))
        elif op == "type" and buf:
            buf[0] = draw(st.integers(0, 255))
        else:
            buf += draw(st.binary(max_size=600))
    return draw(st.sampled_from(["acc", "imu6"])) if draw(st.booleans()) else kind, bytes(buf)


frames = st.one_of(
    st.tuples(st.sampled_from(["acc", "imu6"]), st.binary(max_size=600)),
    good_packet(),
    mutated_packet(),
)


def check(kind: str, data: bytes) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            pkt = ms.decode_data(data, kind)
        except DecodeError:
            assert naive_decode(data, kind) is None, data.hex()
            profile_view(kind, data)
            return
        ref = naive_decode(data, kind)
        assert ref is not None, data.hex()
        assert (pkt.reference, pkt.timestamp_ms) == ref[:2]
        np.testing.assert_array_equal(pkt.acc_ms2, np.asarray(ref[2], dtype=np.float64))
        if kind == "imu6":
            np.testing.assert_array_equal(pkt.gyro_dps, np.asarray(ref[3], dtype=np.float64))
        else:
            assert pkt.gyro_dps is None
        profile_view(kind, data)


def profile_view(kind: str, data: bytes) -> None:
    """The profile's decode: DecodeError or samples with increasing-or-equal... int64 times."""
    p = MovesenseProfile(rate_hz=104, kind=kind)
    try:
        dec = p.decode(data)
    except DecodeError:
        return
    if dec is not None:
        assert dec.device_ns.dtype == np.int64 and dec.acc_g.shape == (dec.device_ns.size, 3)
        assert np.all(np.diff(dec.device_ns) > 0)


@FAST
@given(frames)
def test_fuzz_movesense_decoder(case):
    check(*case)


@pytest.mark.slow
@SLOW
@given(frames)
def test_fuzz_movesense_decoder_slow(case):
    check(*case)


def numpy_frame(rng: np.random.Generator) -> tuple[str, bytes]:
    """One random, well-encoded or mutated frame from a numpy generator."""
    kind = "imu6" if rng.random() < 0.5 else "acc"
    what = rng.integers(0, 3)
    if what == 0:
        return kind, rng.bytes(int(rng.integers(0, 600)))
    groups = ms.KIND_VECTORS[kind]
    n = int(rng.integers(1, (512 - 6) // (12 * groups) + 1))
    body = (rng.integers(0, 2**32, 3 * groups * n, dtype=np.uint32) & np.uint32(0xBFFFFFFF))
    buf = bytearray(bytes((2, int(rng.integers(1, 256)))) + struct.pack("<I", int(rng.integers(0, 2**32)))
                    + body.astype("<u4").tobytes())
    if what == 2:
        for _ in range(int(rng.integers(1, 5))):
            op = rng.integers(0, 5)
            if op == 0:
                i = int(rng.integers(0, len(buf)))
                buf[i] ^= 1 << int(rng.integers(0, 8))
            elif op == 1:
                i = int(rng.integers(0, len(buf) + 1))
                del buf[i:i + int(rng.integers(1, 17))]
            elif op == 2:
                i = int(rng.integers(0, len(buf) + 1))
                buf[i:i] = rng.bytes(int(rng.integers(1, 17)))
            elif op == 3 and buf:
                buf[0] = int(rng.integers(0, 256))
            else:
                buf += rng.bytes(int(rng.integers(0, 600)))
            if not buf:
                break
        if rng.random() < 0.2:
            kind = "acc" if kind == "imu6" else "imu6"
    return kind, bytes(buf)


@pytest.mark.slow
@SEEDS
@given(st.integers(0, 2**63 - 1))
def test_fuzz_movesense_decoder_120k_frames(seed):
    rng = np.random.default_rng(seed)
    for _ in range(FRAMES_PER_SEED):
        check(*numpy_frame(rng))


@FAST
@given(st.lists(st.tuples(st.integers(0, ms.MS_MODULO - 1), st.integers(1, 42)), min_size=1, max_size=50))
def test_fuzz_timestamper_gives_increasing_times_within_a_packet(packets):
    ts = ms.MovesenseTimestamper(208)
    for t_ms, n in packets:
        t = ts.times_ns(t_ms, n)
        assert t.dtype == np.int64 and t.size == n and np.all(np.diff(t) > 0)
