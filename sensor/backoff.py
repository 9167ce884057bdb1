"""Reconnect policy: bounded exponential backoff, as a pure function.

Every number is a named constant with its reason; the session asks ``delay_s(attempt)``
and sleeps, so tests check the policy without any clock.
"""
from __future__ import annotations

import random
from dataclasses import dataclass

#: First retry soon: most drops overnight are a moment out of range (a turn in bed).
FIRST_DELAY_S = 0.5
#: Doubling: a band out of range for minutes is not hammered with scans.
FACTOR = 2.0
#: Never wait longer than this: every second of waiting is a second of night lost.
MAX_DELAY_S = 15.0
#: +-20 % jitter so that two recorders (wrist and ankle) do not retry in lockstep.
JITTER = 0.2


@dataclass(frozen=True)
class Backoff:
    first_s: float = FIRST_DELAY_S
    factor: float = FACTOR
    max_s: float = MAX_DELAY_S
    jitter: float = JITTER

    def delay_s(self, attempt: int, rng: random.Random | None = None) -> float:
        """Seconds to wait before retry number ``attempt`` (0 = the first retry).

        Always within [0, max_s * (1 + jitter)].
        """
        if attempt < 0:
            raise ValueError("attempt must be >= 0")
        base = min(self.max_s, self.first_s * self.factor ** min(attempt, 64))
        if rng is None or self.jitter == 0:
            return base
        return base * (1.0 + rng.uniform(-self.jitter, self.jitter))

    @property
    def bound_s(self) -> float:
        """The longest single wait this policy can produce."""
        return self.max_s * (1.0 + self.jitter)
