"""The disagreements section: the flagged subjects widest first, their odd one out, and the
component behind its score."""

from __future__ import annotations

from aggregator.models import Scale
from reports.model import build_view


def test_disagreements_are_the_flagged_subjects_widest_first(view):
    assert view.flagged_total == 3
    dee, xss, bob = view.disagreements
    assert (dee.subject_id, dee.spread, dee.dissenter, dee.gap, dee.others) == (
        "dee", 80.0, "Kred", 77.5, 13,
    )
    assert [s.standing for s in dee.standings] == [10, 90, 13, 38]
    assert [s.dissenter for s in dee.standings] == [False, True, False, False]
    assert dee.sentence == (
        "Kred puts Dee Falcon at the 90th percentile; the others put them near the 13th."
    )
    # bob: empire_avenue 62.5 against the others' median of (30, 10, 37.5) = 30
    assert (bob.dissenter, bob.gap, bob.others) == ("Empire Avenue", 32.5, 30)
    assert bob.sentence == (
        "Empire Avenue puts Bob Stone at the 63rd percentile; the others put them near the 30th."
    )
    # two indices: neither is the odd one out
    assert (xss.dissenter, xss.gap, xss.others, xss.spread) == (None, None, None, 57.5)
    assert xss.sentence == (
        "Klout puts <script>alert(1)</script> at the 70th percentile; "
        "Empire Avenue puts them at the 13th."
    )


def test_the_dissenters_components_explain_its_score(build_outcome):
    """Kred's components as percentiles among the 5 subjects it scored (mid-rank):
    outreach ada 1, bob 2, cy 3, dee 5, eve 4 -> dee 90; engagement reversed -> dee 10.
    Kred puts dee far above the others (90 vs 12.5), and outreach is the component up there."""
    from dataclasses import replace

    from aggregator.analytics.outcome import Components
    from aggregator.models import Reading

    outcome = build_outcome()
    outreach = {"ada": 1, "bob": 2, "cy": 3, "dee": 5, "eve": 4}
    readings = tuple(
        Reading(index="kred", subject_id=sid, value=500, scale=Scale(lo=1, hi=1000),
                components={"outreach": v, "engagement": 6 - v})
        for sid, v in outreach.items()
    )
    found = Components.of_readings(readings, outcome.comparison.table.subject_ids)
    view = build_view(replace(outcome, components=found))
    dee, xss, bob = view.disagreements
    assert dee.explanation == "Of Kred's components, outreach (at the 90th percentile) is high for them too."
    assert dee.components == "All Kred's components: engagement at the 10th and outreach at the 90th."
    assert bob.explanation is None  # Empire Avenue, bob's odd one out, has no components
    assert xss.explanation is None  # two indices: no odd one out to explain


def test_components_that_do_not_pull_the_same_way_explain_nothing(build_outcome):
    from dataclasses import replace

    from aggregator.analytics.outcome import Components
    from aggregator.models import Reading

    outcome = build_outcome()
    # every component puts dee at the bottom, yet Kred puts dee at the top: nothing to point at
    readings = tuple(
        Reading(index="kred", subject_id=sid, value=500, scale=Scale(lo=1, hi=1000),
                components={"a": v, "b": v})
        for sid, v in {"ada": 5, "bob": 4, "cy": 3, "dee": 1, "eve": 2}.items()
    )
    found = Components.of_readings(readings, outcome.comparison.table.subject_ids)
    assert build_view(replace(outcome, components=found)).disagreements[0].explanation is None


def test_components_that_restate_the_score_never_explain_it_and_at_most_three_are_named(build_outcome):
    """Kred puts dee at the top (90th); of five components pulling up, the spec says two restate the
    score: the three highest of the others are named, farthest first (ties by name), and every one is in
    the detail."""
    from dataclasses import replace

    from aggregator.analytics.outcome import Components
    from aggregator.models import Reading

    outcome = build_outcome()
    specs = tuple(s.model_copy(update={"restates_score": ("week_change", "bucket_high")}) if s.name == "kred" else s
                  for s in outcome.comparison.table.specs)
    table = replace(outcome.comparison.table, specs=specs)
    order = {"ada": 1, "bob": 2, "cy": 3, "dee": 5, "eve": 4}
    readings = tuple(
        Reading(index="kred", subject_id=sid, value=500, scale=Scale(lo=1, hi=1000),
                components={"week_change": v * 10, "bucket_high": v, "reach": v, "replies": v, "shares": v,
                            "audience": v if sid != "dee" else 3.5})
        for sid, v in order.items()
    )
    found = Components.of_readings(readings, outcome.comparison.table.subject_ids)
    outcome = replace(outcome, components=found, comparison=replace(outcome.comparison, table=table))
    dee = build_view(outcome).disagreements[0]
    assert dee.name == "Dee Falcon"
    assert "week change" not in dee.explanation and "bucket high" not in dee.explanation
    assert dee.explanation == (
        "Of Kred's components, reach (at the 90th percentile), replies (at the 90th) and shares (at the 90th) "
        "are high for them too."
    )
    assert dee.components == (
        "All Kred's components: audience at the 70th, reach at the 90th, replies at the 90th and shares at the 90th."
    )
