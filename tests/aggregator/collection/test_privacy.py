"""Erasing people: `aggregator forget`, and the opt-out list erasing past readings on the next run."""

from __future__ import annotations

import logging
import struct
from datetime import UTC, datetime
from pathlib import Path

import aggregator
from aggregator.cli import main
from aggregator.collection.privacy import forget
from aggregator.collection.store import Store
from aggregator.models import Failure, FailureKind, IndexSpec, Reading, Run, Subject

# distinctive bytes for everything stored about Zed: name, handle, raw text, topic, failure, value
ZED = Subject(id="zed-0042", name="Zedekiah Quuxworth", handles={"twitter": "ZQ_unique_handle"})
AMY = Subject(id="amy-0007", name="Amelia Keepme", handles={"twitter": "amy_stays"})
ZED_MARKERS = [b"zed-0042", b"Zedekiah Quuxworth", b"ZQ_unique_handle", b"zed-raw-7781", b"zedtopic_unique",
               b"zed failure 5512", struct.pack(">d", 4242.4242)]


def _files(path: Path) -> bytes:
    """Everything SQLite keeps on disk for this database: the file, its WAL and shared memory."""
    return b"".join(p.read_bytes() for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")) if p.exists())


def _as_most_builds(store: Store) -> Store:
    """This machine's SQLite zeroes deleted rows (SECURE_DELETE at build time); most builds don't."""
    store._db.execute("PRAGMA secure_delete = OFF")
    return store


def _fill(path: Path) -> None:
    spec = IndexSpec(name="klout")
    with Store(path) as store:
        for n in range(2):
            run_id = f"run{n}"
            store.start_run(Run(id=run_id, started_at=datetime(2024, 1, 1 + n, tzinfo=UTC), config_digest="x"),
                            [ZED, AMY], [spec])
            store.add(run_id, Reading(index="klout", subject_id=ZED.id, value=4242.4242, raw="zed-raw-7781",
                                      topics=("zedtopic_unique",), components={"reach": 1.0}))
            store.add(run_id, Reading(index="klout", subject_id=AMY.id, value=17.0, raw="amy-raw-1234"))
            store.add(run_id, Failure(index="klout", subject_id=ZED.id, kind=FailureKind.TIMEOUT,
                                      message="zed failure 5512"))
            store.finish_run(run_id, datetime(2024, 1, 1 + n, 1, tzinfo=UTC))


def test_forget_leaves_no_byte_of_the_subject_in_the_files(tmp_path):
    path = tmp_path / "history.sqlite"
    _fill(path)
    before = _files(path)
    assert all(marker in before for marker in ZED_MARKERS)  # the test can see what it looks for
    with _as_most_builds(Store(path)) as store:
        erased = forget(store, "@zq_UNIQUE_handle")  # found by handle, @ and case ignored
        assert erased.subject_ids == (ZED.id,)
        assert (erased.readings, erased.failures, erased.runs) == (2, 2, 2)
        assert store.find_subjects(ZED.id) == [] and store.readings(subject_id=ZED.id) == []
        assert [r.counts.subjects for r in store.runs()] == [1, 1]
    after = _files(path)
    assert [m for m in ZED_MARKERS if m in after] == []
    assert b"amy-raw-1234" in after and b"Amelia Keepme" in after  # the others stay


def test_without_vacuum_the_bytes_would_survive(tmp_path):
    # why forget rewrites the file: deleting rows alone leaves them readable in free pages and the WAL
    path = tmp_path / "history.sqlite"
    _fill(path)
    with _as_most_builds(Store(path)) as store:
        store.forget([ZED.id])
    assert any(marker in _files(path) for marker in ZED_MARKERS)


def test_forget_command_prints_what_it_removed(tmp_path, capsys):
    path = tmp_path / "history.sqlite"
    _fill(path)
    assert main(["forget", ZED.id, "nobody-here", "--store", str(path)]) == 0
    out = capsys.readouterr().out
    assert f"{ZED.id}: erased {ZED.id}: 2 readings, 2 failures from 2 runs" in out
    assert "nobody-here: nothing stored" in out
    assert "opt-out list" in out
    assert not any(marker in _files(path) for marker in ZED_MARKERS)


async def test_opting_out_erases_past_readings_on_the_next_run_and_says_so(project, caplog):
    first = await aggregator.Aggregator(project).run()
    assert first.outcome.forgotten == 0
    (project.parent / "optout.txt").write_text("@Eve\nann_a\n")  # Ann opts out by handle
    with caplog.at_level(logging.WARNING, logger="aggregator.app.pipeline"):
        second = await aggregator.Aggregator(project).run()
    assert second.outcome.forgotten == 1 and second.outcome.opted_out == 2
    assert "erased the stored history of 1 subject(s)" in caplog.text
    assert "Ann" not in caplog.text and "ann_a" not in caplog.text  # the log never names them
    store_path = project.parent / "history.sqlite"
    files = _files(store_path)
    assert b"Ann Archer" not in files and b"ann_a" not in files
    assert "Ann Archer" not in second.render("html")
    # a later run has nothing left to erase
    third = await aggregator.Aggregator(project).run()
    assert third.outcome.forgotten == 0
