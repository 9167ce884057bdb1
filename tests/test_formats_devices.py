"""Device file readers (Axivity .cwa, GENEActiv .bin, ActiGraph .gt3x) against real files.

The files live in ../shared/data/formats beside the repository (never copied in); each
folder's README gives origin and licence.  References: scikit-digital-health's expected
decodings (skdh_io_testdata/*.npz), the clean twin of a CWA file with 6 corrupted blocks, an
ActiLife CSV export of an old NEO .gt3x, and an idle-sleep on/off .gt3x pair.

Time conventions, and why some comparisons are not plain equality:

* CWA: skdh (like Open Movement's libomapi, whose fractional branch is compiled out) times a
  block from its whole-second RTC only, ignoring the 15-bit fraction of a second that newer
  firmware (44-54 here; 30 has none) stores in the device-id field, and spaces samples at
  the nominal rate from there.  We use the fraction (cwa.h: "the timestampOffset was already
  adjusted to minimize this", i.e. ignoring it errs by up to one sample) and interpolate
  between block anchors.  So: (a) skdh's own rule applied to our decoded block fields
  reproduces skdh's times within 1 ms (same RTC, offset, count decoding), (b) our times are
  within a sample of skdh's (median; never two), (c) the fraction makes the block-to-block
  rate smoother, evidence that it carries real timing.
* GENEActiv: skdh takes the page time as UTC (timegm) and adds j / fs.  We use the same
  per-sample rule but the page time is the device's local wall clock and the header states
  its offset ("Time Zone:GMT -04:00"), so our t = skdh's t + 4 h, exactly.
* gt3x: timestamps are the device's local wall clock; info.txt's TimeZone converts them.
"""
from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import numpy as np
import pytest

from twitchwatch.errors import InputFileError
from twitchwatch.formats.actigraph import read_actigraph
from twitchwatch.formats.axivity import _BLOCK_DTYPE, _rtc_seconds, read_axivity
from twitchwatch.formats.geneactiv import read_geneactiv

FORMATS = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "formats"

AX3_CLEAN = "GGIRread_testfiles/ax3_testfile.cwa"
AX3_CORRUPT = "GGIRread_testfiles/ax3_testfile_corrupt_blocks_0_13_14_142_143_144.cwa"
AX6 = "GGIRread_testfiles/ax6_testfile.cwa"
PEDOMETER = "openmovement_pedometer_cwa/example-610-steps.cwa"
GN_SKDH = "skdh_io_testdata/gnactv_sample.bin"
GN_TRUNC = "GGIRread_testfiles/GENEActiv_testfile.bin"
GN_WRISTPY = "wristpy_sample_data/example_geneactiv.bin"
GN_ANKLE = "romeosajina_geneactiv_ankle/left_ankle_example.bin"
GT_SMALL = "pygt3x_resources/small.gt3x"
GT_ISM_ON = "pygt3x_resources/ISM_Enabled.gt3x"
GT_ISM_OFF = "pygt3x_resources/ISM_Disabled.gt3x"
GT_NEO = "pygt3x_resources/neo.gt3x"
GT_WRISTPY_ISM = "wristpy_sample_data/example_actigraph_idle_sleep_mode.gt3x"
GT_GGIR = "GGIR_testfiles/actigraph_testfile.gt3x"

_cache: dict = {}


def need(rel: str) -> Path:
    """Skip with a clear message when ../shared (or this file) is not beside the repo."""
    p = FORMATS / rel
    if not p.exists():
        pytest.skip(f"{p} is absent: the device test files live in ../shared/data/formats "
                    f"beside the repository")
    return p


def read(reader, rel: str):
    """Read once per session (small.gt3x alone takes ~2 s)."""
    key = (reader.__name__, rel)
    if key not in _cache:
        _cache[key] = reader(need(rel))
    return _cache[key]


def utc(s: str) -> float:
    return dt.datetime.fromisoformat(s).replace(tzinfo=dt.timezone.utc).timestamp()


