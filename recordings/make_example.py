"""Rebuild the example night shipped for `make demo` (deterministic).

    python recordings/make_example.py

A SIMULATED night (twitchwatch.simulate), not a person's: 30 min awake in bed, 2 h of
sleep, 20 min awake, a wrist band with 1 mg steps at 50 Hz (like a Polar H10 frame
stream), about 10 isolated jerks an hour plus clusters, posture shifts, limb movements,
scratching, a bed partner, BLE gaps and clock drift.  Writes example-night.csv.gz
(canonical CSV) and example-night.truth.csv (ground truth for `twitchwatch evaluate`).
"""
from __future__ import annotations

import gzip
import io
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from twitchwatch.simulate import NightSettings, simulate_night  # noqa: E402

SETTINGS = NightSettings(
    seed=2026, sample_rate_hz=50.0, sensor="polar_h10", sleep_hours=2.0,
    awake_before_min=30.0, awake_after_min=20.0, jerk_rate_per_hour=10.0,
    cluster_rate_per_hour=1.0,
)


def main() -> None:
    night = simulate_night(SETTINGS)
    buf = io.StringIO()
    # 0.1 ms and 0.1 mg are finer than the simulated device (1 mg steps): nothing is lost
    night.samples.to_csv(buf, index=False, float_format="%.4f")
    with open(HERE / "example-night.csv.gz", "wb") as raw:
        with gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=9, mtime=0) as f:
            f.write(buf.getvalue().encode())
    night.truth.to_csv(HERE / "example-night.truth.csv", index=False, float_format="%.6f")
    print(f"{len(night.samples)} samples, {len(night.truth)} truth events")


if __name__ == "__main__":
    main()
