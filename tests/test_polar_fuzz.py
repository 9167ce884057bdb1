"""Fuzz tests of the Polar PMD decoders (hypothesis).

Contract under test: whatever the bytes, ``decode_pmd_frame`` and the control point parsers
either return a well-formed result or raise :class:`sensor.DecodeError` (or a subclass);
nothing else escapes, and numpy emits no warnings.  Frames that decode are also compared
with a slow, obviously correct pure-Python reference decoder written from the byte layout
(``naive_decode`` below), so the vectorised bit arithmetic is checked on every input.

Inputs: random bytes, frames with a valid header for every supported kind and a random or
well-encoded payload, and Polar's vector frames mutated (when ../shared is present).

The unmarked tests run ~500 examples each; the ``slow`` ones check 100,000 inputs per
decoder (10,000 hypothesis seeds, each expanded into 10 inputs of the same kinds by
numpy's generator: hypothesis's cost per draw was most of the time).
Both are derandomized with the example database off, so a run is reproducible.
"""
from __future__ import annotations

import json
import math
import struct
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from sensor import DecodeError
from sensor.polar import (
    MAX_FRAME_BYTES,
    PmdCpResponse,
    PmdFeatures,
    PmdMeasurementStopped,
    PmdSettings,
    SettingType,
    decode_pmd_frame,
    join_cp_responses,
    parse_cp_notification,
    parse_features,
    parse_settings,
    serialize_settings,
)

VECTORS_PATH = Path(__file__).resolve().parents[1].parent / "shared" / "vectors" / \
    "polar_pmd_vectors.json"


def _vector_frames() -> list[bytes]:
    if not VECTORS_PATH.is_file():
        return []
    with VECTORS_PATH.open(encoding="utf-8") as fh:
        return [bytes.fromhex(v["frame_hex"]) for v in json.load(fh)["vectors"]]


VECTOR_FRAMES = _vector_frames()
NO_VECTORS = (f"Polar PMD test vectors not found at ../shared/vectors/{VECTORS_PATH.name} "
              f"relative to the repository root (looked at {VECTORS_PATH}); the mutated-vector "
              f"fuzz needs them")

