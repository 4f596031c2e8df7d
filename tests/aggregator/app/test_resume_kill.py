"""Resumability the way data-pipeline tools test it: SIGKILL the collector at random points.

``aggregator run`` runs in child processes (forked from a multiprocessing forkserver that has
the package imported, so a child starts in milliseconds) against the sandbox vendors on
127.0.0.1. Each chain starts a run, kills it with SIGKILL after a random delay, resumes it with
``aggregator run --resume RUN_ID`` and kills that too, and so on until a resume gets to the
end; chains are added until at least 50 kills have landed mid-run. Every chain's store must
then equal the store of an uninterrupted run — no missing row, no duplicate, one finished run
whose columnar copy holds what its rows hold — and resuming a finished run must not send a
single request (Airbyte's acceptance tests check the same three things).
"""

from __future__ import annotations

import asyncio
import csv
import multiprocessing
import random
import signal
import sqlite3
from pathlib import Path

import tomli_w

import aggregator.cli
from adapters.sandbox.launch import launch
from adapters.sandbox.servers import Faults
from aggregator.collection._columns import to_copy
from aggregator.collection.store import Store
from aggregator.models import FailureKind

VENDORS = ("klout", "peerindex", "kred", "empireavenue")
SUBJECTS = 80
AT_LEAST = 50  # kills that land while the child is still running
PRELOAD = ["aggregator.cli", "aggregator.app.api", "aggregator.app.pipeline", "aggregator.collection.store",
           "aggregator.analytics.compare",
           "reports.render", "reports.json", "scipy.stats", *(f"adapters.{name}" for name in VENDORS)]


def write_project(folder: Path, sandbox) -> Path:
    folder.mkdir()
    with (folder / "roster.csv").open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["id", "name", "twitter"])
        writer.writerows([f"p{i}", f"Person {i}", handle] for i, handle in enumerate(sandbox.handles[:SUBJECTS]))
    config = sandbox.config(roster="roster.csv", store="history.sqlite", report="report.json")
    for table in config["indices"].values():
        table.update(rate_limit="2000/s", concurrency=8)
        table["options"].update(timeout_seconds=5)
    config["indices"]["kred"]["options"]["batch_size"] = 4
    config["indices"]["empireavenue"]["options"]["batch_size"] = 4
    path = folder / "config.toml"
    path.write_text(tomli_w.dumps(config), encoding="utf-8")
    return path


def run_id(folder: Path) -> str | None:
    if not (folder / "history.sqlite").exists():
        return None
    with Store(folder / "history.sqlite") as store:
        runs = store.runs()
    assert len(runs) <= 1, "a resumed run must never start a second run"
    return runs[0].id if runs else None


def argv(folder: Path) -> list[str]:
    found = run_id(folder)
    return ["run", "-c", str(folder / "config.toml"), "-q", "--format", "json", "--out", str(folder / "report.json"),
            *(["--resume", found] if found else [])]


def copy_is_the_rows(folder: Path) -> bool:
    """The finished run has a columnar copy, and it holds what its rows give when read again."""
    with Store(folder / "history.sqlite") as store:
        [run] = store.runs()
        has_copy = store._db.execute("SELECT count(*) FROM run_columns WHERE run_id = ?", (run.id,)).fetchone()[0]
        return bool(has_copy) and to_copy(store.run_columns(run.id)) == to_copy(store._columns_from_rows(run.id))


def snapshot(folder: Path) -> dict[str, object]:
    """Everything a run stores, minus wall-clock times, as comparable sets and counts."""
    copy = copy_is_the_rows(folder)
    db = sqlite3.connect(folder / "history.sqlite")
    try:
        readings = db.execute("SELECT index_name, subject_id, value, raw, scale_lo, scale_hi, algorithm_version, "
                              "components, topics FROM readings").fetchall()
        failures = db.execute("SELECT index_name, subject_id, kind FROM failures").fetchall()
        return {
            "readings": sorted(readings), "reading_rows": len(readings),
            "failures": sorted(failures), "failure_rows": len(failures),
            "runs": db.execute("SELECT count(*), count(finished_at) FROM runs").fetchone(),
            "subjects": db.execute("SELECT count(*) FROM run_subjects").fetchone(),
            "indices": db.execute("SELECT name FROM run_indices ORDER BY position").fetchall(),
            "copy_is_the_rows": copy,
        }
    finally:
        db.close()


