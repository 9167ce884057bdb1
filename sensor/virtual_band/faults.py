"""Fault specs for the virtual band: ``'drop@120s:5s,stall@300s:20s,stop@500s,garbage@200s'``.

Grammar: comma-separated ``kind@time[:arg]``.  ``time`` is content time, seconds of the
replayed night since the content clock started (by default at the first stream start;
see VirtualBandSettings.content_origin); units ``ms``, ``s`` (default), ``m``/``min``, ``h``.

=========  ==========================  =====================================================
kind       arg                         effect
=========  ==========================  =====================================================
drop       duration (default 5 s)      link loss: the central is disconnected, the band stops
                                       advertising for the duration and refuses connections
                                       in it; the stream ends as on any disconnect
stall      duration (required)         connected but silent: frames whose last sample falls
                                       in the window are not sent (their samples are lost)
stop       none                        device-initiated stop: ``01 02`` on the control point,
                                       the stream ends
garbage    count (default 1)           that many notifications of random bytes on the data
                                       characteristic (no samples lost)
jump       signed duration (required)  the device clock leaps by that much (``+3600s``,
                                       ``-10s``); later frame timestamps include it
=========  ==========================  =====================================================
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable

FAULT_KINDS = ("drop", "stall", "stop", "garbage", "jump")

_UNITS = {"ms": 1e-3, "s": 1.0, "": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0}
_DURATION = re.compile(r"^([+-]?\d+(?:\.\d*)?|[+-]?\.\d+)\s*(ms|s|min|m|h|)$")


@dataclass(frozen=True)
class Fault:
    """One injected fault.  ``at_s`` content seconds; ``duration_s`` for drop/stall, the
    clock step for jump; ``count`` for garbage."""

    kind: str
    at_s: float
    duration_s: float = 0.0
    count: int = 1

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; known: {', '.join(FAULT_KINDS)}")
        if not self.at_s >= 0:
            raise ValueError(f"fault time must be >= 0 s, got {self.at_s}")
        if self.kind in ("drop", "stall") and not self.duration_s > 0:
            raise ValueError(f"{self.kind} needs a positive duration, got {self.duration_s}")
        if self.kind == "garbage" and self.count < 1:
            raise ValueError(f"garbage count must be >= 1, got {self.count}")
        if self.kind == "jump" and self.duration_s == 0:
            raise ValueError("jump needs a non-zero clock step, e.g. jump@100s:+3600s")

    def spec(self) -> str:
        """Back to the spec syntax (parse_faults(f.spec()) == (f,))."""
        if self.kind in ("drop", "stall"):
            return f"{self.kind}@{self.at_s:g}s:{self.duration_s:g}s"
        if self.kind == "jump":
            return f"jump@{self.at_s:g}s:{self.duration_s:+g}s"
        if self.kind == "garbage":
            return f"garbage@{self.at_s:g}s:{self.count}"
        return f"stop@{self.at_s:g}s"


def parse_duration(text: str, what: str = "duration") -> float:
    """``'120s'``, ``'1.5min'``, ``'250ms'``, ``'-10s'``, ``'2h'`` or a bare number -> seconds."""
    m = _DURATION.match(text.strip())
    if not m:
        raise ValueError(f"bad {what} {text!r}: expected a number with an optional unit "
                         f"(ms, s, m/min, h), e.g. '120s'")
    return float(m.group(1)) * _UNITS[m.group(2)]


def parse_faults(spec: str | Iterable[Fault] | None) -> tuple[Fault, ...]:
    """Parse a fault spec string (or pass Fault objects through); sorted by time."""
    if spec is None:
        return ()
    if not isinstance(spec, str):
        faults = tuple(spec)
        for f in faults:
            if not isinstance(f, Fault):
                raise ValueError(f"expected Fault objects, got {type(f).__name__}")
        return tuple(sorted(faults, key=lambda f: f.at_s))
    out = []
    for item in (s.strip() for s in spec.split(",")):
        if not item:
            continue
        kind, sep, rest = item.partition("@")
        kind = kind.strip().lower()
        if not sep:
            raise ValueError(f"bad fault {item!r}: expected kind@time[:arg], e.g. 'drop@120s:5s'")
        if kind not in FAULT_KINDS:
            raise ValueError(f"bad fault {item!r}: unknown kind {kind!r}; known: "
                             f"{', '.join(FAULT_KINDS)}")
        time_text, _, arg = rest.partition(":")
        at_s = parse_duration(time_text, "fault time")
        arg = arg.strip()
        if kind == "drop":
            out.append(Fault("drop", at_s, parse_duration(arg) if arg else 5.0))
        elif kind == "stall":
            if not arg:
                raise ValueError(f"bad fault {item!r}: stall needs a duration, e.g. stall@300s:20s")
            out.append(Fault("stall", at_s, parse_duration(arg)))
        elif kind == "stop":
            if arg:
                raise ValueError(f"bad fault {item!r}: stop takes no argument")
            out.append(Fault("stop", at_s))
        elif kind == "garbage":
            if arg and not arg.isdigit():
                raise ValueError(f"bad fault {item!r}: garbage takes a count, e.g. garbage@200s:3")
            out.append(Fault("garbage", at_s, count=int(arg) if arg else 1))
        else:  # jump
            if not arg:
                raise ValueError(f"bad fault {item!r}: jump needs a clock step, e.g. "
                                 f"jump@100s:+3600s")
            out.append(Fault("jump", at_s, parse_duration(arg, "clock step")))
    return tuple(sorted(out, key=lambda f: f.at_s))


__all__ = ["Fault", "FAULT_KINDS", "parse_faults", "parse_duration"]
