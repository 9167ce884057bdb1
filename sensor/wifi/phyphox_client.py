"""phyphox's remote-access interface: a small aiohttp client and the pure helpers around it.

What the interface is (source: phyphox-android, RemoteServer.java: handleGet, handleTime,
handleConfig, handleControl; the same endpoints are listed in ../shared/docs/formats.md):

* ``GET /config`` -> ``{"crc32", "title", "buffers": [{"name", "size"}], "inputs":
  [{"source": "accelerometer", "outputs": [{"x": "accX"}, {"y": "accY"}, {"z": "accZ"},
  {"t": "acc_time"}, ...]}], "export": [...]}``.  The source name tells "Acceleration
  with g" (``accelerometer``) from "without g" (``linear_acceleration``).
* ``GET /get?accX=<t>|acc_time&...&acc_time=<t>`` -> ``{"buffer": {name: {"size",
  "updateMode", "buffer": [values]}}, "status": {"session", "measuring", "timedRun",
  "countDown"}}``.  ``name=<t>|ref`` returns the values at the indices where the buffer
  ``ref`` is greater than ``t`` (the server first nudges ``t`` up by
  10^floor(log10(|t| / 1e7)), because it prints values with 8 significant digits, pattern
  ``0.#######E0``); ``name=full`` returns everything; ``name=`` (empty) the last value.
  Non-finite values are ``null``.  Consequence: experiment times are quantised to 8
  significant digits (1 ms after 10 000 s, 10 ms after 100 000 s, i.e. 28 h).
* ``GET /time`` -> ``[{"event": "START" | "PAUSE", "experimentTime": s, "systemTime":
  Unix s}]``, one entry per start and pause of the current run.  Experiment time does not
  advance during a pause, so the UTC time of a sample at experiment time ``te`` is
  ``systemTime + (te - experimentTime)`` of the last START at or before ``te``.
* ``GET /control?cmd=start|stop|clear`` -> ``{"result": true|false}``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .errors import PhyphoxError

#: One request may take this long (s) before the phone counts as unreachable.
REQUEST_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class AccBuffers:
    x: str
    y: str
    z: str
    t: str


@dataclass(frozen=True)
class TimeRef:
    event: str              # 'START' or 'PAUSE'
    experiment_time: float  # s
    system_time: float      # Unix s (UTC), ms resolution


@dataclass
class GetResult:
    te: np.ndarray          # (n,) experiment time, s, increasing
    acc: np.ndarray         # (n, 3) as phyphox gives it (m/s^2 for "Acceleration with g")
    session: str
    measuring: bool
    dropped_rows: int = 0   # rows with a null (non-finite) value


def acc_buffers(config: dict) -> AccBuffers:
    """The buffers of the gravity-inclusive accelerometer in an experiment's /config."""
    if not isinstance(config, dict) or not isinstance(config.get("inputs"), list):
        raise PhyphoxError("phyphox's /config has no 'inputs' list")
    sources = []
    for inp in config["inputs"]:
        if not isinstance(inp, dict):
            continue
        sources.append(str(inp.get("source")))
        if inp.get("source") != "accelerometer":
            continue
        outs = {}
        for o in inp.get("outputs") or []:
            if isinstance(o, dict):
                outs.update({k: str(v) for k, v in o.items()})
        if all(k in outs for k in "xyzt"):
            return AccBuffers(outs["x"], outs["y"], outs["z"], outs["t"])
    if "linear_acceleration" in sources:
        raise PhyphoxError("the experiment open in phyphox records 'Acceleration without g' (gravity "
                           "removed); open 'Acceleration with g' instead")
    title = config.get("title", "?")
    raise PhyphoxError(f"the experiment open in phyphox ({title!r}) has no accelerometer with x, y, z "
                       f"and time outputs; open 'Acceleration with g'")


def parse_time_refs(obj) -> list[TimeRef]:
    if not isinstance(obj, list):
        raise PhyphoxError("phyphox's /time did not answer a list")
    out = []
    for e in obj:
        try:
            out.append(TimeRef(str(e["event"]).upper(), float(e["experimentTime"]), float(e["systemTime"])))
        except (KeyError, TypeError, ValueError):
            raise PhyphoxError("phyphox's /time has an entry without event, experimentTime and "
                               "systemTime") from None
    return out


