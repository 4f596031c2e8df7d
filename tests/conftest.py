"""Shared fixtures: small real inputs written to a temp folder."""

from __future__ import annotations

import os
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


@pytest.fixture
def write(tmp_path: Path):
    """Write a dedented text file under tmp_path and return its path."""

    def _write(name: str, text: str) -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        return path

    return _write


@pytest.fixture
def project(write) -> Path:
    """A complete small project: roster, opt-out, two CSV exports and one JSONL; returns the config path."""
    write("roster.csv", """
        id,name,twitter
        ann,Ann Archer,ann_a
        bob,"Bob ""The Builder"" Brown",bobb
        cy,Cy Chan,cychan
        dee,Dee Dunn,deedee
        eve,Eve Evans,eve
    """)
    write("optout.txt", "# asked not to be scored\n@Eve\n")
    write("exports/klout.csv", """
        screen_name,score,true_reach
        ann_a,81.5,900
        BobB,40,120
        cychan,62.25,300
        eve,55,10
    """)
    write("exports/kred.csv", """
        screen_name,influence
        ann_a,420
        bobb,910
        cychan,600
        deedee,300
    """)
    write("exports/peerindex.jsonl", """
        {"screen_name": "ann_a", "pi": {"score": 70}}
        {"screen_name": "bobb", "pi": {"score": 35}}
        {"screen_name": "deedee", "pi": {"score": 50}}
    """)
    return write("config.toml", """
        [store]
        path = "history.sqlite"

        [roster]
        path = "roster.csv"
        opt_out = "optout.txt"

        [report]
        out = "report.html"
        title = "Test report"

        [indices.klout]
        adapter = "files"
        [indices.klout.options]
        path = "exports/klout.csv"
        match = "handle:twitter"
        key_column = "screen_name"
        value_column = "score"
        components = { true_reach = "true_reach" }
        scale = [1, 100]

        [indices.kred]
        adapter = "files"
        [indices.kred.options]
        path = "exports/kred.csv"
        match = "handle:twitter"
        key_column = "screen_name"
        value_column = "influence"
        scale = [1, 1000]

        [indices.peerindex]
        adapter = "files"
        [indices.peerindex.options]
        path = "exports/peerindex.jsonl"
        match = "handle:twitter"
        key_column = "screen_name"
        value_column = "pi.score"
        scale = [0, 100]
    """)


@pytest.fixture(scope="session")
def spark() -> Iterator[SparkSession]:
    """One local Spark session (``local[2]``) for every Spark test, configured for tiny tables.

    Shared by the whole run: starting a JVM costs seconds, and a JVM whose JIT has warmed up on the
    engine's plans analyses the next ones faster.
    """
    from pyspark.sql import SparkSession  # the Spark modules skip themselves without pyspark or Java

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    session = (
        SparkSession.builder.master("local[2]").appName("influence-aggregator tests")
        .config("spark.ui.enabled", "false").config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "1").config("spark.default.parallelism", "2")
        # tiny tables: compiling generated code, adaptive re-planning and a job per broadcast table cost
        # more than they save (3-5x the time of the whole module)
        .config("spark.sql.autoBroadcastJoinThreshold", "-1")
        .config("spark.sql.adaptive.enabled", "false").config("spark.sql.codegen.wholeStage", "false")
        .config("spark.sql.codegen.factoryMode", "NO_CODEGEN")
        # most of the time goes to Catalyst analysing the engine's long plans in the driver: the full JIT
        # and a throughput collector with room halve it (a C1-only JVM starts faster but stays slow)
        .config("spark.driver.extraJavaOptions", "-XX:+UseParallelGC").config("spark.driver.memory", "2g")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()
