"""One code path, identical results whatever the chunking (down to 1-sample chunks)."""
from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings, strategies as st

from detect import Detector, DetectorConfig

from .signals import quiet_with_events

FS = 100.0
T, ACC = quiet_with_events(FS)


def run(chunks):
    det = Detector(DetectorConfig(sample_rate_hz=FS))
    live = []
    i = 0
    for c in chunks:
        j = min(i + c, T.size)
        live += det.feed(T[i:j], ACC[i:j, 0], ACC[i:j, 1], ACC[i:j, 2])
        i = j
    if i < T.size:
        live += det.feed(T[i:], ACC[i:, 0], ACC[i:, 1], ACC[i:, 2])
    return live, det.finish(timezone="Europe/Paris")


WHOLE_LIVE, WHOLE = run([T.size])


def assert_same(live, res):
    assert live == WHOLE_LIVE  # frozen dataclasses: exact float equality, bit for bit
    pd.testing.assert_frame_equal(res.events, WHOLE.events, check_exact=True)
    assert res.summary == WHOLE.summary
    np.testing.assert_array_equal(res.epochs, WHOLE.epochs)


def test_the_signal_has_events_of_every_kind_we_rely_on():
    kinds = set(WHOLE.events["kind"])
    assert {"jerk", "posture_change", "other_movement"} <= kinds
    assert len(WHOLE.summary["gaps"]) == 2


def test_live_events_are_the_final_events():
    """What feed() hands out live is exactly the night's event table after finish()."""
    assert [e.onset_t for e in WHOLE_LIVE] == WHOLE.events["onset_t"].tolist()


def test_single_sample_chunks():
    live, res = run([1] * T.size)
    assert_same(live, res)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.integers(min_value=1, max_value=9000), min_size=1, max_size=60))
def test_random_splits(chunks):
    live, res = run(chunks)
    assert_same(live, res)
