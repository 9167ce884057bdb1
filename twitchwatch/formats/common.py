"""Small pieces every device reader needs."""
from __future__ import annotations

import numpy as np

from ..readers import Damage


def keep_strictly_increasing(t: np.ndarray, *arrays):
    """Drop samples not after every earlier one (records replayed over a clock step).

    t : (n,) seconds; arrays : (n, ...) arrays or None, cut alike.
    Returns (t, *arrays, damage) where damage is a Damage('time_overlap') or None.
    """
    if t.size < 2:
        return (t, *arrays, None)
    keep = np.r_[True, t[1:] > np.maximum.accumulate(t)[:-1]]
    if keep.all():
        return (t, *arrays, None)
    dropped = np.flatnonzero(~keep)
    d = Damage("time_overlap", int(dropped.size), float(t[dropped[0]]), float(t[dropped[-1]]),
               "samples timed at or before earlier ones; dropped")
    return (t[keep], *(None if a is None else a[keep] for a in arrays), d)
