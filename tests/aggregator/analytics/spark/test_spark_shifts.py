"""Shifts against a previous run and topics on Spark give the numpy engine's numbers.

Runs come from hypothesis (ties, missing values, subjects new and gone, indices new and gone,
either direction, bounded or not, a rescaled index, algorithm versions that change) and from a
fixed pair of runs where an index is recalibrated and another changes version. Topics come with
case and space variants, including characters whose ``casefold`` is not their ``lower`` ('ß',
'ﬁ'). One command test writes two exports and reads back what ``aggregator compare --engine
spark --previous`` wrote: the per-subject columns, OUT/lone_topics/ and the summary's keys.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

pytest.importorskip("pyspark", reason="pyspark is the optional 'spark' extra: pip install '.[spark]'")
pa = pytest.importorskip("pyarrow", reason="pyarrow is the optional 'spark' extra: pip install '.[spark]'")
pq = pytest.importorskip("pyarrow.parquet", reason="pyarrow is the optional 'spark' extra: pip install '.[spark]'")
if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
    pytest.skip("Spark needs Java 17 (Debian: openjdk-17-jre-headless); CI installs it", allow_module_level=True)

from pyspark.sql import SparkSession  # noqa: E402
from spark_checks import TOLERANCE, arrays, assert_close, column  # noqa: E402

from aggregator.analytics.compare import ScoreTable, compare_table  # noqa: E402
from aggregator.analytics.shifts import Shifts  # noqa: E402
from aggregator.analytics.spark.shifts import RunFrames, SparkShifts, read_run, shifts  # noqa: E402
from aggregator.analytics.spark.topics import topics  # noqa: E402
from aggregator.analytics.topics import topic_overlap  # noqa: E402
from aggregator.cli.main import main  # noqa: E402
from aggregator.models import IndexSpec, Reading, Scale  # noqa: E402

#: the indices a run may have: bounded or not, either direction
SPECS = {
    "a": IndexSpec(name="a", scale=Scale(lo=0, hi=100)),
    "b": IndexSpec(name="b", higher_is_better=False),
    "c": IndexSpec(name="c", scale=Scale(lo=0, hi=10), higher_is_better=False),
    "d": IndexSpec(name="d"),
}


@dataclasses.dataclass(frozen=True)
class Run:
    run_id: str
    subject_ids: tuple[str, ...]
    specs: tuple[IndexSpec, ...]
    readings: tuple[Reading, ...]

    def table(self) -> ScoreTable:
        return ScoreTable.from_readings(self.subject_ids, self.specs, self.readings)

    def frames(self, spark: SparkSession) -> RunFrames:
        subjects = spark.createDataFrame(list(enumerate(self.subject_ids)), "position long, subject_id string")
        readings = spark.createDataFrame(
            [(r.index, r.subject_id, r.value, r.algorithm_version, list(r.topics)) for r in self.readings],
            "index string, subject_id string, value double, algorithm_version string, topics array<string>",
        )
        return RunFrames(subjects, readings, self.specs, self.run_id)


@st.composite
def runs(draw: st.DrawFn) -> tuple[Run, Run]:
    """The previous run and the current one: rosters and indices overlapping, ties and gaps, maybe a rescaling."""
    pool = [f"s{i}" for i in range(10)]
    values = st.sampled_from([None, 0.0, 1.0, 2.5, 2.5, 4.0, 7.0, 10.0])  # ties, gaps, zeros (relative change)
    rescaled = draw(st.booleans())
    made = []
    for run_id in ("previous", "now"):
        names = draw(st.lists(st.sampled_from("abcd"), min_size=1, max_size=3, unique=True))
        ids = draw(st.lists(st.sampled_from(pool), min_size=3, max_size=8, unique=True))
        readings = []
        for name in names:
            for sid in ids:
                value = draw(values)
                if rescaled and name == "a" and run_id == "now" and made and (sid, "a") in made[0][3]:
                    value = made[0][3][sid, "a"] * 0.5  # the same order, half the scores
                if value is not None:
                    version = draw(st.sampled_from(["1", "1", "2"]))
                    readings.append(Reading(index=name, subject_id=sid, value=value, algorithm_version=version))
        made.append((run_id, tuple(ids), tuple(SPECS[n] for n in names),
                     {(r.subject_id, r.index): r.value for r in readings}, tuple(readings)))
    previous, now = (Run(run_id, ids, specs, readings) for run_id, ids, specs, _, readings in made)
    return previous, now


def spark_shifts(
    spark: SparkSession, now: Run, previous: Run, method: str, consensus: str
) -> tuple[list[dict[str, Any]], SparkShifts]:
    current = now.frames(spark)
    cells, scored, per_subject = read_run(current, method, consensus)
    found = shifts(current, scored, per_subject, previous.frames(spark), method=method, consensus=consensus,
                   mover_threshold=15.0)
    got = [r.asDict() for r in found.subjects.orderBy("position").collect()]
    cells.unpersist()
    return got, found


def check_subjects(got: Sequence[dict[str, Any]], expected: Shifts, k: int) -> None:
    """The per-subject columns (rows in position order) against numpy's."""
    assert_close(arrays([r["raw_change"] for r in got]).reshape(-1, k), expected.raw_change, "raw_change")
    assert_close(arrays([r["standing_change"] for r in got]).reshape(-1, k), expected.standing_change,
                 "standing_change")
    assert_close(column([r["consensus_change"] for r in got]), expected.consensus_change, "consensus_change")
    assert_close(column([r["movement"] for r in got]), expected.movement, "movement")
    assert [r["new"] for r in got] == expected.new.tolist()


