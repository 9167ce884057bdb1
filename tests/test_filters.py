"""The hand-written biquad design equals scipy's Butterworth design."""
import numpy as np
import pytest
from scipy import signal

from detect.filters import butter2_highpass


@pytest.mark.parametrize("fs", [25.0, 50.0, 100.0, 200.0, 416.0, 1000.0])
@pytest.mark.parametrize("fc", [0.5, 2.0, 5.0])
def test_matches_scipy_butter(fc, fs):
    sos = signal.butter(2, fc, btype="highpass", fs=fs, output="sos")[0]
    b0, b1, b2, a1, a2 = butter2_highpass(fc, fs)
    np.testing.assert_allclose([b0, b1, b2, 1.0, a1, a2], sos, rtol=1e-12, atol=1e-15)