async def child(context, folder: Path, kill_after: float | None) -> bool:
    """Run the CLI in a child process; SIGKILL it after ``kill_after`` s. True if the kill landed."""
    process = context.Process(target=aggregator.cli.main, args=(argv(folder),))
    process.start()
    if kill_after is not None:
        await asyncio.sleep(kill_after)
        process.kill()
    await asyncio.to_thread(process.join)
    return process.exitcode == -signal.SIGKILL


def passing_failures(folder: Path) -> int:
    """Failures a healthy vendor may not repeat (a timeout, a server error): not final."""
    db = sqlite3.connect(folder / "history.sqlite")
    try:
        kinds = [FailureKind(kind) for (kind,) in db.execute("SELECT kind FROM failures")]
    finally:
        db.close()
    return sum(not kind.is_final for kind in kinds)


async def settle(context, folder: Path) -> None:
    """Resume the finished run while it holds failures that are not final, as a user would.

    On a busy machine (two CPU burners and other suites beside this one) a request may time
    out at the vendor's 5 s, or trip the breaker, in any run, the uninterrupted one included;
    what the product promises is that resuming asks those again and ends with the same store."""
    for _ in range(5):
        if not passing_failures(folder):
            return
        assert not await child(context, folder, None)


async def chain(context, folder: Path, rng: random.Random, span: float) -> int:
    """Kill runs of ``folder`` at random points until one gets to the end; how many kills landed."""
    landed = 0
    while await child(context, folder, rng.uniform(0.0, span)):
        landed += 1
    await settle(context, folder)
    return landed


async def test_sigkill_at_random_points_then_resume_equals_an_uninterrupted_run(tmp_path):
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(PRELOAD)
    rng = random.Random(20261122)
    async with launch(VENDORS, faults=Faults(latency=0.004), limits=dict.fromkeys(VENDORS, "1000/s")) as sandbox:
        reference = tmp_path / "reference"
        write_project(reference, sandbox)
        warm = context.Process(target=aggregator.cli.main, args=(["--version"],))
        warm.start()  # the forkserver starts (and imports PRELOAD) once, before anything is timed
        await asyncio.to_thread(warm.join)
        loop = asyncio.get_running_loop()
        started = loop.time()
        assert not await child(context, reference, None)
        span = loop.time() - started  # how long a whole run takes: kills land anywhere in it
        await settle(context, reference)
        expected = snapshot(reference)
        assert expected["runs"] == (1, 1) and expected["subjects"] == (SUBJECTS,)
        assert expected["reading_rows"] > SUBJECTS and expected["failure_rows"] > 0  # coverage gaps are stored too
        assert expected["copy_is_the_rows"]

        landed, folders = 0, []
        while landed < AT_LEAST:
            pair = [tmp_path / f"chain{len(folders)}", tmp_path / f"chain{len(folders) + 1}"]
            for folder in pair:  # two chains at a time: one per core
                write_project(folder, sandbox)
            folders += pair
            found = await asyncio.gather(*(chain(context, folder, random.Random(rng.random()), span)
                                           for folder in pair))
            landed += sum(found)
        for folder in folders:
            assert snapshot(folder) == expected, folder.name

        # resuming a finished run fetches nothing
        before = {name: sandbox[name].server.stats["requests"] for name in VENDORS}
        assert not await child(context, folders[0], None)
        after = {name: sandbox[name].server.stats["requests"] for name in VENDORS}
    assert landed >= AT_LEAST, f"only {landed} kills landed mid-run"
    assert before == after
    assert snapshot(folders[0]) == expected