def check_recording(rec, *, gyro=False):
    """The Recording contract: shapes, float64, finite, strictly increasing t, |a| ~ 1 g at rest."""
    n = rec.t.size
    assert rec.t.dtype == np.float64 and rec.t.shape == (n,) and n > 0
    assert rec.acc.dtype == np.float64 and rec.acc.shape == (n, 3)
    assert np.isfinite(rec.t).all() and np.isfinite(rec.acc).all()
    assert (np.diff(rec.t) > 0).all(), "t must be strictly increasing"
    assert (rec.gyro is not None) == gyro
    if gyro:
        assert rec.gyro.shape == (n, 3) and rec.gyro.dtype == np.float64
    assert rec.sample_rate_hz and rec.sample_rate_hz > 0
    # Still 1-s windows (every axis' spread < 0.02 g) must read about 1 g.
    w = max(int(rec.sample_rate_hz), 1)
    m = n // w * w
    win = rec.acc[:m].reshape(-1, w, 3)
    still = win.std(axis=1).max(axis=1) < 0.02
    mag = np.linalg.norm(win.mean(axis=1), axis=1)
    at_rest = mag[still] if still.sum() >= 3 else np.linalg.norm(rec.acc, axis=1)
    assert 0.9 < np.median(at_rest) < 1.1, np.median(at_rest)
    for d in rec.damage:
        assert d.count >= 1 and d.kind


def cut_copy(src: Path, tmp_path: Path, n_bytes: int) -> Path:
    dst = tmp_path / f"cut_{src.name}"
    dst.write_bytes(src.read_bytes()[:n_bytes])
    return dst


# ------------------------------------------------------------------------------ Axivity

