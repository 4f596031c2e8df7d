"""``aggregator deliveries``: the delivery log of scheduled reports, one line per slot.

Shows each slot's state (``claimed`` while a process holds it, ``sent``, ``failed``,
``skipped``), how many sending attempts it took, and why it failed, so a report that was not
delivered is never silent. Exits 4 when a slot ended ``failed``.
"""

from __future__ import annotations

import argparse
import json
from datetime import datetime
from typing import TYPE_CHECKING, Any

from aggregator.cli.exits import EXIT_DELIVERY, EXIT_OK
from aggregator.cli.stored import add_store_options, store_path
from aggregator.models import utc_now

if TYPE_CHECKING:
    from aggregator.collection.store import Delivery


def register(commands: Any) -> None:
    """Add ``deliveries`` to the ``aggregator`` command's sub-commands."""
    deliveries = commands.add_parser(
        "deliveries", help="list scheduled reports' slots and whether each was delivered",
        description="List the delivery log: each scheduled report's slots, their state (claimed, sent, failed, "
                    "skipped), sending attempts, and what went wrong. Exits 4 if a listed slot failed.",
    )
    add_store_options(deliveries)
    deliveries.add_argument("--report", metavar="NAME", help="only this report's slots")
    deliveries.add_argument("--json", action="store_true", help="print JSON instead of a table")
    deliveries.set_defaults(handler=_deliveries)


def _deliveries(args: argparse.Namespace) -> int:
    from aggregator.collection.store import Store

    with Store(store_path(args)) as store:
        rows = store.deliveries(args.report)
    now = utc_now()
    if args.json:
        print(json.dumps([
            {"report": d.report, "slot": d.slot, "state": d.state, "attempts": d.attempts,
             "due_at": d.due_at.isoformat(), "claimed_by": d.claimed_by,
             "lease_until": d.lease_until.isoformat() if d.lease_until else None,
             "finished_at": d.finished_at.isoformat() if d.finished_at else None,
             "message_id": d.message_id, "detail": d.detail}
            for d in rows
        ], indent=2))
    else:
        if not rows:
            print("no scheduled report has run yet")
        for d in rows:
            print(f"{d.report:<16} {d.slot:<32} {_state(d, now):<40} {_count(d.attempts)}"
                  + (f"  {d.detail}" if d.detail else ""))
    return EXIT_DELIVERY if any(d.state == "failed" for d in rows) else EXIT_OK


def _state(row: Delivery, now: datetime) -> str:
    if row.state != "claimed":
        return "FAILED" if row.state == "failed" else str(row.state)
    if row.lease_lapsed(now):
        return f"claimed, lease LAPSED ({row.claimed_by})"
    return f"claimed by {row.claimed_by}"


def _count(attempts: int) -> str:
    return f"{attempts} attempt" + ("" if attempts == 1 else "s")
