"""The IANA time zone of this machine, for display (UTC stays the truth inside)."""
from __future__ import annotations

import logging
import os
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .errors import TwitchwatchError

log = logging.getLogger(__name__)


def check_zone(name: str) -> str:
    """Return ``name`` if it is a known IANA zone, else raise a one-line error."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise TwitchwatchError(
            f"unknown time zone {name!r}; give an IANA name such as Europe/London or America/New_York"
        ) from None
    return name


def machine_zone() -> str:
    """IANA name of the local zone: $TZ, /etc/timezone, or the /etc/localtime link; else UTC."""
    candidates = []
    tz = os.environ.get("TZ", "").lstrip(":")
    if tz:
        candidates.append(tz)
    try:
        candidates.append(Path("/etc/timezone").read_text().strip())
    except OSError:
        pass
    try:
        target = os.path.realpath("/etc/localtime")
        if "zoneinfo/" in target:
            candidates.append(target.split("zoneinfo/", 1)[1])
    except OSError:
        pass
    for c in candidates:
        try:
            ZoneInfo(c)
            return c
        except (ZoneInfoNotFoundError, ValueError):
            continue
    log.warning("could not tell this machine's time zone; using UTC (pass --tz to choose)")
    return "UTC"