def skdh_rule_times(path: Path) -> np.ndarray:
    """skdh's CWA timing (read_axivity.f95 get_time), applied to our decoded block fields:
    start = RTC - offset / fs (no fraction), end = start + count / fs, and a block that
    starts < 1 s after the previous block's end starts exactly there."""
    raw = np.fromfile(path, dtype=np.uint8)
    blk = raw[1024:1024 + (raw.size - 1024) // 512 * 512].view(_BLOCK_DTYPE)
    rtc, _ = _rtc_seconds(blk["rtc"])
    fs = 3200.0 / (1 << (15 - (int(blk["rate"][0]) & 15)))
    out, t_last = [], None
    for r, off, c in zip(rtc, blk["ts_offset"], blk["count"]):
        t0 = r - off / fs
        t1 = t0 + c / fs
        if t_last is not None and t0 - t_last < 1.0:
            t0 = t_last
        t_last = t1
        out.append(t0 + np.arange(c) * (t1 - t0) / c)
    return np.concatenate(out)


@pytest.mark.parametrize("name,gyro", [("ax3", False), ("ax6", True)])
def test_cwa_matches_skdh(name, gyro):
    cwa = need(f"skdh_io_testdata/{name}_sample.cwa")
    ref = np.load(need(f"skdh_io_testdata/{name}_data.npz"))
    rec = read_axivity(cwa)
    check_recording(rec, gyro=gyro)
    assert rec.t.size == ref["time"].size
    assert np.abs(rec.acc - ref["accel"]).max() < 1e-4          # seen: 0 (ax3), 5e-7 (ax6)
    if gyro:
        assert np.abs(rec.gyro - ref["gyro"]).max() < 1e-3       # seen: 6e-5 deg/s
        assert rec.device["gyro_range_dps"] == 2000.0
    assert rec.sample_rate_hz == float(ref["fs"][0])
    # (a) same block timing fields: skdh's rule on our decoding gives skdh's times.
    assert np.abs(skdh_rule_times(cwa) - ref["time"]).max() < 1e-3
    # (b) ours differ by the fraction of a second skdh drops (< 1 sample) plus its spacing
    # at the nominal rate across the offset to the block's anchor (104 samples at a true
    # 197 Hz for "200 Hz": 7 ms): typically under one sample, never two.
    diff = np.abs(rec.t - ref["time"])
    assert np.median(diff) < 1.0 / rec.sample_rate_hz and diff.max() < 2.0 / rec.sample_rate_hz
    # (c) the fraction is real timing: per-block rates jitter less with it than without.
    per_block = 120 if name == "ax3" else 40
    ours = per_block / np.diff(rec.t[::per_block])
    theirs = per_block / np.diff(ref["time"][::per_block])
    assert ours.std() < 0.5 * theirs.std()


def test_cwa_corrupt_blocks_skipped_and_reported():
    clean, bad = read(read_axivity, AX3_CLEAN), read(read_axivity, AX3_CORRUPT)
    check_recording(bad)
    assert clean.damage == ()
    corrupt = [d for d in bad.damage if d.kind == "corrupt_block"]
    assert [d.count for d in corrupt] == [1, 2, 3] and len(bad.damage) == 3
    assert "block 0" in corrupt[0].detail and "blocks 13-14" in corrupt[1].detail \
        and "blocks 142-144" in corrupt[2].detail
    good = np.setdiff1d(np.arange(145), [0, 13, 14, 142, 143, 144])
    idx = (good[:, None] * 120 + np.arange(120)).ravel()
    np.testing.assert_array_equal(bad.acc, clean.acc[idx])
    assert np.abs(bad.t - clean.t[idx]).max() < 1e-3           # seen: 0.04 ms
    # Each reported span covers the samples the clean file has in the skipped blocks.
    for d, blocks in zip(corrupt, ([0], [13, 14], [142, 143, 144])):
        lost = clean.t[blocks[0] * 120:(blocks[-1] + 1) * 120]
        assert d.start_s - 0.02 <= lost[0] and lost[-1] <= d.end_s + 0.02


def test_cwa_times_come_from_blocks_not_nominal_rate():
    rec = read(read_axivity, AX3_CLEAN)
    assert rec.sample_rate_hz == 100.0 and rec.device["type"] == "AX3"
    assert rec.device["range_g"] == 8.0 and rec.device["placement"] == "right wrist"
    rate = (rec.t.size - 1) / (rec.t[-1] - rec.t[0])
    assert 94 < rate < 104 and abs(rate - 100) > 0.5            # the device drifts: ~98.9 Hz
    d = np.diff(rec.t)
    assert (d > 1 / 104).all() and (d < 1 / 94).all()
    assert rec.timezone is None and rec.device["utc_offset_s"] is None
    assert abs(rec.t[0] - utc("2019-02-26T10:55:06")) < 1.0     # wall clock read as UTC


def test_cwa_ax6_and_old_firmware():
    ax6 = read(read_axivity, AX6)
    check_recording(ax6, gyro=True)
    assert ax6.t.size == 11_320 and ax6.device["type"] == "AX6" and ax6.device["range_g"] == 16
    assert ax6.device["gyro_range_dps"] == 250.0                  # header sensorConfig 5
    old = read(read_axivity, PEDOMETER)                           # firmware 30: no fraction
    check_recording(old)
    assert old.t.size == 71_400 and old.damage == () and old.device["firmware"] == "30"
    assert 94 < (old.t.size - 1) / (old.t[-1] - old.t[0]) < 104


def test_cwa_truncated_copy(tmp_path):
    src = need(AX6)
    full = read(read_axivity, AX6)
    # 250 whole blocks (100 s): the file's first 6 s read ~0.07 g (the sensor starting up;
    # OMGUI's own export of it agrees), a shorter cut would be mostly that at rest.
    rec = read_axivity(cut_copy(src, tmp_path, 1024 + 250 * 512 + 200))
    check_recording(rec, gyro=True)
    assert rec.t.size == 250 * 40
    assert [d.kind for d in rec.damage] == ["truncated"] and "200 bytes" in rec.damage[0].detail
    np.testing.assert_array_equal(rec.acc, full.acc[:10_000])
    np.testing.assert_array_equal(rec.gyro, full.gyro[:10_000])
    assert np.abs(rec.t - full.t[:10_000]).max() < 1e-3


def rewrite_blocks(src: Path, dst: Path, edit) -> Path:
    """Copy a .cwa, let ``edit(words)`` change its blocks' 16-bit words, re-seal checksums."""
    raw = np.fromfile(src, dtype=np.uint8).copy()
    words = raw[1024:].reshape(-1, 512).view("<u2")
    edit(words)
    words[:, 255] = 0
    words[:, 255] = (-words.sum(axis=1, dtype=np.uint64)) & 0xFFFF
    raw.tofile(dst)
    return dst


def test_cwa_without_fraction_repeated_ticks(tmp_path):
    """Old firmware stores no fraction; 0.4-s AX6 blocks then often repeat the previous
    block's whole-second anchor.  That must not split the timing (no spurious gaps)."""
    src = need("skdh_io_testdata/ax6_sample.cwa")

    def clear_fraction(w):
        w[:, 2] &= 0x7FFF
    rec = read_axivity(rewrite_blocks(src, tmp_path / "nofrac.cwa", clear_fraction))
    full = read_axivity(src)
    np.testing.assert_array_equal(rec.acc, full.acc)
    d = np.diff(rec.t)
    assert d.min() > 0.95 / 100 and d.max() < 1.05 / 100 and rec.damage == ()
    assert np.abs(rec.t - full.t).max() < 1 / 100                # the fraction is < 1 sample


def test_cwa_clock_jump_stays_a_gap(tmp_path):
    """A clock step between blocks is a gap in t, not spread over the samples."""
    src = need("skdh_io_testdata/ax6_sample.cwa")

    def plus_one_hour(w):
        rtc = (w[100:, 7].astype(np.uint32) | w[100:, 8].astype(np.uint32) << 16) + (1 << 12)
        w[100:, 7], w[100:, 8] = rtc & 0xFFFF, rtc >> 16          # RTC (@14) hour += 1
    rec = read_axivity(rewrite_blocks(src, tmp_path / "jump.cwa", plus_one_hour))
    full = read_axivity(src)
    d = np.diff(rec.t)
    big = np.flatnonzero(d > 1)
    assert big.tolist() == [100 * 40 - 1] and d[big[0]] == pytest.approx(3600, abs=0.05)
    assert d[d < 1].max() < 1.05 / 100                            # elsewhere: ~98 Hz spacing
    np.testing.assert_allclose(rec.t[4000:] - 3600, full.t[4000:], atol=0.03)


def test_cwa_rejects_other_files(tmp_path):
    junk = tmp_path / "random.cwa"
    junk.write_bytes(np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8).tobytes())
    with pytest.raises(InputFileError, match="not an Axivity"):
        read_axivity(junk)
    with pytest.raises(InputFileError, match="not an Axivity"):
        read_axivity(need(GN_SKDH))
    head_only = cut_copy(need(AX3_CLEAN), tmp_path, 1024)
    with pytest.raises(InputFileError, match="no data blocks"):
        read_axivity(head_only)
    with pytest.raises(InputFileError, match="no such file"):
        read_axivity(tmp_path / "absent.cwa")


