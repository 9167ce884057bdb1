"""Write and read night files (SQLite, WAL journal; the schema is in schema.py).

Crash safety: appends go into a transaction that is committed at least every
``COMMIT_INTERVAL_S``; SQLite's write-ahead log keeps every committed transaction through
a killed process or a lost power supply (synchronous=FULL), so a crash loses at most the
samples of the last interval.  The file is created owner-only (0600) under a temporary
name and renamed once its schema is complete.
"""
from __future__ import annotations

import json
import logging
import os
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import InputFileError, OutputExistsError, TwitchwatchError
from ..readers import Damage, Recording
from .schema import APPLICATION_ID, DDL, EPOCHS_DDL, SCHEMA_VERSION

log = logging.getLogger(__name__)

#: Appends are committed at least this often (s): "lose at most the last second".
COMMIT_INTERVAL_S = 0.5
#: Samples per stored block at most (int32 microsecond offsets cover 35 min; this keeps
#: blocks small enough to read back in bounded pieces).
MAX_BLOCK_SAMPLES = 8192
SUFFIX = ".night"


class StoreError(TwitchwatchError):
    """The night file cannot be written (disk full, read-only, ...); the message says
    what was kept and how to go on."""


class NotANightFileError(InputFileError):
    """The file is not a twitchwatch night file (or of a newer schema)."""


def _us(t: np.ndarray) -> np.ndarray:
    """Unix seconds (float64) -> integer microseconds, rounded to the nearest."""
    return np.rint(np.asarray(t, dtype=np.float64) * 1e6).astype(np.int64)


def _connect(path: Path, *, wal: bool = True) -> sqlite3.Connection:
    """A writing connection.  wal=True while a night is being recorded (crash safety with
    a reader beside the writer); wal=False for the short edits of a finished night
    (analysis, notes), which keep its rollback journal."""
    con = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
    if wal:
        con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=FULL")
    con.execute("PRAGMA foreign_keys=ON")
    return con


@dataclass(frozen=True)
class ChannelSpec:
    kind: str                       # 'acc' | 'gyro' | 'acc_<stream>' (a second acc stream)
    nominal_rate_hz: float | None = None
    range: float | None = None

    @property
    def unit(self) -> str:
        if self.kind.startswith("acc_"):
            return "g"  # a second acceleration stream, e.g. 'acc_watch' (docs/night-file.md)
        return {"acc": "g", "gyro": "deg/s"}[self.kind]


