"""sensor: acquisition -- device profiles, pure byte decoders, the BLE session, recording.

Importing this package is cheap: it loads only the exception types.  Decoders live in
submodules and are imported where used (``from sensor.polar import decode_pmd_frame``);
nothing here imports bleak or numba.
"""
from .errors import (
    ControlPointError,
    DecodeError,
    SensorError,
    TimestampError,
    UnsupportedFrameError,
)

__all__ = [
    "SensorError", "DecodeError", "UnsupportedFrameError", "TimestampError", "ControlPointError",
]
