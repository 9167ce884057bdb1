"""Typed exceptions of the acquisition layer.

Callers (the BLE session, the recorder, the command line) catch these by type, never by
message text.  Each message names what is wrong, where in the bytes it is (offset), and,
for length problems, how many bytes were expected and how many were received.

Tree::

    SensorError(Exception)
    +-- DecodeError(SensorError, ValueError)        malformed bytes
    |   +-- UnsupportedFrameError(DecodeError)       well-formed, but a type we do not decode
    |   +-- TimestampError(DecodeError)              frame time inconsistent with the stream
    +-- ControlPointError(SensorError)               device refused a control point command
"""
from __future__ import annotations


class SensorError(Exception):
    """Base class of every error raised by :mod:`sensor`."""


class DecodeError(SensorError, ValueError):
    """Bytes from the device cannot be decoded as they are.

    Attributes
    ----------
    what : str
        What is wrong, in words ("truncated delta block", "unknown setting type 0x70").
    offset : int or None
        Byte offset into the decoded buffer where the problem was found.
    expected_length, received_length : int or None
        For length problems: bytes needed from ``offset`` on, and bytes actually left.
    """

    def __init__(
        self,
        what: str,
        *,
        offset: int | None = None,
        expected_length: int | None = None,
        received_length: int | None = None,
    ) -> None:
        self.what = what
        self.offset = offset
        self.expected_length = expected_length
        self.received_length = received_length
        msg = what
        if offset is not None:
            msg += f" at offset {offset}"
        if expected_length is not None and received_length is not None:
            msg += f": expected {expected_length} bytes, received {received_length}"
        super().__init__(msg)

    def __reduce__(self):  # keep keyword-only arguments across pickling (multiprocessing)
        return (_rebuild_decode_error, (type(self), self.what, self.offset,
                                        self.expected_length, self.received_length))


def _rebuild_decode_error(cls, what, offset, expected_length, received_length):
    return cls(what, offset=offset, expected_length=expected_length,
               received_length=received_length)


class UnsupportedFrameError(DecodeError):
    """The frame header is well formed but names a measurement type or frame type that
    this decoder does not handle (for example ECG, or a compressed ACC type 2).

    A subclass of :class:`DecodeError` so that a notify handler that drops undecodable
    frames with one ``except DecodeError`` also drops these, while a caller that wants to
    tell "garbage" from "not implemented" still can.
    """


class TimestampError(DecodeError):
    """The frame's timestamp (bytes 1-8) cannot give per-sample times.

    Raised when the frame timestamp is not after the previous frame's (Polar's SDK refuses
    this too), when the first sample would fall before 2000-01-01 (the device epoch), or
    when the timestamp does not fit a signed 64-bit integer.
    """


class ControlPointError(SensorError):
    """The device answered a PMD control point command with a non-success status.

    Attributes
    ----------
    opcode : int
        Opcode of the command that was answered.
    measurement_type : int
        Measurement type byte of the response.
    status : int
        Status code (see ``sensor.polar.CpStatus``).
    status_name : str
        Name of the status ("ERROR_ALREADY_IN_STATE", ...).
    """

    def __init__(self, opcode: int, measurement_type: int, status: int, status_name: str) -> None:
        self.opcode = opcode
        self.measurement_type = measurement_type
        self.status = status
        self.status_name = status_name
        super().__init__(
            f"PMD control point opcode 0x{opcode:02x} for measurement type {measurement_type} "
            f"failed with status {status} ({status_name})"
        )

    def __reduce__(self):
        return (type(self), (self.opcode, self.measurement_type, self.status, self.status_name))
