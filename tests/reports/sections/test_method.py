"""The method section, and how a method's wording reaches the standings and index descriptions."""

from __future__ import annotations

from reports.model import build_view

from .conftest import row


def test_range_method_words_and_normalization(build_outcome):
    view = build_view(build_outcome(method="range"))
    assert view.meta.standing_label == "score (0-100)"
    assert view.indices[0].normalization == "documented scale 1-100 mapped onto 0-100"
    assert view.indices[2].normalization == (
        "documented scale 0-100 mapped onto 0-100; lower is better, so the order is flipped"
    )
    assert view.indices[3].normalization == "no documented upper limit: log-range over this cohort"
    assert view.method.title == "Documented scales mapped to 0-100"
    # klout 90 on 1-100: (90 - 1) / 99 * 100 = 89.9 -> 90
    assert row(view, "ada").cells[0].standing == 90
    assert any(" of 100" in d.sentence for d in view.disagreements)


def test_method_section_explains_percentiles(view):
    assert view.method.name == "percentile"
    assert "relative standing" in view.method.paragraphs[0]
    assert "above 25 points" in view.method.paragraphs[2]
    assert view.indices[3].measures == "share price in a social stock market"