# ---------------------------------------------------------------------------- GENEActiv

def test_geneactiv_matches_skdh_shifted_by_stated_zone():
    ref = np.load(need("skdh_io_testdata/gnactv_data.npz"))
    rec = read(read_geneactiv, GN_SKDH)                          # LF line ends
    check_recording(rec)
    assert rec.t.size == ref["time"].size == 900
    assert np.abs(rec.acc - ref["accel"]).max() < 1e-4           # seen: 5e-5 (4-decimal npz)
    # Header "Time Zone:GMT -04:00": local 16:16:43.5 is 20:16:43.5 UTC; skdh keeps local.
    assert rec.device["utc_offset_s"] == -4 * 3600 and rec.timezone == "Etc/GMT+4"
    assert np.abs((rec.t - 4 * 3600) - ref["time"]).max() < 1e-3
    assert rec.t[0] == utc("2019-05-21T20:16:43.500")
    assert rec.device["placement"] == "back" and rec.device["serial"] == "051386"


def test_geneactiv_crlf_equals_lf(tmp_path):
    lf = need(GN_SKDH)
    crlf = tmp_path / "crlf.bin"
    crlf.write_bytes(lf.read_bytes().replace(b"\n", b"\r\n"))
    a, b = read(read_geneactiv, GN_SKDH), read_geneactiv(crlf)
    np.testing.assert_array_equal(a.t, b.t)
    np.testing.assert_array_equal(a.acc, b.acc)
    assert a.device == b.device and b.damage == ()


