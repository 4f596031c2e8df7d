"""The Spark session ``aggregator compare --engine spark`` starts in local mode: its settings for one
machine (uncompressed shuffles, large Arrow batches) apply unless the user set them.

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

from aggregator.app.engines import LOCAL_SETTINGS

READ_BACK = """
import json, sys
from aggregator.app.engines import LOCAL_SETTINGS, spark_session
spark = spark_session("local[1]")
conf = spark.sparkContext.getConf()
print(json.dumps({key: conf.get(key) for key in LOCAL_SETTINGS}))
spark.stop()
"""


def settings_of_a_new_session(submit_args: str) -> dict[str, str]:
    env = {**os.environ, "PYSPARK_SUBMIT_ARGS": submit_args}
    done = subprocess.run([sys.executable, "-c", READ_BACK], env=env, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-2000:]
    found: dict[str, str] = json.loads(done.stdout.strip().splitlines()[-1])
    return found


def test_a_local_session_takes_the_one_machine_settings_the_user_left_unset() -> None:
    users = "spark.shuffle.compress"
    found = settings_of_a_new_session(f"--conf {users}=true --driver-memory 1g pyspark-shell")
    assert found[users] == "true"  # the user's own, kept
    assert {key: value for key, value in found.items() if key != users} == \
        {key: value for key, value in LOCAL_SETTINGS.items() if key != users}
