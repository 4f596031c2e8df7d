"""The ``aggregator`` command.

Exit codes: 0 all went well; 1 the run finished but some fetches failed (auth, timeouts,
server errors, bad payloads — the report's "index health" shows them; an index simply not
knowing a subject is coverage, not a failure); 2 bad input or config; 3 the history database
cannot be used (damaged, disk full, read-only); 4 a report was not delivered (not written, or not
accepted by the mail server); 130 interrupted.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from aggregator.cli import deliveries, parquet, report, sandbox, scorer, stored
from aggregator.cli.exits import (
    EXIT_BAD_INPUT,
    EXIT_DELIVERY,
    EXIT_FAILURES,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_STORE,
)
from aggregator.cli.report import to_stdout
from aggregator.errors import AggregatorError, ConfigError, DeliveryError, StoreUnusableError
from aggregator.models import FailureKind

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
    from aggregator.app.memory import set_up

    set_up()  # freed memory kept for the next arrays, no huge-page stalls (aggregator/app/memory.py)
    try:
        return handler(args)
    except StoreUnusableError as exc:
        _err(f"store error: {exc}")
        return EXIT_STORE
    except DeliveryError as exc:
        _err(f"error: {exc}")
        return EXIT_DELIVERY
    except AggregatorError as exc:
        _err(f"error: {exc}")
        return EXIT_BAD_INPUT
    except BrokenPipeError:  # `aggregator run --out - | head`: the reader has all it wanted
        _quiet_stdout()
        return EXIT_OK
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
               "2 bad input or config; 3 the history database cannot be used; 4 a report was not delivered; "
               "130 interrupted.",
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
    run.add_argument("--retry", metavar="KIND[,KIND]", type=_failure_kinds, default=frozenset(),
                     help="with --resume: also ask again for pairs that failed with these kinds, final or not "
                          f"({', '.join(k.value for k in FailureKind)})")
    run.add_argument("--shard", metavar="K/N", type=_shard,
                     help="collect only the K-th of N disjoint parts of the roster (by a stable hash of each "
                          "subject id), into this config's store; `aggregator export` joins the N stores into "
                          "one run. Needs --run-id")
    run.add_argument("--run-id", metavar="ID", type=_run_id,
                     help="name the new run ID (default: the start time); the N shards of a roster share one id")
    run.add_argument("--out", type=Path, help="report file (default: [report] out in the config), or - for "
                                              "standard output; the format follows the suffix: .html, .txt, .json")
    run.add_argument("--format", metavar="KIND",
                     help="report format: html, text, json or an installed renderer; it decides what is written "
                          "(a file named for another format is an error)")
    run.add_argument("--quiet", "-q", action="store_true", help="no progress bars")
    run.add_argument("--judgments", type=Path, metavar="FILE",
                     help="check every index against people's judged pairs (a,b,winner CSV; default: "
                          "[validation] judgments in the config)")
    run.add_argument("--email", action="store_true", help="send the report to each [[report]]'s recipients now")
    run.add_argument("--eml", type=Path, metavar="FILE", help="write the report's email to FILE instead of sending it")
    run.add_argument("--slot", metavar="NAME[@TIME]",
                     help="deliver scheduled report NAME for its latest due slot (or the slot at local TIME, "
                          "YYYY-MM-DDTHH:MM), at most once: for system cron or a systemd timer")
    run.add_argument("--resend", action="store_true",
                     help="with --slot NAME@TIME: send that slot again on purpose, even if it was sent or failed")
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
                                   description="Check a config file, its adapters' options, roster, opt-out "
                                               "list and judgments file; print every problem with its TOML key "
                                               "path or file line.")
    validate.add_argument("config", type=Path, metavar="FILE")
    validate.set_defaults(handler=_validate)

    # each command module adds its own sub-commands
    for register in (stored.register, deliveries.register, sandbox.register, scorer.register, parquet.register,
                     report.register):
        register(commands)
    return parser


def _version() -> str:
    import aggregator

    return str(aggregator.__version__)


def _err(message: str) -> None:
    print(message, file=sys.stderr)


def _quiet_stdout() -> None:
    """Point stdout at /dev/null, so the interpreter's final flush into the closed pipe is silent."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