class NightWriter:
    """Appends samples, gaps and clock points to a night file.  Use as a context manager.

    Not thread-safe: one writer task owns it (the recorder's consumer).
    """

    def __init__(self, con: sqlite3.Connection, path: Path, channel_ids: dict[str, int], device_id: int):
        self._con = con
        self.path = path
        self._ch = channel_ids
        self._device_id = device_id
        self._last_us = {k: None for k in channel_ids}
        self._in_tx = False
        self._last_commit = time.monotonic()
        self._closed = False

    # -------------------------------------------------------------- create
    @classmethod
    def create(cls, path: Path, *, timezone: str, device: dict | None = None,
               channels: tuple[ChannelSpec, ...] = (ChannelSpec("acc"),), meta: dict | None = None,
               force: bool = False) -> "NightWriter":
        """Create a new night file (owner-only) and return its writer.

        device : {'kind', 'name', 'address', 'serial', 'firmware', 'placement', 'label',
                  'settings': {...}}, all optional.
        """
        path = Path(path)
        if path.exists() and not force:
            raise OutputExistsError(f"{path} exists; pass --force to replace it")
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        for p in (tmp, Path(str(tmp) + "-wal"), Path(str(tmp) + "-shm")):
            if p.exists():
                p.unlink()
        os.close(os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
        try:
            con = _connect(tmp)
            con.execute(f"PRAGMA application_id={APPLICATION_ID}")
            con.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
            con.executescript(DDL)
            d = dict(device or {})
            info = {
                "schema_version": str(SCHEMA_VERSION),
                "created_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "timezone": timezone,
                **{k: str(v) for k, v in (meta or {}).items()},
            }
            con.execute("BEGIN")
            con.executemany("INSERT INTO meta(key, value) VALUES (?, ?)", info.items())
            cur = con.execute(
                "INSERT INTO devices(label, kind, name, address, serial, firmware, placement, settings_json)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (d.get("label"), d.get("kind"), d.get("name"), d.get("address"), d.get("serial"),
                 d.get("firmware"), d.get("placement"), json.dumps(d.get("settings", {}), sort_keys=True)),
            )
            device_id = cur.lastrowid
            ids = {}
            for ch in channels:
                cur = con.execute(
                    "INSERT INTO channels(device_id, kind, unit, nominal_rate_hz, range) VALUES (?, ?, ?, ?, ?)",
                    (device_id, ch.kind, ch.unit, ch.nominal_rate_hz, ch.range),
                )
                ids[ch.kind] = cur.lastrowid
            con.execute("COMMIT")
            con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            con.close()
            # a stale log of a replaced file would be replayed into the new one
            for stale in (Path(str(path) + "-wal"), Path(str(path) + "-shm")):
                if stale.exists():
                    stale.unlink()
            os.replace(tmp, path)
        except sqlite3.Error as exc:
            for p in (tmp, Path(str(tmp) + "-wal"), Path(str(tmp) + "-shm")):
                if p.exists():
                    p.unlink()
            raise StoreError(f"cannot create {path}: {exc}") from exc
        con = _connect(path)
        return cls(con, path, ids, device_id)

    # -------------------------------------------------------------- writing
    def _begin(self) -> None:
        if not self._in_tx:
            self._con.execute("BEGIN")
            self._in_tx = True

    def _execute(self, sql: str, args=()) -> sqlite3.Cursor:
        try:
            return self._con.execute(sql, args)
        except sqlite3.OperationalError as exc:
            self._fail(exc)

    def _fail(self, exc: Exception):
        kept = self.last_committed_utc()
        self._abort()
        msg = str(exc)
        if "full" in msg or "disk" in msg.lower():
            raise StoreError(
                f"the disk is full: recording stopped; {self.path} is readable and holds the night up to "
                f"{kept or 'its start'}; free some space and start a new recording"
            ) from exc
        raise StoreError(f"cannot write {self.path} ({msg}); it holds the night up to {kept or 'its start'}") from exc

    def _abort(self) -> None:
        try:
            if self._in_tx:
                self._con.execute("ROLLBACK")
        except sqlite3.Error:
            pass
        self._in_tx = False

    def append(self, t: np.ndarray, values: np.ndarray, *, kind: str = "acc",
               device_t0_ns: int | None = None, device_t_last_ns: int | None = None) -> None:
        """Append samples of one channel.

        t : (n,) Unix seconds (UTC), strictly increasing, after what this channel holds.
        values : (n, 3) in the channel's unit.
        """
        if self._closed:
            raise StoreError(f"{self.path} is closed")
        t_us = _us(t)
        v = np.ascontiguousarray(values, dtype="<f4")
        n = t_us.size
        if n == 0:
            return
        if v.shape != (n, 3):
            raise InputFileError(f"append needs values of shape ({n}, 3); got {v.shape}")
        last = self._last_us[kind]
        if np.any(np.diff(t_us) <= 0) or (last is not None and t_us[0] <= last):
            raise InputFileError(
                "samples must be strictly increasing in time (microsecond resolution) and after the last "
                "stored sample; drop duplicates and sort before storing"
            )
        self._begin()
        ch = self._ch[kind]
        rows = []
        for a in range(0, n, MAX_BLOCK_SAMPLES):
            b = min(a + MAX_BLOCK_SAMPLES, n)
            t0 = int(t_us[a])
            off = (t_us[a:b] - t0).astype("<i4")
            rows.append((ch, t0, int(t_us[b - 1]), b - a,
                         device_t0_ns if a == 0 else None, device_t_last_ns if b == n else None,
                         off.tobytes(), v[a:b].tobytes()))
        try:
            self._con.executemany(
                "INSERT INTO blocks(channel_id, t0_us, t_last_us, n, device_t0_ns, device_t_last_ns, time, data)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
        except sqlite3.OperationalError as exc:
            self._fail(exc)
        self._last_us[kind] = int(t_us[-1])
        self._maybe_commit()

    def add_gap(self, start_s: float, end_s: float, reason: str, *, kind: str = "acc") -> None:
        """Record a gap: the last sample before it and the first after it (Unix s)."""
        self._begin()
        self._execute("INSERT INTO gaps(channel_id, start_us, end_us, reason) VALUES (?, ?, ?, ?)",
                      (self._ch.get(kind), int(round(start_s * 1e6)), int(round(end_s * 1e6)), reason))
        self._maybe_commit()

    def update_device_settings(self, settings: dict, *, kind: str = "acc",
                               nominal_rate_hz: float | None = None, range: float | None = None) -> None:
        """Replace the device's settings (JSON) and, when given, channel ``kind``'s nominal
        rate (Hz) and range: a recorder learns them only once the stream is negotiated."""
        self._begin()
        self._execute("UPDATE devices SET settings_json = ? WHERE device_id = ?",
                      (json.dumps(settings, sort_keys=True), self._device_id))
        if nominal_rate_hz is not None or range is not None:
            self._execute("UPDATE channels SET nominal_rate_hz = COALESCE(?, nominal_rate_hz),"
                          " range = COALESCE(?, range) WHERE channel_id = ?",
                          (nominal_rate_hz, range, self._ch[kind]))
        self._maybe_commit()

    def add_clock_sync(self, device_time_ns: int, host_utc_s: float, host_monotonic_ns: int | None = None) -> None:
        self._begin()
        self._execute("INSERT INTO clock_sync(device_id, device_time_ns, host_utc_us, host_monotonic_ns)"
                      " VALUES (?, ?, ?, ?)",
                      (self._device_id, int(device_time_ns), int(round(host_utc_s * 1e6)), host_monotonic_ns))
        self._maybe_commit()

    def add_damage(self, damage: Damage) -> None:
        self._begin()
        self._execute("INSERT INTO damage(kind, count, start_us, end_us, detail) VALUES (?, ?, ?, ?, ?)",
                      (damage.kind, int(damage.count),
                       None if damage.start_s is None else int(round(damage.start_s * 1e6)),
                       None if damage.end_s is None else int(round(damage.end_s * 1e6)), damage.detail))

    def add_import(self, sha256: str, name: str) -> None:
        self._begin()
        self._execute("INSERT OR IGNORE INTO imports(source_sha256, source_name, imported_utc) VALUES (?, ?, ?)",
                      (sha256, name, time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())))

    def _maybe_commit(self) -> None:
        if time.monotonic() - self._last_commit >= COMMIT_INTERVAL_S:
            self.commit()

    def commit(self) -> None:
        if self._in_tx:
            try:
                self._con.execute("COMMIT")
            except sqlite3.OperationalError as exc:
                self._fail(exc)
            self._in_tx = False
        self._last_commit = time.monotonic()

    def last_committed_utc(self) -> str | None:
        """ISO time of the last sample that is safely on disk (a fresh connection's view)."""
        try:
            con = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True)
            row = con.execute("SELECT MAX(t_last_us) FROM blocks").fetchone()
            con.close()
        except sqlite3.Error:
            return None
        if row is None or row[0] is None:
            return None
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(row[0] / 1e6))

    def close(self) -> None:
        if self._closed:
            return
        self.commit()
        try:
            self._con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            # a finished night is one self-contained file: back to a rollback journal, so
            # readers (read-only) leave no -wal/-shm files beside it.  A no-op while another
            # connection has the file open; WAL then stays, which is harmless.
            self._con.execute("PRAGMA journal_mode=DELETE")
        except sqlite3.Error:
            pass
        self._con.close()
        self._closed = True

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None:
            # keep what was committed; the failing batch is dropped, the file stays valid
            self._abort()
        self.close()
        return False


