"""Detection quality on SIMULATED nights against the targets of the detection issue.

Targets: jerk F1 >= 0.97, false positives <= 0.3 per hour of sleep, recall >= 0.99 for
jerks >= 0.1 g, sleep window edges within 15 minutes.  The conditions in
tests/accuracy.py vary sensor, rate, placement, drift, gaps and confounders; the slow
test also runs every condition again with seeds never used while the detector was
developed (a hold-out), so that it is not tuned to one set of random nights.

Per-night rates are judged on the nights pooled per seed set: a single 4-hour night has
too few strong jerks for 0.99 to be a measurable recall (one miss in 36 is 0.972), so
each night must reach 0.95 and the pool 0.99.
"""
from __future__ import annotations

import dataclasses

import pytest

from twitchwatch.simulate import NightSettings

from .accuracy import CONDITIONS, pooled, run_condition, table

HOLDOUT_SEED_OFFSET = 1000


def check_night(r):
    m = r.metrics
    assert m["f1"] >= 0.95, (r.name, m)
    assert m["fp"] / r.sleep_hours_true <= 0.45, (r.name, m)
    assert m["recall_strong"] >= 0.95, (r.name, m)
    assert r.sleep_start_err_min is not None, f"{r.name}: no sleep window found"
    assert abs(r.sleep_start_err_min) <= 15 and abs(r.sleep_end_err_min) <= 15, r


def check_pool(results):
    p = pooled(results)
    assert p["f1"] >= 0.97, p
    assert p["fp_per_hour_sleep"] <= 0.3, p
    rec_strong = [r.metrics["recall_strong"] for r in results]
    # pooled recall of strong jerks, weighted by each night's number of true jerks
    w = [r.metrics["n_true"] for r in results]
    assert sum(a * b for a, b in zip(rec_strong, w)) / max(sum(w), 1) >= 0.99


def test_short_night_quick():
    """A 1.5-hour night: a fast check that runs in every suite."""
    r = run_condition("quick", NightSettings(seed=5, sleep_hours=1.5, awake_before_min=30,
                                              awake_after_min=20, jerk_rate_per_hour=20))
    assert r.metrics["f1"] >= 0.95, r.metrics
    assert r.metrics["fp"] <= 1
    assert abs(r.sleep_start_err_min) <= 15 and abs(r.sleep_end_err_min) <= 15


@pytest.mark.slow
@pytest.mark.parametrize("offset", [0, HOLDOUT_SEED_OFFSET], ids=["development-seeds", "holdout-seeds"])
def test_conditions(offset):
    results = [run_condition(name, dataclasses.replace(s, seed=s.seed + offset)) for name, s in CONDITIONS]
    print("\n" + table(results))
    for r in results:
        check_night(r)
    check_pool(results)