def test_geneactiv_truncated_testfile():
    # GENEActiv_testfile.bin is the cut one (genea_testfile.bin is the older GENEA format).
    rec = read(read_geneactiv, GN_TRUNC)
    check_recording(rec)
    assert rec.sample_rate_hz == 85.7 and rec.timezone == "Etc/GMT-1"
    assert rec.t.size == 16 * 300 + 231                          # 16 whole pages + a cut one
    (d,) = rec.damage
    assert d.kind == "truncated" and d.count == 222_048 - 16 and d.start_s == rec.t[-1]
    assert rec.t[0] == utc("2013-05-30T09:12:54.500")            # 10:12:54.5 at GMT +01:00
    # Within a page samples are 1/85.7 s apart; the next page time restarts the clock.
    assert np.allclose(np.diff(rec.t[:300]), 1 / 85.7, rtol=0, atol=1e-6)
    assert rec.t[300] == rec.t[0] + 3.5


def test_genea_old_format_rejected():
    with pytest.raises(InputFileError, match="GENEA"):
        read_geneactiv(need("GGIRread_testfiles/genea_testfile.bin"))


def test_geneactiv_other_firmwares():
    new = read(read_geneactiv, GN_WRISTPY)                       # Ver06.17, 60 Hz, LF
    check_recording(new)
    assert new.t.size == 91 * 300 and new.damage == () and new.sample_rate_hz == 60
    assert new.timezone == "Etc/GMT+5"
    ankle = read(read_geneactiv, GN_ANKLE)                       # Ver4.08a, 20 Hz, CRLF
    check_recording(ankle)
    assert ankle.t.size == 13 * 300 and ankle.device["placement"] == "left ankle"
    (d,) = ankle.damage                                          # header says 480 pages
    assert d.kind == "truncated" and d.count == 480 - 13


