"""Sub-commands of this package, added to the ``twitchwatch`` parser by cli.COMMAND_MODULES."""
from __future__ import annotations

import sys

#: Failed inputs listed on stderr at the end; the report has them all.
SHOW_FAILED = 20


def _positive_int(text: str) -> int:
    import argparse

    try:
        n = int(text)
    except ValueError:
        n = 0
    if n < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: give a whole number of workers, 1 or more")
    return n


def _cmd_batch(args) -> int:
    from ..cli import _zone
    from .driver import run_batch
    from .report import REPORT_NAME, summary_line

    outcome = run_batch(args.inputs, args.out, tz=_zone(args), units=args.units, workers=args.workers,
                        scheduler=args.scheduler, resume=args.resume, force=args.force,
                        person_from=args.person_from, progress=None)
    failed = outcome.failed
    for f in failed[:SHOW_FAILED]:
        # readers name the file in their messages already
        what = f["reason"] if f["source"] in (f["reason"] or "") else f"{f['source']}: {f['reason']}"
        print(f"failed: {what}", file=sys.stderr)
    if len(failed) > SHOW_FAILED:
        print(f"... and {len(failed) - SHOW_FAILED} more failed inputs in {args.out}/{REPORT_NAME}", file=sys.stderr)
    print(summary_line(outcome.report, args.out))
    return 1 if failed else 0


def register(sub, common) -> None:
    """Add this package's sub-commands to ``sub`` (argparse sub-parsers); ``common`` is the
    parent parser with the shared options (--data-dir)."""
    b = sub.add_parser(
        "batch", parents=[common],
        help="analyse many recordings (files, folders, globs) on a process pool or a Dask cluster",
        description="Analyse every input and write, per night, the same folder as `analyze` "
                    "(DIR/<person>/<night>/), a cohort table (cohort.csv, cohort.parquet) and a report "
                    "(batch-report.json). A failed input never stops the batch; the exit status is 1 when "
                    "any input failed.")
    b.add_argument("inputs", nargs="+", metavar="INPUT",
                   help="recordings, folders (searched recursively; one folder per person) or quoted globs "
                        "such as 'study/*/*.cwa'")
    b.add_argument("--out", required=True, help="output folder (on storage every worker sees)")
    b.add_argument("--workers", type=_positive_int,
                   help="worker processes for the local pool or --scheduler local (default: this machine's CPUs)")
    b.add_argument("--scheduler", metavar="ADDRESS",
                   help="Dask scheduler to submit to (tcp://host:8786), or 'local' to start a Dask cluster "
                        "on this machine; default: a local process pool")
    b.add_argument("--resume", action="store_true",
                   help="continue an earlier batch in --out: skip nights already written by this detector "
                        "version and configuration")
    b.add_argument("--force", action="store_true", help="analyse every night again, replacing earlier outputs")
    b.add_argument("--tz", help="IANA zone of inputs that state none (night files and some device files do); "
                                "default: this machine's")
    b.add_argument("--units", default="g", choices=["g", "m/s2"], help="units of canonical CSV inputs")
    b.add_argument("--person-from", default="folder", choices=["folder", "device"],
                   help="person id: the folder layout (default), or the device id in each file's metadata "
                        "(a serial: it then appears in folder names and the cohort table)")
    b.set_defaults(func=_cmd_batch)
