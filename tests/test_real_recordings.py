"""Real recordings of falls, a stumble, lying down, turning in bed and walking.

None holds a myoclonic jerk (no public recording does; domain.md section 6).  They check
that the detector meets real sensors: lying down and turning over are never called a
jerk, and the sharp impacts of falls are found as movements.  Each case prints what the
file yields (`pytest -s` shows the table; the README quotes it).
"""
from __future__ import annotations

import numpy as np
import pytest

from detect import Detector, DetectorConfig

from .realdata import REAL, daphnet, need, sisfall, umafall

UMA = "umafall_subset/UMAFall_Subject_02_"

# (file, loader, must never be a jerk)
CASES = [
    ("sisfall_subset/D12_SA01_R01.txt", sisfall, True),    # sit, then lie down slowly
    ("sisfall_subset/D14_SA01_R01.txt", sisfall, True),    # on the back -> lateral -> back
    ("sisfall_subset/D14_SE06_R01.txt", sisfall, True),
    ("sisfall_subset/D18_SA01_R01.txt", sisfall, False),   # stumble while walking
    ("sisfall_subset/D19_SA01_R01.txt", sisfall, False),   # gentle jump
    ("sisfall_subset/F01_SA01_R01.txt", sisfall, False),   # falls
    ("sisfall_subset/F01_SE06_R01.txt", sisfall, False),
    ("sisfall_subset/F05_SA01_R01.txt", sisfall, False),
    ("sisfall_subset/F06_SA01_R01.txt", sisfall, False),
    ("sisfall_subset/F13_SA01_R01.txt", sisfall, False),
    (UMA + "ADL_LyingDown_OnABed_1_2016-06-13_20-32-16.csv", lambda p: umafall(p, 0), True),
    (UMA + "ADL_Hopping_1_2016-06-13_20-37-40.csv", lambda p: umafall(p, 0), False),
    (UMA + "ADL_Walking_1_2016-06-13_20-27-49.csv", lambda p: umafall(p, 0), False),
    (UMA + "Fall_backwardFall_1_2016-06-13_20-51-32.csv", lambda p: umafall(p, 0), False),
    (UMA + "Fall_forwardFall_1_2016-06-13_20-43-52.csv", lambda p: umafall(p, 0), False),
    (UMA + "Fall_lateralFall_1_2016-06-13_20-49-17.csv", lambda p: umafall(p, 0), False),
    ("daphnet_fog_subset/S03R02.txt", daphnet, False),      # walking with freezing of gait
    ("daphnet_fog_subset/S07R02.txt", daphnet, False),
]


def detect_file(t, acc, fs):
    det = Detector(DetectorConfig(sample_rate_hz=fs))
    det.feed(t, acc[:, 0], acc[:, 1], acc[:, 2])
    return det.finish(timezone="UTC")


@pytest.mark.parametrize("name,loader,never_jerk", CASES, ids=[c[0].split("/")[-1][:40] for c in CASES])
def test_real_recording(name, loader, never_jerk):
    t, acc, fs = loader(need(REAL / name))
    res = detect_file(t, acc, fs)
    ev = res.events
    counts = ev["kind"].value_counts().to_dict()
    peak = float(ev["peak_accel_g"].max()) if len(ev) else 0.0
    print(f"\n{name}: {len(t)} samples at {fs:.0f} Hz, {t[-1] - t[0]:.0f} s -> {counts or 'no events'}"
          f", largest peak {peak:.2f} g")
    if never_jerk:
        assert counts.get("jerk", 0) == 0, ev[ev.kind == "jerk"]
    assert len(ev) > 0, "a real movement recording must yield movement events"


@pytest.mark.parametrize("sensor_id,where", [(3, "wrist"), (4, "ankle")])
def test_umafall_20_hz_tags_are_refused(sensor_id, where):
    """The SensorTags record at ~20 Hz: too slow to see a jerk, and said so."""
    t, acc, fs = umafall(need(REAL / (UMA + "ADL_LyingDown_OnABed_1_2016-06-13_20-32-16.csv")), sensor_id)
    assert fs < 25
    with pytest.raises(Exception) as exc:
        Detector(DetectorConfig(sample_rate_hz=fs))
    assert "25" in str(exc.value)


def test_falls_are_found_as_large_movements():
    """Each fall's impact (SisFall README: peaks 3.7-18.8 g) is inside one detected event."""
    for name in ("F01_SA01_R01", "F05_SA01_R01", "F06_SA01_R01", "F13_SA01_R01"):
        t, acc, fs = sisfall(need(REAL / f"sisfall_subset/{name}.txt"))
        res = detect_file(t, acc, fs)
        i_peak = int(np.argmax(np.linalg.norm(acc, axis=1)))
        tp = t[i_peak]
        ev = res.events
        hit = ev[(ev.onset_t <= tp + 0.05) & (ev.onset_t + ev.duration_s >= tp - 0.05)]
        assert len(hit) >= 1, name
        assert hit.peak_accel_g.max() > 1.0, name
