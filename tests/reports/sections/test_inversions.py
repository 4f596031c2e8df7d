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
        assert inv.by_standings == (above.cells[by].standing, below.cells[by].standing)
        assert inv.against_standings == (above.cells[against].standing, below.cells[against].standing)
        assert inv.by_standings[0] > inv.by_standings[1] and inv.against_standings[0] < inv.against_standings[1]
        assert inv.sentence == (
            f"{inv.by} puts {inv.above} above {inv.below} ({inv.by_standings[0]} vs {inv.by_standings[1]}); "
            f"{inv.against} puts {inv.below} above {inv.above} "
            f"({inv.against_standings[1]} vs {inv.against_standings[0]})."
        )
    assert "inversions" in [s.id for s in view.sections]


def _id(view, name: str) -> str:
    return next(r.subject_id for r in view.standing if r.name == name)
