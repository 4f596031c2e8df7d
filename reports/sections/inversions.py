"""Pairwise inversions: pairs of subjects that two indices put in opposite order by a wide margin
(present only when the comparison computed them).
"""

from __future__ import annotations

from collections.abc import Sequence

from aggregator.analytics.compare import Comparison
from aggregator.models import Subject
from reports.sections._common import View, Wording, half_up

#: how many inversions the report lists
MAX_INVERSIONS = 20


class InversionRow(View):
    """Index ``by`` puts ``above`` over ``below``; index ``against`` says the opposite."""

    above: str
    below: str
    by: str
    against: str
    #: standings under each index, rounded: (above, below)
    by_standings: tuple[int, int]
    against_standings: tuple[int, int]
    sentence: str


class InversionsView(View):
    rows: tuple[InversionRow, ...]
    #: how many inversions the comparison found (the list holds at most MAX_INVERSIONS)
    total: int


def inversions_view(
    comparison: Comparison, subjects: Sequence[Subject], labels: Sequence[str], wording: Wording
) -> InversionsView | None:
    found = getattr(comparison, "inversions", None)
    if not found:
        return None
    standing = half_up(comparison.normalized, 0)
    rows = []
    for inv in list(found)[:MAX_INVERSIONS]:
        a, b = subjects[inv.above].name, subjects[inv.below].name
        by = (int(standing[inv.above, inv.by]), int(standing[inv.below, inv.by]))
        against = (int(standing[inv.above, inv.against]), int(standing[inv.below, inv.against]))
        sentence = (
            f"{labels[inv.by]} puts {a} above {b} ({by[0]} vs {by[1]}); "
            f"{labels[inv.against]} puts {b} above {a} ({against[1]} vs {against[0]})."
        )
        rows.append(InversionRow(
            above=a, below=b, by=labels[inv.by], against=labels[inv.against],
            by_standings=by, against_standings=against, sentence=sentence,
        ))
    return InversionsView(rows=tuple(rows), total=len(found))
