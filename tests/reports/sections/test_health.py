"""Index health: coverage, faults and retries per index, and the failures listed in report order."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from aggregator.models import Failure, FailureKind, Failures, Subject
from reports.model import build_view
from reports.sections.health import MAX_EXAMPLES, MAX_FAILURES, fault_examples, faults_of, in_report_order


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


def _report_order_by_definition(failures, roster, index_names):
    """What in_report_order must give: index by index (unknown indices last, by name), faults before
    coverage gaps, kind, roster position (whole-index first, off-roster last), message."""
    position = {sid: n for n, sid in enumerate(roster)}
    column = {name: j for j, name in enumerate(index_names)}
    kinds = list(FailureKind)
    return sorted(failures, key=lambda f: (
        column.get(f.index, len(column)), f.index, f.kind.is_coverage_gap, kinds.index(f.kind),
        -1 if f.subject_id is None else position.get(f.subject_id, len(roster)), f.message))


@pytest.mark.parametrize("columns", [False, True])
def test_report_order_sorts_on_the_columns_as_the_definition_sorts_the_failures(columns):
    rng = np.random.default_rng(8)
    roster = [f"s{i}" for i in range(40)]
    subjects = tuple(Subject(id=sid, name=f"Name {sid}") for sid in roster)
    names = ["kred", "klout", "zeta"]  # "zeta" and "alpha" are not in the table: last, by name
    kinds = list(FailureKind)

    def one() -> Failure:
        return Failure(index=str(rng.choice([*names, "alpha"])), kind=kinds[int(rng.integers(len(kinds)))],
                       subject_id=None if rng.random() < 0.05 else str(rng.choice([*roster, "off-roster"])),
                       message=str(rng.choice(["HTTP 500", "HTTP 429", "timed out", "b"])))

    failures = [one() for _ in range(600)]
    given = Failures.of(failures) if columns else tuple(failures)
    ordered = in_report_order(given, subjects, names)
    assert list(ordered) == _report_order_by_definition(failures, roster, names)
    faults_only = in_report_order(faults_of(given), subjects, names)
    for name in [*names, "alpha"]:  # the examples: first distinct fault messages of each index, in that order
        faults = [f.message for f in ordered if f.index == name and not f.kind.is_coverage_gap]
        assert fault_examples(ordered, name) == tuple(dict.fromkeys(faults))[:MAX_EXAMPLES]
        assert fault_examples(faults_only, name) == fault_examples(ordered, name)
    assert all(not f.kind.is_coverage_gap for f in faults_only)
    # the first few only: the same as the head of the whole order, at every size (inside a group, at its end)
    for limit in (0, 1, 7, 50, 151, 599, 600, 700):
        assert list(in_report_order(given, subjects, names, limit=limit)) == list(ordered)[:limit]


def test_a_run_read_back_as_columns_gives_the_view_of_the_same_failures_as_objects(build_outcome):
    outcome = build_outcome()
    as_columns = dataclasses.replace(outcome, failures=Failures.of(reversed(outcome.failures)))
    assert build_view(as_columns) == build_view(outcome)
