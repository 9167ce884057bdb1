"""``twitchwatch analyze``: a recording in, ``events.csv`` and ``summary.json`` out.

The work is ``Detector.feed`` in fixed chunks, then ``finish``: the very path a live
recording takes, so a file and a live night give the same events.
"""
from __future__ import annotations

import io
import json
import logging
from pathlib import Path

import numpy as np

from detect import Detector, DetectorConfig
from detect.night import EVENT_COLUMNS, NightResult
from detect.errors import InputError
from detect.validate import MIN_DURATION_S, check_recording

from .atomic import output_folder
from .readers import Recording, read_recording

log = logging.getLogger(__name__)

#: Samples per feed() call: bounds the kernel's working set, not the results.
FEED_CHUNK = 1 << 20

#: Decimal places per column of events.csv (onsets to the microsecond).
_ROUNDING = {
    "onset_s": 6, "duration_s": 3, "peak_accel_g": 5, "peak_jerk_g_per_s": 3, "confidence": 3,
    "effective_duration_s": 3, "orientation_change_deg": 2, "threshold_g": 5, "noise_floor_g": 5,
}


def analyze_arrays(t: np.ndarray, acc: np.ndarray, *, timezone: str = "UTC",
                   config: DetectorConfig | None = None, chunk: int = FEED_CHUNK) -> NightResult:
    """Validate and analyse one night held in arrays: t (n,) Unix s, acc (n, 3) g."""
    info = check_recording(t, acc)
    if config is None:
        config = DetectorConfig(sample_rate_hz=info.sample_rate_hz,
                                clip_g=(info.range_g or 0.0) * 0.99)
    det = Detector(config)
    for i in range(0, t.shape[0], chunk):
        j = i + chunk
        det.feed(t[i:j], acc[i:j, 0], acc[i:j, 1], acc[i:j, 2])
    return det.finish(timezone=timezone)


def analyze_night_file(path: Path, *, timezone: str = "UTC") -> NightResult:
    """Analyse a night file piece by piece (bounded memory, also for week-long files).

    The first piece is validated like a whole recording (rate, units, length); the
    device range stored with the channel sets the clipping level.
    """
    from .store import NightReader

    with NightReader(path) as r:
        ch = r.channel("acc")
        span = r.time_span()
        if span is None or span[1] - span[0] < MIN_DURATION_S:
            length = 0.0 if span is None else span[1] - span[0]
            raise InputError(f"{Path(path).name} holds {length:.0f} s of data; need at least "
                             f"{MIN_DURATION_S / 60:g} minutes to estimate the noise floor")
        det = None
        for t, acc in r.iter_chunks(FEED_CHUNK):
            if det is None:
                info = check_recording(t, acc, min_duration_s=0.0)
                rate = ch[1] or info.sample_rate_hz
                clip = (ch[2] or info.range_g or 0.0) * 0.99
                det = Detector(DetectorConfig(sample_rate_hz=round(float(rate), 2), clip_g=clip))
            det.feed(t, acc[:, 0], acc[:, 1], acc[:, 2])
    return det.finish(timezone=timezone)


def analyze_recording(rec: Recording, *, timezone: str = "UTC", config=None) -> NightResult:
    return analyze_arrays(rec.t, rec.acc, timezone=timezone, config=config)


def events_csv_text(result: NightResult) -> str:
    ev = result.events[EVENT_COLUMNS].copy()
    for col, nd in _ROUNDING.items():
        ev[col] = ev[col].round(nd)
    ev["in_sleep_window"] = ev["in_sleep_window"].map({True: "true", False: "false"})
    buf = io.StringIO()
    ev.to_csv(buf, index=False)
    return buf.getvalue()


def write_outputs(result: NightResult, out_dir: Path, *, force: bool = False) -> None:
    """Write events.csv and summary.json into ``out_dir`` atomically (0700 folder, 0600 files)."""
    with output_folder(Path(out_dir), force=force) as tmp:
        (tmp / "events.csv").write_text(events_csv_text(result))
        (tmp / "summary.json").write_text(json.dumps(result.summary, indent=2) + "\n")


def run_analyze(input_path: Path, out_dir: Path, *, timezone: str, units: str = "g",
                force: bool = False) -> NightResult:
    if Path(input_path).suffix == ".night":
        from .store import save_analysis

        result = analyze_night_file(input_path, timezone=timezone)
        write_outputs(result, out_dir, force=force)
        save_analysis(input_path, result)  # the night keeps its own events and summary
        return result
    rec = read_recording(input_path, units=units)
    result = analyze_recording(rec, timezone=timezone)
    write_outputs(result, out_dir, force=force)
    return result
