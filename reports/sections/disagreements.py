"""Disagreements: the flagged subjects, widest spread first, the index that is the odd one out
and, when it has components, the one behind its score; and the topics only one index claims.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from aggregator.analytics.compare import Comparison, row_nanmedian
from aggregator.analytics.normalize import normalize
from aggregator.analytics.outcome import Components, RunOutcome
from aggregator.models import IndexSpec, Subject
from reports.sections._common import View, Wording, half_up, index_label, join, opt_int, top_rows

#: How many of the widest flagged disagreements the report lists.
MAX_DISAGREEMENTS = 20
#: A dissenting score is explained by its components only if it has at least this many.
MIN_COMPONENTS = 2
#: Most components an explanation names; the rest are in its detail.
MAX_NAMED_COMPONENTS = 3
#: how many lone topic claims the report lists
MAX_LONE_TOPICS = 20


class IndexStanding(View):
    index: str
    standing: int | None
    dissenter: bool


class Disagreement(View):
    subject_id: str
    name: str
    spread: float
    #: label of the index farthest from the others; None with only two indices
    dissenter: str | None
    #: how far the dissenter is from the median of the others (points)
    gap: float | None
    #: the others' median standing, rounded
    others: int | None
    #: aligned with :attr:`~reports.model.ReportView.indices`
    standings: tuple[IndexStanding, ...]
    sentence: str
    #: which of the dissenting index's own components explains its score, when it has components
    explanation: str | None = None
    #: every component's standing behind the explanation, for the detail
    components: str | None = None


class LoneTopicRow(View):
    name: str
    index: str
    topic: str


def _component_percentiles(components: Components) -> NDArray[np.float64]:
    """An index's components as percentiles within the cohort, ``[subjects × components]``."""
    specs = [IndexSpec(name=f"c{j}") for j in range(len(components.names))]
    return normalize(components.values, specs, "percentile") if components.names else components.values


def explanations(
    outcome: RunOutcome, rows: Sequence[int], labels: Sequence[str], wording: Wording
) -> dict[int, tuple[str, str]]:
    """For each disputed row whose dissenting index has components: the few behind it, and all of them.

    Descriptive, not causal: among the dissenter's own components (each as a standing in the
    cohort), those on the same side of the other indices' middle as the index itself, the
    farthest first, at most :data:`MAX_NAMED_COMPONENTS` of them; components the index's spec
    says restate the score (its changes, its bounds) are left out, since they explain nothing.
    The second text gives every component's standing, for the detail.
    """
    comparison = outcome.comparison
    if not outcome.components or not rows:
        return {}
    table = comparison.table
    cache: dict[int, tuple[tuple[str, ...], NDArray[np.float64]]] = {}
    out: dict[int, tuple[str, str]] = {}
    for i in rows:
        d = int(comparison.dissenter[i])
        if d < 0:
            continue
        if d not in cache:
            given = outcome.components.get(table.specs[d].name, Components((), np.empty((0, 0))))
            cache[d] = given.names, _component_percentiles(given)
        names, pct = cache[d]
        mine = pct[i] if names else np.zeros(0)
        restating = set(table.specs[d].restates_score)
        known = [k for k in range(len(names)) if not np.isnan(mine[k]) and names[k] not in restating]
        if len(known) < MIN_COMPONENTS:
            continue
        others = comparison.normalized[i].copy()
        others[d] = np.nan
        middle = float(row_nanmedian(others[None, :])[0])
        below = comparison.normalized[i, d] < middle
        pulling = sorted((k for k in known if (mine[k] < middle if below else mine[k] > middle)),
                         key=lambda k: mine[k] if below else -mine[k])[:MAX_NAMED_COMPONENTS]
        if not pulling:
            continue  # no component pulls the way the index does: nothing to point at
        rounded = half_up(mine, 0)
        named = [
            f"{index_label(names[k]).lower()} ({(wording.at if n == 0 else wording.bare)(int(rounded[k]))})"
            for n, k in enumerate(pulling)
        ]
        verb = "is" if len(named) == 1 else "are"
        text = f"Of {labels[d]}'s components, {join(named)} {verb} {'low' if below else 'high'} for them too."
        detail = f"All {labels[d]}'s components: " + join(
            [f"{index_label(names[k]).lower()} {wording.bare(int(rounded[k]))}" for k in known]
        ) + "."
        out[i] = (text, detail)
    return out


def disputed_rows(comparison: Comparison) -> list[int]:
    """The rows the disagreements list: the widest spreads among the flagged, widest first."""
    spread = np.nan_to_num(comparison.spread, nan=-1.0)
    flagged = comparison.flagged
    # comparison.most_disputed(k), without sorting the whole roster for twenty rows
    widest = top_rows(spread, min(MAX_DISAGREEMENTS, int(np.count_nonzero(spread >= 0))))
    return [int(i) for i in widest if flagged[i]]


def disagreement_rows(
    comparison: Comparison,
    subjects: Sequence[Subject],
    labels: Sequence[str],
    standing: NDArray[np.float64],
    wording: Wording,
    rows: list[int] | None = None,
) -> list[Disagreement]:
    """One row per disputed subject (``rows``, else :func:`disputed_rows`), widest spread first."""
    rows = disputed_rows(comparison) if rows is None else rows
    if not rows:
        return []
    normalized = comparison.normalized[rows]
    dissenters = comparison.dissenter[rows]
    others_all = normalized.copy()
    has = dissenters >= 0
    others_all[np.flatnonzero(has), dissenters[has]] = np.nan
    others = half_up(row_nanmedian(others_all), 0)
    out = []
    for k, i in enumerate(rows):
        name = subjects[i].name
        d = int(dissenters[k])
        cells = standing[i]
        if d >= 0:
            sentence = (
                f"{labels[d]} puts {name} {wording.at(int(cells[d]))}; "
                f"the others put them {wording.near(int(others[k]))}."
            )
        else:  # two indices: neither is the odd one out
            known = sorted(
                (j for j in range(len(labels)) if not np.isnan(cells[j])), key=lambda j: -cells[j]
            )
            first, *rest = known
            tail = "; ".join(f"{labels[j]} puts them {wording.bare(int(cells[j]))}" for j in rest)
            sentence = f"{labels[first]} puts {name} {wording.at(int(cells[first]))}; {tail}."
        out.append(
            Disagreement(
                subject_id=subjects[i].id,
                name=name,
                spread=float(half_up(comparison.spread[i : i + 1], 1)[0]),
                dissenter=labels[d] if d >= 0 else None,
                gap=float(half_up(comparison.dissent_gap[i : i + 1], 1)[0]) if d >= 0 else None,
                others=int(others[k]) if d >= 0 else None,
                standings=tuple(
                    IndexStanding(index=labels[j], standing=opt_int(cells[j]), dissenter=j == d)
                    for j in range(len(labels))
                ),
                sentence=sentence,
            )
        )
    return out


def lone_topics(comparison: Comparison, subjects: Sequence[Subject], labels: Sequence[str]) -> list[LoneTopicRow]:
    topics = getattr(comparison, "topics", None)
    if topics is None:
        return []
    return [
        LoneTopicRow(name=subjects[t.row].name, index=labels[t.index], topic=t.topic)
        for t in list(topics.lone)[:MAX_LONE_TOPICS]
    ]
