"""The view-model against the hand arithmetic in conftest.py."""

from __future__ import annotations

import dataclasses
import subprocess
import sys

import numpy as np
import pytest

from aggregator.models import Failure, FailureKind, IndexSpec, Scale, Subject
from reports.model import MAX_FAILURES, ReportView, build_view, index_label, ordinal, raw_text


@pytest.fixture
def view(outcome) -> ReportView:
    return build_view(outcome)


def row(view: ReportView, subject_id: str):
    return next(r for r in view.standing if r.subject_id == subject_id)


def test_meta_describes_the_run(view):
    meta = view.meta
    assert meta.title == "Weekly influence report"
    assert meta.run_id == "run-2024-05-01"
    assert (meta.started_at, meta.finished_at) == ("2024-05-01T12:00:00Z", "2024-05-01T12:31:05Z")
    assert meta.started_text == "2024-05-01 12:00 UTC"
    assert meta.generated_by.startswith("influence-aggregator ")
    assert (meta.subjects, meta.indices, meta.opted_out) == (6, 4, 2)
    assert (meta.method, meta.threshold, meta.threshold_text) == ("percentile", 25.0, "25")


def test_naive_times_are_read_as_utc(build_outcome):
    outcome = build_outcome()
    naive = outcome.run.model_copy(update={"started_at": outcome.run.started_at.replace(tzinfo=None)})
    view = build_view(dataclasses.replace(outcome, run=naive))
    assert view.meta.started_at == "2024-05-01T12:00:00Z"


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


def test_summary_reads_as_plain_sentences(view):
    assert [(line.tone, line.text) for line in view.summary] == [
        ("info", "Leading by consensus (the middle of the indices' percentiles): Ada Lovelace "
                 "(87.5), Cy Young (50.0) and <script>alert(1)</script> (41.3)."),
        ("info", "The indices disagree sharply on 3 of the 5 subjects that two or more indices "
                 "scored: standings more than 25 points apart."),
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
        "The indices broadly agree: no subject's standings are more than 25 points apart "
        "(3 subjects compared).",
        "Every index answered without faults.",
    ]
    assert view.disagreements == ()


def test_a_whole_index_fault_reads_as_every_subject(build_outcome):
    failures = (
        Failure(index="kred", subject_id=None, kind=FailureKind.AUTH, message="HTTP 401"),
    )
    view = build_view(build_outcome(failures=failures))
    problems = [line.text for line in view.summary if line.tone == "problem"]
    assert problems == [
        "Kred refused our credentials for every subject (authentication; check the key)."
    ]
    (failure,) = view.failures
    assert (failure.subject, failure.whole_index) == ("whole index", True)


def test_index_health(view):
    klout, kred, peerindex, empire = view.indices
    assert (klout.label, klout.scale, klout.algorithm_version) == (
        "Klout", "1-100, higher is better", "2014-08",
    )
    assert (klout.coverage_pct, klout.coverage_text) == (83.3, "5 of 6 (83.3%)")
    assert (klout.status, klout.faults, klout.not_found) == ("ok", 0, 1)
    assert (kred.status_text, kred.faults, kred.retries) == ("Problems", 1, 2)
    assert [(f.kind, f.count, f.fault) for f in peerindex.failures] == [
        ("bad_payload", 1, True), ("not_found", 1, False),
    ]
    assert peerindex.scale == "0-100, lower is better"
    # retries: 4 attempts (3 extra) + 2 attempts (1 extra)
    assert (empire.retries, empire.coverage_pct, empire.scale) == (4, 66.7, "unbounded, higher is better")
    # examples in report order (kind, then roster), whatever order the failures came in
    assert empire.examples == ("HTTP 429", "HTTP 503 from vendor")


def test_failures_are_listed_in_report_order(view):
    assert [(f.index, f.subject, f.kind) for f in view.failures] == [
        ("Klout", "Eve Moss", "not_found"),
        ("Kred", "<script>alert(1)</script>", "timeout"),
        ("Peerindex", "<script>alert(1)</script>", "bad_payload"),  # faults before gaps
        ("Peerindex", "Eve Moss", "not_found"),
        ("Empire Avenue", "Eve Moss", "rate_limited"),
        ("Empire Avenue", "Cy Young", "server_error"),
    ]
    assert (view.failures_total, view.failures_more) == (6, 0)


def test_failures_are_capped_and_counted(build_outcome):
    many = tuple(
        Failure(index="kred", subject_id="eve", kind=FailureKind.TIMEOUT, message=f"try {n}")
        for n in range(MAX_FAILURES + 7)
    )
    view = build_view(build_outcome(failures=many))
    assert len(view.failures) == MAX_FAILURES
    assert (view.failures_total, view.failures_more) == (MAX_FAILURES + 7, 7)


def test_long_vendor_messages_are_cut(build_outcome):
    failure = Failure(index="kred", subject_id="eve", kind=FailureKind.SERVER_ERROR,
                      message="x" * 2000)
    view = build_view(build_outcome(failures=(failure,)))
    assert len(view.failures[0].message) == 300
    assert view.failures[0].message.endswith("…")


def test_failures_for_subjects_off_the_roster_are_not_named(build_outcome):
    failure = Failure(index="kred", subject_id="someone-else", kind=FailureKind.TIMEOUT, message="t")
    view = build_view(build_outcome(failures=(failure,)))
    assert view.failures[0].subject == "(subject not in this run)"
    assert "someone-else" not in view.model_dump_json()


