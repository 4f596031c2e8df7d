"""The commands that read or erase the history database: ``history``, ``runs`` and ``forget``.

Each takes the store as ``-c CONFIG`` (the store that config names) or ``--store DB``, and
falls back to the demo's database.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from aggregator.cli.exits import EXIT_OK
from aggregator.errors import ConfigError


def register(commands: Any) -> None:
    """Add ``history``, ``runs`` and ``forget`` to the ``aggregator`` command's sub-commands."""
    history = commands.add_parser("history", help="a subject's standing across past runs",
                                  description="Show a subject's raw scores and relative standing in every stored run.")
    history.add_argument("subject", metavar="SUBJECT", help="the subject's roster id")
    add_store_options(history)
    history.add_argument("--json", action="store_true", help="print JSON instead of a table")
    history.set_defaults(handler=_history)

    runs = commands.add_parser("runs", help="list stored runs", description="List the runs in the history database.")
    add_store_options(runs)
    runs.set_defaults(handler=_runs)

    forget_cmd: argparse.ArgumentParser = commands.add_parser(
        "forget", help="erase a subject's stored history, in every run",
        description="Erase everything the history database holds about a subject (by roster id or handle), "
                    "in every run, then rewrite the file so nothing of it remains. Add them to the opt-out "
                    "list too, or the next run collects them again.",
    )
    forget_cmd.add_argument("subject", metavar="SUBJECT", nargs="+", help="roster id or handle (@ optional)")
    add_store_options(forget_cmd)
    forget_cmd.set_defaults(handler=_forget_command)


def add_store_options(command: argparse.ArgumentParser, *, shards: bool = False) -> None:
    """``-c CONFIG`` or ``--store DB`` (repeatable with ``shards``: the stores of one sharded roster)."""
    where = command.add_mutually_exclusive_group()
    where.add_argument("-c", "--config", type=Path, help="read the store named in this config")
    if shards:
        where.add_argument("--store", type=Path, action="append", metavar="DB",
                           help="a history database; repeat for each shard (default: the demo's)")
    else:
        where.add_argument("--store", type=Path, help="the history database (default: the demo's)")


def store_path(args: argparse.Namespace) -> Path:
    from aggregator.app.config import load_config
    from aggregator.app.demo import demo_home

    if args.config:
        return load_config(args.config).store.path
    path: Path = args.store or demo_home() / "history.sqlite"
    if not path.exists():
        raise ConfigError(f"no history database at {path} (give --store or -c CONFIG)")
    return path


def _history(args: argparse.Namespace) -> int:
    from aggregator.app.history import subject_history
    from aggregator.collection.store import Store

    with Store(store_path(args), read_only=True) as store:  # a read-only file can still be read
        points = subject_history(store, args.subject)
    if args.json:
        print(json.dumps([
            {"run": p.run.id, "started_at": p.run.started_at.isoformat(), "consensus": p.consensus,
             "raw": p.raw, "standing": p.standing}
            for p in points
        ], indent=2))
        return EXIT_OK
    indices = sorted({name for p in points for name in p.raw})
    print(f"{'run':<24} {'consensus':>9}  " + "  ".join(f"{name:>18}" for name in indices))
    for p in points:
        consensus = "—" if p.consensus is None else f"{p.consensus:.1f}"
        cells = [
            f"{p.raw[n]:>9.6g} ({p.standing[n]:>4.1f})" if n in p.raw else f"{'—':>18}" for n in indices
        ]
        print(f"{p.run.id:<24} {consensus:>9}  " + "  ".join(f"{c:>18}" for c in cells))
    print("values: raw score (percentile among the run's subjects)")
    return EXIT_OK


def _runs(args: argparse.Namespace) -> int:
    from aggregator.collection.store import Store

    with Store(store_path(args), read_only=True) as store:
        for run in store.runs():
            state = "finished" if run.finished else "UNFINISHED (resume with aggregator run --resume ID)"
            print(f"{run.id}  {run.started_at:%Y-%m-%d %H:%M}  {run.counts.subjects} subjects  "
                  f"{run.counts.readings} readings  {run.counts.failures} failures  {state}")
    return EXIT_OK


def _forget_command(args: argparse.Namespace) -> int:
    from aggregator.collection.privacy import forget
    from aggregator.collection.store import Store

    path = store_path(args)
    with Store(path) as store:
        for key in args.subject:
            erased = forget(store, key)
            if not erased.anything:
                print(f"{key}: nothing stored (no subject with that id or handle in {path})")
                continue
            ids = ", ".join(erased.subject_ids)
            print(f"{key}: erased {ids}: {_count(erased.readings, 'reading')}, {_count(erased.failures, 'failure')} "
                  f"from {_count(erased.runs, 'run')}; {path} rewritten, nothing of it remains")
    print("to stop collecting them again, add them to the roster's opt-out list")
    return EXIT_OK


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")
