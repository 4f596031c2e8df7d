"""A report that lists only the subjects worth reading when the whole roster is too much to carry.

:func:`shortlist_view` keeps the standing's top and bottom rows, the disagreements and the
movers the report lists, in standing order, and says so in the page; every other section is
unchanged (their figures are about the whole roster). The email attaches it when the full page
is over its size cap (``report.email_attachment_max_mb``).
"""

from __future__ import annotations

from reports.model import ReportView

#: rows kept at each end of the standing
SHORTLIST_ENDS = 100


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
    note = (
        f"This copy lists {len(rows):,} of the {len(view.standing):,} subjects: the top and bottom "
        f"{ends:,} by consensus, the most disputed and the biggest movers; every figure about the "
        f"whole roster still counts all {len(view.standing):,}. {where}"
    )
    return view.model_copy(update={"standing": rows, "meta": view.meta.model_copy(update={"shortlist": note})})
