"""The rows a large report shows are chosen without sorting the whole roster, and are exactly the
rows, order and tie-breaks that sorting it gives."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from aggregator.analytics.compare import ScoreTable, compare_table
from aggregator.analytics.outcome import RunOutcome
from aggregator.models import IndexSpec, Run, Scale, Subject
from reports import model
from reports.model import build_view
from reports.sections._common import bottom_rows, top_rows
from reports.sections.standing import SHORTLIST_PAST, competition_ranks, ranks_of, standing_where
from reports.shortlist import shortlist_view


@pytest.mark.parametrize("seed", range(6))
def test_top_and_bottom_rows_are_the_ends_of_a_stable_sort(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 400))
    key = rng.integers(0, 6, n).astype(np.float64)  # few distinct values: ties everywhere
    key[rng.random(n) < 0.2] = -np.inf  # "no value", as the standing maps it
    order = np.argsort(-key, kind="stable")
    for k in (0, 1, 3, 7, n // 5, n - 1, n, n + 5):
        assert top_rows(key, k).tolist() == order[:max(k, 0)].tolist()
        assert bottom_rows(key, k).tolist() == order[max(n - k, 0):].tolist()


def test_ranks_of_some_rows_are_their_competition_ranks_among_all():
    rng = np.random.default_rng(3)
    consensus = rng.integers(0, 20, 500).astype(np.float64)
    consensus[rng.random(500) < 0.1] = np.nan
    order = np.argsort(-np.nan_to_num(consensus, nan=-np.inf), kind="stable")
    full = np.empty(500, dtype=np.int64)
    full[order] = competition_ranks(consensus[order])
    rows = rng.choice(500, 60, replace=False)
    assert ranks_of(consensus, rows).tolist() == full[rows].tolist()


def tied_outcome(n: int, seed: int = 11) -> RunOutcome:
    """A roster past the shortlist size whose scores take few values (many equal consensus values),
    with subjects one index scored (no consensus: the bottom of the standing) and a previous run
    (movers)."""
    rng = np.random.default_rng(seed)
    specs = tuple(IndexSpec(name=f"i{j}", scale=Scale(lo=0, hi=10)) for j in range(3))
    subjects = tuple(Subject(id=f"s{i:05d}", name=f"Subject {i}") for i in range(n))
    ids = tuple(s.id for s in subjects)

    def raw() -> np.ndarray:
        values = rng.integers(0, 11, (n, 3)).astype(np.float64)
        values[rng.random((n, 3)) < 0.15] = np.nan
        return values

    comparison = compare_table(ScoreTable(ids, specs, raw()), previous=ScoreTable(ids, specs, raw()),
                               previous_run="before")
    run = Run(id="now", started_at=datetime(2026, 12, 1, tzinfo=UTC), config_digest="0")
    return RunOutcome(run=run, subjects=subjects, comparison=comparison, failures=())


@pytest.mark.parametrize("n", [SHORTLIST_PAST + 1, 4_000])
def test_the_shortened_page_is_the_full_sorted_standing_filtered(n, monkeypatch):
    outcome = tied_outcome(n)
    consensus = outcome.comparison.consensus
    assert len(np.unique(consensus[~np.isnan(consensus)])) < n // 2  # ties are the point
    assert np.isnan(consensus).any()  # rows without a consensus: last, in roster order
    page = build_view(outcome)
    assert 0 < len(page.standing) < n
    with monkeypatch.context() as patched:
        patched.setattr(model, "SHORTLIST_PAST", n)  # the whole standing, sorted in full
        full = build_view(outcome)
    assert len(full.standing) == n
    assert page.meta.shortlist is not None
    # the full page, shortened afterwards by keeping the same ends, disputes and movers
    expected = shortlist_view(full, standing_where(n, None))
    assert expected.standing == page.standing
    assert expected.meta.shortlist == page.meta.shortlist
    assert page.disagreements == full.disagreements and page.summary == full.summary


def test_disputes_and_leaders_are_those_of_the_full_sort():
    outcome = tied_outcome(3_000, seed=4)
    comparison = outcome.comparison
    view = build_view(outcome)
    disputed = [int(i) for i in comparison.most_disputed(20) if comparison.flagged[i]]
    assert [d.subject_id for d in view.disagreements] == [outcome.subjects[i].id for i in disputed]
    leaders = [outcome.subjects[i].name for i in comparison.leaders(3)]
    assert len(leaders) == 3
    assert view.summary[0].text.split(": ", 1)[1].startswith(f"{leaders[0]} (")
    assert all(name in view.summary[0].text for name in leaders)
