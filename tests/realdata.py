"""Loaders for the real recordings in ../shared/data/real (never copied into the project).

Each returns (t (n,) s, acc (n, 3) g, sample_rate_hz).  The files' own READMEs give the
formats and units; see the notes per loader.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
REAL = SHARED / "data" / "real"
T0 = 1_700_000_000.0  # the datasets give no absolute time; any fixed start will do


def need(path: Path) -> Path:
    """Skip the calling test with a clear message when ../shared is not there."""
    if not path.exists():
        pytest.skip(f"{path} is absent: the real recordings live in ../shared/data/real beside the repo")
    return path


def sisfall(path: Path):
    """SisFall: 9 integer columns per line ending in ';' at 200 Hz; the ADXL345 (first 3,
    +-16 g, 13 bit) in g is raw * 32 / 8192.  No timestamps: t = i / 200 (the logger's
    fixed rate)."""
    rows = [ln.strip().rstrip(";") for ln in path.read_text().splitlines() if ln.strip()]
    raw = np.array([[int(v) for v in r.split(",")[:3]] for r in rows], dtype=float)
    fs = 200.0
    return T0 + np.arange(len(raw)) / fs, raw * 32.0 / 8192.0, fs


def umafall(path: Path, sensor_id: int):
    """UMAFall: 'TimeStamp(ms);SampleNo;X;Y;Z;SensorType;SensorID' after '%' comments;
    accelerometer rows are SensorType 0, in g.  The phone (id 0) stamps samples in batches
    (many share one millisecond), so the times are the least-squares line of timestamp
    against sample number: the clock-mapping rule for bursty delivery."""
    data = []
    for ln in path.read_text().splitlines():
        if not ln.strip() or ln.lstrip().startswith("%"):
            continue
        parts = ln.strip().rstrip(";").split(";")
        if int(parts[5]) == 0 and int(parts[6]) == sensor_id:
            data.append([float(p) for p in parts[:5]])
    a = np.array(data)
    ms, k = a[:, 0], a[:, 1]
    slope, icpt = np.polyfit(k, ms, 1)
    t = T0 + (icpt + slope * k) / 1000.0
    return t, a[:, 2:5], 1000.0 / slope


def daphnet(path: Path):
    """Daphnet: space-separated time_ms, ankle (fwd, vert, lat) in mg, ... at 64 Hz."""
    a = np.loadtxt(path)
    t = T0 + a[:, 0] / 1000.0
    keep = np.concatenate([[True], np.diff(t) > 0])
    return t[keep], a[keep, 1:4] / 1000.0, 64.0
