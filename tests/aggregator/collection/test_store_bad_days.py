"""The store on a bad day, with real SQLite files and real processes: a damaged page, a full disk
(RLIMIT_FSIZE in a subprocess), another process holding the write lock, ``forget`` while a run
collects, a file opened read-only. Each is one line naming the file and what to do, exit 3."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import subprocess
import sys
import textwrap
from datetime import UTC, datetime
from pathlib import Path

import pytest

from aggregator.app.config import load_config
from aggregator.app.pipeline import run
from aggregator.collection.store import Store
from aggregator.errors import StoreUnusableError
from aggregator.models import IndexSpec, Reading, Run, Subject
from aggregator.testing import FakeAdapter

PEOPLE = 3000


def cli(*args: str, limit_bytes: int | None = None) -> subprocess.CompletedProcess[str]:
    """``aggregator ARGS`` in a fresh process, its files limited to ``limit_bytes`` if given."""
    code = "import sys; from aggregator.cli.main import main; sys.exit(main(sys.argv[1:]))"
    if limit_bytes is not None:
        code = f"import resource; resource.setrlimit(resource.RLIMIT_FSIZE, ({limit_bytes}, {limit_bytes})); " + code
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=120)


def one_clear_line(done: subprocess.CompletedProcess[str], path: Path, *words: str) -> str:
    assert done.returncode == 3, done.stderr
    assert "Traceback" not in done.stderr
    (line,) = [line for line in done.stderr.splitlines() if line.startswith("store error:")]
    assert str(path) in line and all(word in line for word in words), line
    return line


@pytest.fixture
def big_project(project, write) -> Path:
    """The small project with PEOPLE subjects, every one of them scored by klout."""
    write("roster.csv", "id,name,twitter\n" + "".join(f"p{i},Person {i},h{i}\n" for i in range(PEOPLE)))
    write("exports/klout.csv", "screen_name,score\n" + "".join(f"h{i},{1 + i % 99}.5\n" for i in range(PEOPLE)))
    return project


def test_a_damaged_page_in_the_middle_is_one_line_and_exit_3(big_project):
    assert cli("run", "-c", str(big_project), "--quiet").returncode in (0, 1)
    path = big_project.parent / "history.sqlite"
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        page_size, pages = db.execute("PRAGMA page_size").fetchone()[0], db.execute("PRAGMA page_count").fetchone()[0]
    with path.open("r+b") as file:  # scribble over the pages in the middle third of the file
        file.seek(page_size * (pages // 3))
        file.write(b"\xa5" * page_size * (pages // 3))
    line = one_clear_line(cli("history", "p1500", "--store", str(path)), path, "damaged", ".recover")
    assert "malformed" in line
    one_clear_line(cli("run", "-c", str(big_project), "--quiet"), path, "damaged")


def test_a_full_disk_while_collecting_stops_the_run_and_resume_completes_it(big_project):
    config = load_config(big_project)
    path = config.store.path
    with Store(path) as store:  # the run is started; its readings will not fit
        store.start_run(Run(id="r1", started_at=datetime.now(UTC), config_digest=config.digest),
                        [Subject(id=f"p{i}", name=f"Person {i}", handles={"twitter": f"h{i}"}) for i in range(PEOPLE)],
                        [IndexSpec(name=name) for name in ("klout", "kred", "peerindex")])
    room = path.stat().st_size + 400 * 1024  # closing checkpointed the log into the file
    full = cli("run", "-c", str(big_project), "--resume", "r1", "--quiet", limit_bytes=room)
    one_clear_line(full, path, "the disk is full", "intact", "--resume", "this run is r1")
    with Store(path) as store:  # intact, and readable
        assert store._db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert store.run("r1").finished_at is None
    done = cli("run", "-c", str(big_project), "--resume", "r1", "--quiet")
    assert done.returncode == 0, done.stderr  # kred and peerindex know few of them: coverage, not failures
    with Store(path) as store:
        readings = store.readings("r1", index="klout")
        assert len(readings) == PEOPLE == len({r.subject_id for _, r in readings})
        assert {f.kind.value for f in store.failures("r1")} == {"not_found"}


async def test_another_process_holding_the_write_lock_is_waited_for_never_a_failure(project, caplog):
    config = load_config(project)
    path = config.store.path
    Store(path).close()
    script = textwrap.dedent(f"""
        import sqlite3, sys, time
        db = sqlite3.connect({str(path)!r}, isolation_level=None)
        db.execute("BEGIN IMMEDIATE")
        print("locked", flush=True)
        time.sleep(4.5)
        db.execute("COMMIT")
    """)
    holder = await asyncio.create_subprocess_exec(sys.executable, "-c", script, stdout=subprocess.PIPE)
    try:
        assert holder.stdout is not None and (await holder.stdout.readline()).strip() == b"locked"
        caplog.set_level(logging.WARNING)
        with Store(path) as store:
            outcome = await run(config, store)
            failures = store.failures(outcome.run.id)
    finally:
        await holder.wait()
    assert outcome.run.finished and not [f for f in failures if f.kind.value != "not_found"]
    assert "holds the history database's write lock; waiting for it" in caplog.text


async def test_forgetting_a_subject_while_a_run_collects_it_wins_and_the_run_finishes(project):
    config = load_config(project)
    scores = {"ann": 10.0, "bob": 20.0, "cy": 30.0, "dee": 40.0}
    slow = FakeAdapter("klout", scores, delay=0.1)

    async def forget_dee() -> None:
        await asyncio.sleep(0.15)  # the run has started and has not fetched dee yet
        with Store(config.store.path) as other:
            assert other.forget(["dee"])["runs"] == 1

    with Store(config.store.path) as store:
        outcome, _ = await asyncio.gather(run(config, store, adapters_=[slow]), forget_dee())
        stored = {r.subject_id: r.value for _, r in store.readings(outcome.run.id)}
        subjects = [s.id for s in store.subjects(outcome.run.id)]
    assert outcome.run.finished and slow.asked == ["ann", "bob", "cy", "dee"]
    assert stored == {"ann": 10.0, "bob": 20.0, "cy": 30.0} and subjects == ["ann", "bob", "cy"]


def test_a_read_only_store_can_still_be_read_by_runs_and_history(project):
    assert cli("run", "-c", str(project), "--quiet").returncode == 0
    path = project.parent / "history.sqlite"
    with Store(path, read_only=True) as store:
        (run_,) = store.runs()
        with pytest.raises(StoreUnusableError, match=r"cannot be written.*can still read it"):
            store.add(run_.id, Reading(index="klout", subject_id="ann", value=5))
    path.chmod(0o444)
    path.parent.chmod(0o555)
    try:
        runs = cli("runs", "--store", str(path))
        history = cli("history", "ann", "--store", str(path))
    finally:
        path.parent.chmod(0o755)
        path.chmod(0o644)
    assert runs.returncode == 0 and run_.id in runs.stdout, runs.stderr
    assert history.returncode == 0 and run_.id in history.stdout, history.stderr