def utc_of(te: np.ndarray, refs: list[TimeRef]) -> np.ndarray:
    """UTC seconds of experiment times ``te`` by the last START at or before each."""
    starts = [r for r in refs if r.event == "START"]
    if not starts:
        raise PhyphoxError("phyphox's /time has no START: the absolute time is unknown")
    exp = np.array([r.experiment_time for r in starts])
    sysm = np.array([r.system_time for r in starts])
    idx = np.clip(np.searchsorted(exp, te, side="right") - 1, 0, len(starts) - 1)
    return sysm[idx] + (te - exp[idx])


def is_restart(old: list[TimeRef], new: list[TimeRef]) -> bool:
    """True when ``new`` is not ``old`` with events appended: the run was cleared and begun again."""
    if len(new) < len(old):
        return True
    return any(a != b for a, b in zip(old, new))


def parse_get(obj, bufs: AccBuffers) -> GetResult:
    try:
        data = obj["buffer"]
        cols = [data[name]["buffer"] for name in (bufs.t, bufs.x, bufs.y, bufs.z)]
        status = obj["status"]
        session, measuring = str(status["session"]), bool(status["measuring"])
    except (KeyError, TypeError):
        raise PhyphoxError("phyphox's /get answer lacks the accelerometer buffers or the status") from None
    n = min(len(c) for c in cols)
    rows = np.array([[math.nan if v is None else v for v in c[:n]] for c in cols], dtype=np.float64).T
    rows = rows.reshape(n, 4)
    ok = np.isfinite(rows).all(axis=1)
    rows = rows[ok]
    return GetResult(rows[:, 0].copy(), rows[:, 1:4].copy(), session, measuring, int((~ok).sum()))


def threshold_text(te: float) -> str:
    """A threshold as phyphox parses it (Java Double.valueOf)."""
    return repr(float(te))


class PhyphoxClient:
    """The calls a recording needs.  Network failures surface as aiohttp.ClientError or
    asyncio.TimeoutError; a well-formed answer that is not what phyphox sends as
    PhyphoxError."""

    def __init__(self, base_url: str, http, *, timeout_s: float = REQUEST_TIMEOUT_S):
        import aiohttp

        self.base = base_url.rstrip("/")
        self.http = http
        self.timeout = aiohttp.ClientTimeout(total=timeout_s)

    async def _json(self, path: str, params: dict | None = None):
        async with self.http.get(self.base + path, params=params, timeout=self.timeout) as r:
            r.raise_for_status()
            try:
                return await r.json(content_type=None)
            except ValueError:
                raise PhyphoxError(f"phyphox's {path} did not answer JSON") from None

    async def config(self) -> dict:
        return await self._json("/config")

    async def time_refs(self) -> list[TimeRef]:
        return parse_time_refs(await self._json("/time"))

    async def last_time(self, bufs: AccBuffers) -> tuple[float | None, str, bool]:
        """(last experiment time or None when empty, session, measuring)."""
        obj = await self._json("/get", {bufs.t: ""})
        try:
            vals = obj["buffer"][bufs.t]["buffer"]
            status = obj["status"]
            last = vals[-1] if vals else None
            return (None if last is None else float(last)), str(status["session"]), bool(status["measuring"])
        except (KeyError, TypeError, IndexError, ValueError):
            raise PhyphoxError("phyphox's /get answer lacks the time buffer or the status") from None

    async def get(self, bufs: AccBuffers, since: float | None) -> GetResult:
        """New rows after experiment time ``since`` (None: everything)."""
        if since is None:
            params = {bufs.x: "full", bufs.y: "full", bufs.z: "full", bufs.t: "full"}
        else:
            th = threshold_text(since)
            params = {bufs.x: f"{th}|{bufs.t}", bufs.y: f"{th}|{bufs.t}", bufs.z: f"{th}|{bufs.t}", bufs.t: th}
        return parse_get(await self._json("/get", params), bufs)

    async def control(self, cmd: str) -> bool:
        obj = await self._json("/control", {"cmd": cmd})
        return bool(isinstance(obj, dict) and obj.get("result"))
