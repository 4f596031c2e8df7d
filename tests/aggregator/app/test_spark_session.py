"""The Spark session ``aggregator compare --engine spark`` starts in local mode: its settings for one
machine (uncompressed shuffles, large Arrow batches) apply unless the user set them, and a run too
large for uncompressed shuffle files keeps them compressed.

Each case starts a real JVM in a fresh process, as the command does (the test suite's own session
is running in this one, and a running context keeps its settings).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

pytest.importorskip("pyspark", reason="pyspark is the optional 'spark' extra: pip install '.[spark]'")
if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
    pytest.skip("Spark needs Java 17 (Debian: openjdk-17-jre-headless); CI installs it", allow_module_level=True)

import pyarrow as pa
import pyarrow.parquet as pq

from aggregator.app.engines import LOCAL_SETTINGS, LOCAL_UNCOMPRESSED_READINGS, _local_readings

READ_BACK = """
import json, sys
from aggregator.app.engines import LOCAL_SETTINGS, spark_session
spark = spark_session("local[1]", readings=int(sys.argv[1]) if len(sys.argv) > 1 else None)
conf = spark.sparkContext.getConf()
print(json.dumps({key: conf.get(key, None) for key in LOCAL_SETTINGS}))
spark.stop()
"""


def settings_of_a_new_session(submit_args: str, *readings: int) -> dict[str, str | None]:
    env = {**os.environ, "PYSPARK_SUBMIT_ARGS": submit_args}
    done = subprocess.run([sys.executable, "-c", READ_BACK, *map(str, readings)], env=env, capture_output=True,
                          text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-2000:]
    found: dict[str, str | None] = json.loads(done.stdout.strip().splitlines()[-1])
    return found


def test_a_local_session_takes_the_one_machine_settings_the_user_left_unset() -> None:
    users = "spark.shuffle.compress"
    found = settings_of_a_new_session(f"--conf {users}=true --driver-memory 1g pyspark-shell")
    assert found[users] == "true"  # the user's own, kept
    assert {key: value for key, value in found.items() if key != users} == \
        {key: value for key, value in LOCAL_SETTINGS.items() if key != users}


def test_a_run_too_large_for_uncompressed_shuffle_files_keeps_them_compressed() -> None:
    found = settings_of_a_new_session("--driver-memory 1g pyspark-shell", LOCAL_UNCOMPRESSED_READINGS + 1)
    compression = {"spark.shuffle.compress", "spark.shuffle.spill.compress"}
    assert {key: found[key] for key in compression} == dict.fromkeys(compression)  # unset: Spark compresses
    assert {key: value for key, value in found.items() if key not in compression} == \
        {key: value for key, value in LOCAL_SETTINGS.items() if key not in compression}


def test_a_local_runs_readings_are_counted_from_its_parquet_footers(tmp_path) -> None:
    (tmp_path / "readings").mkdir()
    for part, rows in enumerate((3, 0, 5)):
        pq.write_table(pa.table({"value": pa.array([1.0] * rows)}), tmp_path / "readings" / f"part-{part}.parquet")
    assert _local_readings(str(tmp_path)) == 8
    assert _local_readings(f"file://{tmp_path}") == 8
    assert _local_readings("s3a://bucket/run") is None  # counted by Spark once it runs, not here
    assert _local_readings(str(tmp_path / "missing")) is None
    (tmp_path / "readings" / "part-9.parquet").write_bytes(b"not parquet")
    assert _local_readings(str(tmp_path)) is None  # left to Spark, which names the file when it reads it