def test_the_same_outcome_gives_the_same_view_whatever_the_failure_order(build_outcome, outcome):
    reordered = build_outcome(failures=tuple(reversed(outcome.failures)))
    assert build_view(reordered) == build_view(outcome)


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


def test_opted_out_is_only_a_count(view):
    assert isinstance(view.meta.opted_out, int)
    assert view.meta.opted_out == 2


def test_misaligned_subjects_are_refused(build_outcome, outcome):
    with pytest.raises(ValueError, match="aligned"):
        build_view(dataclasses.replace(outcome, subjects=tuple(reversed(outcome.subjects))))


def test_the_view_is_frozen(view):
    with pytest.raises(ValueError, match="frozen"):
        view.meta.title = "changed"


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


def test_ordinals_and_labels():
    assert [ordinal(n) for n in (1, 2, 3, 11, 12, 13, 22, 101, 111)] == [
        "1st", "2nd", "3rd", "11th", "12th", "13th", "22nd", "101st", "111th",
    ]
    assert index_label("empire_avenue") == "Empire Avenue"
    assert index_label("http-json") == "Http Json"


def test_importing_the_model_does_not_import_jinja2():
    code = "import sys, reports.model, reports.web; assert 'jinja2' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def present_sections(view) -> list[str]:
    """The sections a view should have: the five always there, and the analytics it computed."""
    optional = {"inversions": view.inversions, "agreement": view.agreement, "changes": view.changes}
    return [
        key for key in ("headline", "standing", "disagreements", "inversions", "agreement", "changes", "health",
                        "method")
        if optional.get(key, True) is not None
    ]


def test_sections_in_order_each_with_a_meaning(view):
    assert [s.id for s in view.sections] == present_sections(view)
    assert {"headline", "standing", "disagreements", "health", "method"} <= {s.id for s in view.sections}
    assert all(s.meaning.endswith(".") and len(s.meaning) > 40 for s in view.sections)


def test_headline_has_the_three_most_striking_disagreements(view):
    assert view.headline.leaders.startswith("Leading by consensus")
    names = [d.split(" (")[0] for d in view.headline.disputes]
    assert names == ["Dee Falcon", "<script>alert(1)</script>", "Bob Stone"]
    assert any("could not be reached" in e.text for e in view.headline.events)


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
    assert dee.explanation == (
        "Of Kred's components, outreach is highest for them (at the 90th percentile); engagement at the 10th."
    )
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


# --- analytics sections: shown when the comparison computed them (skipped on builds without) ----

def _needs(outcome, field: str) -> None:
    if getattr(outcome.comparison, field, None) is None:
        pytest.skip(f"this build's comparison has no {field}")


def test_inversion_rows_say_what_the_standings_say(outcome):
    _needs(outcome, "inversions")
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


def test_the_agreement_matrix_is_symmetric_with_levels_from_its_values(outcome):
    _needs(outcome, "agreement")
    view = build_view(outcome)
    ag = view.agreement
    assert ag is not None and ag.columns == tuple(i.label for i in view.indices)
    for i, r in enumerate(ag.rows):
        assert r.cells[i].level == "self"
        for j, cell in enumerate(r.cells):
            assert (cell.kendall, cell.n) == (ag.rows[j].cells[i].kendall, ag.rows[j].cells[i].n)
            if i == j or cell.kendall is None:
                continue
            if cell.kendall < 0:
                assert cell.level == "neg"
            else:  # five steps of 0.2: a0 is [0, 0.2), a4 is [0.8, 1]
                step = int(cell.level[1])
                assert 0.2 * step <= cell.kendall and (cell.kendall < 0.2 * (step + 1) or step == 4)
    assert ag.outlier is None or ag.outlier in ag.columns
    assert any(s.startswith("Overall agreement (Krippendorff's alpha") for s in ag.sentences)


def test_a_rescaled_index_is_one_event_and_nobody_moves(build_outcome):
    import inspect
    from dataclasses import replace

    from aggregator.analytics.compare import ScoreTable, compare_table

    if "previous" not in inspect.signature(compare_table).parameters:
        pytest.skip("this build does not compare with a previous run")
    outcome = build_outcome()
    table = outcome.comparison.table
    before = ScoreTable(table.subject_ids, table.specs, np.where(np.arange(4) == 0, table.raw / 0.8, table.raw))
    comparison = compare_table(table, previous=before, previous_run="run-2024-04-24", failures=outcome.failures)
    view = build_view(replace(outcome, comparison=comparison))
    assert view.changes is not None
    assert view.changes.previous_run == "run-2024-04-24"
    assert view.changes.movers == ()
    klout = view.changes.indices[0]
    assert klout.event and klout.sentence.startswith("Klout rescaled: median")
    assert any(e.text.startswith("Klout rescaled") for e in view.headline.events)
    assert [s.id for s in view.sections].index("changes") == [s.id for s in view.sections].index("health") - 1


def test_erased_histories_are_a_count_said_beside_the_opt_outs(build_outcome):
    from dataclasses import replace

    from reports.text import TextRenderer
    from reports.web import HtmlRenderer

    outcome = build_outcome()
    if not hasattr(outcome, "forgotten"):
        pytest.skip("this build's outcome does not count erased histories")
    view = build_view(replace(outcome, forgotten=1))
    assert (view.meta.opted_out, view.meta.forgotten) == (2, 1)
    assert "(2 opted out, not shown; the stored history of 1 erased at their request)" in HtmlRenderer().render(view)
    assert "(2 opted out, not shown; history of 1 erased)" in TextRenderer().render(view)
