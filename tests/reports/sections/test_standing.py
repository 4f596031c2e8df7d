"""The standing section: every subject by consensus, each index's rounded standing, raw score and bar."""

from __future__ import annotations

import numpy as np
import pytest

from aggregator.models import IndexSpec, Scale, Subject
from reports.model import build_view
from reports.sections.standing import raw_text

from .conftest import row


def test_standing_is_every_subject_by_consensus_with_unranked_last(view):
    assert [(r.rank, r.subject_id) for r in view.standing] == [
        (1, "ada"), (2, "cy"), (3, "xss"), (4, "bob"), (5, "dee"), (None, "eve"),
    ]
    # medians: ada (87.5+87.5)/2; cy 50; xss (70+12.5)/2 = 41.25; bob (30+37.5)/2 = 33.75
    assert [r.consensus for r in view.standing] == [87.5, 50.0, 41.3, 33.8, 25.0, None]
    assert [r.spread for r in view.standing] == [20.0, 12.5, 57.5, 52.5, 80.0, None]
    assert [r.n_indices for r in view.standing] == [4, 3, 2, 4, 4, 1]
    assert [r.flagged for r in view.standing] == [False, False, True, True, True, False]
    assert row(view, "cy").synthetic
    assert not row(view, "ada").synthetic


def test_cells_hold_rounded_standings_raw_text_and_bars(view):
    bob = row(view, "bob")
    # 37.5 and 62.5 round half up, not to even
    assert [c.standing for c in bob.cells] == [30, 10, 38, 63]
    assert [c.bar for c in bob.cells] == [30, 10, 38, 63]
    assert [c.raw for c in bob.cells] == ["40", "300", "50", "3.25"]
    cy = row(view, "cy")
    assert (cy.cells[3].standing, cy.cells[3].raw, cy.cells[3].bar) == (None, None, 0)


def test_only_flagged_subjects_name_a_dissenter(view):
    marked = {
        (r.subject_id, view.indices[j].name)
        for r in view.standing for j, c in enumerate(r.cells) if c.dissenter
    }
    # ada also has an index farthest from the others, but a spread of 20 is no dispute
    assert marked == {("bob", "empire_avenue"), ("dee", "kred")}


def test_equal_consensus_shares_a_rank(build_outcome):
    raw = np.array([[1.0, 3.0], [3.0, 1.0], [2.0, 2.0], [4.0, 4.0]])
    subjects = tuple(Subject(id=s, name=s) for s in "abcd")
    specs = (IndexSpec(name="klout"), IndexSpec(name="kred"))
    view = build_view(build_outcome(raw, subjects, specs, ()))
    assert [(r.rank, r.subject_id, r.consensus) for r in view.standing] == [
        # 4 subjects: percentiles 12.5, 37.5, 62.5, 87.5; a (12.5, 62.5), b (62.5, 12.5) and
        # c (37.5, 37.5) all have a median of 37.5
        (1, "d", 87.5), (2, "a", 37.5), (2, "b", 37.5), (2, "c", 37.5),
    ]


def test_bars_are_clamped_to_the_page(build_outcome):
    # a hand-made table can break its declared scale; the bar still fits its box
    raw = np.array([[150.0, 1.0], [50.0, 2.0]])
    subjects = (Subject(id="a", name="A"), Subject(id="b", name="B"))
    specs = (IndexSpec(name="klout", scale=Scale(lo=0, hi=100)), IndexSpec(name="kred"))
    view = build_view(build_outcome(raw, subjects, specs, (), method="range"))
    cell = row(view, "a").cells[0]
    assert cell.bar == 100 and cell.standing is not None and cell.standing >= 100


@pytest.mark.parametrize(
    ("value", "text"),
    [(61.5, "61.5"), (700.0, "700"), (0.126, "0.13"), (-0.001, "0"), (1e6, "1000000"),
     (float("nan"), None)],
)
def test_raw_text(value, text):
    assert raw_text(value) == text
