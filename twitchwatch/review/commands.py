"""Sub-commands of this package, added to the ``twitchwatch`` parser by cli.COMMAND_MODULES."""
from __future__ import annotations


def register(sub, common) -> None:
    """Add this package's sub-commands to ``sub`` (argparse sub-parsers); ``common`` is the
    parent parser with the shared options (--data-dir)."""
    _register_tables_exports(sub, common)
    _register_show_trend(sub, common)


# ------------------------------------------------------- nights, note, export
def _dates(args):
    from .catalog import parse_date

    since = parse_date(args.since, "--since") if args.since else None
    until = parse_date(args.until, "--until") if getattr(args, "until", None) else None
    if since and until and since > until:
        from ..errors import InputFileError

        raise InputFileError(f"--since {since} is after --until {until}; swap them")
    return since, until


def _print_skipped(skipped) -> None:
    if skipped:
        print(f"\nskipped {len(skipped)} file(s):")
        for s in skipped:
            print(f"  {s.path.name}: {s.reason}")


def _cmd_nights(args) -> int:
    import json

    from ..nights import data_dir
    from .catalog import list_nights
    from .table import format_table, nights_table, table_records

    since, until = _dates(args)
    views, skipped = list_nights(data_dir(args.data_dir, create=False), since=since, until=until)
    df = nights_table(views)
    if args.json:
        print(json.dumps(table_records(df), indent=1, ensure_ascii=False))
        return 0
    if len(df):
        print(format_table(df))
        print("\njerks: accelerometer-detected jerks in the sleep window; /h: per hour of sleep; "
              "cal mg: calibration error after fitting")
    else:
        print("no nights in that range")
    _print_skipped(skipped)
    return 0


def _cmd_note(args) -> int:
    from ..errors import InputFileError
    from ..nights import data_dir, resolve_night
    from ..store import NightReader, add_note

    text = (args.text or "").strip()
    if not text:
        raise InputFileError('the note is empty; give its text in quotes, e.g. "new dose, 0.5 mg"')
    path = resolve_night(args.night, data_dir(args.data_dir, create=False))
    with NightReader(path):       # refuses a file that is not a night file
        pass
    add_note(path, text, args.tag)
    print(f"note added to {path.stem}" + (f" [{args.tag}]" if args.tag else ""))
    return 0


def _cmd_export(args) -> int:
    from pathlib import Path

    from ..nights import data_dir
    from .export import parse_formats, run_export

    since, until = _dates(args)
    res = run_export(data_dir(args.data_dir, create=False), Path(args.to), since=since, until=until,
                     formats=parse_formats(args.format), pseudonym=args.pseudonym,
                     include_identifiers=args.include_identifiers, force=args.force)
    print(f"exported {res.nights} night(s), {res.events} events, into {res.folder}: "
          + ", ".join(p.name for p in res.files[:6]) + (" ..." if len(res.files) > 6 else ""))
    _print_skipped(res.skipped)
    return 0


def _register_tables_exports(sub, common) -> None:
    """`nights`, `note` and `export`."""
    from .catalog import NOTE_TAGS

    n = sub.add_parser("nights", parents=[common], help="a table of the nights in the data directory")
    n.add_argument("--since", help="first night, YYYY-MM-DD")
    n.add_argument("--until", help="last night, YYYY-MM-DD")
    n.add_argument("--json", action="store_true", help="print JSON (a list of objects) instead of the table")
    n.set_defaults(func=_cmd_nights)

    o = sub.add_parser("note", parents=[common], help="add a note (and a tag) to a night")
    o.add_argument("night", help="a night name such as 2026-11-24 (or 2026-11-24-ankle), or a night file")
    o.add_argument("text", help='the note, in quotes: "new dose of clonazepam, 0.5 mg"')
    o.add_argument("--tag", choices=NOTE_TAGS, help="what the note is about")
    o.set_defaults(func=_cmd_note)

    e = sub.add_parser("export", parents=[common],
                       help="write a report, CSVs, EDF+ files and a FHIR bundle for a clinician")
    e.add_argument("--to", required=True, help="output folder (created when missing)")
    e.add_argument("--since", help="first night, YYYY-MM-DD")
    e.add_argument("--until", help="last night, YYYY-MM-DD")
    e.add_argument("--format", default="pdf,csv,edf,fhir",
                   help="comma-separated: pdf, csv, edf, fhir (default: all four)")
    e.add_argument("--pseudonym", help="a code for the person, e.g. P-017 (default: none; never a real name)")
    e.add_argument("--include-identifiers", action="store_true",
                   help="also write device names, addresses, serial numbers and night-file paths")
    e.add_argument("--force", action="store_true", help="replace files that already exist in the folder")
    e.set_defaults(func=_cmd_export)


# ------------------------------------------------------- show, trend (pictures and the trend)
def _show_trend_dates(args):
    from ..errors import InputFileError
    from .catalog import parse_date

    since = parse_date(args.since, "--since") if args.since else None
    until = parse_date(args.until, "--until") if args.until else None
    if since and until and since > until:
        raise InputFileError(f"--since {since} is after --until {until}; swap them")
    return since, until


