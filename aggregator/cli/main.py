"""The ``aggregator`` command.

Exit codes: 0 all went well; 1 the run finished but some fetches failed (auth, timeouts,
server errors, bad payloads — the report's "index health" shows them; an index simply not
knowing a subject is coverage, not a failure); 2 bad input or config; 130 interrupted.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from aggregator.cli import parquet, sandbox, scorer, stored
from aggregator.cli.exits import EXIT_BAD_INPUT, EXIT_FAILURES, EXIT_INTERRUPTED, EXIT_OK
from aggregator.errors import AggregatorError, ConfigError

if TYPE_CHECKING:
    from aggregator.app.api import RunResult
    from aggregator.app.config import Config



def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "handler"):
        parser.print_help()
        return EXIT_BAD_INPUT
    handler: Callable[[argparse.Namespace], int] = args.handler
    try:
        return handler(args)
    except AggregatorError as exc:
        _err(f"error: {exc}")
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        _err("interrupted: everything fetched so far is stored; continue with `aggregator run --resume RUN_ID`"
             " (see `aggregator runs`)")
        return EXIT_INTERRUPTED


def _parser() -> argparse.ArgumentParser:
    from aggregator.app.demo import DEFAULT_SUBJECTS

    parser = argparse.ArgumentParser(
        prog="aggregator",
        description="Collect influence scores from several indices, compare them, and report where they disagree.",
        epilog="Exit codes: 0 ok; 1 the run finished with failed fetches (shown in the report); "
               "2 bad input or config; 130 interrupted.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")

    demo = commands.add_parser(
        "demo", help="run the whole pipeline on bundled real data (no network, no config)",
        description="Run the whole pipeline on a bundled sample of real (anonymized) accounts scored by four "
                    "vendor-like indices, store it, and write the HTML report.",
    )
    demo.add_argument("--out", type=Path, help="where to write the report (default: in the demo folder)")
    demo.add_argument("--subjects", type=int, default=DEFAULT_SUBJECTS, metavar="N",
                      help=f"roster size (default {DEFAULT_SUBJECTS}); beyond the bundled population, "
                           "synthetic subjects resampled from it are added and marked as such")
    demo.add_argument("--seed", type=int, default=0, help="which sample of the population to take (default 0)")
    demo.add_argument("--dir", type=Path, help="folder for the demo's inputs and history (default: user data dir)")
    demo.add_argument("--quiet", "-q", action="store_true", help="no progress bars")
    demo.add_argument("--eml", type=Path, metavar="FILE", help="also write the report as the email it would be (.eml)")
    demo.set_defaults(handler=_demo)

    run = commands.add_parser("run", help="collect, compare and report as a config file says",
                              description="Collect every configured index for the roster, store the readings, "
                                          "compare them and write the report.")
    run.add_argument("-c", "--config", type=Path, required=True, help="the TOML config file")
    run.add_argument("--resume", metavar="RUN_ID", help="continue an interrupted run, fetching only what it lacks")
    run.add_argument("--out", type=Path, help="report file (default: [report] out in the config); "
                                              "the format follows the suffix: .html, .txt, .json")
    run.add_argument("--format", metavar="KIND",
                     help="report format: html, text, json or an installed renderer (overrides the suffix)")
    run.add_argument("--quiet", "-q", action="store_true", help="no progress bars")
    run.add_argument("--email", action="store_true", help="send the report to each [[report]]'s recipients now")
    run.add_argument("--eml", type=Path, metavar="FILE", help="write the report's email to FILE instead of sending it")
    run.add_argument("--slot", metavar="NAME[@TIME]",
                     help="deliver scheduled report NAME for its latest due slot (or the slot at local TIME, "
                          "YYYY-MM-DDTHH:MM), at most once: for system cron or a systemd timer")
    run.set_defaults(handler=_run)

    schedule = commands.add_parser(
        "schedule", help="run every [[report]] on its cron schedule and email it",
        description="Run every [[report]] that has a schedule, in its time zone, until SIGTERM or Ctrl-C. "
                    "Each slot is delivered at most once, across restarts and processes; after downtime one "
                    "catch-up run covers the missed slots.",
    )
    schedule.add_argument("-c", "--config", type=Path, required=True, help="the TOML config file")
    schedule.set_defaults(handler=_schedule)

    validate = commands.add_parser("validate-config", help="check a config file and print every problem",
                                   description="Check a config file, its adapters' options, roster and opt-out "
                                               "list; print every problem with its TOML key path or file line.")
    validate.add_argument("config", type=Path, metavar="FILE")
    validate.set_defaults(handler=_validate)

    # each command module adds its own sub-commands
    for register in (stored.register, sandbox.register, scorer.register, parquet.register):
        register(commands)
    return parser


def _version() -> str:
    import aggregator

    return str(aggregator.__version__)


def _err(message: str) -> None:
    print(message, file=sys.stderr)


# -- commands -------------------------------------------------------------------------------


def _demo(args: argparse.Namespace) -> int:
    from aggregator.app import demo
    from aggregator.cli.progress import ProgressDisplay

    if args.subjects < 1:
        raise ConfigError(f"--subjects must be at least 1, got {args.subjects}")
    directory = (args.dir or demo.demo_home()).resolve()
    _err(f"demo: {args.subjects} subjects; four sandbox vendors on 127.0.0.1 and the in-house score; "
         "two snapshots (vendor algorithms v1, then v2)")
    with ProgressDisplay(enabled=not args.quiet) as display:
        done = asyncio.run(demo.run_demo(directory, subjects=args.subjects, seed=args.seed, out=args.out,
                                         progress=display.update))
    _summarize(done.result)
    print(f"report: {done.report_path.as_uri()}")
    print(f"config: {done.config_path}  (history: aggregator runs --store {directory / 'history.sqlite'})")
    if args.eml:
        from aggregator.cli.deliver import demo_eml

        print(f"email: {demo_eml(done.result, args.eml)}")
    return EXIT_OK


def _run(args: argparse.Namespace) -> int:
    from aggregator.app.config import load_config

    config = load_config(args.config)
    if args.slot:
        from aggregator.cli.deliver import run_slot

        return run_slot(config, args.slot)
    result = _collect(config, resume=args.resume, quiet=args.quiet)
    path = result.write(args.out or config.report.out, args.format)
    print(f"report: {path}")
    sent = EXIT_OK
    if args.email or args.eml:
        from aggregator.cli.deliver import after_run

        sent = after_run(config, result, email=args.email, eml=args.eml)
    return EXIT_FAILURES if result.has_faults or sent else EXIT_OK


def _schedule(args: argparse.Namespace) -> int:
    from aggregator.app.config import load_config
    from aggregator.cli.deliver import schedule_command

    return schedule_command(load_config(args.config))


def _collect(config: Config, *, resume: str | None, quiet: bool) -> RunResult:
    from aggregator.app.api import Aggregator
    from aggregator.cli.progress import ProgressDisplay

    with ProgressDisplay(enabled=not quiet) as display:
        result = asyncio.run(Aggregator(config).run(resume=resume, progress=display.update))
    _summarize(result)
    return result


def _summarize(result: RunResult) -> None:
    health = result.outcome.comparison.health
    for index in health:
        kinds = ", ".join(f"{n} {kind.value}" for kind, n in sorted(index.failures.items()))
        _err(f"{index.index:>14}: {index.scored}/{index.asked} scored" + (f" ({kinds})" if kinds else ""))
    _err(f"run {result.run_id}: {len(result.outcome.subjects)} subjects, {len(health)} indices")


def _validate(args: argparse.Namespace) -> int:
    from aggregator.app.config import load_config
    from aggregator.collection.roster import OptOut, load_roster

    config = load_config(args.config)
    roster = load_roster(config.roster.path)
    opted_out = OptOut.load(config.roster.opt_out).split(roster)[1]
    print(f"{args.config}: ok — {len(config.enabled_indices)} indices "
          f"({', '.join(config.enabled_indices)}), {len(roster)} subjects, {len(opted_out)} opted out")
    return EXIT_OK
