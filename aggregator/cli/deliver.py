"""The delivery side of the ``aggregator`` command: ``run --email/--eml/--slot [--resend]``,
``demo --eml``, ``schedule`` and ``deliveries``. The app layer: reports and SMTP are imported
here, lazily, never by the core.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from aggregator.app import eventloop
from aggregator.atomic import write_atomic
from aggregator.cli.exits import EXIT_DELIVERY, EXIT_INTERRUPTED, EXIT_OK
from aggregator.errors import ConfigError, DeliveryError, Problem
from aggregator.models import utc_now

if TYPE_CHECKING:
    from aggregator.app.api import RunResult
    from aggregator.app.config import Config, ReportConfig
    from aggregator.collection.store import Delivery

DEMO_SENDER = "influence-aggregator demo <demo@example.invalid>"
DEMO_RECIPIENT = "you@example.invalid"


def _err(message: str) -> None:
    print(message, file=sys.stderr)


def _logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", stream=sys.stderr)


def write_eml(path: Path, message_bytes: bytes) -> Path:
    try:
        write_atomic(path, message_bytes)
    except OSError as exc:
        raise DeliveryError(f"cannot write the email to {path}: {exc.strerror}") from None
    return path


def demo_eml(result: RunResult, path: Path) -> Path:
    """``aggregator demo --eml FILE``: the demo's report as the email it would send."""
    from reports.email import build_email
    from reports.mail import compose
    from reports.model import build_view

    parts = build_email(build_view(result.outcome))
    message = compose(parts, sender=DEMO_SENDER, recipients=[DEMO_RECIPIENT])
    return write_eml(path, message.as_bytes())


def after_run(config: Config, result: RunResult, *, email: bool, eml: Path | None, written: Path | None) -> int:
    """``run --email`` sends now to every report's recipients (no slot: a manual send);
    ``run --eml FILE`` writes the first report's email instead of sending it. ``written``: where
    the run wrote its report (None: to standard output), which the email names for the full standing."""
    full = str(written) if written is not None else None
    from aggregator.app.schedule import compose_email, smtp_settings

    if eml is not None:
        report = config.reports[0]
        if config.smtp is not None and report.recipients:
            message = compose_email(config, report, result.outcome, None, full)
        else:
            from reports.email import build_email
            from reports.mail import compose
            from reports.model import build_view

            message = compose(build_email(build_view(result.outcome), subject=report.email_subject, full_report=full))
        print(f"email: {write_eml(eml, message.as_bytes())}")
    if not email:
        return EXIT_OK
    targets = email_targets(config)
    from reports.mail import send

    settings = smtp_settings(config)
    status = EXIT_OK
    for report in targets:
        message = compose_email(config, report, result.outcome, None, full)
        sent = asyncio.run(send(message, settings))
        print(f"email: {report.name}: sent to {len(sent.accepted)} recipient(s)")
        for address, why in sent.refused.items():
            _err(f"email: {report.name}: REFUSED {address}: {why}")
            status = EXIT_DELIVERY
    return status


def email_targets(config: Config) -> list[ReportConfig]:
    """The reports ``run --email`` sends, or an error if it could send none of them."""
    targets = [r for r in config.reports if r.recipients]
    if not targets:
        raise ConfigError([Problem("--email", "needs recipients = [...] in a [[report]] entry of the config")])
    if config.smtp is None:
        raise ConfigError([Problem("--email", "needs an [smtp] table in the config")])
    return targets


def _parse_slot(value: str) -> tuple[str, datetime | None]:
    name, _, when = value.partition("@")
    if not when:
        return name, None
    try:
        return name, datetime.strptime(when, "%Y-%m-%dT%H:%M")
    except ValueError:
        raise ConfigError([Problem("--slot", f"expected NAME or NAME@YYYY-MM-DDTHH:MM (local time), got {value!r}")])\
            from None


def run_slot(config: Config, value: str, *, resend: bool = False) -> int:
    """``run --slot NAME[@LOCALTIME] [--resend]``: deliver report NAME for one slot, at most once.

    Without a time, the slot is the latest one due now on the report's schedule, so a cron
    line or a systemd timer that fires twice (or late, after downtime) sends once. While
    another process holds the slot, this one waits for its outcome, and takes the slot over if
    that process dies (its lease lapses). ``resend`` sends a slot again on purpose (it needs an
    explicit time). Exits 0 when the slot was delivered (now or before), 4 when it was not.
    """
    from aggregator.app.schedule import Scheduler, report_job
    from aggregator.collection.store import Store

    _logging()
    name, when = _parse_slot(value)
    if resend and when is None:
        raise ConfigError([Problem("--resend", f"name the slot to send again: --slot {name}@YYYY-MM-DDTHH:MM")])
    report = config.report_named(name)
    if not report.schedule:
        raise ConfigError([Problem(f"report {name}", "--slot needs a schedule on the report")])
    job = report_job(config, report)
    if when is None:
        slot = job.schedule.latest(utc_now())
        if slot is None:
            raise ConfigError([Problem("--slot", f"report {name!r} has no slot due in the past year")])
    else:
        slot = job.schedule.slot_at(when)
    with Store(config.store.path) as store:
        scheduler = Scheduler([job], store)

        async def go() -> tuple[str, Delivery | None]:
            scheduler.install_signal_handlers()
            return await scheduler.deliver_or_wait(job, slot, resend=resend)

        state, row = eventloop.run(go())
    where = f"slot {slot.key} of {name}"
    detail = f" ({row.detail})" if row and row.detail else ""
    if state == "released":
        print(f"{where}: stopped before sending; it will run again")
        return EXIT_INTERRUPTED
    if state == "taken":
        done = row.state if row else "taken"
        print(f"{where}: already {done}; not sent again{detail}"
              + ("; send it anyway with --resend" if done == "failed" else ""))
        return EXIT_DELIVERY if done == "failed" else EXIT_OK
    print(f"{where}: {state}{detail}")
    return EXIT_OK if state == "sent" and "REFUSED" not in detail else EXIT_DELIVERY


def schedule_command(config: Config) -> int:
    """``aggregator schedule -c CONFIG``: run every scheduled report until SIGTERM; exits 4 if a
    slot ended undelivered while it ran."""
    from aggregator.app.schedule import serve

    _logging()
    undelivered = eventloop.run(serve(config))
    if undelivered:
        _err(f"schedule: stopped; NOT DELIVERED: {', '.join(f'{s.report} {s.key}' for s in undelivered)} "
             "(see `aggregator deliveries`)")
        return EXIT_DELIVERY
    _err("schedule: stopped")
    return EXIT_OK
