"""Topics the indices attribute to a subject: how much they overlap, and which only one index claims.

Where adapters return topics ("influential about bacon"), each subject that two or more indices
gave topics for gets the mean pairwise Jaccard overlap of those topic sets, and every topic
that exactly one of them claims is listed, so lone claims stand out. Topics compare without
case and surrounding space; the text kept is the first index's spelling.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from itertools import combinations

import numpy as np

from aggregator.analytics._arrays import FloatArray, IntArray


@dataclass(frozen=True)
class LoneTopic:
    """A topic only one index attributes to a subject (among the indices that gave topics)."""

    row: int
    index: int
    topic: str


@dataclass(frozen=True, eq=False)
class Topics:
    """Per subject (table rows): how many indices gave topics, their overlap, and the lone claims."""

    #: indices that gave at least one topic for the subject
    n_indices: IntArray
    #: mean pairwise Jaccard overlap of the topic sets; NaN with fewer than two sets
    jaccard: FloatArray
    #: lone claims, by row then index then topic
    lone: tuple[LoneTopic, ...]


def topic_overlap(n_rows: int, topics: Mapping[tuple[int, int], tuple[str, ...]]) -> Topics:
    """``topics`` maps ``(row, column)`` to the topics that index gave that subject."""
    by_row: dict[int, dict[int, dict[str, str]]] = {}
    for (row, col), names in topics.items():
        cleaned = {name.strip().casefold(): name.strip() for name in reversed(names) if name.strip()}
        if cleaned:
            by_row.setdefault(row, {})[col] = cleaned
    n_indices = np.zeros(n_rows, dtype=np.int64)
    jaccard = np.full(n_rows, np.nan)
    lone: list[LoneTopic] = []
    for row in sorted(by_row):  # only subjects with topics; few indices each
        sets = by_row[row]
        n_indices[row] = len(sets)
        if len(sets) < 2:
            continue
        overlaps = [len(sets[a].keys() & sets[b].keys()) / len(sets[a].keys() | sets[b].keys())
                    for a, b in combinations(sorted(sets), 2)]
        jaccard[row] = float(np.mean(overlaps))
        for col in sorted(sets):
            others = set().union(*(sets[c].keys() for c in sets if c != col))
            lone.extend(LoneTopic(row, col, sets[col][key]) for key in sorted(sets[col].keys() - others))
    return Topics(n_indices=n_indices, jaccard=jaccard, lone=tuple(lone))
