"""What a batch has done so far, for ``--resume``: ``DIR/batch-ledger.jsonl``.

One JSON line per finished input, appended (and fsync'ed) as each one completes, so a
batch stopped at any moment (Ctrl-C, a lost cluster, a power cut) resumes where it was.
A torn last line is ignored.  Each line holds the input's fingerprint (size and
modification time: a changed file is analysed again without reading the unchanged ones),
the key of the settings that shape results, and the task's result (nights and status).

An input is skipped on resume when its fingerprint and key are unchanged and either

* it succeeded and each of its night folders still holds a summary.json made by this
  detector version with this configuration, or
* it failed because of the file itself (unreadable, too short, ...): the same file would
  fail the same way.  Failures of the machinery (a worker that died, an internal error)
  are tried again.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path

from detect.config import DETECTOR_VERSION, DetectorConfig

from ..atomic import FILE_MODE, write_bytes

log = logging.getLogger(__name__)

LEDGER_NAME = "batch-ledger.jsonl"

#: Config fields set per recording (from its data), not by the batch's settings.
PER_RECORDING = ("sample_rate_hz", "clip_g")


def base_config() -> dict:
    """The detector configuration minus the per-recording fields."""
    cfg = DetectorConfig(sample_rate_hz=100.0).to_dict()
    return {k: v for k, v in cfg.items() if k not in PER_RECORDING}


def settings_key(*, tz: str, units: str, person_from: str) -> str:
    """Hash of everything besides the file that shapes a night's outputs."""
    blob = json.dumps({"detector_version": DETECTOR_VERSION, "config": base_config(), "tz": tz,
                       "units": units, "person_from": person_from}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def night_is_current(folder: Path) -> bool:
    """The night folder holds both files, made by this detector version and configuration."""
    try:
        s = json.loads((folder / "summary.json").read_text())
    except (OSError, ValueError):
        return False
    if not (folder / "events.csv").is_file() or s.get("detector_version") != DETECTOR_VERSION:
        return False
    cfg = s.get("config") or {}
    return {k: v for k, v in cfg.items() if k not in PER_RECORDING} == base_config()


class Ledger:
    def __init__(self, out_dir: Path):
        self.path = Path(out_dir) / LEDGER_NAME
        self.entries: dict[str, dict] = {}

    def exists(self) -> bool:
        return self.path.exists()

    def load(self) -> "Ledger":
        """Read the earlier runs' lines; the last line about an input wins."""
        if not self.path.exists():
            return self
        with open(self.path, encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                try:
                    e = json.loads(line)
                    self.entries[e["path"]] = e
                except (ValueError, KeyError, TypeError):
                    log.warning("%s line %d is unreadable (a stop mid-write?); ignored", self.path.name, n)
        return self

    def start_new(self) -> None:
        """An empty ledger for a fresh run (replacing an earlier one under --force)."""
        write_bytes(self.path, b"", force=True)

    def append(self, inp, key: str, result: dict) -> dict:
        entry = {"path": str(Path(inp.path).resolve()), "size": inp.size, "mtime_ns": inp.mtime_ns,
                 "key": key, "result": result}
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, FILE_MODE)
        try:
            os.write(fd, (json.dumps(entry) + "\n").encode())
            os.fsync(fd)
        finally:
            os.close(fd)
        self.entries[entry["path"]] = entry
        return entry

    def reusable(self, inp, key: str, out_dir: Path) -> dict | None:
        """The earlier result of ``inp`` when --resume may skip it, else None."""
        e = self.entries.get(str(Path(inp.path).resolve()))
        if not e or e["key"] != key or e["size"] != inp.size or e["mtime_ns"] != inp.mtime_ns:
            return None
        r = e["result"]
        if r["status"] == "failed" and r.get("error_kind") != "input":
            return None
        for night in r["nights"]:
            if night["status"] == "done" and not night_is_current(Path(out_dir) / night["folder"]):
                return None
        return r
