"""Pairwise inversions: each row says what the two indices' standings say."""

from __future__ import annotations

from reports.model import build_view

from .conftest import needs, row


def test_inversion_rows_say_what_the_standings_say(outcome):
    needs(outcome, "inversions")
    view = build_view(outcome)
    assert view.inversions is not None and view.inversions.rows
    labels = [i.label for i in view.indices]
    for inv in view.inversions.rows:
        above, below = row(view, _id(view, inv.above)), row(view, _id(view, inv.below))
        by, against = labels.index(inv.by), labels.index(inv.against)
        assert (inv.by_standings.above, inv.by_standings.below) == (above.cells[by].standing, below.cells[by].standing)
        assert (inv.against_standings.above, inv.against_standings.below) == (
            above.cells[against].standing, below.cells[against].standing)
        assert inv.by_standings.above > inv.by_standings.below
        assert inv.against_standings.above < inv.against_standings.below
        assert inv.sentence == (
            f"{inv.by} puts {inv.above} above {inv.below} ({inv.by_standings.above} vs {inv.by_standings.below}); "
            f"{inv.against} puts {inv.below} above {inv.above} "
            f"({inv.against_standings.below} vs {inv.against_standings.above})."
        )
    assert "inversions" in [s.id for s in view.sections]


def _id(view, name: str) -> str:
    return next(r.subject_id for r in view.standing if r.name == name)


def test_the_count_is_every_pair_meeting_the_rule_and_the_list_is_grouped_by_subject(outcome):
    needs(outcome, "inversions")
    view = build_view(outcome)
    inv = view.inversions
    counts = outcome.comparison.inversion_counts
    assert inv.total == int(counts.sum()) // 2 == sum(p.count for p in inv.by_pair)
    assert inv.summary.startswith(f"{inv.total:,} pair")
    assert [p.count for p in inv.by_pair] == sorted((p.count for p in inv.by_pair), reverse=True)
    grouped = [r for g in inv.groups for r in g.rows]
    assert sorted(grouped, key=inv.rows.index) == list(inv.rows)  # every listed row, once
    for g in inv.groups:
        assert all(g.subject in (r.above, r.below) for r in g.rows)
