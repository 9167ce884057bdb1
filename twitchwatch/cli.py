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

#: Modules that add their own sub-commands: each has ``register(sub, common)`` taking the
#: sub-parsers object and the parent parser holding the shared options (--data-dir).
COMMAND_MODULES = (
    "twitchwatch.review.commands",   # nights, show, note, trend, export
    "twitchwatch.batch.commands",    # batch
)


def _zone(args, fallback: str | None = None) -> str:
    from .timezones import check_zone, machine_zone

    if args.tz:
        return check_zone(args.tz)
    return fallback or machine_zone()


def _input_path(arg: str, args) -> Path:
    """A file path, or a night name (YYYY-MM-DD[-label]) in the data directory."""
    from .nights import data_dir, resolve_night

    p = Path(arg)
    if p.exists() or not arg[:4].isdigit():
        return p
    return resolve_night(arg, data_dir(args.data_dir, create=False))


def _cmd_analyze(args) -> int:
    from .analyze import run_analyze

    src = _input_path(args.input, args)
    stored_zone = None
    if src.suffix == ".night" and not args.tz:
        from .store import NightReader

        with NightReader(src) as r:
            stored_zone = r.timezone
    tz = _zone(args, stored_zone)
    result = run_analyze(src, Path(args.out), timezone=tz, units=args.units, force=args.force)
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


def _cmd_convert(args) -> int:
    from .convert import convert

    src = _input_path(args.input, args)
    rec = convert(src, Path(args.output), timezone=_zone(args), units=args.units, force=args.force)
    dur = (rec.t[-1] - rec.t[0]) / 3600.0 if rec.t.size else 0.0
    damage = "; ".join(f"{d.count} {d.kind.replace('_', ' ')}" for d in rec.damage)
    print(f"{rec.t.size} samples ({dur:.2f} h) written to {args.output}" + (f"; skipped: {damage}" if damage else ""))
    return 0


def _cmd_import(args) -> int:
    from .convert import import_recordings
    from .nights import data_dir

    data = data_dir(args.data_dir)
    for nid, what in import_recordings([Path(p) for p in args.inputs], data, timezone=_zone(args),
                                       label=args.label, units=args.units):
        print(f"{nid}: {what}")
    return 0


def _parse_duration(text: str | None) -> float | None:
    """'8h', '90m', '45s' or seconds -> seconds (None: until stopped)."""
    if not text:
        return None
    units = {"h": 3600.0, "m": 60.0, "s": 1.0}
    try:
        if text[-1] in units:
            return float(text[:-1]) * units[text[-1]]
        return float(text)
    except ValueError:
        raise TwitchwatchError(f"--duration {text!r}: give a number with h, m or s (e.g. 8h)") from None


def _cmd_scan(args) -> int:
    import asyncio

    from sensor.recorder import scan_devices

    found = asyncio.run(scan_devices(args.timeout, adapter=args.adapter))
    if not found:
        print("no BLE devices found; is the band on and near?")
        return 0
    print(f"{'profile':<10} {'name':<28} {'address':<19} RSSI")
    for d in found:
        print(f"{d.profile or '-':<10} {d.name[:28]:<28} {d.address:<19} {d.rssi if d.rssi is not None else ''}")
    return 0


