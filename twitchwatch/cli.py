"""The ``twitchwatch`` command.

Every expected problem (bad input, an existing output, an unknown zone) ends in one line
on stderr and exit status 2; tracebacks are for bugs only.
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from .errors import TwitchwatchError

log = logging.getLogger("twitchwatch")

EXIT_USAGE = 2


def _cmd_analyze(args) -> int:
    from .analyze import run_analyze
    from .timezones import check_zone, machine_zone

    tz = check_zone(args.tz) if args.tz else machine_zone()
    result = run_analyze(Path(args.input), Path(args.out), timezone=tz, units=args.units,
                         force=args.force)
    s = result.summary
    jph = s["jerks_per_hour_sleep"]
    window = s["sleep_window_local"]
    print(
        f"{s['counts']['jerk']} jerks ({s['counts_in_sleep_window']['jerk']} in the sleep window"
        + (f", {jph:.1f} per hour of sleep" if jph is not None else "")
        + "); "
        + (f"sleep window {window[0][11:16]}-{window[1][11:16]} {tz}" if window else "no sleep period found")
        + f"; written to {args.out}"
    )
    return 0


def _cmd_evaluate(args) -> int:
    from .evaluate import evaluate_dir

    r = evaluate_dir(Path(args.events_dir), Path(args.truth), args.tolerance)
    if args.json:
        print(json.dumps(r, indent=2))
    else:
        fph = r.get("fp_per_hour_sleep")
        print(
            f"jerks: {r['n_true']} true, {r['n_detected']} detected in the sleep window; "
            f"precision {r['precision']:.3f}, recall {r['recall']:.3f}, F1 {r['f1']:.3f}, "
            f"recall for >= {r['strong_g']:g} g {r['recall_strong']:.3f}"
            + (f", {fph:.2f} false positives per hour of sleep" if fph is not None else "")
            + f" (onsets matched within {r['tolerance_s']:g} s)"
        )
    return 0


def _cmd_simulate(args) -> int:
    from .simulate import NightSettings, simulate_night, write_night

    out = Path(args.out)
    for p in (out, args.truth and Path(args.truth)):
        if p and p.exists() and not args.force:
            raise TwitchwatchError(f"{p} exists; pass --force to overwrite it")
    settings = NightSettings(
        seed=args.seed, sample_rate_hz=args.rate, placement=args.placement, sensor=args.sensor,
        sleep_hours=args.hours,
        **({"jerk_rate_per_hour": args.jerk_rate} if args.jerk_rate is not None else {}),
    )
    night = simulate_night(settings)
    write_night(night, out, args.truth and Path(args.truth), args.meta and Path(args.meta))
    print(f"{len(night.samples)} samples written to {out}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="twitchwatch",
        description="Count sudden jerks in sleep from a worn accelerometer "
                    "(accelerometer-detected movement events; never a diagnosis).",
    )
    p.add_argument("-v", "--verbose", action="store_true", help="log progress to stderr")
    sub = p.add_subparsers(dest="command", required=True)

    a = sub.add_parser("analyze", help="detect events in one recorded night")
    a.add_argument("input", help="canonical CSV (time_s,ax_g,ay_g,az_g; .csv or .csv.gz)")
    a.add_argument("--out", required=True, help="output folder (events.csv, summary.json)")
    a.add_argument("--tz", help="IANA time zone for local hours (default: this machine's)")
    a.add_argument("--units", default="g", choices=["g", "m/s2"], help="units of the acceleration columns")
    a.add_argument("--force", action="store_true", help="replace an existing output folder")
    a.set_defaults(func=_cmd_analyze)

    e = sub.add_parser("evaluate", help="score an analysed night against ground truth")
    e.add_argument("events_dir", help="folder written by analyze")
    e.add_argument("truth", help="truth CSV (onset_s, kind, peak_g), e.g. from `simulate --truth`")
    e.add_argument("--tolerance", type=float, default=0.5, help="onset matching tolerance (s)")
    e.add_argument("--json", action="store_true", help="print JSON")
    e.set_defaults(func=_cmd_evaluate)

    s = sub.add_parser("simulate", help="write a simulated night with ground truth")
    s.add_argument("--out", required=True, help="canonical CSV to write (.csv or .csv.gz)")
    s.add_argument("--truth", help="ground-truth CSV to write")
    s.add_argument("--meta", help="JSON with the settings and the true sleep window")
    s.add_argument("--hours", type=float, default=7.0, help="hours of sleep")
    s.add_argument("--rate", type=float, default=100.0, help="sample rate (Hz)")
    s.add_argument("--placement", default="wrist", choices=["wrist", "ankle"])
    s.add_argument("--sensor", default="bmi270")
    s.add_argument("--jerk-rate", type=float, default=None, help="isolated jerks per hour of sleep")
    s.add_argument("--seed", type=int, default=1)
    s.add_argument("--force", action="store_true")
    s.set_defaults(func=_cmd_simulate)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    from detect.errors import DetectError

    try:
        return args.func(args)
    except (TwitchwatchError, DetectError) as exc:
        print(f"twitchwatch: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("twitchwatch: interrupted", file=sys.stderr)
        return 130
    except PermissionError as exc:
        print(f"twitchwatch: error: permission denied: {exc.filename}; choose a folder you can write",
              file=sys.stderr)
        return EXIT_USAGE