def _cmd_show(args) -> int:
    from pathlib import Path

    from ..nights import data_dir, resolve_night
    from ..timezones import check_zone
    from .catalog import load_night
    from .plots import night_figure
    from .report import PICTURE_SUFFIXES, prepare_output, save_figure

    zone = check_zone(args.tz) if args.tz else None
    if args.out:    # refuse a bad output before the analysis and drawing work
        prepare_output(Path(args.out), force=args.force, what="picture", suffixes=PICTURE_SUFFIXES)
    view = load_night(resolve_night(args.night, data_dir(args.data_dir, create=False)))
    out = Path(args.out) if args.out else Path(f"{view.night_id}-overview.png")
    prepare_output(out, force=args.force, what="picture", suffixes=PICTURE_SUFFIXES)
    save_figure(night_figure(view, tz=zone), out, force=args.force)
    jph = view.jerks_per_hour_sleep
    print(f"{view.night_id}: {view.jerks} jerks in the sleep window"
          + (f" ({jph:.1f} per hour of sleep)" if jph is not None else " (no sleep period found)")
          + f"; overview written to {out}")
    return 0


def _cmd_trend(args) -> int:
    import json
    import math
    import sys
    from pathlib import Path

    from ..errors import InputFileError
    from ..nights import data_dir
    from .catalog import list_nights
    from .trend import compare, nightly_table

    since, until = _show_trend_dates(args)
    out = Path(args.out) if args.out else None
    if out is not None:
        from .report import PICTURE_SUFFIXES, prepare_output

        prepare_output(out, force=args.force, what="picture", suffixes=PICTURE_SUFFIXES)
    data = data_dir(args.data_dir, create=False)
    views, skipped = list_nights(data, since=since, until=until)
    if not views:
        raise InputFileError(f"no readable nights{f' from {since}' if since else ''}"
                             f"{f' to {until}' if until else ''} in {data}")
    table = nightly_table(views)
    comparison = compare(views, args.note, table=table)
    if out is not None:
        from .plots import trend_figure
        from .report import save_figure

        save_figure(trend_figure(views, comparison, table=table), out, force=args.force)
    msg = sys.stderr if args.json else sys.stdout
    if args.json:
        def num(x):
            return None if x is None or (isinstance(x, float) and math.isnan(x)) else round(float(x), 4)

        nights = [{"night": r.night_id, "date": r.date.isoformat(), "label": r.label or None, "jerks": int(r.jerks),
                   "sleep_h": num(r.sleep_h), "jerks_per_hour_sleep": num(r.jerks_per_hour), "usable": bool(r.usable),
                   "baseline_nights": int(r.baseline_n), "baseline_median": num(r.baseline_median),
                   "baseline_q1": num(r.baseline_q1), "baseline_q3": num(r.baseline_q3), "notes": r.notes}
                  for r in table.itertuples()]
        print(json.dumps({"what": "accelerometer-detected jerks per hour of sleep; not a diagnosis",
                          "nights": nights, "comparison": comparison.to_dict() if comparison else None,
                          "skipped": [{"file": s.path.name, "reason": s.reason} for s in skipped]},
                         indent=1, ensure_ascii=False, default=str))
    else:
        print(f"{'night':<18} {'sleep h':>7} {'jerks':>6} {'/h':>6}  {'baseline median (IQR)':<22} notes")
        for r in table.itertuples():
            rate = f"{r.jerks_per_hour:6.1f}" if not math.isnan(r.jerks_per_hour) else f"{'-':>6}"
            base = (f"{r.baseline_median:.1f} ({r.baseline_q1:.1f}-{r.baseline_q3:.1f})"
                    if not math.isnan(r.baseline_median) else "-")
            short = "" if r.usable or r.sleep_h == 0 else " (short)"
            notes = "; ".join(f"[{n['tag']}] {n['text']}" if n.get("tag") else n["text"] for n in r.notes)
            print(f"{r.night_id:<18} {r.sleep_h:7.2f} {r.jerks:6d} {rate}  {base + short:<22} {notes}")
        print("\njerks: accelerometer-detected jerks in the sleep window; /h: per hour of sleep; baseline: "
              "earlier nights of the same device")
        print()
        print(comparison.sentence if comparison else
              "No note tagged medication: no before/after comparison (choose a note with --note TEXT_OR_TAG).")
    if skipped:
        print(f"skipped {len(skipped)} file(s): " + "; ".join(f"{s.path.name}: {s.reason}" for s in skipped),
              file=sys.stderr)
    if out is not None:
        print(f"trend written to {out}", file=msg)
    return 0


def _register_show_trend(sub, common) -> None:
    """`show` and `trend`."""
    s = sub.add_parser("show", parents=[common],
                       help="a picture of one night: movement level, events, hourly jerks, largest jerks")
    s.add_argument("night", help="a night name such as 2026-11-24 (or 2026-11-24-ankle), or a night file")
    s.add_argument("--out", help="picture to write, .png (or .pdf, .svg); default NIGHT-overview.png here")
    s.add_argument("--tz", help="IANA zone for the time axes (default: the night's own)")
    s.add_argument("--force", action="store_true", help="overwrite an existing picture")
    s.set_defaults(func=_cmd_show)

    t = sub.add_parser("trend", parents=[common],
                       help="jerks per hour of sleep per night against earlier nights, before/after a note")
    t.add_argument("--since", help="first night, YYYY-MM-DD")
    t.add_argument("--until", help="last night, YYYY-MM-DD")
    t.add_argument("--note", help="compare before/after the latest note with this tag or containing this text "
                                  "(default: the latest note tagged medication)")
    t.add_argument("--out", help="also draw the trend into this picture (.png, .pdf or .svg)")
    t.add_argument("--json", action="store_true", help="print JSON instead of the table")
    t.add_argument("--force", action="store_true", help="overwrite an existing picture")
    t.set_defaults(func=_cmd_trend)
