"""What one worker does with one input: read it, cut it into nights, analyse each night and
write its folder exactly as ``twitchwatch analyze`` does.

Runs in a pool process or a Dask worker.  The task takes and returns plain dicts of str,
int, float and lists (cheap to ship, JSON for the ledger); arrays never leave the worker.
It never raises: every failure becomes a record with the reason, so one bad file cannot
stop the batch.

Task spec keys: path, source, person, person_from ('folder' | 'device'), out_dir, tz (the
zone for inputs that state none), units, replace (an existing night folder from an
earlier run may be replaced), run_started (Unix s; a folder written after it is this
run's own and never replaced).

Result keys: source, status ('done' | 'failed'), error, error_kind ('input': the file is
at fault, retrying the same file gives the same; 'internal': anything else, retried by
--resume), nights (list of {person, night, folder, status 'done' | 'short' | 'failed',
reason, source_format, damage}), samples, seconds, worker.
"""
from __future__ import annotations

import logging
import os
import socket
import time
from pathlib import Path

log = logging.getLogger(__name__)

#: Night status for a piece of a multi-night file too short to analyse (noon cut it off).
SHORT = "short"


def warm_numba() -> float:
    """Load (or, with a cold cache, compile) the detection kernels; returns seconds.

    numba caches compiled kernels on disk (``cache=True``), so only the first process on a
    machine pays the compile (about 4 s); later ones load in about 0.5 s.  Called once per
    worker before its first task, so that time is not charged to a night.
    """
    import numpy as np

    from detect import Detector, DetectorConfig

    t0 = time.perf_counter()
    d = Detector(DetectorConfig(sample_rate_hz=100.0))
    t = 1e9 + np.arange(2000) / 100.0
    z = np.zeros(2000)
    d.feed(t, z, z, z + 1.0)
    d.finish()
    return time.perf_counter() - t0


def worker_info() -> dict:
    """What a worker runs, to check a cluster before submitting (see runner.DaskRunner)."""
    from detect.config import DETECTOR_VERSION

    try:
        from importlib.metadata import version

        tw = version("twitchwatch")
    except Exception:  # not installed as a distribution (a source checkout on the path)
        tw = "unknown"
    return {"detector_version": DETECTOR_VERSION, "twitchwatch": tw, "pid": os.getpid()}


def check_paths(out_dir: str, probe: str) -> str | None:
    """On a worker: None when it can read ``probe`` and write into ``out_dir``, else why not."""
    if not os.path.exists(probe):
        return f"cannot see the input {probe}"
    if not os.path.isdir(out_dir) or not os.access(out_dir, os.W_OK | os.X_OK):
        return f"cannot write into {out_dir}"
    return None


def _person_from_device(device: dict, fallback: str) -> str:
    from .inputs import safe_id

    for key in ("serial", "label", "name"):
        if device.get(key):
            return safe_id(device[key])
    log.warning("no device id in the file's metadata; using the folder's person id %s", fallback)
    return fallback


def _night_folder(spec: dict, person: str, nid: str) -> Path:
    """The night's output folder; its person folder is created owner-only."""
    from ..atomic import DIR_MODE

    pdir = Path(spec["out_dir"]) / person
    pdir.mkdir(mode=DIR_MODE, exist_ok=True)
    return pdir / nid


def _check_replace(folder: Path, spec: dict) -> bool:
    """Whether writing ``folder`` replaces something; refuse to replace this run's output."""
    from ..errors import OutputExistsError

    if not folder.exists():
        return False
    summary = folder / "summary.json"
    mine = summary.exists() and summary.stat().st_mtime >= spec["run_started"]
    if mine or not spec["replace"]:
        raise OutputExistsError(
            f"night {folder.parent.name}/{folder.name} is also written from another input of this batch "
            f"(two recordings of one night for one person?); put them in separate person folders"
            if mine else
            f"{folder} exists; pass --resume or --force")
    return True


def _write(result, folder: Path, spec: dict) -> None:
    from ..analyze import write_outputs

    write_outputs(result, folder, force=_check_replace(folder, spec))


def _night_record(person, nid, status, reason=None, fmt="", damage=0):
    return {"person": person, "night": nid, "folder": f"{person}/{nid}", "status": status,
            "reason": reason, "source_format": fmt, "damage": damage}


def _source_format(path: Path) -> str:
    name = path.name.lower()
    if path.is_dir():
        return "folder"
    return "csv.gz" if name.endswith(".csv.gz") else path.suffix.lower().lstrip(".")


