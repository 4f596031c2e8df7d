"""An index with two limits at once (a rate per second and a daily quota): every request keeps
inside both, nothing is refused, and when the daily quota is used up the run stops asking that
index with a message saying until when, leaving the rest for a resumed run."""

from __future__ import annotations

import time

from adapters.sandbox.launch import launch
from aggregator.app.config import config_from_dict
from aggregator.app.pipeline import run
from aggregator.collection.store import Store
from aggregator.models import FailureKind


async def test_both_limits_are_honoured_and_a_used_up_daily_quota_cuts_the_index(tmp_path):
    limits = ["10/s", "25/day"]
    async with launch(["peerindex"], limits={"peerindex": limits}) as sandbox:
        (tmp_path / "roster.csv").write_text("id,name,twitter\n" + "".join(
            f"p{i},Person {i},{h}\n" for i, h in enumerate(sandbox.handles[:40])))
        data = sandbox.config(roster=tmp_path / "roster.csv", store=tmp_path / "history.sqlite",
                              report=tmp_path / "report.txt")
        data["indices"]["peerindex"].update(rate_limit=limits, concurrency=8)
        config = config_from_dict(data, base_dir=tmp_path)
        started = time.monotonic()
        with Store(config.store.path) as store:
            outcome = await run(config, store)
            failures = store.failures(outcome.run.id)
            readings = store.readings(outcome.run.id)
        seconds = time.monotonic() - started
        stats = sandbox["peerindex"].server.stats
    assert stats["rate_limited"] == 0  # the vendor refused nothing
    assert stats["admitted"] == 25  # the whole daily quota, not one more
    assert seconds >= 2.0  # 25 requests at 10 a second: the per-second window held too
    cut = [f for f in failures if f.kind is FailureKind.RATE_LIMITED]
    assert len(readings) + len(failures) == 40 and len(cut) == 15
    assert all("25/day limit is used up until" in f.message for f in cut)
    assert not any(f.kind.is_final for f in cut)  # a resumed run asks for them again
    assert all(f.attempts == 0 for f in cut)  # never sent: the vendor was not asked about them
