"""A run read back as columns is the same table as built from every stored Reading one by one,
and the columnar copy of a finished run (schema 6) reads back exactly what its rows read back.

The copy is compared with the run's rows read again, array bytes for array bytes, after resume,
after forget, and in a file upgraded from schema 5.
"""

from __future__ import annotations

import sqlite3
import struct
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from aggregator.analytics.compare import ScoreTable, compare_table, index_health
from aggregator.analytics.outcome import Components
from aggregator.app.history import outcome_from_store, stored_components, stored_table
from aggregator.collection._columns import RunColumns
from aggregator.collection.privacy import forget
from aggregator.collection.store import MIGRATIONS, SCHEMA_VERSION, Store
from aggregator.errors import StoreError
from aggregator.models import Failure, FailureKind, Failures, IndexSpec, Reading, Run, Scale, Subject

SPECS = [IndexSpec(name="klout", scale=Scale(lo=1, hi=100)), IndexSpec(name="kred", higher_is_better=False),
         IndexSpec(name="peer")]
# ids SQLite sorts by UTF-8 bytes, not as Python sorts str: upper before lower, accents after z
IDS = ["zoë", "Zed", "al ice", "émile", "b", "10", "9", "a.b", "A", "ß", "李", "x" * 200]
KINDS = [FailureKind.NOT_FOUND, FailureKind.TIMEOUT, FailureKind.SERVER_ERROR]


def _fill(store: Store, run_id: str, day: int, rng: np.random.Generator, *, finish: bool = True) -> list[Reading]:
    subjects = [Subject(id=sid, name=f"N {sid}", handles={"twitter": f"h_{k}"})
                for k, sid in enumerate(rng.permutation(IDS).tolist())]
    store.start_run(Run(id=run_id, started_at=datetime(2026, 1, day, tzinfo=UTC), config_digest="x"),
                    subjects, SPECS)
    kept = []
    for s in subjects:
        for spec in SPECS:
            draw = rng.random()
            if draw < 0.25:
                store.add(run_id, Failure(index=spec.name, subject_id=s.id, kind=KINDS[int(draw * 12)],
                                          attempts=1 + int(draw * 8), message=f"no {s.id} on {spec.name}"))
                continue
            reading = Reading(
                index=spec.name, subject_id=s.id, value=float(rng.normal() * 1e6) if draw < 0.9 else 3.0,
                algorithm_version="2" if draw < 0.4 else "1",
                components={"reach": float(rng.random()), "talk": 1.0} if spec.name == "kred" and draw < 0.7 else {},
                topics=("tech", "art") if draw > 0.8 else (),
            )
            store.add(run_id, reading)
            kept.append(reading)
    store.add(run_id, Failure(index="peer", subject_id=None, kind=FailureKind.AUTH, message="key refused"))
    if finish:
        store.finish_run(run_id, datetime(2026, 1, day, 1, tzinfo=UTC))
    return kept


def _copy_rows(store: Store, run_id: str) -> int:
    count: int = store._db.execute("SELECT count(*) FROM run_columns WHERE run_id = ?", (run_id,)).fetchone()[0]
    return count


def _same_columns(a: RunColumns, b: RunColumns) -> None:
    assert a.ids == b.ids
    assert a.failures == b.failures
    assert a.roster.keys.tobytes() == b.roster.keys.tobytes() and a.roster.keys.dtype == b.roster.keys.dtype
    assert a.roster.rows.tolist() == b.roster.rows.tolist()
    assert a.indices.keys() == b.indices.keys()
    for name, mine in a.indices.items():
        theirs = b.indices[name]
        assert mine.values.rows.tolist() == theirs.values.rows.tolist()
        assert mine.values.values.tobytes() == theirs.values.values.tobytes()  # bit for bit
        assert mine.versions == theirs.versions and mine.topics == theirs.topics
        assert [p for p, _ in mine.components] == [p for p, _ in theirs.components]
        for (_, x), (_, y) in zip(mine.components, theirs.components, strict=True):
            assert x.rows.tolist() == y.rows.tolist() and x.values.tobytes() == y.values.tobytes()


def _copy_is_the_rows(store: Store, run_id: str) -> None:
    assert _copy_rows(store, run_id) > 0
    _same_columns(store.run_columns(run_id), store._columns_from_rows(run_id))