def check_indices(got: Sequence[Any], expected: Shifts) -> None:
    assert len(got) == len(expected.indices)
    for mine, reference in zip(got, expected.indices, strict=True):
        for name, value in dataclasses.asdict(reference).items():
            found = getattr(mine, name)
            if isinstance(value, float):
                assert math.isnan(found) == math.isnan(value), (name, found, value)
                assert math.isnan(value) or abs(found - value) <= TOLERANCE, (name, found, value)
            else:
                assert found == value and type(found) is type(value), (name, found, value)


def check_shifts(spark: SparkSession, previous: Run, now: Run, method: str = "percentile",
                 consensus: str = "median") -> Shifts:
    expected = compare_table(now.table(), previous=previous.table(), previous_run=previous.run_id, method=method,
                             consensus=consensus).shifts
    assert expected is not None
    got, found = spark_shifts(spark, now, previous, method, consensus)
    assert [r["position"] for r in got] == list(range(len(now.subject_ids)))
    check_subjects(got, expected, len(now.specs))
    check_indices(found.indices, expected)
    assert found.movers == expected.movers.size
    assert found.previous_run == previous.run_id
    return expected


# one drawn pair a run (each costs seconds of Spark stages): the fixed pair below covers the verdicts
@settings(max_examples=1, deadline=None, phases=[Phase.explicit, Phase.generate],
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(pair=runs(), method=st.sampled_from(["percentile", "range"]),
       consensus=st.sampled_from(["median", "trimmed_mean", "borda"]))
def test_random_runs_give_the_numpy_shifts(spark, pair, method, consensus):
    check_shifts(spark, *pair, method=method, consensus=consensus)


def test_a_rescaled_index_and_a_new_version_give_the_numpy_verdicts(spark):
    """Index a halves every score (order held: recalibrated), b changes version, c is new, d is gone;
    s7 is new and s0 gone; s1 and s2 swap places (movers)."""
    ids = [f"s{i}" for i in range(1, 8)]
    before = {"a": [10.0, 80.0, 30.0, 40.0, 50.0, 60.0], "b": [5.0, 1.0, 3.0, 3.0, 2.0, 6.0],
              "d": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]}
    previous = Run("r1", ("s0", *ids[:5]), (SPECS["a"], SPECS["b"], SPECS["d"]), tuple(
        Reading(index=name, subject_id=sid, value=v, algorithm_version="1")
        for name, vs in before.items() for sid, v in zip(("s0", *ids[:5]), vs, strict=True)))
    after = {"a": [40.0, 5.0, 20.0, 25.0, 30.0, 35.0, 1.0], "b": [1.0, 5.0, 3.0, 3.0, 2.0, None, 4.0],
             "c": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]}
    now = Run("r2", tuple(ids), (SPECS["a"], SPECS["b"], SPECS["c"]), tuple(
        Reading(index=name, subject_id=sid, value=v, algorithm_version="2" if name == "b" else "1")
        for name, vs in after.items() for sid, v in zip(ids, vs, strict=True) if v is not None))
    expected = check_shifts(spark, previous, now, method="range", consensus="borda")
    a, b, c = expected.indices
    assert a.recalibrated and not b.recalibrated and b.version_changed and c.n == 0
    assert expected.movers.size > 0 and expected.new.tolist() == [False] * 5 + [True, True]


