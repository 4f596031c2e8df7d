"""Erasing a subject: ``aggregator forget SUBJECT`` and the function behind it.

A subject is found by roster id, or by any handle (``@`` and case ignored). Everything the
history database holds about them goes, in every run: readings (with components, topics and
the vendor's raw text), failures, run membership and the subject row with its name and
handles. The file is then rewritten (``VACUUM``) and its write-ahead log truncated, so no
erased byte survives in free pages or in the ``-wal`` file.

Reports already written or emailed are files outside the database; this cannot reach them.
To stop a person being collected again, add them to the opt-out list as well: a run erases
anyone on it whose history it still finds, and says so.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aggregator.store import Store


@dataclass(frozen=True)
class Erased:
    """What :func:`forget` removed."""

    subject_ids: tuple[str, ...]
    readings: int
    failures: int
    #: runs the subjects were part of
    runs: int

    @property
    def anything(self) -> bool:
        return bool(self.subject_ids)


def forget(store: Store, key: str) -> Erased:
    """Erase every stored subject whose id or handle is ``key``, then rewrite the file."""
    found = [s.id for s in store.find_subjects(key)]
    if not found:
        return Erased((), 0, 0, 0)
    removed = store.forget(found)
    store.vacuum()
    return Erased(tuple(found), removed["readings"], removed["failures"], removed["runs"])


def register(commands: Any) -> None:
    """Add the ``forget`` command to the CLI's subcommands (``argparse`` sub-parsers)."""
    forget_cmd: argparse.ArgumentParser = commands.add_parser(
        "forget", help="erase a subject's stored history, in every run",
        description="Erase everything the history database holds about a subject (by roster id or handle), "
                    "in every run, then rewrite the file so nothing of it remains. Add them to the opt-out "
                    "list too, or the next run collects them again.",
    )
    forget_cmd.add_argument("subject", metavar="SUBJECT", nargs="+", help="roster id or handle (@ optional)")
    where = forget_cmd.add_mutually_exclusive_group()
    where.add_argument("-c", "--config", type=Path, help="the store named in this config")
    where.add_argument("--store", type=Path, help="the history database (default: the demo's)")
    forget_cmd.set_defaults(handler=_forget_command)


def _forget_command(args: argparse.Namespace) -> int:
    from aggregator.cli import EXIT_OK, _store_path

    path = _store_path(args)
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
