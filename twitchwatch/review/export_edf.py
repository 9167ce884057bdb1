"""One EDF+ file per night: the recorded signals with the night's events as annotations.

The signals come from the night file (``ax ay az`` in g, plus ``gx gy gz`` in deg/s when a
gyroscope was recorded) and are written by :func:`twitchwatch.edf.write_edf`: EDF+D
(records left out) where the night has gaps longer than a data record, every gap also
annotated as ``data gap``.  Annotations, onsets in seconds from the first sample:

* each event: ``<kind> peak <peak> g`` with its duration (as ``convert`` writes them);
* the sleep window: ``sleep window`` with its duration;
* each note, at the first sample: ``note [tag]: text``.

Privacy: the patient field is the pseudonym or the anonymous ``X``; the equipment field is
the device kind (e.g. ``polar-h10``), never its name, serial number or address.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..edf import EdfReport, write_edf
from ..readers import Recording


def annotations_frame(view) -> pd.DataFrame:
    """Events, sleep window and notes as rows for write_edf (onset_t Unix s, duration_s,
    kind = the annotation's text, peak_accel_g NaN for non-events)."""
    ev = view.events
    rows = [ev[["onset_t", "duration_s", "kind", "peak_accel_g"]]] if len(ev) else []
    extra = []
    sw = view.sleep_window_utc
    if sw:
        extra.append({"onset_t": sw[0], "duration_s": sw[1] - sw[0], "kind": "sleep window",
                      "peak_accel_g": np.nan})
    if view.span_utc:
        for n in view.notes:
            tag = f" [{n['tag']}]" if n.get("tag") else ""
            extra.append({"onset_t": view.span_utc[0], "duration_s": np.nan, "kind": f"note{tag}: {n['text']}",
                          "peak_accel_g": np.nan})
    if extra:
        rows.append(pd.DataFrame(extra))
    if not rows:
        return pd.DataFrame(columns=["onset_t", "duration_s", "kind", "peak_accel_g"])
    out = pd.concat(rows, ignore_index=True)
    return out.sort_values("onset_t", kind="stable").reset_index(drop=True)


def export_night_edf(view, path: Path, *, pseudonym: str | None = None, force: bool = False) -> EdfReport:
    """Write ``view``'s night as EDF+ at ``path`` (0600, atomic); returns the writer's report."""
    from ..store import NightReader

    with NightReader(view.path) as r:
        # the samples as stored (float32: the writer converts them itself)
        t, acc, gyro = r.acc_and_gyro(float32=True)
        ch = r.channel("acc")
    device = {"type": view.device.get("kind") or "X"}
    if ch and ch[2]:
        device["range_g"] = float(ch[2])
    # a fresh Recording: only what the EDF may hold (no serial, address or file name)
    rec = Recording(t=t, acc=acc, gyro=gyro, source=view.night_id,
                    sample_rate_hz=(ch[1] if ch else None) or view.summary.get("sample_rate_hz"),
                    device=device, timezone=view.timezone)
    return write_edf(Path(path), rec, events=annotations_frame(view), patient=pseudonym or "X", force=force)
