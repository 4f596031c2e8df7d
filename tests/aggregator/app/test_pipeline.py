"""The whole pipeline on real files: roster, opt-out, exports, SQLite store, HTML report."""

from __future__ import annotations

import email
import email.policy
import sqlite3
from contextlib import closing

import pytest
from interrupted import SCORES, SUBJECTS, interrupted_run

import aggregator
from aggregator.app.config import load_config
from aggregator.app.pipeline import run
from aggregator.collection.store import Store
from aggregator.models import FailureKind, Reading
from aggregator.testing import FakeAdapter


async def test_end_to_end_into_html(project):
    result = await aggregator.Aggregator(project).run()
    outcome = result.outcome
    assert [s.id for s in outcome.subjects] == ["ann", "bob", "cy", "dee"]  # eve opted out
    assert outcome.opted_out == 1
    table = outcome.comparison.table
    assert table.index_names == ("klout", "kred", "peerindex")
    assert table.raw[table.subject_ids.index("ann")].tolist() == [81.5, 420.0, 70.0]
    kinds = {(f.index, f.subject_id): f.kind for f in outcome.failures}
    assert kinds[("klout", "dee")] is FailureKind.NOT_FOUND
    assert kinds[("peerindex", "cy")] is FailureKind.NOT_FOUND
    assert not result.has_faults  # coverage gaps only
    html = result.render("html")
    assert "Ann Archer" in html
    assert "Bob &#34;The Builder&#34; Brown" in html
    assert "Eve Evans" not in html


async def test_stored_before_used_and_opted_out_never_stored(project):
    await aggregator.Aggregator(project).run()
    with closing(sqlite3.connect(project.parent / "history.sqlite")) as db:
        assert db.execute("SELECT count(*) FROM readings WHERE subject_id = 'eve'").fetchone() == (0,)
        assert db.execute("SELECT count(*) FROM subjects WHERE id = 'eve'").fetchone() == (0,)
        # klout 3 (no dee), kred 4, peerindex 3 (no cy): every reading is in the file
        assert db.execute("SELECT count(*) FROM readings").fetchone() == (10,)


async def test_opting_out_later_erases_past_readings(project):
    await aggregator.Aggregator(project).run()
    (project.parent / "optout.txt").write_text("eve\nann\n")
    await aggregator.Aggregator(project).run()
    with Store(project.parent / "history.sqlite") as store:
        assert store.readings(subject_id="ann") == []
        assert len(store.runs()) == 2


async def test_script_in_a_subject_name_is_escaped(project):
    roster = project.parent / "roster.csv"
    roster.write_text(roster.read_text().replace("Cy Chan", "<script>alert(1)</script>"))
    html = (await aggregator.Aggregator(project).run()).render("html")
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


async def test_an_interrupted_run_resumes_without_fetching_again(project):
    config = load_config(project)
    with Store(config.store.path) as store:
        unfinished = await interrupted_run(config, store)
        fetched = {r.subject_id for _, r in store.readings(unfinished.id)}
        assert 0 < len(fetched) < 4
        again = FakeAdapter("klout", SCORES)
        outcome = await run(config, store, resume=unfinished.id, adapters_=[again])
        assert sorted(again.asked) == sorted(set(SUBJECTS) - fetched)
        assert outcome.run.finished and outcome.run.counts.readings == 4
        # resuming a finished run fetches nothing
        idle = FakeAdapter("klout", {})
        await run(config, store, resume=unfinished.id, adapters_=[idle])
        assert idle.asked == []


async def test_resume_refuses_a_different_set_of_indices(project):
    config = load_config(project)
    with Store(config.store.path) as store:
        first = await run(config, store, adapters_=[FakeAdapter("klout", {"ann": 1.0})])
        with pytest.raises(aggregator.ConfigError, match="resume with the config the run started with"):
            await run(config, store, resume=first.run.id, adapters_=[FakeAdapter("kred", {})])


def test_run_report_writes_each_format(project, tmp_path):
    for name in ("r.html", "r.txt", "r.json", "r.eml"):
        aggregator.run_report(project, out=tmp_path / name)
    message = email.message_from_bytes((tmp_path / "r.eml").read_bytes(), policy=email.policy.default)
    assert message.is_multipart()
    assert "Ann Archer" in message.get_body(preferencelist=("plain",)).get_content()
    assert (tmp_path / "r.html").read_text().lstrip().lower().startswith("<!doctype html>")
    assert "Ann Archer" in (tmp_path / "r.txt").read_text()
    assert '"Ann Archer"' in (tmp_path / "r.json").read_text()


def test_readings_round_trip_through_the_store_unchanged(project):
    result = aggregator.run_report(project, out=project.parent / "x.html")
    with Store(project.parent / "history.sqlite") as store:
        stored = [r for _, r in store.readings(result.run_id, index="klout")]
    assert all(isinstance(r, Reading) for r in stored)
    assert {r.subject_id: r.components for r in stored}["ann"] == {"true_reach": 900.0}