COMMON = dict(deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
FAST = settings(max_examples=500, **COMMON)
#: The slow runs: 10,000 seeds, each expanded into FRAMES_PER_SEED inputs by numpy's
#: generator (rng_case, rng_cp_case), i.e. 100,000 inputs per decoder.
SEEDS = settings(max_examples=10_000, **COMMON)

# ---------------------------------------------------------------------------------------
# Reference decoder: one bit, one value at a time, straight from the byte layout
# ---------------------------------------------------------------------------------------
# (measurement type, compressed, frame type) -> (resolution bits, encoding, rule)
REF_KINDS = {
    (2, False, 0): (8, "int", "raw"),
    (2, False, 1): (16, "int", "raw"),
    (2, False, 2): (24, "int", "raw"),
    (2, True, 0): (16, "int", "acc_g_factor"),
    (2, True, 1): (16, "int", "int_factor"),
    (5, True, 0): (16, "int", "float_factor"),
    (5, True, 1): (32, "float32", "float_factor"),
}
CHANNELS = 3


class Reject(Exception):
    """The reference decoder refuses the input (the real one must raise DecodeError)."""


def _wrap32(v: int) -> int:
    return (v + 2 ** 31) % 2 ** 32 - 2 ** 31


def _jvm_to_int(x: np.float32) -> int:
    x = float(x)
    if math.isnan(x):
        return 0
    if math.isinf(x):
        return 2 ** 31 - 1 if x > 0 else -(2 ** 31)
    return max(-(2 ** 31), min(2 ** 31 - 1, int(x)))  # int() truncates toward zero


def _naive_compressed(payload: bytes, res_bits: int) -> list[list[int]]:
    vb = res_bits // 8
    if len(payload) < CHANNELS * vb:
        raise Reject("reference")
    samples = [[int.from_bytes(payload[c * vb:(c + 1) * vb], "little", signed=True)
                for c in range(CHANNELS)]]
    pos = CHANNELS * vb
    while pos < len(payload):
        if pos + 2 > len(payload):
            raise Reject("block header")
        bits, count = payload[pos], payload[pos + 1]
        pos += 2
        if bits > 32:
            raise Reject("width")
        n_bytes = (bits * count * CHANNELS + 7) // 8
        if pos + n_bytes > len(payload):
            raise Reject("block body")
        bit = 0
        for _ in range(count):
            row = []
            for c in range(CHANNELS):
                v = 0
                for i in range(bits):
                    if (payload[pos + bit // 8] >> (bit % 8)) & 1:
                        v |= 1 << i
                    bit += 1
                if bits and v >> (bits - 1):
                    v -= 1 << bits
                row.append(_wrap32(samples[-1][c] + v))
            samples.append(row)
        pos += n_bytes
    return samples


def _naive_raw(payload: bytes, res_bits: int) -> list[list[int]]:
    vb = res_bits // 8
    step = CHANNELS * vb
    if not payload or len(payload) % step:
        raise Reject("raw length")
    return [[int.from_bytes(payload[i + c * vb:i + (c + 1) * vb], "little", signed=True)
             for c in range(CHANNELS)] for i in range(0, len(payload), step)]


def _naive_scale(rule: str, encoding: str, raw: list[list[int]], factor: float) -> list[list]:
    f = np.float32(factor)
    out = []
    with np.errstate(over="ignore", invalid="ignore"):
        for row in raw:
            new = []
            for v in row:
                if rule == "raw":
                    new.append(v)
                elif rule == "acc_g_factor":
                    new.append(_jvm_to_int(np.float32(v) * np.float32(f * np.float32(1000))))
                elif rule == "int_factor":
                    new.append(v if f == 1 else _jvm_to_int(np.float32(v) * f))
                else:
                    x = (struct.unpack("<f", struct.pack("<i", v))[0] if encoding == "float32"
                         else float(np.float32(v)))
                    x = np.float32(x)
                    new.append(float(x if f == 1 else x * f))
            out.append(new)
    return out


def _naive_times(ts: int, n: int, prev, fs) -> list[int] | None:
    prev = prev or None
    fs = fs or None
    if prev is None and fs is None:
        return None
    if prev is not None and ts <= prev:
        raise Reject("not after previous")
    if n == 1:
        return [ts]
    if prev is not None:
        delta = float(ts - prev) / float(n)  # the SDK divides doubles, not exact ints
        first = prev + delta
    else:
        delta = (1.0 / fs) * 1000 * 1000 * 1000
        first = ts - delta * (n - 1)
        if not first >= 0:
            raise Reject("before epoch")
    times = []
    for i in range(n - 1):
        t = round(first + delta * i)  # Python round() on floats is half to even, like Kotlin
        times.append(min(t, ts))  # times never pass the frame's own timestamp
    return times + [ts]


def naive_decode(data: bytes, factor: float, prev, fs):
    """(samples as lists, sample times or None); raises Reject where DecodeError is due."""
    if len(data) > MAX_FRAME_BYTES or len(data) < 10:
        raise Reject("length")
    ts = int.from_bytes(data[1:9], "little")
    if ts >= 2 ** 63:
        raise Reject("int64")
    kind = (data[0] & 0x3F, bool(data[9] & 0x80), data[9] & 0x7F)
    if kind not in REF_KINDS:
        raise Reject("kind")
    res, encoding, rule = REF_KINDS[kind]
    raw = _naive_compressed(data[10:], res) if kind[1] else _naive_raw(data[10:], res)
    return _naive_scale(rule, encoding, raw, factor), _naive_times(ts, len(raw), prev, fs)


# ---------------------------------------------------------------------------------------
# Strategies
# ---------------------------------------------------------------------------------------
def _pack(bits: int, values: list[int]) -> bytes:
    acc = 0
    for i, v in enumerate(values):
        acc |= (v & ((1 << bits) - 1)) << (i * bits)
    return acc.to_bytes((bits * len(values) + 7) // 8, "little") if bits else b""


@st.composite
def encoded_payloads(draw, res_bits: int) -> bytes:
    """A well-formed compressed payload: a reference sample and 0-4 delta blocks."""
    vb = res_bits // 8
    lo, hi = -(2 ** (res_bits - 1)), 2 ** (res_bits - 1) - 1
    payload = b"".join(draw(st.integers(lo, hi)).to_bytes(vb, "little", signed=True)
                       for _ in range(CHANNELS))
    for _ in range(draw(st.integers(0, 4))):
        bits = draw(st.integers(0, 32))
        count = draw(st.integers(0, 12))
        if bits:
            deltas = draw(st.lists(st.integers(-(2 ** (bits - 1)), 2 ** (bits - 1) - 1),
                                   min_size=count * CHANNELS, max_size=count * CHANNELS))
        else:
            deltas = [0] * (count * CHANNELS)
        payload += bytes((bits, count)) + _pack(bits, deltas)
    return payload


HEADER_KINDS = [(m, (0x80 if c else 0) | f) for (m, c, f) in REF_KINDS] + \
    [(0, 0x00), (1, 0x80), (5, 0x00), (2, 0x82), (6, 0x81), (0x42, 0x01), (2, 0x7F)]

# Device times: mostly plausible (1e15..1e18 ns after 2000), sometimes any uint64 or an edge.
timestamps = st.one_of(st.integers(10 ** 15, 10 ** 18), st.integers(0, 2 ** 64 - 1),
                       st.sampled_from([0, 1, 2 ** 63 - 1, 2 ** 63, 2 ** 64 - 1]))


@st.composite
def packed_payloads(draw, res_bits: int) -> bytes:
    """A well-formed compressed payload drawn as bytes: any bit pattern of the right length
    is a valid set of deltas, so each block costs one draw (cheap for 100,000 examples)."""
    payload = draw(st.binary(min_size=CHANNELS * res_bits // 8, max_size=CHANNELS * res_bits // 8))
    for _ in range(draw(st.integers(0, 4))):
        bits = draw(st.integers(0, 32))
        count = draw(st.integers(0, 24))
        n_bytes = (bits * count * CHANNELS + 7) // 8
        payload += bytes((bits, count)) + draw(st.binary(min_size=n_bytes, max_size=n_bytes))
    return payload


@st.composite
def structured_frames(draw) -> bytes:
    """A header of a supported (mostly) or unsupported kind, then a payload that is
    well formed for the kind, or random bytes."""
    mt, ftb = draw(st.sampled_from(HEADER_KINDS))
    ts = draw(timestamps)
    kind = (mt & 0x3F, bool(ftb & 0x80), ftb & 0x7F)
    choice = draw(st.integers(0, 3))
    if kind in REF_KINDS and kind[1] and choice:
        payload = draw(packed_payloads(REF_KINDS[kind][0]))
    elif kind in REF_KINDS and not kind[1] and choice:
        step = CHANNELS * REF_KINDS[kind][0] // 8
        n = draw(st.integers(1, 40))
        payload = draw(st.binary(min_size=n * step, max_size=n * step))
    else:
        payload = draw(st.binary(max_size=300))
    return bytes([mt]) + ts.to_bytes(8, "little") + bytes([ftb]) + payload


@st.composite
def mutated(draw, seeds: list[bytes]) -> bytes:
    """A seed frame with 1-4 random byte edits (set, flip, insert, delete, truncate, extend)."""
    data = bytearray(draw(st.sampled_from(seeds)))
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["set", "flip", "insert", "delete", "truncate", "extend"]))
        i = draw(st.integers(0, max(len(data) - 1, 0)))
        if op == "set" and data:
            data[i] = draw(st.integers(0, 255))
        elif op == "flip" and data:
            data[i] ^= 1 << draw(st.integers(0, 7))
        elif op == "insert":
            data[i:i] = draw(st.binary(min_size=1, max_size=8))
        elif op == "delete" and data:
            del data[i:i + draw(st.integers(1, 8))]
        elif op == "truncate":
            del data[i:]
        elif op == "extend":
            data += draw(st.binary(min_size=1, max_size=8))
    return bytes(data)


decode_kwargs = st.fixed_dictionaries({
    "factor": st.one_of(st.sampled_from([1.0, 0.000244, 0.5, 2.5]),
                        st.floats(1e-6, 1e6, allow_nan=False, allow_infinity=False)),
    "previous_timestamp_ns": st.one_of(st.none(), st.just(0), timestamps),
    "sample_rate_hz": st.one_of(st.none(), st.just(0), st.sampled_from([1, 25, 52, 100, 416]),
                                st.floats(0.01, 1e5, allow_nan=False)),
})


def any_frames(with_vectors: bool):
    options = [st.binary(max_size=MAX_FRAME_BYTES + 40), structured_frames()]
    if with_vectors and VECTOR_FRAMES:
        options.append(mutated(VECTOR_FRAMES))
    return st.one_of(*options)


@st.composite
def frames_and_kwargs(draw, with_vectors: bool):
    """A frame and decode arguments; half the time the previous timestamp is a plausible
    one shortly before the frame's, so the per-sample timing path is exercised often."""
    data = draw(any_frames(with_vectors))
    kwargs = draw(decode_kwargs)
    if len(data) >= 9 and draw(st.booleans()):
        ts = int.from_bytes(data[1:9], "little")
        kwargs["previous_timestamp_ns"] = max(0, ts - draw(st.integers(0, 10 ** 10)))
    return data, kwargs


# ---------------------------------------------------------------------------------------
# Seeded generators for the slow runs: the same kinds of input as the strategies above,
# drawn from numpy's generator, so that each hypothesis example (a seed) checks many frames
# and the 100,000 frames do not pay hypothesis's cost per draw.
# ---------------------------------------------------------------------------------------
FRAMES_PER_SEED = 10


def _rng_bytes(rng, n: int) -> bytes:
    return rng.integers(0, 256, n, dtype=np.uint8).tobytes()


def _rng_timestamp(rng) -> int:
    pick = rng.integers(3)
    if pick == 0:
        return int(rng.integers(10 ** 15, 10 ** 18))
    if pick == 1:
        return int(rng.integers(0, 2 ** 63)) * 2 + int(rng.integers(2))   # any uint64
    edges = [0, 1, 2 ** 63 - 1, 2 ** 63, 2 ** 64 - 1]   # indexed: numpy would make them floats
    return edges[int(rng.integers(len(edges)))]


def _rng_packed(rng, res_bits: int) -> bytes:
    """Like packed_payloads: a reference sample and 0-4 blocks of random deltas."""
    payload = _rng_bytes(rng, CHANNELS * res_bits // 8)
    for _ in range(int(rng.integers(0, 5))):
        bits, count = int(rng.integers(0, 33)), int(rng.integers(0, 25))
        payload += bytes((bits, count)) + _rng_bytes(rng, (bits * count * CHANNELS + 7) // 8)
    return payload


def _rng_structured(rng) -> bytes:
    """Like structured_frames."""
    mt, ftb = HEADER_KINDS[int(rng.integers(len(HEADER_KINDS)))]
    kind = (mt & 0x3F, bool(ftb & 0x80), ftb & 0x7F)
    choice = int(rng.integers(4))
    if kind in REF_KINDS and kind[1] and choice:
        payload = _rng_packed(rng, REF_KINDS[kind][0])
    elif kind in REF_KINDS and not kind[1] and choice:
        payload = _rng_bytes(rng, int(rng.integers(1, 41)) * CHANNELS * REF_KINDS[kind][0] // 8)
    else:
        payload = _rng_bytes(rng, int(rng.integers(0, 301)))
    return bytes([mt]) + _rng_timestamp(rng).to_bytes(8, "little") + bytes([ftb]) + payload


def _rng_mutated(rng, seeds: list[bytes]) -> bytes:
    """Like mutated: a vector frame with 1-4 byte edits."""
    data = bytearray(seeds[int(rng.integers(len(seeds)))])
    for _ in range(int(rng.integers(1, 5))):
        op = int(rng.integers(6))
        i = int(rng.integers(0, max(len(data), 1)))
        if op == 0 and data:
            data[i] = int(rng.integers(256))
        elif op == 1 and data:
            data[i] ^= 1 << int(rng.integers(8))
        elif op == 2:
            data[i:i] = _rng_bytes(rng, int(rng.integers(1, 9)))
        elif op == 3 and data:
            del data[i:i + int(rng.integers(1, 9))]
        elif op == 4:
            del data[i:]
        elif op == 5:
            data += _rng_bytes(rng, int(rng.integers(1, 9)))
    return bytes(data)


def rng_case(rng) -> tuple[bytes, dict]:
    """A frame (random, structured, or a mutated vector) and decode arguments, as
    frames_and_kwargs draws them."""
    pick = int(rng.integers(3 if VECTOR_FRAMES else 2))
    data = (_rng_bytes(rng, int(rng.integers(0, MAX_FRAME_BYTES + 41))) if pick == 0
            else _rng_structured(rng) if pick == 1 else _rng_mutated(rng, VECTOR_FRAMES))
    f = int(rng.integers(5))
    factor = [1.0, 0.000244, 0.5, 2.5][f] if f < 4 else float(10 ** rng.uniform(-6, 6))
    p = int(rng.integers(3))
    prev = None if p == 0 else 0 if p == 1 else _rng_timestamp(rng)
    r = int(rng.integers(4))
    rate = (None if r == 0 else 0 if r == 1 else [1, 25, 52, 100, 416][int(rng.integers(5))] if r == 2
            else float(10 ** rng.uniform(-2, 5)))
    if len(data) >= 9 and rng.integers(2):
        ts = int.from_bytes(data[1:9], "little")
        prev = max(0, ts - int(rng.integers(0, 10 ** 10 + 1)))
    return data, {"factor": factor, "previous_timestamp_ns": prev, "sample_rate_hz": rate}


# ---------------------------------------------------------------------------------------
# Frame decoder
# ---------------------------------------------------------------------------------------
def check_frame_decoder(data: bytes, kwargs: dict) -> bool:
    """Decode; only DecodeError may escape; valid results are well formed and match the
    reference decoder.  Returns whether the frame decoded."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a numpy RuntimeWarning is a bug too
        try:
            frame = decode_pmd_frame(data, **kwargs)
        except DecodeError as exc:
            assert str(exc)
            event(f"raised {type(exc).__name__}")  # shown by --hypothesis-show-statistics
            with pytest.raises(Reject):  # the reference refuses it too
                naive_decode(data, **_naive_args(kwargs))
            return False
    event(f"decoded {frame.measurement_type.name} {'compressed' if frame.compressed else 'raw'}")
    n = frame.n_samples
    assert n >= 1 and frame.samples.shape == (n, 3) == frame.raw_samples.shape
    assert frame.samples.dtype in (np.int32, np.float64) and frame.raw_samples.dtype == np.int32
    times = frame.sample_timestamps_ns
    timed = bool(kwargs["previous_timestamp_ns"]) or bool(kwargs["sample_rate_hz"])
    assert (times is not None) == timed
    if times is not None:
        assert times.dtype == np.int64 and times.shape == (n,)
        assert int(times[-1]) == frame.timestamp_ns
        assert times[0] >= 0 and bool(np.all(np.diff(times) >= 0))
    want_samples, want_times = naive_decode(data, **_naive_args(kwargs))
    if frame.samples.dtype == np.float64:
        assert np.array_equal(frame.samples, np.array(want_samples, dtype=np.float64),
                              equal_nan=True)
    else:
        assert frame.samples.tolist() == want_samples
    assert (None if times is None else times.tolist()) == want_times
    return True


def _naive_args(kwargs: dict) -> dict:
    return dict(factor=kwargs["factor"], prev=kwargs["previous_timestamp_ns"],
                fs=kwargs["sample_rate_hz"])


@FAST
@given(data=st.binary(max_size=MAX_FRAME_BYTES + 40), kwargs=decode_kwargs)
def test_fuzz_frame_random_bytes(data, kwargs):
    check_frame_decoder(data, kwargs)


@FAST
@given(case=frames_and_kwargs(with_vectors=False))
def test_fuzz_frame_structured(case):
    check_frame_decoder(*case)


@FAST
@given(ts=st.integers(10 ** 15, 10 ** 18), payload=st.data(), kwargs=decode_kwargs)
def test_fuzz_frame_well_encoded_always_decode(ts, payload, kwargs):
    """Frames encoded here from integer deltas are valid: they must decode, and match."""
    (mt, ftb) = payload.draw(st.sampled_from([k for k in HEADER_KINDS[:7] if k[1] & 0x80]))
    res = REF_KINDS[(mt, True, ftb & 0x7F)][0]
    data = bytes([mt]) + ts.to_bytes(8, "little") + bytes([ftb]) + \
        payload.draw(encoded_payloads(res))
    if len(data) > MAX_FRAME_BYTES:
        return
    kwargs = dict(kwargs, previous_timestamp_ns=None)
    # at most 49 samples, >= 0.01 Hz: the first sample is >= 1e15 - 48 x 1e11 ns, after 2000
    assert check_frame_decoder(data, kwargs)


@pytest.mark.skipif(not VECTOR_FRAMES, reason=NO_VECTORS)
@FAST
@given(data=st.builds(lambda: None) if not VECTOR_FRAMES else mutated(VECTOR_FRAMES),
       kwargs=decode_kwargs)
def test_fuzz_frame_mutated_vectors(data, kwargs):
    check_frame_decoder(data, kwargs)


@pytest.mark.slow
@SEEDS
@given(seed=st.integers(0, 2 ** 63 - 1))
def test_fuzz_frame_slow(seed):
    """100,000 frames: 10,000 seeds x FRAMES_PER_SEED frames each."""
    rng = np.random.default_rng(seed)
    for _ in range(FRAMES_PER_SEED):
        check_frame_decoder(*rng_case(rng))


# ---------------------------------------------------------------------------------------
# Control point parsers
# ---------------------------------------------------------------------------------------
_TLV_SIZES = {int(t): n for t, n in {
    SettingType.SAMPLE_RATE: 2, SettingType.RESOLUTION: 2, SettingType.RANGE: 2,
    SettingType.RANGE_MILLIUNIT: 4, SettingType.CHANNELS: 1, SettingType.FACTOR: 4,
    SettingType.SECURITY: 16}.items()}


@st.composite
def settings_tlv(draw) -> bytes:
    """Mostly well-formed TLV records; sometimes an unknown type or a record cut short."""
    out = b""
    for _ in range(draw(st.integers(0, 5))):
        stype = draw(st.integers(0, 7)) if draw(st.integers(0, 7)) else draw(st.integers(0, 255))
        count = draw(st.integers(0, 6))
        size = count * _TLV_SIZES.get(stype, 2)
        cut = draw(st.integers(0, size)) if draw(st.integers(0, 9)) == 0 else size
        out += bytes((stype, count)) + draw(st.binary(min_size=cut, max_size=cut))
    return out


@st.composite
def cp_inputs(draw) -> bytes:
    """Random bytes, or a CP-shaped head (F0 response, 01 stop, 0F features) + TLV params."""
    if draw(st.booleans()):
        return draw(st.binary(max_size=80))
    head = bytes((draw(st.sampled_from([0xF0, 0x01, 0x0F])),)) + draw(st.binary(min_size=0, max_size=4))
    return head + draw(settings_tlv())


continuations = st.lists(
    st.builds(lambda more, rest: bytes((0xF0, 0x01, 0x02, 0x00, more)) + rest,
              st.integers(0, 1), st.binary(max_size=12)),
    max_size=3)


def check_cp_parsers(data: bytes, more_parts: list[bytes]) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            note = parse_cp_notification(data)
        except DecodeError:
            note = None
        if isinstance(note, PmdCpResponse):
            assert note.params == data[5:]
            assert note.more == (note.status == 0 and len(data) > 4 and data[4] != 0)
            assert isinstance(note.status_name, str) and isinstance(note.opcode_name, str)
            try:
                s = note.settings()
            except DecodeError:
                s = None
            if s is not None:
                assert repr(parse_settings(serialize_settings(s))) == repr(s)  # NaN-safe
            # continuations answer the same opcode, so joining gets past the opcode check
            parts = [data] + [p[:1] + data[1:2] + p[2:] for p in more_parts]
            try:
                joined = join_cp_responses(parts)
            except DecodeError:
                pass
            else:
                assert joined.more is False
                assert joined.params == b"".join(p[5:] for p in parts)
        elif isinstance(note, PmdMeasurementStopped):
            assert len(note.measurement_types) == len(data) - 1
        try:
            feats = parse_features(data)
        except DecodeError:
            pass
        else:
            assert isinstance(feats, PmdFeatures) and isinstance(feats.measurement_types, frozenset)
        try:
            s = parse_settings(data)
        except DecodeError:
            pass
        else:
            # repr: a NaN factor is not equal to itself
            assert repr(parse_settings(serialize_settings(s))) == repr(s)


@FAST
@given(data=cp_inputs(), more=continuations)
def test_fuzz_cp_parsers(data, more):
    check_cp_parsers(data, more)


@FAST
@given(s=st.builds(
    PmdSettings,
    sample_rate=st.lists(st.integers(0, 0xFFFF), max_size=4),
    resolution=st.lists(st.integers(0, 0xFFFF), max_size=2),
    range=st.lists(st.integers(0, 0xFFFF), max_size=4),
    range_milliunit=st.lists(st.integers(0, 0xFFFFFFFF), max_size=2),
    channels=st.lists(st.integers(0, 0xFF), max_size=2),
    factor=st.lists(st.floats(width=32, allow_nan=False), max_size=2),
    security=st.lists(st.binary(min_size=16, max_size=16), max_size=1),
))
def test_fuzz_settings_round_trip(s):
    assert parse_settings(serialize_settings(s)) == s


def _rng_tlv(rng) -> bytes:
    """Like settings_tlv."""
    out = b""
    for _ in range(int(rng.integers(0, 6))):
        stype = int(rng.integers(0, 8)) if rng.integers(8) else int(rng.integers(0, 256))
        count = int(rng.integers(0, 7))
        size = count * _TLV_SIZES.get(stype, 2)
        cut = int(rng.integers(0, size + 1)) if rng.integers(10) == 0 else size
        out += bytes((stype, count)) + _rng_bytes(rng, cut)
    return out


def rng_cp_case(rng) -> tuple[bytes, list[bytes]]:
    """Like cp_inputs and continuations."""
    if rng.integers(2):
        data = _rng_bytes(rng, int(rng.integers(0, 81)))
    else:
        head = bytes(((0xF0, 0x01, 0x0F)[int(rng.integers(3))],)) + _rng_bytes(rng, int(rng.integers(0, 5)))
        data = head + _rng_tlv(rng)
    more = [bytes((0xF0, 0x01, 0x02, 0x00, int(rng.integers(2)))) + _rng_bytes(rng, int(rng.integers(0, 13)))
            for _ in range(int(rng.integers(0, 4)))]
    return data, more


@pytest.mark.slow
@SEEDS
@given(seed=st.integers(0, 2 ** 63 - 1))
def test_fuzz_cp_parsers_slow(seed):
    """100,000 control point inputs: 10,000 seeds x FRAMES_PER_SEED each."""
    rng = np.random.default_rng(seed)
    for _ in range(FRAMES_PER_SEED):
        check_cp_parsers(*rng_cp_case(rng))
