"""detect: the jerk detection pipeline (numpy + numba), no I/O beyond arrays in, events out.

    from detect import Detector, DetectorConfig
    det = Detector(DetectorConfig(sample_rate_hz=100))
    for chunk in chunks:
        live_events = det.feed(chunk.t, chunk.ax, chunk.ay, chunk.az)
    result = det.finish(timezone="Europe/London")   # result.events, result.summary

Importing this package does not import or compile numba: the kernels load on the first
``Detector``.  It never imports bleak or matplotlib.
"""
from .config import DETECTOR_VERSION, MIN_SAMPLE_RATE_HZ, DetectorConfig
from .errors import ConfigError, DetectError, InputError, StateError
from .stream import Detector, Event

__all__ = [
    "DETECTOR_VERSION", "MIN_SAMPLE_RATE_HZ", "DetectorConfig", "Detector", "Event",
    "DetectError", "InputError", "ConfigError", "StateError",
]
