"""Detection quality on simulated nights, per condition.

Used by tests/test_accuracy.py (the targets) and by `python -m tests.accuracy` (prints the
README table).  These are SIMULATED nights (twitchwatch.simulate); no public recording
with labelled jerks exists (domain.md section 6).  Conditions vary the simulator (sensor,
rate, placement, drift, gaps, jerk and confounder rates) so that the detector is not
tuned to one setting.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass


from twitchwatch.analyze import analyze_arrays
from twitchwatch.evaluate import evaluate_events
from twitchwatch.simulate import NightSettings, simulate_night

#: (name, settings) pairs; seeds differ so no two conditions share a random night.
CONDITIONS: list[tuple[str, NightSettings]] = [
    ("wrist BMI270 100 Hz", NightSettings(seed=11)),
    ("wrist LSM6DSO low-power 200 Hz", NightSettings(seed=12, sensor="lsm6dso_lowpower", sample_rate_hz=200.0)),
    ("ankle LIS2DW12 50 Hz, PLM series", NightSettings(seed=13, placement="ankle", sensor="lis2dw12",
                                                       sample_rate_hz=50.0, plm_series_range=(1, 3))),
    ("wrist ADXL355 416 Hz, 4 h", NightSettings(seed=14, sensor="adxl355", sample_rate_hz=416.0, sleep_hours=4.0)),
    ("ankle 1 mg/LSB 100 Hz, drift +1.5 %, many gaps", NightSettings(
        seed=15, placement="ankle", sensor="polar_h10", clock_drift_ppm=15000.0, ble_gap_count_range=(8, 15))),
    ("wrist LSM6DSV 100 Hz, 25 jerks/h, clusters", NightSettings(
        seed=16, sensor="lsm6dsv", jerk_rate_per_hour=25.0, cluster_rate_per_hour=2.0)),
    ("wrist BMI270 100 Hz, restless (3x confounders)", NightSettings(
        seed=17, posture_shifts_per_hour=4.0, limb_repositions_per_hour=9.0, scratch_per_hour=1.5,
        partner_per_hour=3.0, tremor_per_hour=1.0)),
    ("wrist LIS3DHH 100 Hz, no jerks", NightSettings(
        seed=18, sensor="lis3dhh", jerk_rate_per_hour=0.0, cluster_rate_per_hour=0.0, hypnic_count_range=(0, 0))),
]


@dataclass
class ConditionResult:
    name: str
    metrics: dict
    sleep_start_err_min: float | None
    sleep_end_err_min: float | None
    sleep_hours_true: float


def _ts(s):
    import pandas as pd

    return None if s is None else pd.Timestamp(s).timestamp()


def run_condition(name: str, settings: NightSettings) -> ConditionResult:
    night = simulate_night(settings)
    df = night.samples
    res = analyze_arrays(df["time_s"].to_numpy(), df[["ax_g", "ay_g", "az_g"]].to_numpy(),
                         timezone="Europe/London")
    m = evaluate_events(res.events, res.summary, night.truth)
    s0, s1 = _ts(res.summary["sleep_window_start_utc"]), _ts(res.summary["sleep_window_end_utc"])
    meta = night.meta
    return ConditionResult(
        name=name, metrics=m,
        sleep_start_err_min=None if s0 is None else (s0 - meta["sleep_start_s"]) / 60.0,
        sleep_end_err_min=None if s1 is None else (s1 - meta["sleep_end_s"]) / 60.0,
        sleep_hours_true=(meta["sleep_end_s"] - meta["sleep_start_s"]) / 3600.0,
    )


def pooled(results: list[ConditionResult]) -> dict:
    tp = sum(r.metrics["tp"] for r in results)
    fp = sum(r.metrics["fp"] for r in results)
    fn = sum(r.metrics["fn"] for r in results)
    p = tp / (tp + fp) if tp + fp else 1.0
    rc = tp / (tp + fn) if tp + fn else 1.0
    hours = sum(r.sleep_hours_true for r in results)
    return {"tp": tp, "fp": fp, "fn": fn, "precision": p, "recall": rc,
            "f1": 2 * p * rc / (p + rc) if p + rc else 0.0, "fp_per_hour_sleep": fp / hours}


def table(results: list[ConditionResult]) -> str:
    lines = ["| condition (simulated) | true jerks | detected | precision | recall | F1 | "
             "recall >= 0.1 g | FP / h sleep | sleep start / end error (min) |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        m = r.metrics
        fph = m["fp"] / r.sleep_hours_true
        se = ("not found" if r.sleep_start_err_min is None
              else f"{r.sleep_start_err_min:+.1f} / {r.sleep_end_err_min:+.1f}")
        lines.append(f"| {r.name} | {m['n_true']} | {m['n_detected']} | {m['precision']:.3f} | "
                     f"{m['recall']:.3f} | {m['f1']:.3f} | {m['recall_strong']:.3f} | {fph:.2f} | {se} |")
    p = pooled(results)
    lines.append(f"| **all nights pooled** | {p['tp'] + p['fn']} | {p['tp'] + p['fp']} | {p['precision']:.3f} | "
                 f"{p['recall']:.3f} | {p['f1']:.3f} | | {p['fp_per_hour_sleep']:.2f} | |")
    return "\n".join(lines)


if __name__ == "__main__":
    only = sys.argv[1:]
    res = [run_condition(n, s) for n, s in CONDITIONS if not only or any(o in n for o in only)]
    print(table(res))
