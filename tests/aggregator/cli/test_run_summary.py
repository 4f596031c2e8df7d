"""The run summary counts "not asked" exactly: a sandbox vendor that is down trips the circuit
breaker after a known number of failed requests, and every subject it never received a request
for is counted, by the Python API's result and by the summary `aggregator run` prints."""

from __future__ import annotations

import asyncio
import re
import sys
from pathlib import Path
from typing import Any

import numpy as np
import tomli_w

from adapters.sandbox.launch import Sandbox, launch
from adapters.sandbox.population import write_roster
from adapters.sandbox.servers import Faults
from aggregator.app.api import Aggregator
from aggregator.app.config import config_from_dict
from aggregator.collection.store import Store

SUBJECTS = 40
BREAKER_AFTER = 3


def _config(sandbox: Sandbox, tmp_path: Path) -> dict[str, Any]:
    """peerindex (one subject per request, one attempt each, one at a time) and kred, healthy."""
    roster = tmp_path / "roster.csv"
    write_roster(sandbox.population.take(np.arange(SUBJECTS)), roster)
    data = sandbox.config(roster=roster, store=tmp_path / "history.sqlite", report=tmp_path / "r.html")
    for table in data["indices"].values():
        table.update({"rate_limit": "1000/s", "concurrency": 1, "breaker_after": BREAKER_AFTER})
        # a generous timeout: on a busy machine a healthy reply may take seconds, and the test
        # is about the vendor that is down, not about timeouts
        table["options"].update({"timeout_seconds": 30, "max_attempts": 1})
    return data


async def test_a_vendor_down_is_counted_not_asked_exactly_by_the_api_and_the_cli(tmp_path: Path) -> None:
    down = {"peerindex": Faults(shares={"server_error": 1.0}), "kred": Faults()}
    async with launch(["peerindex", "kred"], faults=down, limits={"peerindex": "1000/s", "kred": "1000/s"}) as sandbox:
        data = _config(sandbox, tmp_path)
        result = await Aggregator(config_from_dict(data, base_dir=tmp_path)).run()
        seen = sandbox["peerindex"].server.stats["requests"]

        # the same, through the command, against the same (still down) vendor
        config_file = tmp_path / "config.toml"
        config_file.write_text(tomli_w.dumps(data), encoding="utf-8")
        before = sandbox["peerindex"].server.stats["requests"]
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "aggregator", "run", "-c", str(config_file), "--quiet",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, cwd=tmp_path)
        _, stderr = await asyncio.wait_for(process.communicate(), timeout=120)
        seen_by_cli = sandbox["peerindex"].server.stats["requests"] - before

    # one attempt per request and one subject per request: the vendor saw one request per asked
    # subject; the breaker trips after the 3rd failed one (a 4th may be on its way by then)
    assert BREAKER_AFTER <= seen <= BREAKER_AFTER + 1
    assert result.not_asked == {"peerindex": SUBJECTS - seen, "kred": 0}
    with Store(data["store"]["path"]) as store:
        never_asked = [f for f in store.failures(result.run_id) if f.index == "peerindex" and f.attempts == 0]
    assert len(never_asked) == SUBJECTS - seen
    assert all("not asked: the index was marked down" in f.message for f in never_asked)

    text = stderr.decode()
    assert process.returncode == 1, text
    line = next(line for line in text.splitlines() if line.strip().startswith("peerindex:"))
    found = re.search(r"faults: (\d+) server_error; (\d+) of them not asked", line)
    assert found is not None, line
    assert (int(found[1]), int(found[2])) == (SUBJECTS, SUBJECTS - seen_by_cli)
    kred = next(line for line in text.splitlines() if line.strip().startswith("kred:"))
    assert "not asked" not in kred
