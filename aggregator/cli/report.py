"""``aggregator report --from OUT``: the product's reports of a run compared by ``aggregator compare``.

The web, text, JSON and email reports are those ``aggregator run`` writes for the run, rebuilt from
the compare output and the exported run (:mod:`aggregator.app.compared`); past 500 subjects the
page is the shortlist and the full standing goes beside it as CSV, as ``run`` writes it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from aggregator.cli.exits import EXIT_OK


def register(commands: Any) -> None:
    """Add ``report`` to the ``aggregator`` command's sub-commands."""
    report = commands.add_parser(
        "report", help="render the reports of a compared run (from `aggregator compare --out DIR`)",
        description="Render the web, text, JSON or email report of a run compared by `aggregator compare` (either "
                    "engine), from its output folder and the exported run it compared. Per-index timing, "
                    "consensus histories, people's judgments, activity fingerprints and the opted-out count are "
                    "not in an export, so these reports leave them out.",
    )
    report.add_argument("--from", dest="source", type=Path, required=True, metavar="OUT",
                        help="the folder `aggregator compare --out` wrote")
    report.add_argument("--run", type=Path, metavar="RUN_DIR",
                        help="the exported run it compared (default: the run_dir in OUT/summary.json)")
    report.add_argument("--format", metavar="KIND",
                        help="html, text, json or an installed renderer (default: from --out's suffix, else html)")
    report.add_argument("--out", default="-", metavar="FILE",
                        help="the report file (default: standard output); past 500 subjects the report's full "
                             "standing is written beside it as FILE's name + .standing.csv")
    report.add_argument("--eml", type=Path, metavar="FILE", help="also write the report as the email it would be")
    report.add_argument("--title", default="Influence report", help="the report's title (default: %(default)s)")
    report.set_defaults(handler=_report)


def _report(args: argparse.Namespace) -> int:
    from aggregator.app.api import STDOUT, RunResult, check_writable, output_kind
    from aggregator.app.compared import outcome_from_compared

    check_writable(args.out)
    kind = output_kind(args.out, args.format)
    if args.eml:
        check_writable(args.eml, "--eml")
    result = RunResult(outcome_from_compared(args.source, args.run, title=args.title))
    written: Path | None = None
    if args.out == STDOUT:
        to_stdout(result.render(kind))
    else:
        written = result.write(args.out, kind)
        print(f"report: {written}")
    if args.eml:
        from aggregator.cli.deliver import write_eml
        from reports.email import build_email
        from reports.mail import compose
        from reports.model import build_view

        parts = build_email(build_view(result.outcome), full_report=str(written) if written else None)
        email = write_eml(args.eml, compose(parts).as_bytes())
        print(f"email: {email}", file=sys.stderr if written is None else sys.stdout)  # stdout may hold the report
    return EXIT_OK


def to_stdout(document: str | bytes) -> None:
    """A report on standard output (``--out -``): text as it is, an email's bytes as bytes."""
    if isinstance(document, bytes):
        sys.stdout.buffer.write(document)
    else:
        sys.stdout.write(document)
    sys.stdout.flush()
