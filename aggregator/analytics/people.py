"""Agreement with people: how often each index, and the consensus, orders judged pairs as people did.

People judged pairs of subjects: of ``a`` and ``b``, the winner is the more influential. For one
index, a judged pair counts when the index scored both sides: 1 if it puts the people's winner
higher, 0 if lower, ½ if it gives both the same score. Its **share** is the mean over those
``n`` pairs; pairs it left a side of unscored are not counted (its ``n`` is smaller), and pairs
naming a subject that is not in the run are left out for everyone (``not_in_run``).

The 95 % interval is a **percentile bootstrap over the judged pairs**: resample the index's ``n``
pair outcomes with replacement, ``resamples`` times, and take the 2.5th and 97.5th percentiles
of the resampled shares. Each outcome is one of three values (agree, tie, disagree), so
resampling ``n`` pairs is exactly drawing the three counts from a multinomial with the
observed shares; that is what is drawn, with a fixed seed (same inputs, same interval).
Like every percentile interval it is too narrow when ``n`` is small or the share near 0 or 1
(with every pair agreeing it has no width at all), so below :data:`FEW_PAIRS` pairs no
interval is given, and such an index is told apart from none. In a simulation at 80 and 200
pairs and shares of 0.7 to 0.75 it holds the true share 95 % of the time (the tests check it).

Two intervals that do not overlap say the two orders agree with people at different rates;
overlapping intervals mean the data cannot tell them apart (a conservative reading: two
overlapping 95 % intervals can still hide a real difference).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from aggregator.analytics._arrays import FloatArray
from aggregator.analytics.compare import Comparison

#: the interval's coverage
LEVEL = 0.95
#: bootstrap resamples per index
RESAMPLES = 2000
SEED = 0
#: below this many judged pairs, a percentile bootstrap interval is too narrow to give
FEW_PAIRS = 30
#: the name of the consensus row (an index may not be called this: see ``PeopleAgreement.rows``)
CONSENSUS = "consensus"


@dataclass(frozen=True)
class IndexAgreement:
    """One index's (or the consensus's) agreement with people on the judged pairs it scored."""

    index: str
    #: True for the consensus row
    is_consensus: bool
    #: pairs where it puts the people's winner higher, equal, lower
    agree: int
    ties: int
    disagree: int
    #: ``(agree + ties / 2) / n``; NaN when ``n`` is 0
    share: float
    #: the interval's ends (NaN with fewer than FEW_PAIRS pairs)
    low: float
    high: float
    #: fitted on these judgments: its share is in-sample, not a test
    in_sample: bool = False

    @property
    def n(self) -> int:
        return self.agree + self.ties + self.disagree

    def differs_from(self, other: IndexAgreement) -> bool:
        """Their intervals do not overlap (both have one)."""
        return bool(self.low > other.high or other.low > self.high)  # False when either is NaN


@dataclass(frozen=True)
class PeopleAgreement:
    """Every index's agreement with people, in table order, then the consensus."""

    rows: tuple[IndexAgreement, ...]
    #: judged pairs given (after the reader dropped bad lines)
    judged: int
    #: of those, pairs naming a subject that is not in this run (unknown, opted out): used by no one
    not_in_run: int
    level: float = LEVEL
    resamples: int = RESAMPLES
    seed: int = SEED
    #: where the judgments came from (a file name), how many of its rows were unusable, how many judges it names
    source: str = ""
    skipped: int = 0
    judges: int = 0

    @property
    def usable(self) -> int:
        return self.judged - self.not_in_run

    def best_first(self) -> tuple[IndexAgreement, ...]:
        """Rows with pairs, highest share first (ties: more pairs first, then table order); then rows without."""
        scored = [r for r in self.rows if r.n]
        ordered = sorted(scored, key=lambda r: (-r.share, -r.n))
        return (*ordered, *(r for r in self.rows if not r.n))


