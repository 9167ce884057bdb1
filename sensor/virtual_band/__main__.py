"""python -m sensor.virtual_band: run a virtual band until SIGTERM / Ctrl-C.

``--profile`` picks what it speaks: polar-h10 (default), polar-verity, open-imu, movesense.

Uses the system bus of DBUS_SYSTEM_BUS_ADDRESS (BlueZ or BlueZoo must own org.bluez there).
Prints ``READY <address> <name>`` once it advertises.
"""
from __future__ import annotations

import argparse
import asyncio
import dataclasses
import logging
import signal
import sys

from .band import VirtualBandSettings, run_virtual_band
from .profiles import BAND_PROFILES
from .truth import GroundTruth


def build_settings(args) -> VirtualBandSettings:
    if args.settings_json:
        base = VirtualBandSettings.from_json(args.settings_json)
    else:
        base = VirtualBandSettings()
    changes = {}
    for name in ("adapter", "profile", "serial", "name", "speed", "faults", "seed", "csv_path",
                 "truth_path", "clock_start_ns", "source_rate_hz", "mtu", "content_origin"):
        value = getattr(args, name, None)
        if value is not None:
            changes[name] = value
    if args.log_samples:
        changes["log_samples"] = True
    if args.loop:
        changes["loop"] = True
    if args.night_hours is not None or args.night_seed is not None:
        from twitchwatch.simulate import NightSettings
        changes["night"] = NightSettings(
            seed=args.night_seed if args.night_seed is not None else base.seed,
            sleep_hours=args.night_hours if args.night_hours is not None else 7.0,
            ble_gap_count_range=(0, 0))
    return dataclasses.replace(base, **changes)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m sensor.virtual_band", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--settings-json", help="VirtualBandSettings as JSON (other flags override)")
    p.add_argument("--adapter", help="adapter to advertise on (default hci1)")
    p.add_argument("--profile", choices=list(BAND_PROFILES), help="what the band speaks "
                   "(default polar-h10)")
    p.add_argument("--serial")
    p.add_argument("--name", help="advertised name (default: the profile's, e.g. 'Polar H10 <serial>')")
    p.add_argument("--speed", type=float, help="device seconds per wall second (default 1)")
    p.add_argument("--faults", help="e.g. 'drop@120s:5s,stall@300s:20s,stop@500s,garbage@200s'")
    p.add_argument("--seed", type=int)
    p.add_argument("--csv", dest="csv_path", help="replay a canonical CSV")
    p.add_argument("--rate", dest="source_rate_hz", type=float, help="content rate override")
    p.add_argument("--night-seed", type=int, help="replay a simulated night with this seed")
    p.add_argument("--night-hours", type=float, help="sleep hours of the simulated night")
    p.add_argument("--clock-start-ns", type=int, help="device clock at start, ns since 2000")
    p.add_argument("--mtu", type=int)
    p.add_argument("--content-origin", choices=("first_stream", "band"))
    p.add_argument("--loop", action="store_true", help="replay the content again at its end")
    p.add_argument("--truth", dest="truth_path", help="write the ground truth as JSON lines")
    p.add_argument("--log-samples", action="store_true", help="sample values in the truth log")
    p.add_argument("-v", "--verbose", action="store_true")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING,
                        stream=sys.stderr)
    settings = build_settings(args)

    async def runner() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        ready = asyncio.Event()
        truth = GroundTruth(path=settings.truth_path and __import__("pathlib").Path(
            settings.truth_path), log_samples=settings.log_samples)
        task = asyncio.create_task(run_virtual_band(settings, truth=truth, ready=ready,
                                                    stop=stop))
        waiter = asyncio.create_task(ready.wait())
        await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
        if ready.is_set():
            started = truth.events_named("band_started")[0]
            print(f"READY {started['address']} {settings.local_name}", flush=True)
        else:
            waiter.cancel()
        await task

    try:
        asyncio.run(runner())
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # noqa: BLE001 - one clear line for the user or the parent process
        print(f"virtual band failed: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
