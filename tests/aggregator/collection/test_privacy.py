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


# --- mentions in other subjects' rows: the circuit breaker quotes the URL that tripped it ------------


ROSTER = """id,name,twitter
amy-0007,Amelia Keepme,amy_stays
zed-0042,Zedekiah Quuxworth,ZQ_unique_handle
bob-0001,Bob Other,bob_other
cy-0002,Cy Other,cy_other
dee-0003,Dee Other,dee_other
"""
ZED_WORDS = [b"zed-0042", b"Zedekiah Quuxworth", b"ZQ_unique_handle", b"zq_unique_handle"]


async def _run_against_a_failing_vendor(tmp_path: Path, opt_out: str = "") -> aggregator.RunResult:
    from aiohttp import web
    from loopback import serve

    from aggregator.app.config import config_from_dict

    async def broken(request: web.Request) -> web.Response:
        return web.Response(status=500, text="down")

    app = web.Application()
    app.router.add_get("/v1/{handle}", broken)
    (tmp_path / "roster.csv").write_text(ROSTER, encoding="utf-8")
    (tmp_path / "opt-out.txt").write_text(opt_out, encoding="utf-8")
    async with serve(app) as url:
        data = {
            "store": {"path": "history.sqlite"}, "roster": {"path": "roster.csv", "opt_out": "opt-out.txt"},
            "indices": {"vendor": {"adapter": "http_json", "concurrency": 1, "breaker_after": 2, "options": {
                "url": f"{url}/v1/{{handle}}", "value": "/score", "max_attempts": 1}}},
        }
        return await aggregator.Aggregator(config_from_dict(data, base_dir=tmp_path)).run()


async def test_the_breakers_copies_of_a_handle_in_other_subjects_failures_are_erased_too(tmp_path):
    await _run_against_a_failing_vendor(tmp_path)
    path = tmp_path / "history.sqlite"
    with Store(path) as store:
        [run] = store.runs()
        quoting = [f for f in store.failures(run.id) if "ZQ_unique_handle" in f.message and f.subject_id != ZED.id]
        assert len(quoting) == 3  # bob, cy and dee were skipped with Zed's URL in their messages
        forget(store, ZED.id)
        kept = store.failures(run.id)
    assert [m for m in ZED_WORDS if m in _files(path)] == []
    assert len(kept) == 4 and all("[erased]" in f.message for f in kept if f.subject_id != "amy-0007")


async def test_an_opt_out_erases_the_mentions_too_and_later_reports_and_logs_never_name_them(tmp_path, caplog):
    await _run_against_a_failing_vendor(tmp_path)
    with caplog.at_level(logging.DEBUG):
        later = await _run_against_a_failing_vendor(tmp_path, opt_out="@zq_unique_handle\n")
    outputs = [_files(tmp_path / "history.sqlite"), caplog.text.encode(),
               *(later.render(kind).encode() for kind in ("html", "text", "json"))]
    assert [(n, m) for n, blob in enumerate(outputs) for m in ZED_WORDS if m in blob] == []


def test_an_opt_out_entry_that_matches_nobody_is_a_warning_naming_it(project, capsys):
    (project.parent / "optout.txt").write_text("# asked not to be scored\n@Eve\n@ann_aa\n")  # a typo for ann_a
    assert main(["validate-config", str(project)]) == 0
    err = capsys.readouterr().err
    assert f"{project.parent / 'optout.txt'}:3: opt-out entry '@ann_aa' matches no one in the roster" in err
    assert "@Eve" not in err