def test_geneactiv_truncated_copy(tmp_path):
    src = need(GN_WRISTPY)
    full = read(read_geneactiv, GN_WRISTPY)
    rec = read_geneactiv(cut_copy(src, tmp_path, src.stat().st_size // 2))
    check_recording(rec)
    n = rec.t.size
    assert 0 < n < full.t.size
    np.testing.assert_array_equal(rec.t, full.t[:n])
    np.testing.assert_array_equal(rec.acc, full.acc[:n])
    assert [d.kind for d in rec.damage] == ["truncated"]


def test_geneactiv_corrupt_pages_skipped_and_reported(tmp_path):
    src = need(GN_WRISTPY)
    full = read(read_geneactiv, GN_WRISTPY)
    lines = src.read_bytes().split(b"\n")
    first = lines.index(b"Recorded Data")
    hex10 = first + 10 * 10 + 9                                   # page 10's hex line
    lines[hex10] = lines[hex10][:600] + b"ZZ" + lines[hex10][602:]
    lines[first + 20 * 10 + 3] = b"Page Time:garbage"             # page 20's time
    bad = tmp_path / "bad.bin"
    bad.write_bytes(b"\n".join(lines))
    rec = read_geneactiv(bad)
    check_recording(rec)
    assert rec.t.size == 89 * 300
    assert [(d.kind, d.count) for d in rec.damage] == [("corrupt_page", 1), ("corrupt_page", 1)]
    for d, page in zip(rec.damage, (10, 20)):
        lost = full.t[page * 300:(page + 1) * 300]
        assert d.start_s < lost[0] and lost[-1] < d.end_s and f"page {page}" in d.detail
    keep = np.r_[0:10 * 300, 11 * 300:20 * 300, 21 * 300:91 * 300]
    np.testing.assert_array_equal(rec.acc, full.acc[keep])
    np.testing.assert_array_equal(rec.t, full.t[keep])


def test_geneactiv_rejects_other_files(tmp_path):
    junk = tmp_path / "random.bin"
    junk.write_bytes(np.random.default_rng(1).integers(0, 256, 5000, dtype=np.uint8).tobytes())
    with pytest.raises(InputFileError, match="not a GENEActiv"):
        read_geneactiv(junk)
    with pytest.raises(InputFileError, match="not a GENEActiv"):
        read_geneactiv(need(AX3_CLEAN))


# ---------------------------------------------------------------------------- ActiGraph

def test_gt3x_idle_sleep_is_a_gap():
    """pygt3x fills idle-sleep periods with copies of the last value; they must be gone."""
    from pygt3x.reader import FileReader

    on, off = read(read_actigraph, GT_ISM_ON), read(read_actigraph, GT_ISM_OFF)
    check_recording(on)
    check_recording(off)
    assert off.damage == () and off.t.size == 9000 and off.device["idle_sleep_mode"] is False
    assert np.diff(off.t).max() < 1.5 / 30                        # continuous
    ism = [d for d in on.damage if d.kind == "idle_sleep"]
    assert len(ism) == len(on.damage) == 3 and sum(d.count for d in ism) == 6810
    assert on.t.size == 9000 - 6810 and on.device["idle_sleep_mode"] is True
    for d in ism:                                                 # no sample inside a period
        assert not ((on.t >= d.start_s) & (on.t < d.end_s)).any()
        assert d.end_s - d.start_s == pytest.approx(d.count / 30)
    # Both devices started together: every kept sample sits on the continuous one's clock.
    assert on.t[0] == off.t[0]
    assert np.isin(np.round(on.t * 30), np.round(off.t * 30)).all()
    # The premise: what pygt3x flags is a copy of the last real sample.
    with FileReader(str(need(GT_ISM_ON))) as r:
        rows = r.acceleration
    flagged = rows[:, 4] == 1
    starts = np.flatnonzero(np.diff(flagged.astype(int)) == 1) + 1
    for s in starts:
        e = s + np.argmin(flagged[s:]) if not flagged[s:].all() else rows.shape[0]
        assert (rows[s:e, 1:4] == rows[s - 1, 1:4]).all()


def test_gt3x_neo_matches_actilife_csv():
    rec = read(read_actigraph, GT_NEO)                           # activity.bin, no log.bin
    check_recording(rec)
    csv = np.loadtxt(need("pygt3x_resources/neo.csv"), delimiter=",", skiprows=11)
    assert csv.shape == rec.acc.shape == (18_004, 3)
    np.testing.assert_array_equal(rec.acc, csv)
    # Start 2021-12-20 11:55:00 local at TimeZone -06:00 -> 17:55:00 UTC; 30 Hz, no clock.
    assert rec.t[0] == utc("2021-12-20T17:55:00") and rec.timezone == "Etc/GMT+6"
    assert np.allclose(np.diff(rec.t), 1 / 30)


def test_gt3x_long_file_and_zones():
    small = read(read_actigraph, GT_SMALL)
    check_recording(small)
    ism = [d for d in small.damage if d.kind == "idle_sleep"]
    assert len(ism) == len(small.damage) and sum(d.count for d in ism) == 1_467_810 - small.t.size
    assert small.t[0] == utc("2019-05-06T16:38:38")               # 11:38:38 at -05:00
    assert small.device["utc_offset_s"] == -5 * 3600 and small.device["placement"] == "wrist"
    ggir = read(read_actigraph, GT_GGIR)                         # "TimeZone: 02:00:00"
    check_recording(ggir)
    assert ggir.timezone == "Etc/GMT-2" and ggir.device["utc_offset_s"] == 7200
    assert ggir.t.size + sum(d.count for d in ggir.damage if d.kind == "idle_sleep") == 53_040
    wp = read(read_actigraph, GT_WRISTPY_ISM)
    check_recording(wp)
    assert [d.count for d in wp.damage] == [720] and wp.t.size == 4590 - 720
    assert np.diff(wp.t).max() == pytest.approx(24 + 1 / 30, abs=1e-6)   # the one ISM gap


def test_gt3x_truncated_copy(tmp_path):
    src = need(GT_SMALL)                                         # info.txt comes first in it
    full = read(read_actigraph, GT_SMALL)
    rec = read_actigraph(cut_copy(src, tmp_path, 1_000_003))
    check_recording(rec)
    n = rec.t.size
    assert 0 < n < full.t.size
    np.testing.assert_array_equal(rec.t, full.t[:n])
    np.testing.assert_array_equal(rec.acc, full.acc[:n])
    cut = [d for d in rec.damage if d.kind == "truncated"]
    assert len(cut) == 1 and "inside log.bin" in cut[0].detail
    # Where info.txt follows the data, a cut loses the rate and zone: a clear refusal.
    with pytest.raises(InputFileError, match="before its info.txt"):
        read_actigraph(cut_copy(need(GT_ISM_OFF), tmp_path, 30_000))


def test_gt3x_corrupt_record_reported(tmp_path):
    """A log.bin record with a bad checksum is skipped by pygt3x: a 1-s gap, reported."""
    import struct
    import zipfile

    src = need(GT_ISM_OFF)
    with zipfile.ZipFile(src) as z:
        members = {n: z.read(n) for n in z.namelist()}
    log, pos, activity = bytearray(members["log.bin"]), 0, []
    while pos + 8 <= len(log):       # records: 0x1E, type, u32 second, u16 size, payload, sum
        _, kind, _, size = struct.unpack_from("<BBIH", log, pos)
        if kind == 0x1A:             # Activity2: 30 samples x 3 int16
            activity.append(pos)
        pos += 8 + size + 1
    log[activity[50] + 8 + 10] ^= 0xFF
    members["log.bin"] = bytes(log)
    bad = tmp_path / "bad_record.gt3x"
    with zipfile.ZipFile(bad, "w") as z:                          # fresh CRCs for the zip
        for name, body in members.items():
            z.writestr(name, body)
    full, rec = read(read_actigraph, GT_ISM_OFF), read_actigraph(bad)
    check_recording(rec)
    assert rec.t.size == full.t.size - 30
    (d,) = rec.damage
    assert d.kind == "corrupt_record" and d.count == 1 and d.end_s - d.start_s == 1.0
    lost = np.setdiff1d(full.t, rec.t)
    assert lost.size == 30 and d.start_s <= lost[0] and lost[-1] < d.end_s


def test_gt3x_rejects_other_files(tmp_path):
    junk = tmp_path / "random.gt3x"
    junk.write_bytes(np.random.default_rng(2).integers(0, 256, 5000, dtype=np.uint8).tobytes())
    with pytest.raises(InputFileError, match="not an ActiGraph"):
        read_actigraph(junk)
    other_zip = tmp_path / "other.gt3x"
    shutil.make_archive(str(tmp_path / "other"), "zip", root_dir=tmp_path, base_dir=junk.name)
    (tmp_path / "other.zip").rename(other_zip)
    with pytest.raises(InputFileError, match="info.txt"):
        read_actigraph(other_zip)
