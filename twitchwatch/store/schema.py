"""The night file: one SQLite database per night (WAL journal), schema version 1.

Documented in docs/night-file.md so that anyone can read a night without this tool.
"""
from __future__ import annotations

SCHEMA_VERSION = 1
APPLICATION_ID = 0x54574E31  # "TWN1": PRAGMA application_id marks the file as ours

DDL = """
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE devices (
    device_id     INTEGER PRIMARY KEY,
    label         TEXT,          -- short label in the night id, e.g. 'ankle'
    kind          TEXT,          -- 'polar-h10', 'axivity-ax3', 'phone', 'simulated', ...
    name          TEXT,
    address       TEXT,          -- BLE address: never exported unless asked
    serial        TEXT,          -- never exported unless asked
    firmware      TEXT,
    placement     TEXT,          -- 'wrist', 'ankle', 'mattress', ...
    settings_json TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE channels (
    channel_id      INTEGER PRIMARY KEY,
    device_id       INTEGER NOT NULL REFERENCES devices(device_id),
    kind            TEXT NOT NULL,      -- 'acc' (g, gravity included) | 'gyro' (deg/s)
    unit            TEXT NOT NULL,
    nominal_rate_hz REAL,
    range           REAL                -- full scale in unit, when known
);
-- Samples in blocks.  time: int32 little-endian microseconds after t0_us, one per sample;
-- data: float32 little-endian, n x 3 (x, y, z), row-major.
CREATE TABLE blocks (
    block_id       INTEGER PRIMARY KEY,
    channel_id     INTEGER NOT NULL REFERENCES channels(channel_id),
    t0_us          INTEGER NOT NULL,    -- UTC, microseconds since 1970-01-01
    t_last_us      INTEGER NOT NULL,
    n              INTEGER NOT NULL,
    device_t0_ns   INTEGER,             -- device clock of the first sample, when streamed
    device_t_last_ns INTEGER,
    time           BLOB NOT NULL,
    data           BLOB NOT NULL
);
CREATE INDEX blocks_by_time ON blocks(channel_id, t0_us);
CREATE TABLE gaps (
    gap_id     INTEGER PRIMARY KEY,
    channel_id INTEGER REFERENCES channels(channel_id),
    start_us   INTEGER NOT NULL,        -- last sample before the gap (UTC us)
    end_us     INTEGER NOT NULL,        -- first sample after it
    reason     TEXT NOT NULL            -- 'link_lost', 'watchdog', 'device_stopped', 'sequence_jump', 'import', ...
);
CREATE TABLE clock_sync (
    sync_id        INTEGER PRIMARY KEY,
    device_id      INTEGER REFERENCES devices(device_id),
    device_time_ns INTEGER NOT NULL,
    host_utc_us    INTEGER NOT NULL,
    host_monotonic_ns INTEGER
);
CREATE TABLE damage (
    damage_id INTEGER PRIMARY KEY,
    kind      TEXT NOT NULL,            -- 'corrupt_block', 'truncated', ...
    count     INTEGER NOT NULL,
    start_us  INTEGER,
    end_us    INTEGER,
    detail    TEXT NOT NULL DEFAULT ''
);
CREATE TABLE imports (
    source_sha256 TEXT NOT NULL,
    source_name   TEXT NOT NULL,
    imported_utc  TEXT NOT NULL,
    PRIMARY KEY (source_sha256)
);
CREATE TABLE analyses (
    analysis_id      INTEGER PRIMARY KEY,
    created_utc      TEXT NOT NULL,
    detector_version TEXT NOT NULL,
    config_hash      TEXT NOT NULL,
    config_json      TEXT NOT NULL,
    summary_json     TEXT NOT NULL
);
CREATE TABLE events (
    analysis_id INTEGER NOT NULL REFERENCES analyses(analysis_id),
    onset_us    INTEGER NOT NULL,
    duration_s  REAL NOT NULL,
    kind        TEXT NOT NULL,
    row_json    TEXT NOT NULL           -- the full events.csv row
);
-- The 5-s epoch statistics of an analysis (detect/layout.py EP_* columns), for pictures:
-- float64 little-endian, n_rows x n_cols, row-major.  Files made before this table existed
-- get it on their next analysis (CREATE TABLE IF NOT EXISTS).
CREATE TABLE analysis_epochs (
    analysis_id INTEGER PRIMARY KEY REFERENCES analyses(analysis_id),
    n_rows      INTEGER NOT NULL,
    n_cols      INTEGER NOT NULL,
    data        BLOB NOT NULL
);
CREATE TABLE notes (
    note_id     INTEGER PRIMARY KEY,
    created_utc TEXT NOT NULL,
    text        TEXT NOT NULL,
    tag         TEXT
);
"""

#: Added after the first files were written: created on demand in older files.
EPOCHS_DDL = DDL[DDL.index("CREATE TABLE analysis_epochs"):DDL.index("CREATE TABLE notes")].replace(
    "CREATE TABLE", "CREATE TABLE IF NOT EXISTS")

