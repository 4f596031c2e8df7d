from __future__ import annotations

import sqlite3
from datetime import UTC, datetime

import pytest

from aggregator.collection.store import SCHEMA_VERSION, Store
from aggregator.errors import StoreError
from aggregator.models import Failure, FailureKind, IndexSpec, Reading, Run, Scale, Subject

SUBJECTS = [Subject(id="ann", name="Ann", handles={"twitter": "ann"}), Subject(id="bob", name="Bob")]
SPECS = [IndexSpec(name="klout", scale=Scale(lo=1, hi=100), algorithm_version="2"), IndexSpec(name="kred")]


def _run(run_id: str, minute: int = 0) -> Run:
    return Run(id=run_id, started_at=datetime(2026, 11, 2, 9, minute, tzinfo=UTC), config_digest="abc")


def test_round_trip_of_runs_subjects_specs_readings_failures(tmp_path):
    path = tmp_path / "h.sqlite"
    reading = Reading(index="klout", subject_id="ann", value=61.5, raw="61.50", scale=Scale(lo=1, hi=100),
                      algorithm_version="2", components={"reach": 3.5}, topics=("bacon", "jazz"))
    failure = Failure(index="kred", subject_id="bob", kind=FailureKind.TIMEOUT, attempts=3, message="kred: timed out")
    with Store(path) as store:
        store.start_run(_run("r1"), SUBJECTS, SPECS)
        store.add("r1", reading)
        store.add("r1", failure)
        store.finish_run("r1", datetime(2026, 11, 2, 9, 5, tzinfo=UTC))
    with Store(path) as store:  # a fresh connection reads what was committed
        assert store.schema_version == SCHEMA_VERSION
        run = store.run("r1")
        assert run.finished and run.counts.readings == 1 and run.counts.failures == 1
        assert store.subjects("r1") == SUBJECTS
        assert store.specs("r1") == SPECS
        assert store.readings("r1") == [("r1", reading)]
        assert store.failures("r1") == [failure]


def test_readings_are_queryable_by_subject_and_index_across_runs():
    with Store(":memory:") as store:
        for minute, run_id in enumerate(["r1", "r2"]):
            store.start_run(_run(run_id, minute), SUBJECTS, SPECS)
            store.add(run_id, Reading(index="klout", subject_id="ann", value=50 + minute))
            store.add(run_id, Reading(index="kred", subject_id="ann", value=500 + minute))
            store.add(run_id, Reading(index="kred", subject_id="bob", value=300))
        ann_klout = store.readings(subject_id="ann", index="klout")
        assert [(run_id, r.value) for run_id, r in ann_klout] == [("r1", 50), ("r2", 51)]
        assert len(store.readings("r2")) == 3
        assert store.previous_run("r2") is None  # r1 never finished
        store.finish_run("r1", datetime.now(UTC))
        previous = store.previous_run("r2")
        assert previous is not None and previous.id == "r1"


def test_a_reading_replaces_an_earlier_failure_and_answered_pairs_exclude_retriable_failures():
    with Store(":memory:") as store:
        store.start_run(_run("r1"), SUBJECTS, SPECS)
        store.add("r1", Failure(index="klout", subject_id="ann", kind=FailureKind.TIMEOUT, message="t"))
        store.add("r1", Failure(index="kred", subject_id="ann", kind=FailureKind.NOT_FOUND, message="n"))
        assert store.answered("r1") == {("kred", "ann")}
        store.add("r1", Reading(index="klout", subject_id="ann", value=5))
        assert store.failures("r1")[0].index == "kred"
        assert store.answered("r1") == {("kred", "ann"), ("klout", "ann")}


def test_forget_erases_a_subject_everywhere_even_from_the_file(tmp_path):
    path = tmp_path / "h.sqlite"
    with Store(path) as store:
        store.start_run(_run("r1"), SUBJECTS, SPECS)
        store.add("r1", Reading(index="klout", subject_id="ann", value=42.125, raw="needle-raw-value"))
        store.add("r1", Failure(index="kred", subject_id="ann", kind=FailureKind.TIMEOUT, message="t"))
        removed = store.forget(["ann"])
        store.vacuum()
        assert removed == {"readings": 1, "failures": 1, "runs": 1}
        assert [s.id for s in store.subjects("r1")] == ["bob"]
    data = path.read_bytes()
    assert b"needle-raw-value" not in data
    assert b"Ann" not in data


def test_unknown_run_and_newer_schema_are_clear_errors(tmp_path):
    path = tmp_path / "h.sqlite"
    with Store(path) as store, pytest.raises(StoreError, match="no run 'nope'"):
        store.run("nope")
    with sqlite3.connect(path) as db:
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(StoreError, match="newer influence-aggregator"):
        Store(path)


def test_not_a_database_is_a_store_error(tmp_path):
    path = tmp_path / "junk.sqlite"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match="cannot open"):
        Store(path)


def test_results_are_committed_in_groups_and_a_crash_loses_at_most_the_last(tmp_path):
    path = tmp_path / "h.sqlite"
    many = [Subject(id=f"s{i}", name="S") for i in range(7)]
    with Store(path) as store:
        store.start_run(_run("r1"), many, SPECS)
        writer = store.writer("r1")
        writer.size = 3
        for subject in many:
            writer(Reading(index="kred", subject_id=subject.id, value=1))
        # the process dies here: the writer is never closed, its last group never committed
    with Store(path) as store:
        assert {r.subject_id for _, r in store.readings("r1")} == {f"s{i}" for i in range(6)}
        assert ("kred", "s6") not in store.answered("r1")  # a resumed run asks for it again
        with store.writer("r1") as sink:  # a writer that is closed commits what it holds
            sink(Reading(index="kred", subject_id="s6", value=1))
        assert len(store.readings("r1")) == 7


def test_a_writer_of_a_resumed_run_replaces_its_stored_failures_and_a_fresh_one_keeps_each_answer(tmp_path):
    path = tmp_path / "h.sqlite"
    with Store(path) as store:
        store.start_run(_run("r1"), SUBJECTS, SPECS)
        with store.writer("r1") as sink:  # a fresh run: one answer per pair, failures beside readings
            sink(Failure(index="kred", subject_id="ann", kind=FailureKind.TIMEOUT, message="t"))
            sink(Reading(index="klout", subject_id="ann", value=5))
            sink(Reading(index="kred", subject_id="bob", value=7))
        assert [(f.index, f.subject_id) for f in store.failures("r1")] == [("kred", "ann")]
    with Store(path) as store:  # resumed: the timed-out pair is asked again and answered
        with store.writer("r1") as sink:
            sink(Reading(index="kred", subject_id="ann", value=6))
        assert store.failures("r1") == []
        assert sorted((r.index, r.subject_id, r.value) for _, r in store.readings("r1")) == [
            ("klout", "ann", 5), ("kred", "ann", 6), ("kred", "bob", 7)]
