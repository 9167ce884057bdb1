"""The one place that imports numba.

Kernels import ``jit`` from here.  Nothing in the package imports this module at
package import time: :mod:`detect.stream` loads the kernels lazily, so ``import detect``
stays light and never compiles anything.

Environment:
    TWITCHWATCH_NO_NUMBA=1   run the kernels as plain Python (slow; for debugging and for
                             machines where numba is unavailable).
"""
from __future__ import annotations

import os

_DISABLED = os.environ.get("TWITCHWATCH_NO_NUMBA", "") not in ("", "0")

if _DISABLED:  # pragma: no cover - exercised by hand
    def jit(*args, **kwargs):
        """Identity decorator used when numba is switched off."""
        if len(args) == 1 and callable(args[0]) and not kwargs:
            return args[0]
        return lambda f: f

    HAVE_NUMBA = False
else:
    import numba

    HAVE_NUMBA = True

    def jit(*args, **kwargs):
        """``numba.njit`` with the project's fixed policy.

        cache=True so a second process does not compile again; fastmath is never
        enabled: threshold decisions on borderline samples must not change between
        machines or compiler versions.
        """
        kwargs.setdefault("cache", True)
        kwargs["fastmath"] = False
        kwargs.setdefault("nogil", True)
        return numba.njit(*args, **kwargs)
