"""Child process for the crash test: records a simulated stream in real time into a night
file until it is killed.  Each sample's time is the wall clock when it was made, so the
test can tell which samples are older than 1 s at the moment of the kill.

    python -m tests.nightwriter_child PATH
"""
import sys
import time

import numpy as np

from twitchwatch.store import ChannelSpec, NightWriter

RATE = 200.0
BATCH = 10  # samples per append: one BLE notification's worth


def main(path: str) -> None:
    rng = np.random.default_rng(0)
    with NightWriter.create(path, timezone="UTC", channels=(ChannelSpec("acc", RATE),)) as w:
        k = 0
        t_start = time.time()
        print(f"ready {t_start!r}", flush=True)
        while True:
            t = t_start + (k + np.arange(BATCH)) / RATE
            wait = t[-1] - time.time()
            if wait > 0:
                time.sleep(wait)
            w.append(t, rng.normal(0, 0.01, (BATCH, 3)) + [0, 0, 1])
            k += BATCH


if __name__ == "__main__":
    main(sys.argv[1])