def _table_is_the_readings(store: Store, run_id: str) -> None:
    ids = [s.id for s in store.subjects(run_id)]
    expected = ScoreTable.from_readings(ids, SPECS, (r for _, r in store.readings(run_id)))
    found = stored_table(store, run_id)
    assert found.subject_ids == expected.subject_ids
    assert found.raw.tobytes() == expected.raw.tobytes()
    assert found.topics == expected.topics and found.versions == expected.versions


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_finished_runs_copy_reads_as_its_rows(seed):
    rng = np.random.default_rng(seed)
    with Store(":memory:") as store:
        _fill(store, "r1", 1, rng)
        _fill(store, "r2", 2, rng)
        for run_id in ("r1", "r2"):
            _copy_is_the_rows(store, run_id)
            _table_is_the_readings(store, run_id)
        outcome = outcome_from_store(store, "r2")
        assert list(outcome.failures) == store.failures("r2")  # the same Failure objects, built on demand
        assert list(outcome.subjects) == store.subjects("r2")
        assert set(outcome.components) == {"kred"}


def test_an_unfinished_run_has_no_copy_and_reads_its_rows():
    rng = np.random.default_rng(3)
    with Store(":memory:") as store:
        _fill(store, "r", 1, rng, finish=False)
        assert _copy_rows(store, "r") == 0
        _table_is_the_readings(store, "r")
        assert _copy_rows(store, "r") == 0  # reading an unfinished run writes nothing


def test_resuming_a_finished_run_drops_its_copy_then_writes_it_again():
    rng = np.random.default_rng(4)
    with Store(":memory:") as store:
        _fill(store, "r", 1, rng)
        gap = next(f for f in store.failures("r") if f.subject_id is not None)
        store.write("r", [Reading(index=gap.index, subject_id=gap.subject_id, value=5.5, topics=("new",))])
        assert _copy_rows(store, "r") == 0  # stale the moment a row changes
        _table_is_the_readings(store, "r")  # meanwhile read from the rows, the new reading included
        store.finish_run("r", datetime(2026, 1, 1, 2, tzinfo=UTC))
        _copy_is_the_rows(store, "r")
        _table_is_the_readings(store, "r")
        assert (gap.index, gap.subject_id) not in zip(*store.run_columns("r").failures[:2], strict=True)


def test_forget_rewrites_the_copies_and_leaves_no_byte_of_the_subject(tmp_path):
    path = tmp_path / "history.sqlite"
    gone = Subject(id="zed-0042", name="Zedekiah Quuxworth", handles={"twitter": "ZQ_unique_handle"})
    stays = Subject(id="amy-0007", name="Amelia Keepme", handles={"twitter": "amy_stays"})
    markers = [b"zed-0042", b"Zedekiah Quuxworth", b"ZQ_unique_handle", b"zedtopic_unique",
               struct.pack("<d", 4242.4242)]  # the copy keeps values as little-endian doubles
    with Store(path) as store:
        for n in range(2):
            run_id = f"run{n}"
            store.start_run(Run(id=run_id, started_at=datetime(2024, 1, 1 + n, tzinfo=UTC), config_digest="x"),
                            [gone, stays], SPECS[:1])
            store.add(run_id, Reading(index="klout", subject_id=gone.id, value=4242.4242, topics=("zedtopic_unique",)))
            # another subject's failure quotes the handle (as a circuit breaker's does): blanked, copy rewritten
            store.add(run_id, Failure(index="klout", subject_id=stays.id, kind=FailureKind.SERVER_ERROR,
                                      message="GET /u/ZQ_unique_handle answered 503"))
            store.finish_run(run_id, datetime(2024, 1, 1 + n, 1, tzinfo=UTC))
        copies = b"".join(r[0] for r in store._db.execute("SELECT blob FROM run_columns"))
        # the test can see what it looks for (names are not copied: a later run may change them)
        assert [m for m in markers if m not in copies] == [b"Zedekiah Quuxworth"]
        forget(store, gone.id)
        for run_id in ("run0", "run1"):
            _copy_is_the_rows(store, run_id)
            assert store.run_columns(run_id).ids == [stays.id]
            assert store.run_columns(run_id).failures[4] == ["GET /u/[erased] answered 503"]
    files = b"".join(p.read_bytes() for p in (path, Path(f"{path}-wal")) if p.exists())
    assert [m for m in markers if m in files] == []
    assert b"Amelia Keepme" in files


