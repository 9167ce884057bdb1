"""``twitchwatch batch``: many inputs, one output folder, on a process pool or a Dask cluster.

The client (this process) expands the inputs, decides what --resume may skip, hands one
task per input to the runner, appends each result to the ledger as it arrives, and at the
end writes the cohort table and the report.  Workers write the night folders themselves,
straight into DIR (so DIR must be on storage every worker sees); only small dicts travel
back.

DIR layout::

    DIR/<person>/<night>/events.csv, summary.json   exactly as `analyze` writes them
    DIR/cohort.csv, DIR/cohort.parquet               one row per night
    DIR/batch-report.json                            what succeeded, what failed and why
    DIR/batch-ledger.jsonl                           progress, for --resume
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..atomic import DIR_MODE
from ..errors import OutputExistsError, TwitchwatchError
from .cohort import cohort_table, write_cohort
from .inputs import Input, expand_inputs
from .ledger import Ledger, settings_key
from .report import build_report, write_report
from .runner import make_runner
from .task import analyze_input

log = logging.getLogger(__name__)

PERSON_FROM = ("folder", "device")


@dataclass
class BatchOutcome:
    """report : the batch report dict (report.py); cohort : the cohort DataFrame;
    engine_s : seconds to start the engine (pool or cluster, numba warm-up);
    work_s : seconds from the first submitted task to the last result."""

    report: dict
    cohort: object
    out_dir: Path
    engine_s: float = 0.0
    work_s: float = 0.0
    failed: list = field(default_factory=list)


def _prepare_out(out: Path, *, resume: bool, force: bool) -> Ledger:
    ledger = Ledger(out)
    if out.exists() and not out.is_dir():
        raise OutputExistsError(f"{out} exists and is not a folder; give a folder for --out")
    if out.exists() and any(out.iterdir()) and not (resume or force):
        if ledger.exists():
            raise OutputExistsError(f"{out} holds an earlier batch; pass --resume to continue it (finished "
                                    f"nights are skipped) or --force to analyse every night again")
        raise OutputExistsError(f"{out} is not empty; choose a new folder, or pass --force to write into it")
    out.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    if resume:
        ledger.load()
    else:
        ledger.start_new()
    return ledger


def _entry(inp: Input, result: dict, status: str | None = None) -> dict:
    return {"source": inp.source, "status": status or result["status"], "reason": result.get("error"),
            "error_kind": result.get("error_kind"), "nights": result["nights"],
            "seconds": result.get("seconds", 0.0), "worker": result.get("worker")}


def run_batch(inputs: list[str], out_dir: Path, *, tz: str, units: str = "g", workers: int | None = None,
              scheduler: str | None = None, resume: bool = False, force: bool = False,
              person_from: str = "folder", progress: bool | None = False) -> BatchOutcome:
    """Analyse every input; see the module docstring.  ``progress``: True shows a bar on
    stderr, None shows it when stderr is a terminal, False never."""
    from tqdm import tqdm

    if resume and force:
        raise TwitchwatchError("--resume keeps finished nights and --force redoes them; choose one")
    if person_from not in PERSON_FROM:
        raise TwitchwatchError(f"--person-from {person_from!r}: choose one of {', '.join(PERSON_FROM)}")
    out = Path(out_dir)
    found = expand_inputs(inputs, out_dir=out)
    ledger = _prepare_out(out, resume=resume, force=force)
    started = time.time()
    key = settings_key(tz=tz, units=units, person_from=person_from)

    entries: dict[int, dict] = {}
    todo: list[tuple[int, Input]] = []
    for i, inp in enumerate(found):
        earlier = ledger.reusable(inp, key, out) if resume else None
        if earlier is not None:
            entries[i] = _entry(inp, earlier, "skipped" if earlier["status"] == "done" else "failed")
            if earlier["status"] == "failed" and not inp.unsupported:
                entries[i]["reason"] = f"{earlier['error']} (unchanged since the earlier run; not tried again)"
        elif inp.unsupported:
            result = {"source": inp.source, "status": "failed", "error": inp.unsupported, "error_kind": "input",
                      "nights": []}
            entries[i] = _entry(inp, result)
            ledger.append(inp, key, result)
        else:
            todo.append((i, inp))

    specs = [{"path": inp.path, "source": inp.source, "person": inp.person, "person_from": person_from,
              "out_dir": str(out.resolve()), "tz": tz, "units": units, "replace": resume or force,
              "run_started": started, "index": i} for i, inp in todo]
    by_index = dict(todo)
    engine_name, n_workers, engine_s, work_s = "none (nothing to do)", 0, 0.0, 0.0
    if specs:
        t0 = time.perf_counter()
        with make_runner(scheduler, workers) as runner:
            runner.check_paths(str(out.resolve()), specs[0]["path"])
            engine_name, n_workers = runner.name, runner.workers
            engine_s = time.perf_counter() - t0
            t1 = time.perf_counter()
            bar = tqdm(total=len(specs), unit="input", desc="batch", disable=None if progress is None else not progress,
                       dynamic_ncols=True)
            try:
                for spec, result in runner.run(analyze_input, specs):
                    i = spec["index"]
                    entries[i] = _entry(by_index[i], result)
                    ledger.append(by_index[i], key, result)
                    bar.update(1)
            finally:
                bar.close()
            work_s = time.perf_counter() - t1
    finished = time.time()

    ordered = [entries[i] for i in sorted(entries)]
    nights = [n for e in ordered for n in e["nights"] if n["status"] == "done"]
    cohort = cohort_table(nights, out)
    write_cohort(cohort, out)
    settings = {"tz": tz, "units": units, "person_from": person_from, "resume": resume, "force": force}
    report = build_report(ordered, started=started, finished=finished, engine=engine_name,
                          workers=n_workers, settings=settings)
    write_report(report, out)
    return BatchOutcome(report=report, cohort=cohort, out_dir=out, engine_s=engine_s, work_s=work_s,
                        failed=report["failed"])