def _cmd_record(args) -> int:
    import asyncio
    import sys as _sys
    import time

    from detect import Detector, DetectorConfig
    from detect.errors import DetectError
    from sensor.recorder import record

    from .nights import data_dir, night_id
    from .store import ChannelSpec, NightWriter, save_analysis

    tz = _zone(args)
    duration = _parse_duration(args.duration)
    if args.source != "ble":
        return _record_wifi(args, tz, duration)
    if not args.device:
        raise TwitchwatchError("record --source ble needs --device (a name or address, as `twitchwatch scan` "
                               "shows); for a phone over Wi-Fi use --source sensorlogger or --source phyphox")
    if args.rate is None:
        args.rate = 100
    out = {"path": None, "detector": None}

    def writer_factory(found, profile):
        # created before the band is reached; the session writes the negotiated settings,
        # rate and range over these requested ones once the stream starts
        path = Path(args.out) if args.out else data_dir(args.data_dir) / f"{night_id(time.time(), tz, args.label)}.night"
        out["path"] = path
        return NightWriter.create(
            path, timezone=tz, force=args.force,
            device={"kind": profile.name, "name": found.name, "address": found.address,
                    "label": args.label, "placement": args.placement, "settings": profile.settings()},
            channels=(ChannelSpec("acc", float(profile.rate_hz), float(profile.range_g)),))

    def detector_factory(rate_hz):
        # called at the first sample, with the rate the band agreed to (filters depend on it)
        try:
            out["detector"] = Detector(DetectorConfig(sample_rate_hz=float(rate_hz)))
        except DetectError as exc:  # a band that fell back to a rate too low to detect at
            logging.getLogger(__name__).warning("recording without live detection: %s", exc)
        return out["detector"]

    DetectorConfig(sample_rate_hz=float(args.rate))  # a bad --rate fails here, before connecting

    def status(stats, elapsed):
        if _sys.stdout.isatty():
            h, rem = divmod(int(elapsed), 3600)
            print(f"\r{h:02d}:{rem // 60:02d}:{rem % 60:02d}  samples {stats.samples:,}  gaps {len(stats.gaps)}"
                  f"  jerks {stats.jerks}   ", end="", flush=True)

    stats, found = asyncio.run(record(wanted=args.device, profile_name=args.profile, rate_hz=args.rate,
                                      duration_s=duration, writer_factory=writer_factory,
                                      detector_factory=detector_factory, adapter=args.adapter,
                                      on_status=status))
    if _sys.stdout.isatty():
        print()
    if stats.samples and out["detector"] is not None:
        result = out["detector"].finish(timezone=tz)
        save_analysis(out["path"], result)
    print(f"recorded {stats.samples:,} samples from {found.name or found.address} into {out['path']}; "
          f"{len(stats.gaps)} gaps, {stats.reconnects} reconnects, {stats.malformed_frames} malformed frames"
          f" ({stats.ended_by})")
    return 0


def _record_wifi(args, tz: str, duration: float | None) -> int:
    """record --source sensorlogger|phyphox: a phone over Wi-Fi (sensor/wifi)."""
    import asyncio
    import sys as _sys
    import time

    from sensor.wifi.record import record_phyphox, record_sensorlogger

    from .nights import data_dir, night_id
    from .store import save_analysis

    path = Path(args.out) if args.out else data_dir(args.data_dir) / f"{night_id(time.time(), tz, args.label)}.night"

    def status(stats, elapsed):
        if _sys.stdout.isatty():
            h, rem = divmod(int(elapsed), 3600)
            print(f"\r{h:02d}:{rem // 60:02d}:{rem % 60:02d}  samples {stats.samples:,}  gaps {len(stats.gaps)}"
                  f"  jerks {stats.jerks}   ", end="", flush=True)

    def announce(text: str, warning: bool = False) -> None:
        print(("twitchwatch: warning: " if warning else "") + text, file=_sys.stderr if warning else _sys.stdout,
              flush=True)

    common = dict(path=path, timezone=tz, force=args.force, rate_hz=args.rate, duration_s=duration,
                  label=args.label, placement=args.placement, on_status=status, announce=announce)
    if args.source == "sensorlogger":
        if args.url:
            raise TwitchwatchError("--url is for --source phyphox; Sensor Logger pushes to us: use --listen")
        result = asyncio.run(record_sensorlogger(listen=args.listen, primary=args.stream, **common))
    else:
        if not args.url:
            raise TwitchwatchError("record --source phyphox needs --url (the address phyphox shows when "
                                   "remote access is on, e.g. http://192.168.1.23:8080)")
        if args.listen:
            raise TwitchwatchError("--listen is for --source sensorlogger; phyphox is polled at --url")
        result = asyncio.run(record_phyphox(url=args.url, **common))
    stats = result.stats
    if _sys.stdout.isatty():
        print()
    if stats.samples and result.detector is not None:
        save_analysis(path, result.detector.finish(timezone=tz))
    extra = []
    if args.source == "sensorlogger":
        extra.append(f"{stats.other_samples:,} samples of the other stream")
        if stats.duplicate_batches:
            extra.append(f"{stats.duplicate_batches} repeated batches ignored")
        refused = sum(stats.rejected.values())
        if refused:
            extra.append(f"{refused} requests refused")
    else:
        extra.append(f"{stats.reconnects} reconnects, {stats.restarts} experiment restarts")
    if stats.late_samples:
        extra.append(f"{stats.late_samples} late samples dropped")
    print(f"recorded {stats.samples:,} samples from {args.source} into {path}; {len(stats.gaps)} gaps; "
          + "; ".join(extra) + f" ({stats.ended_by})")
    return 0


