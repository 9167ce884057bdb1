"""Event series: periodic limb movements (WASM 2016) and jerk clusters.

Both work on onset times in order.  A PLM series is >= 4 limb movements whose
onset-to-onset intervals are each within [10, 90] s; an interval outside ends the series
(WASM 2016; AASM would use 5-90 s).  A jerk cluster (our rule, no published one exists)
is >= 3 jerks, each starting within 15 s of the previous one.
"""
from __future__ import annotations

import numpy as np


def find_series(onsets: np.ndarray, min_interval: float, max_interval: float,
                min_count: int) -> list[tuple[int, int]]:
    """Runs [i, j) of consecutive onsets whose intervals all lie in [min, max].

    onsets : (n,) increasing times (s).  Returns index ranges with j - i >= min_count.
    """
    out = []
    n = onsets.size
    i = 0
    while i < n:
        j = i + 1
        while j < n and min_interval <= onsets[j] - onsets[j - 1] <= max_interval:
            j += 1
        if j - i >= min_count:
            out.append((i, j))
        i = j
    return out