class NightReader:
    """Read a night file.  Cheap to open; arrays are read on demand."""

    def __init__(self, path: Path):
        self.path = Path(path)
        if not self.path.exists():
            raise InputFileError(f"{self.path}: no such night file")
        try:
            self._con = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, check_same_thread=False)
            app = self._con.execute("PRAGMA application_id").fetchone()[0]
            ver = self._con.execute("PRAGMA user_version").fetchone()[0]
        except sqlite3.DatabaseError:
            raise NotANightFileError(f"{self.path} is not a night file (not an SQLite database)") from None
        if app != APPLICATION_ID:
            raise NotANightFileError(f"{self.path} is an SQLite file but not a twitchwatch night file")
        if ver > SCHEMA_VERSION:
            raise NotANightFileError(
                f"{self.path} has night-file schema {ver}; this twitchwatch reads up to {SCHEMA_VERSION}: upgrade it")
        self.meta = dict(self._con.execute("SELECT key, value FROM meta"))

    def close(self) -> None:
        self._con.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    @property
    def timezone(self) -> str:
        return self.meta.get("timezone", "UTC")

    def device(self) -> dict:
        row = self._con.execute(
            "SELECT label, kind, name, address, serial, firmware, placement, settings_json FROM devices"
            " ORDER BY device_id LIMIT 1").fetchone()
        if row is None:
            return {}
        keys = ("label", "kind", "name", "address", "serial", "firmware", "placement")
        d = {k: v for k, v in zip(keys, row[:7]) if v is not None}
        d["settings"] = json.loads(row[7] or "{}")
        return d

    def channel(self, kind: str = "acc") -> tuple[int, float | None, float | None] | None:
        return self._con.execute(
            "SELECT channel_id, nominal_rate_hz, range FROM channels WHERE kind = ? ORDER BY channel_id LIMIT 1",
            (kind,)).fetchone()

    def _decode(self, rows, values_dtype=np.float64) -> tuple[np.ndarray, np.ndarray]:
        if not rows:
            return np.zeros(0), np.zeros((0, 3), dtype=values_dtype)
        t0 = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        n = np.fromiter((r[1] for r in rows), dtype=np.int64, count=len(rows))
        off = np.frombuffer(b"".join(r[2] for r in rows), dtype="<i4")
        data = np.frombuffer(b"".join(r[3] for r in rows), dtype="<f4").reshape(-1, 3)
        t_us = np.repeat(t0, n) + off
        return t_us / 1e6, data.astype(values_dtype, copy=False)

    def read(self, kind: str = "acc") -> tuple[np.ndarray, np.ndarray]:
        """All samples of a channel: t (n,) Unix s, values (n, 3)."""
        ch = self.channel(kind)
        if ch is None:
            return np.zeros(0), np.zeros((0, 3))
        rows = self._con.execute(
            "SELECT t0_us, n, time, data FROM blocks WHERE channel_id = ? ORDER BY t0_us", (ch[0],)).fetchall()
        return self._decode(rows)

    def read_float32(self, kind: str = "acc") -> tuple[np.ndarray, np.ndarray]:
        """As :meth:`read`, the values as stored: float32 (half the memory, no conversion
        pass), for writers that convert them anyway (the EDF+ export)."""
        ch = self.channel(kind)
        if ch is None:
            return np.zeros(0), np.zeros((0, 3), dtype=np.float32)
        rows = self._con.execute(
            "SELECT t0_us, n, time, data FROM blocks WHERE channel_id = ? ORDER BY t0_us", (ch[0],)).fetchall()
        # block by block into the result (the same values as _decode, without its
        # night-sized intermediate copies: a night is ~170 blocks of ~8000 samples)
        total = sum(r[1] for r in rows)
        t = np.empty(total)
        values = np.empty((total, 3), dtype=np.float32)
        at = 0
        for t0_us, n, times, data in rows:
            np.divide(t0_us + np.frombuffer(times, dtype="<i4").astype(np.int64), 1e6, out=t[at:at + n])
            values[at:at + n] = np.frombuffer(data, dtype="<f4").reshape(-1, 3)
            at += n
        return t, values

    def iter_chunks(self, max_samples: int = 1 << 20, kind: str = "acc"):
        """Yield (t, values) pieces of at most about max_samples (+ one block), in time order."""
        ch = self.channel(kind)
        if ch is None:
            return
        cur = self._con.execute(
            "SELECT t0_us, n, time, data FROM blocks WHERE channel_id = ? ORDER BY t0_us", (ch[0],))
        batch, count = [], 0
        for row in cur:
            batch.append(row)
            count += row[1]
            if count >= max_samples:
                yield self._decode(batch)
                batch, count = [], 0
        if batch:
            yield self._decode(batch)

    def time_span(self, kind: str = "acc") -> tuple[float, float] | None:
        """(first, last) sample time of a channel (Unix s), or None when empty."""
        ch = self.channel(kind)
        if ch is None:
            return None
        a, b = self._con.execute("SELECT MIN(t0_us), MAX(t_last_us) FROM blocks WHERE channel_id = ?",
                                 (ch[0],)).fetchone()
        return None if a is None else (a / 1e6, b / 1e6)

    def gaps(self, kind: str = "acc") -> list[tuple[float, float, str]]:
        """Gaps of one channel (and those recorded for no channel): [(start, end, reason)],
        Unix s.  A watch stream beside the phone has gaps of its own, kept apart."""
        ch = self.channel(kind)
        cid = ch[0] if ch else -1
        return [(a / 1e6, b / 1e6, r) for a, b, r in self._con.execute(
            "SELECT start_us, end_us, reason FROM gaps WHERE channel_id = ? OR channel_id IS NULL"
            " ORDER BY start_us", (cid,))]

    def damage(self) -> tuple[Damage, ...]:
        return tuple(Damage(k, c, None if a is None else a / 1e6, None if b is None else b / 1e6, d)
                     for k, c, a, b, d in self._con.execute(
                         "SELECT kind, count, start_us, end_us, detail FROM damage ORDER BY damage_id"))

    def imports(self) -> set[str]:
        return {r[0] for r in self._con.execute("SELECT source_sha256 FROM imports")}

    def n_samples(self, kind: str = "acc") -> int:
        ch = self.channel(kind)
        if ch is None:
            return 0
        return int(self._con.execute("SELECT COALESCE(SUM(n), 0) FROM blocks WHERE channel_id = ?",
                                     (ch[0],)).fetchone()[0])

    def read_window(self, t0: float, t1: float, kind: str = "acc") -> tuple[np.ndarray, np.ndarray]:
        """Samples with t0 <= t <= t1 (Unix s): t (n,), values (n, 3); reads only the blocks
        that overlap the window (index blocks_by_time)."""
        ch = self.channel(kind)
        if ch is None:
            return np.zeros(0), np.zeros((0, 3))
        a, b = int(np.floor(t0 * 1e6)), int(np.ceil(t1 * 1e6))
        rows = self._con.execute(
            "SELECT t0_us, n, time, data FROM blocks WHERE channel_id = ? AND t0_us <= ? AND t_last_us >= ?"
            " ORDER BY t0_us", (ch[0], b, a)).fetchall()
        t, v = self._decode(rows)
        keep = (t >= t0) & (t <= t1)
        return t[keep], v[keep]

    def latest_analysis(self) -> dict | None:
        """The newest stored analysis: {'analysis_id', 'created_utc', 'detector_version',
        'config_hash', 'summary' (dict), 'events' (list of events.csv rows as dicts)}."""
        row = self._con.execute(
            "SELECT analysis_id, detector_version, config_hash, summary_json, created_utc FROM analyses"
            " ORDER BY analysis_id DESC LIMIT 1").fetchone()
        if row is None:
            return None
        events = [json.loads(r[0]) for r in self._con.execute(
            "SELECT row_json FROM events WHERE analysis_id = ? ORDER BY onset_us", (row[0],))]
        return {"analysis_id": row[0], "created_utc": row[4], "detector_version": row[1],
                "config_hash": row[2], "summary": json.loads(row[3]), "events": events}

    def analysis_epochs(self, analysis_id: int) -> np.ndarray | None:
        """The 5-s epoch rows stored with an analysis, (m, N_EPOCH_COLS) float64, or None
        (older files, or an analysis stored without them)."""
        if self._con.execute("SELECT 1 FROM sqlite_master WHERE name = 'analysis_epochs'").fetchone() is None:
            return None
        row = self._con.execute("SELECT n_rows, n_cols, data FROM analysis_epochs WHERE analysis_id = ?",
                                (analysis_id,)).fetchone()
        if row is None:
            return None
        return np.frombuffer(row[2], dtype="<f8").reshape(row[0], row[1]).copy()

    def notes(self) -> list[dict]:
        """Notes in the order they were written: [{'created_utc', 'text', 'tag'}]."""
        return [{"created_utc": c, "text": t, "tag": g} for c, t, g in self._con.execute(
            "SELECT created_utc, text, tag FROM notes ORDER BY note_id")]

    def acc_and_gyro(self, *, float32: bool = False):
        """(t, acc, gyro or None): the gyroscope only when it shares the acceleration's
        timestamps.  float32: values as stored (read_float32), else float64 (read)."""
        read = self.read_float32 if float32 else self.read
        t, acc = read("acc")
        gyro = None
        if self.channel("gyro") is not None:
            tg, g = read("gyro")
            if tg.size == t.size and np.array_equal(tg, t):
                gyro = g
        return t, acc, gyro

    def to_recording(self) -> Recording:
        t, acc, gyro = self.acc_and_gyro()
        ch = self.channel("acc")
        return Recording(t=t, acc=acc, source=self.path.name, gyro=gyro,
                         sample_rate_hz=ch[1] if ch else None, device=self.device(),
                         timezone=self.timezone, damage=self.damage())