def pair_outcomes(scores: FloatArray, winner_rows: Sequence[int], loser_rows: Sequence[int]) -> FloatArray:
    """``[pairs × columns]``: 1 where a column scores the winner higher, 0 lower, ½ equal, NaN unscored.

    ``scores`` is ``[subjects × columns]``, higher is better, NaN where a column did not score.
    """
    winners = scores[np.asarray(winner_rows, dtype=np.intp)]
    losers = scores[np.asarray(loser_rows, dtype=np.intp)]
    with np.errstate(invalid="ignore"):
        out: FloatArray = np.where(winners > losers, 1.0, np.where(winners < losers, 0.0, 0.5))
    out[np.isnan(winners) | np.isnan(losers)] = np.nan
    return out


def bootstrap_interval(agree: int, ties: int, disagree: int, *, level: float = LEVEL, resamples: int = RESAMPLES,
                       rng: np.random.Generator) -> tuple[float, float]:
    """Percentile bootstrap interval of ``(agree + ties / 2) / n`` over the ``n`` pair outcomes."""
    n = agree + ties + disagree
    if n == 0:
        return float("nan"), float("nan")
    counts = rng.multinomial(n, np.array([agree, ties, disagree], dtype=np.float64) / n, size=resamples)
    shares = (counts[:, 0] + 0.5 * counts[:, 1]) / n
    tail = (1.0 - level) / 2.0
    low, high = np.quantile(shares, [tail, 1.0 - tail])
    return float(low), float(high)


def agreement_with_people(
    subject_ids: Sequence[str],
    columns: Sequence[str],
    scores: FloatArray,
    judgments: Sequence[tuple[str, str]],
    *,
    consensus: FloatArray | None = None,
    in_sample: Sequence[str] = (),
    level: float = LEVEL,
    resamples: int = RESAMPLES,
    seed: int = SEED,
    min_pairs: int = FEW_PAIRS,
) -> PeopleAgreement:
    """Each column's (and the consensus's) agreement with ``judgments``, ``(winner id, loser id)`` each.

    ``scores`` is ``[subjects × columns]`` aligned with ``subject_ids``, oriented so that higher
    is better, NaN where not scored. ``in_sample`` names columns fitted on these judgments; a
    column with fewer than ``min_pairs`` judged pairs gets no interval.
    """
    row = {sid: i for i, sid in enumerate(subject_ids)}
    known = [(row[w], row[lo]) for w, lo in judgments if w in row and lo in row]
    table = scores if consensus is None else np.column_stack([scores, consensus])
    names = [*columns, *([CONSENSUS] if consensus is not None else [])]
    outcomes = pair_outcomes(table, [w for w, _ in known], [lo for _, lo in known])
    fitted = set(in_sample)
    rows = []
    for j, name in enumerate(names):
        column = outcomes[:, j]
        agree, ties = int(np.sum(column == 1.0)), int(np.sum(column == 0.5))
        disagree = int(np.sum(column == 0.0))
        n = agree + ties + disagree
        low, high = float("nan"), float("nan")
        if n >= min_pairs:
            # seeded by the counts: the same counts give the same interval, whichever column has them
            low, high = bootstrap_interval(agree, ties, disagree, level=level, resamples=resamples,
                                           rng=np.random.default_rng([seed, agree, ties, disagree]))
        rows.append(IndexAgreement(
            index=name, is_consensus=consensus is not None and j == len(columns),
            agree=agree, ties=ties, disagree=disagree,
            share=(agree + 0.5 * ties) / n if n else float("nan"), low=low, high=high,
            in_sample=name in fitted,
        ))
    return PeopleAgreement(rows=tuple(rows), judged=len(judgments), not_in_run=len(judgments) - len(known),
                           level=level, resamples=resamples, seed=seed)


def people_agreement(comparison: Comparison, judgments: Sequence[tuple[str, str]], *,
                     in_sample: Sequence[str] = ()) -> PeopleAgreement:
    """:func:`agreement_with_people` for a run: each index by its raw scores (oriented), and the consensus."""
    table = comparison.table
    direction = np.array([1.0 if spec.higher_is_better else -1.0 for spec in table.specs])
    return agreement_with_people(
        table.subject_ids, table.index_names, table.raw * direction, judgments,
        consensus=comparison.consensus, in_sample=in_sample,
    )


__all__ = [
    "CONSENSUS", "FEW_PAIRS", "LEVEL", "RESAMPLES", "SEED", "IndexAgreement", "PeopleAgreement",
    "agreement_with_people", "bootstrap_interval", "pair_outcomes", "people_agreement",
]
