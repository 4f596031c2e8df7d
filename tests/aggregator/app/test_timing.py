"""How long each index took to answer: measured by the collector, stored per run, read back."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from datetime import UTC, datetime

import pytest
from interrupted import SCORES, interrupted_run

from aggregator.analytics.outcome import IndexTiming
from aggregator.app.config import load_config
from aggregator.app.history import outcome_from_store
from aggregator.app.pipeline import run
from aggregator.collection.collect import _quantile
from aggregator.collection.store import SCHEMA_VERSION, Store
from aggregator.errors import StoreError
from aggregator.models import IndexSpec, Run, Subject
from aggregator.testing import FakeAdapter

SUBJECTS = [Subject(id="ann", name="Ann"), Subject(id="bob", name="Bob")]
SPECS = [IndexSpec(name="klout"), IndexSpec(name="kred")]
AT = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def test_timing_round_trips_and_resumed_parts_add_up(tmp_path):
    path = tmp_path / "h.sqlite"
    with Store(path) as store:
        store.start_run(Run(id="r1", started_at=AT, config_digest="abc"), SUBJECTS, SPECS)
        assert store.index_timing("r1") == {}  # nothing measured yet
        store.add_index_timing("r1", "klout", seconds=1.5, requests=10, p50=0.04, p95=0.12)
        store.add_index_timing("r1", "kred", seconds=0.25)
    with Store(path) as store:
        assert store.index_timing("r1") == {"klout": (1.5, 10, 0.04, 0.12), "kred": (0.25, 0, None, None)}
        store.add_index_timing("r1", "klout", seconds=0.5, requests=2, p50=0.05, p95=0.2)  # a resumed part
        store.add_index_timing("r1", "kred", seconds=0.75, requests=0, p50=9.0, p95=9.0)
        assert store.index_timing("r1") == {"klout": (2.0, 12, 0.05, 0.2), "kred": (1.0, 0, None, None)}
        with pytest.raises(StoreError, match="no index 'peer'"):
            store.add_index_timing("r1", "peer", seconds=1.0)


def test_a_version_2_file_gains_the_columns_and_its_runs_have_no_timing(tmp_path):
    path = tmp_path / "old.sqlite"
    with Store(path) as store:
        store.start_run(Run(id="r1", started_at=AT, config_digest="abc"), SUBJECTS, SPECS)
    with closing(sqlite3.connect(path)) as db:  # back to what schema 2 had
        for column in ("seconds", "requests", "p50", "p95"):
            db.execute(f"ALTER TABLE run_indices DROP COLUMN {column}")
        for column in ("lease_until", "attempts"):  # and what schema 4 added
            db.execute(f"ALTER TABLE deliveries DROP COLUMN {column}")
        db.execute("DROP TABLE rate_windows")  # and what schema 5 added
        db.execute("DROP TABLE run_columns")  # and what schema 6 added
        db.execute("ALTER TABLE runs DROP COLUMN shard")  # and what schema 7 added
        db.execute("PRAGMA user_version = 2")
        db.commit()
    with Store(path) as store:
        assert store.schema_version == SCHEMA_VERSION
        assert store.index_timing("r1") == {}
        assert outcome_from_store(store, "r1").timing == {}


def test_quantiles_interpolate():
    assert _quantile([], 0.5) is None
    assert _quantile([0.1], 0.95) == 0.1
    assert _quantile([1.0, 2.0, 3.0, 4.0], 0.5) == 2.5
    assert _quantile([float(i) for i in range(101)], 0.95) == pytest.approx(95.0)


async def test_a_run_stores_each_index_seconds_and_a_resume_adds_its_own(project):
    config = load_config(project)
    with Store(config.store.path) as store:
        unfinished = await interrupted_run(config, store)
        assert store.index_timing(unfinished.id) == {}  # the killed part measured nothing
        again = FakeAdapter("klout", SCORES, delay=0.05)
        outcome = await run(config, store, resume=unfinished.id, adapters_=[again])
        first = outcome.timing["klout"]
        assert first.seconds >= 0.05 * len(again.asked)
        assert (first.requests, first.p50, first.p95) == (0, None, None)  # a fake sends no requests
        idle = FakeAdapter("klout", {})
        await run(config, store, resume=unfinished.id, adapters_=[idle])
        assert outcome_from_store(store, unfinished.id).timing["klout"].seconds >= first.seconds


async def test_a_fresh_run_times_every_index(project):
    config = load_config(project)
    answers = {"ann": 1.0, "bob": 2.0, "cy": 3.0, "dee": 4.0}
    with Store(config.store.path) as store:
        outcome = await run(config, store, adapters_=[FakeAdapter("klout", answers, delay=0.02),
                                                     FakeAdapter("kred", answers, delay=0.01)])
        assert set(outcome.timing) == {"klout", "kred"}
        assert outcome.timing["klout"].seconds >= 4 * 0.02
        assert outcome.timing["kred"].seconds >= 4 * 0.01
        assert isinstance(outcome.timing["kred"], IndexTiming)