# -- commands -------------------------------------------------------------------------------


def _demo(args: argparse.Namespace) -> int:
    from aggregator.app import demo, eventloop
    from aggregator.app.api import check_writable, output_kind
    from aggregator.cli.progress import ProgressDisplay

    if args.subjects < 1:
        raise ConfigError(f"--subjects must be at least 1, got {args.subjects}")
    directory = (args.dir or demo.demo_home()).resolve()
    for flag, path in (("--out", args.out), ("--eml", args.eml)):
        if path is not None:
            check_writable(path, flag)
    if args.out is not None:
        output_kind(args.out)
    demo.claim_folder(directory)  # never a folder holding files the demo did not create
    _err(f"demo: {args.subjects} subjects; four sandbox vendors on 127.0.0.1 and the in-house score; "
         "two snapshots (vendor algorithms v1, then v2)")
    with ProgressDisplay(enabled=not args.quiet) as display:
        done = eventloop.run(demo.run_demo(directory, subjects=args.subjects, seed=args.seed, out=args.out,
                                         progress=display.update))
    _summarize(done.result)
    print(f"report: {done.report_path.as_uri()}")
    print(f"config: {done.config_path}  (history: aggregator runs --store {directory / 'history.sqlite'})")
    if args.eml:
        from aggregator.cli.deliver import demo_eml

        print(f"email: {demo_eml(done.result, args.eml)}")
    return EXIT_OK


def _run(args: argparse.Namespace) -> int:
    from aggregator.app.api import STDOUT, output_kind
    from aggregator.app.config import load_config

    if args.retry and not args.resume:
        raise ConfigError("--retry asks again within a run: give the run with --resume RUN_ID (see `aggregator runs`)")
    if args.run_id and args.resume:
        raise ConfigError("--run-id names a new run; --resume RUN_ID continues one: give one of them")
    if args.shard and not (args.run_id or args.resume):
        raise ConfigError("--shard K/N needs --run-id ID: the N shards of one roster share one run id, by which "
                          "`aggregator export` joins them")
    config = load_config(args.config)
    if args.judgments:
        config = config.with_judgments(args.judgments.resolve())
    if args.resend and not args.slot:
        raise ConfigError("--resend goes with --slot NAME@YYYY-MM-DDTHH:MM (the slot to send again)")
    if args.slot:
        from aggregator.cli.deliver import run_slot

        return run_slot(config, args.slot, resend=args.resend)
    out = _check_outputs(config, args)  # every flag and output, before the first request
    result = _collect(config, resume=args.resume, retry=args.retry, quiet=args.quiet, shard=args.shard,
                      run_id=args.run_id)
    written: Path | None = None
    if str(out) == STDOUT:
        to_stdout(result.render(output_kind(out, args.format)))
        _err("report: written to standard output")
    else:
        written = result.write(out, args.format)
        print(f"report: {written}")
    sent = EXIT_OK
    if args.email or args.eml:
        from aggregator.cli.deliver import after_run

        sent = after_run(config, result, email=args.email, eml=args.eml, written=written)
    if sent:
        return sent  # a report not delivered outweighs failed fetches
    return EXIT_FAILURES if result.has_faults else EXIT_OK


def _check_outputs(config: Config, args: argparse.Namespace) -> Path:
    """The report's path, once its format, its folder, ``--eml`` and ``--email`` are known to work."""
    from aggregator.app.api import check_writable, output_kind

    out: Path = args.out or config.report.out
    check_writable(out)
    output_kind(out, args.format)
    if args.eml:
        check_writable(args.eml, "--eml")
    if args.email:
        from aggregator.cli.deliver import email_targets

        email_targets(config)
    return out


def _schedule(args: argparse.Namespace) -> int:
    from aggregator.app.config import load_config
    from aggregator.cli.deliver import schedule_command

    return schedule_command(load_config(args.config))