def save_analysis(path: Path, result) -> None:
    """Store a NightResult (events and summary) in the night file, beside earlier ones."""
    from detect.night import EVENT_COLUMNS

    con = _connect(Path(path), wal=False)
    try:
        s = result.summary
        con.executescript(EPOCHS_DDL)
        con.execute("BEGIN")
        cur = con.execute(
            "INSERT INTO analyses(created_utc, detector_version, config_hash, config_json, summary_json)"
            " VALUES (?, ?, ?, ?, ?)",
            (time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), s["detector_version"], s["config_hash"],
             json.dumps(s["config"], sort_keys=True), json.dumps(s)))
        aid = cur.lastrowid
        ev = result.events
        rows = []
        for rec in ev[["onset_t"] + EVENT_COLUMNS].to_dict("records"):
            rows.append((aid, int(round(rec["onset_t"] * 1e6)), float(rec["duration_s"]), rec["kind"],
                         json.dumps({k: (v.item() if hasattr(v, "item") else v) for k, v in rec.items()
                                     if k != "onset_t"})))
        con.executemany("INSERT INTO events(analysis_id, onset_us, duration_s, kind, row_json) VALUES (?, ?, ?, ?, ?)",
                        rows)
        ep = np.ascontiguousarray(np.asarray(result.epochs, dtype="<f8"))
        if ep.ndim == 2:
            con.execute("INSERT INTO analysis_epochs(analysis_id, n_rows, n_cols, data) VALUES (?, ?, ?, ?)",
                        (aid, ep.shape[0], ep.shape[1], ep.tobytes()))
        con.execute("COMMIT")
    except sqlite3.OperationalError as exc:
        raise StoreError(f"cannot store the analysis in {path}: {exc}") from exc
    finally:
        con.close()


