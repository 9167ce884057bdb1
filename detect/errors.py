"""Typed exceptions of the detection pipeline.

Callers (the command line, the recorder) catch these by type, never by message text.
Every message names the problem and, where there is one, the fix.
"""


class DetectError(Exception):
    """Base class of every error raised by :mod:`detect`."""


class InputError(DetectError, ValueError):
    """The samples handed to the pipeline cannot be analysed as they are.

    Raised by the validating wrappers before any kernel runs, so nothing has been
    half-processed when it is raised.
    """


class ConfigError(DetectError, ValueError):
    """A configuration value is out of its allowed range."""


class StateError(DetectError, RuntimeError):
    """The streaming detector was used out of order (feed after finish, ...)."""