def _collect(config: Config, *, resume: str | None, retry: frozenset[FailureKind], quiet: bool,
             shard: tuple[int, int] | None = None, run_id: str | None = None) -> RunResult:
    from aggregator.app import eventloop
    from aggregator.app.api import Aggregator
    from aggregator.cli.progress import ProgressDisplay

    with ProgressDisplay(enabled=not quiet) as display:
        result = eventloop.run(Aggregator(config).run(resume=resume, retry=retry, progress=display.update,
                                                    shard=shard, run_id=run_id))
    _summarize(result)
    return result


def _summarize(result: RunResult) -> None:
    health = result.outcome.comparison.health
    for index in health:
        # the report's words: "not found" is a coverage gap, a "fault" is an error
        missing = sum(n for kind, n in index.failures.items() if kind.is_coverage_gap)
        faults = ", ".join(f"{n} {kind.value}" for kind, n in sorted(index.failures.items())
                           if not kind.is_coverage_gap)
        # exact, from the collection: asked-and-failed and never-asked are both faults, but
        # only the second says the index was cut short
        unasked = result.not_asked.get(index.index, 0)
        _err(f"{index.index:>14}: {index.scored}/{index.asked} scored"
             + (f"; {missing} not found" if missing else "") + f"; faults: {faults or 'none'}"
             + (f"; {unasked} of them not asked (the index was marked down or ran out of time)" if unasked else ""))
    shard = result.outcome.run.shard
    part = f" (shard {shard} of a roster of {shard.size})" if shard else ""
    _err(f"run {result.run_id}{part}: {len(result.outcome.subjects)} subjects, {len(health)} indices")


def _failure_kinds(text: str) -> frozenset[FailureKind]:
    """``--retry``'s value: failure kinds separated by commas."""
    known = {kind.value: kind for kind in FailureKind}
    names = [name.strip().lower() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in known]
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"{', '.join(unknown) or repr(text)} is not a failure kind; "
                                         f"known: {', '.join(known)}")
    return frozenset(known[name] for name in names)


def _shard(text: str) -> tuple[int, int]:
    """``--shard``'s value: K/N with 1 <= K <= N."""
    k, slash, n = text.partition("/")
    if not slash or not k.strip().isdigit() or not n.strip().isdigit():
        raise argparse.ArgumentTypeError(f"expected K/N (whole numbers, e.g. 2/5: the 2nd of 5 parts), got {text!r}")
    index, count = int(k), int(n)
    if count < 1 or not 1 <= index <= count:
        raise argparse.ArgumentTypeError(f"{text!r}: K and N must satisfy 1 <= K <= N (parts are numbered from 1)")
    return index, count


def _run_id(text: str) -> str:
    """``--run-id``'s value: letters, digits and ``._-``, as the ids the clock makes."""
    import re

    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}", text):
        raise argparse.ArgumentTypeError(f"{text!r}: a run id is 1-100 letters, digits, '.', '_' or '-', "
                                         "starting with a letter or digit")
    return text


def _validate(args: argparse.Namespace) -> int:
    from aggregator.app.config import load_config
    from aggregator.app.pipeline import build_adapters, check_inputs
    from aggregator.collection.judgments import load_judgments
    from aggregator.collection.roster import OptOut, load_roster

    config = load_config(args.config)
    roster = load_roster(config.roster.path)
    try:
        check_inputs(build_adapters(config), roster)
    except ConfigError as exc:
        raise ConfigError(exc.problems, source=str(args.config)) from None
    opt_out = OptOut.load(config.roster.opt_out)
    for warning in opt_out.warnings(roster, config.roster.opt_out):
        _err(f"warning: {warning}")
    opted_out = opt_out.split(roster)[1]
    judged = ""
    if config.validation.judgments is not None:
        judgments = load_judgments(config.validation.judgments, roster, {s.id for s in opted_out})
        if judgments.problems:
            # a run would skip these rows and use the rest; a check names every one of them
            raise ConfigError(list(judgments.problems), source=judgments.source)
        judged = f", {len(judgments.pairs)} judged pairs"
    print(f"{args.config}: ok — {len(config.enabled_indices)} indices "
          f"({', '.join(config.enabled_indices)}), {len(roster)} subjects, {len(opted_out)} opted out{judged}")
    return EXIT_OK
