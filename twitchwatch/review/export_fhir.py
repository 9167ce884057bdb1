"""A FHIR R4 Bundle (type ``collection``) of Observations: two per night.

For each night with a stored analysis:

1. **count**: jerks (accelerometer-detected sudden movement events) in the sleep window,
   ``valueQuantity`` in UCUM ``{count}``;
2. **index**: those jerks per hour of usable sleep, UCUM ``/h``, with a component giving
   the usable sleep time (UCUM ``h``), the index's denominator.

Both carry ``effectivePeriod`` = the sleep window (local time with its UTC offset),
``status`` ``final``, ``method`` (detector and version), ``device`` (a display-only
reference: device kind and placement), the night's notes as ``note``, and ``subject`` as a
display-only reference holding the pseudonym (left out without one).  A night where no
sleep period was found keeps its recording span as the period and says why in
``dataAbsentReason`` instead of a value.

Codes.  No LOINC or SNOMED CT code describes "accelerometer-detected jerks during
sleep" (a SNOMED *finding* such as myoclonus would state a diagnosis this tool never
makes), so ``code`` is a text-only CodeableConcept.  UCUM is used for the units because
``{count}``, ``/h`` and ``h`` are real UCUM expressions.

The JSON is built from plain dicts, valid by construction for the R4 Observation and
Bundle structures; the tests check it with an independent implementation of the schema
(fhir.resources, R4B models: FHIR 4.3, whose Observation and Bundle match R4 for every
element used here).
"""
from __future__ import annotations

import datetime as dt
import json
import uuid
from pathlib import Path
from zoneinfo import ZoneInfo

from ..atomic import write_bytes

UCUM = "http://unitsofmeasure.org"
COUNT_TEXT = "Jerks (accelerometer-detected sudden movement events) in the sleep window, count per night"
INDEX_TEXT = "Jerks (accelerometer-detected sudden movement events) per hour of sleep"
SLEEP_TEXT = "Usable sleep time in the sleep window (gaps and non-wear removed)"
DISCLAIMER = ("Accelerometer-detected movement events from a worn sensor, counted by software; "
              "not a diagnosis. A non-zero count is normal.")
#: Fixed namespace for the resources' ids (uuid5 of night, analysis time and measure),
#: so exporting the same analyses twice gives the same ids.
_NS = uuid.UUID("6f1f3c5e-4b0c-5a59-9b8e-2f1c0a7d9e21")


def _iso(t: float, zone: ZoneInfo) -> str:
    return dt.datetime.fromtimestamp(t, tz=zone).isoformat(timespec="seconds")


def _qty(value: float, unit: str, code: str) -> dict:
    return {"value": value, "unit": unit, "system": UCUM, "code": code}


def _device_display(view, include_identifiers: bool) -> str:
    d = view.device
    text = d.get("kind") or "accelerometer"
    if d.get("placement"):
        text += f", worn on the {d['placement']}"
    if include_identifiers:
        ids = [f"{k} {d[k]}" for k in ("name", "serial", "address") if d.get(k)]
        if ids:
            text += " (" + ", ".join(ids) + ")"
    return text


def night_observations(view, *, pseudonym: str | None = None, include_identifiers: bool = False) -> list[dict]:
    """The night's two Observation resources as dicts."""
    zone = ZoneInfo(view.timezone)
    s = view.summary
    sw = view.sleep_window_utc
    span = sw or view.span_utc
    common: dict = {"resourceType": "Observation", "status": "final"}
    if pseudonym:
        common["subject"] = {"display": pseudonym}
    common["effectivePeriod"] = {"start": _iso(span[0], zone), "end": _iso(span[1], zone)}
    if view.analysis_created_utc:
        common["issued"] = dt.datetime.fromisoformat(view.analysis_created_utc).isoformat()
    common["method"] = {"text": f"twitchwatch detector {s.get('detector_version', '?')}: every accelerometer "
                                f"sample, adaptive threshold; sleep window by HDCZA"}
    common["device"] = {"display": _device_display(view, include_identifiers)}
    notes = [{"text": DISCLAIMER}]
    notes += [{"text": (f"[{n['tag']}] " if n.get("tag") else "") + n["text"]} for n in view.notes]
    common["note"] = notes

    key = f"{view.night_id}|{view.analysis_created_utc}"
    count = {"id": str(uuid.uuid5(_NS, key + "|count")), **common, "code": {"text": COUNT_TEXT}}
    index = {"id": str(uuid.uuid5(_NS, key + "|index")), **common, "code": {"text": INDEX_TEXT}}
    no_sleep = {"text": "no sleep period was found in this recording"}
    if sw:
        count["valueQuantity"] = _qty(view.jerks, "{count}", "{count}")
    else:
        count["dataAbsentReason"] = no_sleep
    jph = view.jerks_per_hour_sleep
    if jph is not None:
        index["valueQuantity"] = _qty(float(jph), "/h", "/h")
    else:
        index["dataAbsentReason"] = no_sleep if not sw else {"text": "no usable sleep time"}
    index["component"] = [{"code": {"text": SLEEP_TEXT},
                           "valueQuantity": _qty(round(view.sleep_hours, 3), "h", "h")}]
    # keep a readable key order: what, when, value, how
    order = ("resourceType", "id", "status", "code", "subject", "effectivePeriod", "issued",
             "valueQuantity", "dataAbsentReason", "note", "method", "device", "component")
    return [{k: r[k] for k in order if k in r} for r in (count, index)]


def build_bundle(views, *, pseudonym: str | None = None, include_identifiers: bool = False,
                 timestamp: dt.datetime | None = None) -> dict:
    """A Bundle of type collection holding every night's Observations (see module doc)."""
    ts = (timestamp or dt.datetime.now(dt.timezone.utc)).isoformat(timespec="seconds")
    entries = []
    for v in views:
        for obs in night_observations(v, pseudonym=pseudonym, include_identifiers=include_identifiers):
            entries.append({"fullUrl": f"urn:uuid:{obs['id']}", "resource": obs})
    return {"resourceType": "Bundle", "type": "collection", "timestamp": ts, "entry": entries}


def write_fhir_bundle(views, path: Path, *, pseudonym: str | None = None, include_identifiers: bool = False,
                      force: bool = False) -> int:
    """Write the Bundle as JSON (atomic, 0600); returns the number of Observations."""
    bundle = build_bundle(views, pseudonym=pseudonym, include_identifiers=include_identifiers)
    write_bytes(Path(path), (json.dumps(bundle, indent=1, ensure_ascii=False) + "\n").encode("utf-8"),
                force=force)
    return len(bundle["entry"])