def _analyze_night_file(path: Path, spec: dict) -> tuple[list[dict], int]:
    """A night file is one night by construction (import cuts at noon): analysed piece by
    piece like ``analyze NIGHT``, in the zone stored with it, under its own name.  The file
    itself is left untouched (``analyze`` would store the analysis in it)."""
    from ..analyze import analyze_night_file
    from ..nights import night_id
    from ..store import NightReader

    with NightReader(path) as r:
        tz, device, span, n = r.timezone, r.device(), r.time_span(), r.n_samples()
        damage = sum(d.count for d in r.damage())
    person = spec["person"] if spec["person_from"] == "folder" else _person_from_device(device, spec["person"])
    if span is None:
        from ..errors import InputFileError

        raise InputFileError(f"{path.name}: holds no samples")
    label = device.get("label")
    nid = night_id(span[0], tz, label)
    result = analyze_night_file(path, timezone=tz)
    _write(result, _night_folder(spec, person, nid), spec)
    return [_night_record(person, nid, "done", fmt="night", damage=damage)], n


def _analyze_recording_file(path: Path, spec: dict) -> tuple[list[dict], int]:
    """Any other format: read whole, cut at local noon, one analysis per night."""
    from detect.errors import DetectError
    from detect.validate import MIN_DURATION_S

    from ..analyze import analyze_recording
    from ..convert import split_by_night
    from ..errors import InputFileError, TwitchwatchError
    from ..nights import night_id
    from ..readers import read_recording

    rec = read_recording(path, units=spec["units"])
    if rec.t.size == 0:
        raise InputFileError(f"{path.name}: holds no samples")
    tz = rec.timezone or spec["tz"]
    person = spec["person"] if spec["person_from"] == "folder" else _person_from_device(rec.device, spec["person"])
    fmt = _source_format(path)
    parts = split_by_night(rec, tz)
    n = int(rec.t.size)
    del rec  # the parts are views; this drops nothing but the name
    nights = []
    for part in parts:
        nid = night_id(float(part.t[0]), tz)
        damage = sum(d.count for d in part.damage)
        span = float(part.t[-1] - part.t[0])
        if len(parts) > 1 and span < MIN_DURATION_S:
            nights.append(_night_record(person, nid, SHORT, f"only {span / 60:.1f} min of this night in the file "
                                        f"(need {MIN_DURATION_S / 60:g}); not analysed", fmt, damage))
            continue
        try:
            result = analyze_recording(part, timezone=tz)
            _write(result, _night_folder(spec, person, nid), spec)
        except (TwitchwatchError, DetectError) as exc:
            if len(parts) == 1:
                raise
            nights.append(_night_record(person, nid, "failed", str(exc), fmt, damage))
            continue
        nights.append(_night_record(person, nid, "done", fmt=fmt, damage=damage))
    return nights, n


def analyze_input(spec: dict) -> dict:
    """Analyse one input; never raises (see the module docstring for the result)."""
    from detect.errors import DetectError
    from sensor.errors import SensorError

    from ..errors import TwitchwatchError

    t0 = time.perf_counter()
    out = {"source": spec["source"], "status": "done", "error": None, "error_kind": None,
           "nights": [], "samples": 0, "worker": f"{socket.gethostname()}:{os.getpid()}"}
    path = Path(spec["path"])
    try:
        if path.suffix.lower() == ".night" and path.is_file():
            nights, n = _analyze_night_file(path, spec)
        else:
            nights, n = _analyze_recording_file(path, spec)
        out["nights"], out["samples"] = nights, n
        failed = [x for x in nights if x["status"] == "failed"]
        if failed:
            out.update(status="failed", error_kind="input",
                       error="; ".join(f"night {x['night']}: {x['reason']}" for x in failed))
    except (TwitchwatchError, DetectError, SensorError) as exc:
        out.update(status="failed", error=str(exc), error_kind="input")
    except MemoryError:
        out.update(status="failed", error="out of memory while analysing it; give workers more memory "
                                          "or fewer threads per worker", error_kind="internal")
    except Exception as exc:  # a bug: report it, keep the batch going
        log.exception("internal error on %s", spec["source"])
        out.update(status="failed", error=f"internal error: {type(exc).__name__}: {exc}", error_kind="internal")
    out["seconds"] = round(time.perf_counter() - t0, 3)
    return out
