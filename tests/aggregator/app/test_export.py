"""``aggregator export``: a stored run (one store or the shards of one roster) written as Parquet and read back."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

pq = pytest.importorskip("pyarrow.parquet", reason="pyarrow is the optional 'spark' extra: pip install '.[spark]'")

from aggregator.analytics.compare import ScoreTable  # noqa: E402
from aggregator.app.export import export_run, read_exported, score_table  # noqa: E402
from aggregator.cli.main import main  # noqa: E402
from aggregator.collection.store import Store  # noqa: E402
from aggregator.errors import ConfigError  # noqa: E402
from aggregator.models import Failure, FailureKind, IndexSpec, Reading, Run, Scale, Subject  # noqa: E402

SPECS = [IndexSpec(name="klout", scale=Scale(lo=1, hi=100), algorithm_version="2"),
         IndexSpec(name="kred", higher_is_better=False, label="Kred")]


def _shard(path: Path, subjects: list[Subject], readings: list[Reading], failures: list[Failure],
           specs: list[IndexSpec] = SPECS) -> Path:
    with Store(path) as store:
        store.start_run(Run(id="r1", started_at=datetime(2026, 11, 2, 9, tzinfo=UTC), config_digest="abc"),
                        subjects, specs)
        for item in [*readings, *failures]:
            store.add("r1", item)
        store.finish_run("r1", datetime(2026, 11, 2, 9, 5, tzinfo=UTC))
    return path


def _two_shards(tmp_path: Path) -> list[Path]:
    first = _shard(
        tmp_path / "a.sqlite",
        [Subject(id="ann", name="Ann", handles={"twitter": "ann"}), Subject(id="bob", name="Bob")],
        [Reading(index="klout", subject_id="ann", value=61.5, raw="61.50", scale=Scale(lo=1, hi=100),
                 algorithm_version="2", components={"reach": 3.5}, topics=("bacon", "jazz")),
         Reading(index="kred", subject_id="bob", value=700.0)],
        [Failure(index="kred", subject_id="ann", kind=FailureKind.TIMEOUT, attempts=3, message="kred: timed out")],
    )
    second = _shard(
        tmp_path / "b.sqlite", [Subject(id="cy", name="Cy", synthetic=True)],
        [Reading(index="klout", subject_id="cy", value=12.0, algorithm_version="2"),
         Reading(index="kred", subject_id="cy", value=300.0)],
        [],
    )
    return [first, second]


def test_two_shards_become_one_run_in_the_documented_layout(tmp_path):
    out = tmp_path / "run"
    done = export_run(_two_shards(tmp_path), "r1", out)
    assert (done.subjects, done.indices, done.readings, done.failures) == (3, 2, 4, 1)
    meta = json.loads((out / "run.json").read_text())
    assert meta["id"] == "r1" and meta["layout"] == 1 and meta["shards"] == ["a.sqlite", "b.sqlite"]
    subjects = pq.read_table(out / "subjects").sort_by("position").to_pylist()
    assert [(s["position"], s["subject_id"], s["synthetic"]) for s in subjects] == [
        (0, "ann", False), (1, "bob", False), (2, "cy", True)]
    assert json.loads(subjects[0]["handles"]) == {"twitter": "ann"}
    indices = pq.read_table(out / "indices").sort_by("position").to_pylist()
    assert [(i["name"], i["scale_lo"], i["scale_hi"], i["higher_is_better"]) for i in indices] == [
        ("klout", 1.0, 100.0, True), ("kred", None, None, False)]
    assert [IndexSpec.model_validate_json(i["spec"]) for i in indices] == SPECS
    readings = {(r["index"], r["subject_id"]): r for r in pq.read_table(out / "readings").to_pylist()}
    ann = readings["klout", "ann"]
    assert (ann["value"], ann["raw"], ann["algorithm_version"]) == (61.5, "61.50", "2")
    assert ann["topics"] == ["bacon", "jazz"]
    assert json.loads(ann["components"]) == {"reach": 3.5}
    assert sorted(readings) == [("klout", "ann"), ("klout", "cy"), ("kred", "bob"), ("kred", "cy")]
    failures = pq.read_table(out / "failures").to_pylist()
    assert [(f["index"], f["subject_id"], f["kind"], f["attempts"]) for f in failures] == [
        ("kred", "ann", "timeout", 3)]


def test_read_back_it_is_the_table_the_store_gives(tmp_path):
    shards = _two_shards(tmp_path)
    export_run(shards, "r1", tmp_path / "run")
    run = read_exported(tmp_path / "run")
    table = score_table(run)
    subjects, readings = [], []
    for path in shards:
        with Store(path) as store:
            subjects += [s.id for s in store.subjects("r1")]
            readings += [r for _, r in store.readings("r1")]
    expected = ScoreTable.from_readings(subjects, SPECS, readings)
    assert table.subject_ids == expected.subject_ids and table.specs == expected.specs
    assert np.array_equal(table.raw, expected.raw, equal_nan=True)
    assert table.versions == expected.versions == ("2", "1")
    assert [f.kind for f in run.failures] == [FailureKind.TIMEOUT]


def test_shards_that_share_a_subject_or_differ_in_indices_are_refused(tmp_path):
    first = _shard(tmp_path / "a.sqlite", [Subject(id="ann", name="Ann")], [], [])
    again = _shard(tmp_path / "b.sqlite", [Subject(id="ann", name="Ann")], [], [])
    with pytest.raises(ConfigError, match=r"subject 'ann' is in the run of both .*a\.sqlite and .*b\.sqlite"):
        export_run([first, again], "r1", tmp_path / "out1")
    other = _shard(tmp_path / "c.sqlite", [Subject(id="bob", name="Bob")], [], [], specs=SPECS[:1])
    with pytest.raises(ConfigError, match=r"other indices than in .*a\.sqlite \(klout vs klout, kred\)"):
        export_run([first, other], "r1", tmp_path / "out2")


def test_an_earlier_export_is_replaced_only_when_asked(tmp_path):
    shards = _two_shards(tmp_path)
    export_run(shards, "r1", tmp_path / "run")
    with pytest.raises(ConfigError, match="is not empty"):
        export_run(shards, "r1", tmp_path / "run")
    export_run(shards[:1], "r1", tmp_path / "run", overwrite=True)
    assert pq.read_table(tmp_path / "run" / "subjects").num_rows == 2
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    with pytest.raises(ConfigError, match="not an exported run"):
        export_run(shards, "r1", tmp_path / "other", overwrite=True)
    assert (tmp_path / "other" / "notes.txt").exists()


def test_the_command_exports_the_shards_and_names_an_unknown_run(tmp_path, capsys):
    a, b = _two_shards(tmp_path)
    assert main(["export", "r1", "--store", str(a), "--store", str(b), "--parquet", str(tmp_path / "run")]) == 0
    assert "3 subjects, 2 indices, 4 readings, 1 failures" in capsys.readouterr().out
    assert main(["export", "nope", "--store", str(a), "--parquet", str(tmp_path / "other")]) == 2
    assert "has no run 'nope'" in capsys.readouterr().err
