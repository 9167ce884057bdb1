"""Ground truth of a virtual band run: every frame it made (sent or lost) and every event.

In memory (:class:`GroundTruth`) and, when a path is given, as JSON lines (one object per
line, flushed as written) so that a test can read what a band in another process did::

    {"type": "event", "event": "connected", "wall_s": 1.2, "content_s": null, ...}
    {"type": "frame", "stream": 1, "seq": 0, "first": 0, "n": 36, "source_first": 120,
     "source_last": 155, "timestamp_ns": ..., "first_timestamp_ns": ..., "content_s": ...,
     "delivered": true, "lost": null, "samples": [[x, y, z], ...]}   # samples optional

Frame fields: ``stream`` numbers the streams from 1 (one per successful START); ``first``
is the index of the frame's first sample within its stream (0-based, contiguous across the
stream's frames, lost ones included); ``source_first``/``source_last`` the indices of the
replayed content (inclusive); ``timestamp_ns`` the device time of the last sample as sent
in the header; ``first_timestamp_ns`` the device time of the first; ``delivered`` whether
the frame went out as a notification; ``lost`` why not ("stall", "not_subscribed").

Events: band_started, advertising, connected, disconnected, cp_write, cp_response,
stream_started, stream_stopped (reason: client, device_stop, disconnect, source_end,
shutdown), fault (kind, at_s, ...), garbage (hex of each malformed notification),
connection_refused, band_stopped.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import numpy as np


@dataclass(eq=False)
class FrameRecord:
    stream: int
    seq: int
    first: int
    n: int
    source_first: int
    source_last: int
    timestamp_ns: int
    first_timestamp_ns: int
    content_s: float
    wall_s: float
    delivered: bool
    lost: str | None = None
    samples: np.ndarray | None = None          # (n, 3) int mG as sent
    sample_timestamps_ns: np.ndarray | None = None  # (n,) int64 device ns

    def to_json(self, with_samples: bool) -> dict:
        d = {"type": "frame", "stream": self.stream, "seq": self.seq, "first": self.first,
             "n": self.n, "source_first": self.source_first, "source_last": self.source_last,
             "timestamp_ns": self.timestamp_ns, "first_timestamp_ns": self.first_timestamp_ns,
             "content_s": round(self.content_s, 6), "wall_s": round(self.wall_s, 6),
             "delivered": self.delivered, "lost": self.lost}
        if with_samples and self.samples is not None:
            d["samples"] = self.samples.tolist()
            d["sample_timestamps_ns"] = self.sample_timestamps_ns.tolist()
        return d

    @classmethod
    def from_json(cls, d: dict) -> "FrameRecord":
        samples = d.get("samples")
        times = d.get("sample_timestamps_ns")
        return cls(d["stream"], d["seq"], d["first"], d["n"], d["source_first"],
                   d["source_last"], d["timestamp_ns"], d["first_timestamp_ns"],
                   d["content_s"], d["wall_s"], d["delivered"], d.get("lost"),
                   None if samples is None else np.asarray(samples, dtype=np.int32),
                   None if times is None else np.asarray(times, dtype=np.int64))


@dataclass(eq=False)
class GroundTruth:
    """What the band did.  Append-only while the band runs (single asyncio thread)."""

    events: list[dict] = field(default_factory=list)
    frames: list[FrameRecord] = field(default_factory=list)
    path: Path | None = None
    log_samples: bool = False
    _fh: Any = field(default=None, repr=False)

    def open(self) -> None:
        if self.path is not None and self._fh is None:
            self._fh = open(self.path, "a", encoding="utf-8")

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None

    def _write(self, obj: dict) -> None:
        if self._fh is not None:
            self._fh.write(json.dumps(obj, separators=(",", ":")) + "\n")
            self._fh.flush()

    def event(self, event: str, **fields: Any) -> dict:
        rec = {"type": "event", "event": event, **fields}
        self.events.append(rec)
        self._write(rec)
        return rec

    def frame(self, rec: FrameRecord) -> None:
        self.frames.append(rec)
        self._write(rec.to_json(self.log_samples))

    # --- queries -------------------------------------------------------------------
    @classmethod
    def load_jsonl(cls, path) -> "GroundTruth":
        """Read a JSON-lines log written by a band (tolerates a torn last line)."""
        truth = cls()
        with open(path, encoding="utf-8") as fh:
            for line in fh:
                try:
                    obj = json.loads(line)
                except json.JSONDecodeError:
                    continue
                if obj.get("type") == "frame":
                    truth.frames.append(FrameRecord.from_json(obj))
                else:
                    truth.events.append(obj)
        return truth

    def events_named(self, name: str) -> list[dict]:
        return [e for e in self.events if e["event"] == name]

    def streams(self) -> list[int]:
        return sorted({f.stream for f in self.frames} |
                      {e["stream"] for e in self.events_named("stream_started")})

    def stream_frames(self, stream: int, *, delivered: bool | None = True) -> list[FrameRecord]:
        """Frames of one stream in order; ``delivered=None`` for all, False for lost ones."""
        return [f for f in self.frames if f.stream == stream
                and (delivered is None or f.delivered == delivered)]

    def sent_samples(self, stream: int) -> np.ndarray:
        """(n, 3) mG of the delivered frames of a stream, in order (needs samples kept)."""
        parts = [f.samples for f in self.stream_frames(stream)]
        if any(p is None for p in parts):
            raise ValueError("this truth has no sample values (log_samples was off)")
        return np.concatenate(parts) if parts else np.zeros((0, 3), np.int32)

    def sent_timestamps(self, stream: int) -> np.ndarray:
        parts = [f.sample_timestamps_ns for f in self.stream_frames(stream)]
        if any(p is None for p in parts):
            raise ValueError("this truth has no sample timestamps (log_samples was off)")
        return np.concatenate(parts) if parts else np.zeros(0, np.int64)

    def delivered_notifications(self) -> int:
        return sum(1 for f in self.frames if f.delivered)

    def lost_samples(self, stream: int | None = None) -> int:
        return sum(f.n for f in self.frames if not f.delivered
                   and (stream is None or f.stream == stream))

    def faults(self) -> list[dict]:
        return self.events_named("fault")

    def __iter__(self) -> Iterator[dict]:
        return iter(self.events)


__all__ = ["GroundTruth", "FrameRecord"]
