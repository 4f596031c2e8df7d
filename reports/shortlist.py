"""A report whose standing lists only the subjects worth reading, made from a view already built.

Past :data:`~reports.sections.standing.SHORTLIST_PAST` subjects :func:`~reports.model.build_view`
shortens the standing itself (see :mod:`reports.sections.standing`). :func:`shortlist_view` does
the same to a view that holds every row; the email attaches it when even the page is over its
size cap (``report.email_attachment_max_mb``).
"""

from __future__ import annotations

from reports.model import ReportView
from reports.sections.standing import SHORTLIST_ENDS, shortlist_note


def shortlist_view(view: ReportView, where: str, *, ends: int = SHORTLIST_ENDS) -> ReportView:
    """``view`` with a standing of the top and bottom ``ends``, the listed disputed subjects and movers.

    ``where`` finishes the page's note: where the full standing is.
    """
    keep = {row.subject_id for row in view.standing[:ends]} | {row.subject_id for row in view.standing[-ends:]}
    keep |= {d.subject_id for d in view.disagreements}
    if view.changes is not None:
        keep |= {m.subject_id for m in view.changes.movers}
    rows = tuple(row for row in view.standing if row.subject_id in keep)
    if len(rows) == len(view.standing):
        return view
    note = shortlist_note(len(rows), view.meta.subjects, where, ends=ends)
    return view.model_copy(update={"standing": rows, "meta": view.meta.model_copy(update={"shortlist": note})})
