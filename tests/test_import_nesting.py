"""Heavy imports stay where they belong (a fresh interpreter per check)."""
from __future__ import annotations

import subprocess
import sys

import pytest


def loaded_after(stmt: str) -> set[str]:
    code = f"import sys; {stmt}; print(' '.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(out.stdout.split())


@pytest.mark.parametrize("pkg", ["sensor", "twitchwatch", "twitchwatch.cli"])
def test_app_and_sensor_do_not_import_numba(pkg):
    mods = loaded_after(f"import {pkg}")
    assert "numba" not in mods


def test_detect_imports_neither_bleak_nor_matplotlib_nor_numba_at_import():
    mods = loaded_after("import detect")
    assert not {"bleak", "matplotlib"} & mods
    assert "numba" not in mods  # kernels load on the first Detector


def test_running_the_detector_still_does_not_pull_bleak_or_matplotlib():
    mods = loaded_after(
        "import numpy as np; from detect import Detector, DetectorConfig; "
        "d = Detector(DetectorConfig(sample_rate_hz=50)); "
        "t = 1e9 + np.arange(500) / 50; z = np.zeros(500); d.feed(t, z, z, z + 1)"
    )
    assert "numba" in mods
    assert not {"bleak", "matplotlib"} & mods
