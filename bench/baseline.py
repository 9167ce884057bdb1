"""A minimal pandas + scipy jerk detector: the speed baseline for reading a canonical CSV.

It is what a careful user would write in ten lines: read, high-pass, threshold at k times
a robust noise estimate, find peaks.  No gaps, no classification, no sleep window.
"""
from __future__ import annotations

import sys

import numpy as np
import pandas as pd
from scipy import signal


def minimal_detector(t: np.ndarray, acc: np.ndarray, fs: float) -> np.ndarray:
    sos = signal.butter(2, 2.0, btype="highpass", fs=fs, output="sos")
    hp = signal.sosfilt(sos, acc, axis=0)
    mag = np.sqrt(np.sum(hp * hp, axis=1))
    noise = np.median(mag) / 0.8
    peaks, _ = signal.find_peaks(mag, height=5 * noise, distance=int(0.5 * fs))
    return t[peaks]


def main(path: str) -> None:
    df = pd.read_csv(path)
    t = df["time_s"].to_numpy()
    acc = df[["ax_g", "ay_g", "az_g"]].to_numpy()
    fs = 1.0 / np.median(np.diff(t))
    onsets = minimal_detector(t, acc, fs)
    print(len(onsets))


if __name__ == "__main__":
    main(sys.argv[1])