def _schema_5(path: Path) -> None:
    """A file as the previous version left it: schema 5, a finished run and an unfinished one."""
    db = sqlite3.connect(path)
    for script in MIGRATIONS[:5]:
        db.executescript(script)
    db.execute("PRAGMA user_version = 5")
    db.close()


def test_a_schema_5_file_gets_its_copies_when_first_read(tmp_path):
    path = tmp_path / "old.sqlite"
    _schema_5(path)
    rng = np.random.default_rng(5)
    with Store(path) as store:  # migrates: schema 6 adds the table only, nothing built yet
        assert store.schema_version == SCHEMA_VERSION
        _fill(store, "r1", 1, rng)
        _fill(store, "r2", 2, rng, finish=False)
        store._db.execute("DELETE FROM run_columns")  # as if r1 had been finished by schema 5
    with Store(path, read_only=True) as store:
        _table_is_the_readings(store, "r1")  # a read-only file reads the rows and writes nothing
        assert _copy_rows(store, "r1") == 0
    with Store(path) as store:
        _table_is_the_readings(store, "r1")  # the first read with write access writes the copy
        assert _copy_rows(store, "r1") > 0 and _copy_rows(store, "r2") == 0
        _copy_is_the_rows(store, "r1")


def test_failures_as_columns_give_the_same_health_as_failure_objects():
    rng = np.random.default_rng(6)
    with Store(":memory:") as store:
        _fill(store, "r", 1, rng)
        objects = store.failures("r")
        columns = Failures(*store.run_columns("r").failures)
        assert list(columns) == objects and columns == objects and len(columns[1:3]) == 2
        table = stored_table(store, "r")
        assert index_health(table, columns) == index_health(table, objects)
        assert index_health(table, columns) == compare_table(table, failures=iter(objects)).health
        assert sum(h.faults for h in index_health(table, columns)) > 0  # the fixture has faults to count


def _same(a: ScoreTable, b: ScoreTable) -> None:
    assert a.subject_ids == b.subject_ids
    assert a.specs == b.specs
    np.testing.assert_array_equal(a.raw, b.raw)  # bit for bit: no float goes through text
    assert a.topics == b.topics
    assert a.versions == b.versions


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_columns_give_the_table_the_readings_give(seed):
    rng = np.random.default_rng(seed)
    with Store(":memory:") as store:
        _fill(store, "r1", 1, rng)
        readings = _fill(store, "r2", 2, rng)
        store.forget([IDS[3], IDS[7]])  # erased subjects leave gaps in the stored positions
        kept = [r for r in readings if r.subject_id not in {IDS[3], IDS[7]}]
        ids = [s.id for s in store.subjects("r2")]
        expected = ScoreTable.from_readings(ids, SPECS, kept)
        _same(stored_table(store, "r2"), expected)
        found = stored_components(store, "r2")
        want = Components.of_readings(kept, ids)
        assert found.keys() == want.keys() == {"kred"}
        assert found["kred"].names == want["kred"].names == ("reach", "talk")
        np.testing.assert_array_equal(found["kred"].values, want["kred"].values)


def test_the_outcome_carries_the_previous_run_and_components():
    rng = np.random.default_rng(7)
    with Store(":memory:") as store:
        _fill(store, "r1", 1, rng)
        _fill(store, "r2", 2, rng)
        outcome = outcome_from_store(store, "r2")
        assert outcome.comparison.shifts is not None
        assert outcome.comparison.shifts.previous_run == "r1"
        assert set(outcome.components) == {"kred"}
        assert len(outcome.failures) == store.run("r2").counts.failures


def test_an_empty_run_reads_as_an_empty_table():
    with Store(":memory:") as store:
        store.start_run(Run(id="r", started_at=datetime(2026, 1, 1, tzinfo=UTC), config_digest="x"), [], SPECS)
        table = stored_table(store, "r")
        assert table.subject_ids == () and table.raw.shape == (0, 3)
        assert stored_components(store, "r") == {}


def test_an_unknown_run_is_named():
    with Store(":memory:") as store, pytest.raises(StoreError, match="no run 'nope'"):
        outcome_from_store(store, "nope")