def _cmd_virtual_band(args) -> int:
    """A simulated band that is a real BlueZ peripheral (sensor/virtual_band); --profile
    picks what it speaks (Polar H10 or Verity Sense, an open-IMU band, a Movesense)."""
    from sensor.virtual_band import parse_faults

    try:
        parse_faults(args.faults)
    except ValueError as exc:
        raise TwitchwatchError(f"--faults: {exc}") from None
    if args.night and not Path(args.night).exists():
        raise TwitchwatchError(f"{args.night}: no such file (give a canonical CSV, or leave --night out "
                               f"for a simulated night)")
    from sensor.virtual_band.__main__ import main as band_main

    argv = ["--adapter", args.adapter, "--profile", args.profile, "--speed", str(args.speed),
            "--faults", args.faults or ""]
    if args.night:
        argv += ["--csv", args.night]
    if args.loop:
        argv.append("--loop")
    print(f"virtual band ({args.profile}) on {args.adapter}; Ctrl-C stops it", flush=True)
    return band_main(argv)


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
    from sensor.names import BAND_PROFILES, PROFILE_NAMES

    p = argparse.ArgumentParser(
        prog="twitchwatch",
        description="Count sudden jerks in sleep from a worn accelerometer "
                    "(accelerometer-detected movement events; never a diagnosis).",
    )
    p.add_argument("-v", "--verbose", action="store_true", help="log progress to stderr")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--data-dir", help="where night files live (default: $TWITCHWATCH_DATA_DIR, "
                                           "else the platform's user data folder)")
    sub = p.add_subparsers(dest="command", required=True)

    a = sub.add_parser("analyze", parents=[common], help="detect events in one recorded night")
    a.add_argument("input", help="a recording (canonical CSV, night file, .cwa, .bin, .gt3x, phone export) "
                                 "or a night name such as 2026-11-24")
    a.add_argument("--out", required=True, help="output folder (events.csv, summary.json)")
    a.add_argument("--tz", help="IANA time zone for local hours (default: this machine's)")
    a.add_argument("--units", default="g", choices=["g", "m/s2"], help="units of the acceleration columns")
    a.add_argument("--force", action="store_true", help="replace an existing output folder")
    a.set_defaults(func=_cmd_analyze)

    c = sub.add_parser("convert", parents=[common], help="convert a recording between formats")
    c.add_argument("input", help="any readable recording, or a night name")
    c.add_argument("output", help="output file: .night, .csv, .csv.gz or .edf")
    c.add_argument("--tz", help="IANA zone stored in a night file (default: the file's, else this machine's)")
    c.add_argument("--units", default="g", choices=["g", "m/s2"], help="units of a canonical CSV input")
    c.add_argument("--force", action="store_true", help="overwrite an existing output")
    c.set_defaults(func=_cmd_convert)

    m = sub.add_parser("import", parents=[common],
                       help="store recordings made elsewhere as night files in the data directory")
    m.add_argument("inputs", nargs="+", help="recordings (one night file per night is made)")
    m.add_argument("--label", help="device label for the night names, e.g. ankle")
    m.add_argument("--tz", help="IANA zone of the nights (default: the file's, else this machine's)")
    m.add_argument("--units", default="g", choices=["g", "m/s2"], help="units of a canonical CSV input")
    m.set_defaults(func=_cmd_import)

    sc = sub.add_parser("scan", parents=[common], help="list nearby BLE devices and the profile twitchwatch would use")
    sc.add_argument("--timeout", type=float, default=5.0, help="scan time (s)")
    sc.add_argument("--adapter", help="Bluetooth adapter, e.g. hci1")
    sc.set_defaults(func=_cmd_scan)

    r = sub.add_parser("record", parents=[common],
                       help="record a band all night over BLE, or a phone over Wi-Fi")
    r.add_argument("--source", default="ble", choices=["ble", "sensorlogger", "phyphox"],
                   help="ble: a band; sensorlogger: receive Sensor Logger's HTTP push; "
                        "phyphox: poll phyphox's remote access")
    r.add_argument("--device", help="(ble) name (or part of it) or address, as `scan` shows")
    r.add_argument("--profile", default="auto", choices=["auto", *PROFILE_NAMES], help="(ble) device protocol")
    r.add_argument("--rate", type=int, default=None,
                   help="accelerometer rate (Hz); 100 or more for jerks (ble default 100; "
                        "Wi-Fi: the rate set in the app, measured when left out)")
    r.add_argument("--listen", help="(sensorlogger) HOST:PORT to receive on (default 127.0.0.1:8765; "
                                    "give this machine's LAN address for a phone)")
    r.add_argument("--url", help="(phyphox) the address phyphox shows for remote access, "
                                 "e.g. http://192.168.1.23:8080")
    r.add_argument("--stream", default="phone", choices=["phone", "watch"],
                   help="(sensorlogger) the stream that is the night's accelerometer and feeds "
                        "the detector; the other is kept beside it")
    r.add_argument("--duration", help="stop after this long (e.g. 8h, 90m); default: until Ctrl-C")
    r.add_argument("--out", help="night file to write (default: the data directory, named by the night)")
    r.add_argument("--label", help="device label for the night name, e.g. ankle")
    r.add_argument("--placement", default="wrist", help="where the band is worn (wrist, ankle, ...)")
    r.add_argument("--adapter", help="Bluetooth adapter, e.g. hci0")
    r.add_argument("--tz", help="IANA zone for the night name and display (default: this machine's)")
    r.add_argument("--force", action="store_true", help="replace an existing night file")
    r.set_defaults(func=_cmd_record)

    vb = sub.add_parser("virtual-band", parents=[common],
                        help="a simulated band that is a real BlueZ peripheral, to try `record` without a band")
    vb.add_argument("--profile", default="polar-h10", choices=list(BAND_PROFILES), help="what the band speaks")
    vb.add_argument("--adapter", default="hci1", help="adapter to advertise on (not the one `record` uses)")
    vb.add_argument("--night", help="canonical CSV to replay (default: a simulated night)")
    vb.add_argument("--faults", default="", help="e.g. 'drop@120s:5s,stall@300s:20s,stop@500s,garbage@200s'")
    vb.add_argument("--speed", type=float, default=1.0, help="band seconds per wall second")
    vb.add_argument("--loop", action="store_true", help="replay the night again at its end")
    vb.set_defaults(func=_cmd_virtual_band)

    e = sub.add_parser("evaluate", parents=[common], help="score an analysed night against ground truth")
    e.add_argument("events_dir", help="folder written by analyze")
    e.add_argument("truth", help="truth CSV (onset_s, kind, peak_g), e.g. from `simulate --truth`")
    e.add_argument("--tolerance", type=float, default=0.5, help="onset matching tolerance (s)")
    e.add_argument("--json", action="store_true", help="print JSON")
    e.set_defaults(func=_cmd_evaluate)

    s = sub.add_parser("simulate", parents=[common], help="write a simulated night with ground truth")
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

    import importlib

    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub, common)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    from detect.errors import DetectError
    from sensor.errors import SensorError

    try:
        return args.func(args)
    except (TwitchwatchError, DetectError, SensorError) as exc:
        print(f"twitchwatch: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("twitchwatch: interrupted", file=sys.stderr)
        return 130
    except PermissionError as exc:
        print(f"twitchwatch: error: permission denied: {exc.filename}; choose a folder you can write",
              file=sys.stderr)
        return EXIT_USAGE
