"""The headline and the summary lines it opens with, as plain sentences."""

from __future__ import annotations

import numpy as np

from aggregator.models import Failure, FailureKind, IndexSpec, Subject
from reports.model import build_view


def test_summary_reads_as_plain_sentences(view):
    assert [(line.tone, line.text) for line in view.summary] == [
        ("info", "Leading by consensus (the middle of the indices' percentiles): Ada Lovelace "
                 "(87.5), Cy Young (50.0) and <script>alert(1)</script> (41.3)."),
        ("info", "The indices' overall agreement is weak (Krippendorff's alpha 0.24). 3 of the 5 subjects that "
                 "two or more indices scored are disputed: their standings are more than 25 points apart."),
        ("info", "Most disputed: Dee Falcon (spread 80.0 points). Kred puts Dee Falcon at the "
                 "90th percentile; the others put them near the 13th."),
        ("problem", "Kred could not be reached for 1 of 6 subjects (timeout)."),
        ("problem", "Peerindex sent answers we could not read for 1 of 6 subjects."),
        ("problem", "Empire Avenue kept rate-limiting us and gave no score for 1 of 6 subjects."),
        ("problem", "Empire Avenue failed with server errors for 1 of 6 subjects."),
    ]


def test_summary_without_faults_or_disputes(build_outcome):
    raw = np.array([[10.0, 1.0], [20.0, 2.0], [30.0, 3.0]])
    subjects = tuple(Subject(id=s, name=s.upper()) for s in ("a", "b", "c"))
    specs = (IndexSpec(name="klout"), IndexSpec(name="kred"))
    failures = (Failure(index="kred", subject_id=None, kind=FailureKind.NOT_FOUND, message="-"),)
    view = build_view(build_outcome(raw, subjects, specs, failures))
    assert [line.text for line in view.summary] == [
        "Leading by consensus (the middle of the indices' percentiles): C (83.3), B (50.0) "
        "and A (16.7).",
        "The indices' overall agreement is strong (Krippendorff's alpha 1.00). No subject is disputed: no one's "
        "standings are more than 25 points apart (3 subjects compared).",
        "Every index answered without faults.",
    ]
    assert view.disagreements == ()


def test_headline_has_the_three_most_striking_disagreements(view):
    assert view.headline.leaders.startswith("Leading by consensus")
    names = [d.split(" (")[0] for d in view.headline.disputes]
    assert names == ["Dee Falcon", "<script>alert(1)</script>", "Bob Stone"]
    assert any("could not be reached" in e.text for e in view.headline.events)


def test_by_default_the_disputed_are_the_few_whose_spread_is_unusual_for_the_roster(build_outcome):
    """Five indices that agree moderately (each the truth plus noise) on 400 subjects: a fixed 25
    points flags a large share; the roster's own rule flags a few, and the headline tells both
    the agreement and the count, the Method says how the threshold was read."""
    from aggregator.analytics.compare import compare_table

    rng = np.random.default_rng(5)
    truth = rng.random(400)
    raw = np.stack([truth + rng.normal(0, 0.25, 400) for _ in range(5)], axis=1)
    subjects = tuple(Subject(id=f"s{i}", name=f"S{i}") for i in range(400))
    specs = tuple(IndexSpec(name=f"index{j}") for j in range(5))
    outcome = build_outcome(raw, subjects, specs, ())
    fixed = compare_table(outcome.comparison.table, threshold=25.0)
    roster = compare_table(outcome.comparison.table, threshold=None)
    assert roster.threshold_rule == "unusual" and roster.threshold > 25
    assert fixed.flagged.mean() > 0.3 and 0 < roster.flagged.mean() < 0.1
    from dataclasses import replace

    view = build_view(replace(outcome, comparison=roster))
    story = view.headline.story
    assert story.startswith("The indices' overall agreement is ")
    assert f"{int(roster.flagged.sum())} of 400 subjects are disputed" in story
    assert "points apart, further than is usual on this roster." in story
    assert "read off this roster" in view.method.paragraphs[-1]