# -- topics --------------------------------------------------------------------------------------------------------

SPELLINGS = ["Bacon", "bacon ", " BACON", "Straße", "STRASSE", "strasse", "ﬁsh", "FISH", "Fish", "", "  ", "tea",
             "Tea\u2003", "ΣΊΣΥΦΟΣ", "σίσυφος"]


@settings(max_examples=2, deadline=None, phases=[Phase.explicit, Phase.generate],
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(given_topics=st.dictionaries(
    st.tuples(st.integers(0, 5), st.integers(0, 2)), st.lists(st.sampled_from(SPELLINGS), max_size=4).map(tuple),
    max_size=14,
))
def test_topics_compare_as_python_casefolds_them(spark, given_topics):
    n = 6
    expected = topic_overlap(n, {key: names for key, names in given_topics.items() if names})
    subjects = spark.createDataFrame([(i, f"s{i}") for i in range(n)], "position long, subject_id string")
    cells = spark.createDataFrame([(i, j, list(names)) for (i, j), names in given_topics.items()],
                                  "i long, j int, topics array<string>")
    found = topics(subjects, cells)
    if not np.any(expected.n_indices):
        assert found is None
        return
    assert found is not None
    got = [r.asDict() for r in found.subjects.orderBy("position").collect()]
    assert [r["topic_indices"] for r in got] == expected.n_indices.tolist()
    assert_close(column([r["topic_jaccard"] for r in got]), expected.jaccard, "topic_jaccard")
    lone = [(r["position"], r["subject_id"], r["index"], r["topic"]) for r in found.lone.collect()]
    assert lone == [(t.row, f"s{t.row}", t.index, t.topic) for t in expected.lone]  # numpy's order, as written
    assert (found.with_topics, found.n_lone) == (int(np.sum(expected.n_indices > 0)), len(expected.lone))


def test_casefold_is_not_lower(spark):
    """'Straße' and 'STRASSE' are one topic to Python's casefold (Spark's lower keeps them two);
    the spelling kept is each index's first."""
    subjects = spark.createDataFrame([(0, "x")], "position long, subject_id string")
    cells = spark.createDataFrame([(0, 0, ["Straße", " ﬁsh", "straße"]), (0, 1, ["STRASSE", "FISH", "Tea"])],
                                  "i long, j int, topics array<string>")
    found = topics(subjects, cells)
    assert found is not None
    assert [r["topic_jaccard"] for r in found.subjects.collect()] == [2 / 3]
    assert [(r["index"], r["topic"]) for r in found.lone.collect()] == [(1, "Tea")]


# -- the command ---------------------------------------------------------------------------------------------------


def write_export(run: Run, folder: Path) -> Path:
    """``run`` in the layout of ``aggregator export`` (docs/spark.md), the parts the comparison reads."""
    for name, table in {
        "subjects": pa.table({"position": pa.array(range(len(run.subject_ids)), pa.int64()),
                              "subject_id": list(run.subject_ids)}),
        "indices": pa.table({"position": pa.array(range(len(run.specs)), pa.int64()),
                             "spec": [s.model_dump_json() for s in run.specs]}),
        "readings": pa.table({
            "index": [r.index for r in run.readings], "subject_id": [r.subject_id for r in run.readings],
            "value": pa.array([r.value for r in run.readings], pa.float64()),
            "algorithm_version": [r.algorithm_version for r in run.readings],
            "topics": pa.array([list(r.topics) for r in run.readings], pa.list_(pa.string())),
        }),
        "failures": pa.table({"index": pa.array([], pa.string()), "subject_id": pa.array([], pa.string()),
                              "kind": pa.array([], pa.string()), "attempts": pa.array([], pa.int64()),
                              "message": pa.array([], pa.string())}),
    }.items():
        (folder / name).mkdir(parents=True)
        pq.write_table(table, folder / name / "part-00000.parquet")
    (folder / "run.json").write_text(json.dumps({"layout": 1, "id": run.run_id}))
    return folder


def test_the_command_writes_the_shifts_and_topics_of_the_layout(spark, tmp_path, capsys):
    ids = tuple(f"s{i}" for i in range(8))
    said = {("s0", "a"): ("Bacon", "Straße"), ("s0", "b"): ("bacon",), ("s1", "a"): ("tea",),
            ("s2", "b"): ("ﬁsh", "Jazz"), ("s2", "a"): ("FISH",)}
    previous = Run("r1", ids[1:], (SPECS["a"], SPECS["b"]), tuple(
        Reading(index=name, subject_id=sid, value=float(3 * p % 7), algorithm_version="1")
        for p, sid in enumerate(ids[1:]) for name in "ab"))
    now = Run("r2", ids, (SPECS["b"], SPECS["a"]), tuple(
        Reading(index=name, subject_id=sid, value=float(p % 5) * (2 if name == "a" else 1),
                algorithm_version="2" if name == "a" else "1", topics=said.get((sid, name), ()))
        for p, sid in enumerate(ids) for name in "ba"))
    out, numpy_out = tmp_path / "out", tmp_path / "numpy"
    folders = [str(write_export(now, tmp_path / "now")), str(write_export(previous, tmp_path / "before"))]
    for engine, folder in (("spark", out), ("numpy", numpy_out)):
        assert main(["compare", "--engine", engine, "--run", folders[0], "--previous", folders[1],
                     "--out", str(folder)]) == 0
    capsys.readouterr()
    # both engines write the same layout: the numpy engine's shifts and topics as the Spark engine's
    numpy_summary = json.loads((numpy_out / "summary.json").read_text())
    assert numpy_summary["topics"] == json.loads((out / "summary.json").read_text())["topics"]
    assert pq.read_table(numpy_out / "lone_topics").to_pylist() == \
        pq.read_table(out / "lone_topics").sort_by([("position", "ascending"), ("index", "ascending"),
                                                    ("topic", "ascending")]).to_pylist()
    summary = json.loads((out / "summary.json").read_text())
    table = now.table()
    expected = compare_table(table, previous=previous.table(), previous_run="r1").shifts
    assert expected is not None and expected.indices[1].version_changed
    got = pq.read_table(out / "subjects").sort_by("position").to_pylist()
    check_subjects(got, expected, 2)
    shifted = summary["shifts"]
    assert (shifted["previous_run"], shifted["previous_dir"], shifted["mover_threshold"], shifted["movers"]) == \
        ("r1", str(tmp_path / "before"), 15.0, expected.movers.size)
    read_back = [SimpleNamespace(**{k: math.nan if v is None else v for k, v in row.items()})
                 for row in shifted["indices"]]
    check_indices(read_back, expected)
    numpy_shifted = numpy_summary["shifts"]
    assert {k: v for k, v in numpy_shifted.items() if k != "indices"} == \
        {k: v for k, v in shifted.items() if k != "indices"}
    check_indices([SimpleNamespace(**{k: math.nan if v is None else v for k, v in row.items()})
                   for row in numpy_shifted["indices"]], expected)
    check_subjects(pq.read_table(numpy_out / "subjects").to_pylist(), expected, 2)
    overlap = topic_overlap(len(ids), table.topics)
    assert [r["topic_indices"] for r in got] == overlap.n_indices.tolist()
    assert_close(column([r["topic_jaccard"] for r in got]), overlap.jaccard, "topic_jaccard")
    lone = pq.read_table(out / "lone_topics").sort_by([("position", "ascending"), ("index", "ascending"),
                                                       ("topic", "ascending")]).to_pylist()
    assert [(r["position"], r["subject_id"], r["index"], r["topic"]) for r in lone] == \
        [(t.row, ids[t.row], t.index, t.topic) for t in overlap.lone]
    assert summary["topics"] == {"subjects": 3, "lone": 2} and len(overlap.lone) == 2


def test_a_previous_folder_that_is_no_export_is_named(tmp_path, capsys):
    now = write_export(Run("r2", ("s0",), (SPECS["a"],), (Reading(index="a", subject_id="s0", value=1.0),)),
                       tmp_path / "now")
    assert main(["compare", "--engine", "spark", "--run", str(now), "--previous", str(tmp_path / "nothing"),
                 "--out", str(tmp_path / "out")]) == 2
    assert f"{tmp_path / 'nothing'} is not an exported run: no run.json" in capsys.readouterr().err
