"""Pairwise inversions: pairs of subjects that two indices put in opposite order by a wide margin
(present only when the comparison computed them).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from aggregator.analytics.compare import Comparison
from aggregator.models import Subject
from reports.sections._common import View, Wording, half_up, plural, points_text

#: how many inversions the report lists
MAX_INVERSIONS = 20


class StandingPair(View):
    """Two subjects' standings under one index, named rather than by position."""

    above: int
    below: int


class InversionRow(View):
    """Index ``by`` puts ``above`` over ``below``; index ``against`` says the opposite."""

    above: str
    below: str
    by: str
    against: str
    #: the two subjects' standings under each index, rounded
    by_standings: StandingPair
    against_standings: StandingPair
    sentence: str


class PairCount(View):
    """How many subject pairs two indices order oppositely by at least the threshold."""

    first: str
    second: str
    count: int


class InversionGroup(View):
    """The listed inversions one subject is part of (each listed once, under its most frequent subject)."""

    subject: str
    rows: tuple[InversionRow, ...]


class InversionsView(View):
    rows: tuple[InversionRow, ...]
    #: the same rows grouped by the subject they share, groups in order of their strongest row
    groups: tuple[InversionGroup, ...]
    #: how many subject pairs meet the rule, counted once per pair of indices that disagrees on
    #: them (all of them, not only the listed ones; see ``aggregator.analytics.inversions.count_inversions``)
    total: int
    #: the same count by pair of indices, most first (pairs with none left out)
    by_pair: tuple[PairCount, ...]
    #: the count and the list in words
    summary: str


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
            by_standings=StandingPair(above=by[0], below=by[1]),
            against_standings=StandingPair(above=against[0], below=against[1]), sentence=sentence,
        ))
    by_pair = _pair_counts(comparison, labels)
    total = sum(p.count for p in by_pair) if by_pair else len(found)
    return InversionsView(
        rows=tuple(rows), groups=_groups(rows), total=total, by_pair=by_pair,
        summary=_summary(total, by_pair, len(rows), points_text(comparison.threshold), wording),
    )


def _pair_counts(comparison: Comparison, labels: Sequence[str]) -> tuple[PairCount, ...]:
    counts = getattr(comparison, "inversion_counts", None)
    if counts is None:
        return ()
    pairs = [
        PairCount(first=labels[x], second=labels[y], count=int(counts[x, y]))
        for x in range(len(labels)) for y in range(x + 1, len(labels)) if counts[x, y]
    ]
    return tuple(sorted(pairs, key=lambda p: -p.count))


def _groups(rows: Sequence[InversionRow]) -> tuple[InversionGroup, ...]:
    """Each row under whichever of its two subjects the list names more often (the first named on a tie)."""
    seen = Counter(name for row in rows for name in (row.above, row.below))
    grouped: dict[str, list[InversionRow]] = {}
    for row in rows:
        key = row.below if seen[row.below] > seen[row.above] else row.above
        grouped.setdefault(key, []).append(row)
    return tuple(InversionGroup(subject=name, rows=tuple(members)) for name, members in grouped.items())


def _summary(total: int, by_pair: Sequence[PairCount], shown: int, threshold: str, wording: Wording) -> str:
    text = (
        f"{plural(total, 'pair')} of subjects are put in opposite order by two indices, each by {threshold} "
        f"points or more on their {wording.plural} (counted once for each pair of indices that disagrees, "
        "so a pair of subjects can count more than once)."
    )
    if len(by_pair) > 1:
        top = by_pair[0]
        text += f" Most between {top.first} and {top.second} ({top.count:,})."
    return text + f" The {shown} most striking are listed, grouped by subject."