def add_note(path: Path, text: str, tag: str | None = None) -> dict:
    """Append a note (and an optional tag) to a night file; returns the stored note."""
    note = {"created_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "text": text, "tag": tag}
    con = _connect(Path(path), wal=False)
    try:
        con.execute("INSERT INTO notes(created_utc, text, tag) VALUES (?, ?, ?)",
                    (note["created_utc"], text, tag))
    except sqlite3.OperationalError as exc:
        raise StoreError(f"cannot write the note into {path}: {exc}") from exc
    finally:
        con.close()
    return note


def write_recording(path: Path, rec: Recording, *, timezone: str, force: bool = False,
                    label: str | None = None, source_sha256: str | None = None) -> None:
    """Store a whole Recording as a new night file (import / convert)."""
    dev = dict(rec.device)
    if label:
        dev["label"] = label
    chans = [ChannelSpec("acc", rec.sample_rate_hz, dev.get("range_g"))]
    if rec.gyro is not None:
        chans.append(ChannelSpec("gyro", rec.sample_rate_hz))
    with NightWriter.create(path, timezone=timezone, device=dev, channels=tuple(chans), force=force,
                            meta={"source_format": Path(rec.source).suffix.lstrip(".") or "unknown"}) as w:
        w.append(rec.t, rec.acc)
        if rec.t.size > 1:
            # the gaps are in the timestamps already; listing them saves readers the search
            rate = rec.sample_rate_hz or 1.0 / float(np.median(np.diff(rec.t)))
            d = np.diff(rec.t)
            for k in np.flatnonzero(d > max(0.1, 5.0 / rate)):
                w.add_gap(float(rec.t[k]), float(rec.t[k + 1]), "in_source")
        if rec.gyro is not None:
            w.append(rec.t, rec.gyro, kind="gyro")
        for d in rec.damage:
            w.add_damage(d)
        if source_sha256:
            w.add_import(source_sha256, rec.source)


def read_night(path: Path) -> Recording:
    """Reader entry for read_recording: the whole night as a Recording."""
    with NightReader(path) as r:
        return r.to_recording()
