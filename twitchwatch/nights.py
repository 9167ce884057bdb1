"""Where nights live and what they are called.

A night is named by its local date under the noon-to-noon rule (anything from noon of
day D to noon of day D+1 is the night of D, in the recording's IANA zone, so DST nights
land on the right date), plus a short device label when several devices recorded the
same night: ``2026-11-24`` or ``2026-11-24-ankle``.  Commands that take NIGHT accept that
name or a path.
"""
from __future__ import annotations

import datetime as dt
import os
import re
from pathlib import Path
from zoneinfo import ZoneInfo

from .errors import InputFileError, TwitchwatchError

ENV_DATA_DIR = "TWITCHWATCH_DATA_DIR"
_LABEL = re.compile(r"^[a-z0-9][a-z0-9_]{0,15}$")
_NIGHT = re.compile(r"^\d{4}-\d{2}-\d{2}(-[a-z0-9][a-z0-9_]{0,15})?$")


def data_dir(override: str | os.PathLike | None = None, *, create: bool = True) -> Path:
    """The data directory: --data-dir, else $TWITCHWATCH_DATA_DIR, else the platform's
    user data directory (platformdirs).  Created owner-only when missing, unless
    ``create`` is false (commands that only read: a mistyped path is not made)."""
    if override:
        d = Path(override)
    elif os.environ.get(ENV_DATA_DIR):
        d = Path(os.environ[ENV_DATA_DIR])
    else:
        import platformdirs

        d = Path(platformdirs.user_data_dir("twitchwatch", appauthor=False))
    if create:
        d.mkdir(parents=True, exist_ok=True, mode=0o700)
    return d


def night_date(t_utc: float, tz: str) -> dt.date:
    """Local date of the night holding Unix time t (noon-to-noon)."""
    local = dt.datetime.fromtimestamp(t_utc, tz=ZoneInfo(tz))
    return (local - dt.timedelta(hours=12)).date()


def night_id(t_utc: float, tz: str, label: str | None = None) -> str:
    if label is not None and not _LABEL.match(label):
        raise TwitchwatchError(f"device label {label!r} must be 1-16 lowercase letters, digits or _")
    d = night_date(t_utc, tz).isoformat()
    return f"{d}-{label}" if label else d


def night_bounds_utc(date: dt.date, tz: str) -> tuple[float, float]:
    """Unix times of noon on ``date`` and noon the next day, local time (DST-aware)."""
    z = ZoneInfo(tz)
    a = dt.datetime.combine(date, dt.time(12), tzinfo=z)
    b = dt.datetime.combine(date + dt.timedelta(days=1), dt.time(12), tzinfo=z)
    return a.timestamp(), b.timestamp()


def resolve_night(arg: str, data: Path) -> Path:
    """A night name (in the data directory) or a path -> the night file's path."""
    p = Path(arg)
    if p.suffix == ".night" or p.exists():
        if not p.exists():
            raise InputFileError(f"{p}: no such night file")
        return p
    if _NIGHT.match(arg):
        f = data / f"{arg}.night"
        if f.exists():
            return f
        near = sorted(x.stem for x in data.glob(f"{arg[:10]}*.night"))
        hint = f"; that date has: {', '.join(near)}" if near else ""
        raise InputFileError(f"no night {arg} in {data}{hint}")
    raise InputFileError(f"{arg!r} is neither a night (YYYY-MM-DD or YYYY-MM-DD-label) nor a file")
