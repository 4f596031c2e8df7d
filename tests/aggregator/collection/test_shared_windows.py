"""One vendor quota across processes and restarts: the rate windows of each (index, API key)
live in the store, so two ``aggregator run`` processes back to back, on the same key, together
stay inside the vendor's window; and at concurrency 32 with the limit set at the quota itself,
nothing is refused."""

from __future__ import annotations

import asyncio
import sys

import pytest
import tomli_w

from adapters.sandbox.launch import launch
from aggregator.collection.store import Store
from aggregator.ratelimit import RateLimit


async def aggregator_run(config: str) -> int:
    process = await asyncio.create_subprocess_exec(sys.executable, "-m", "aggregator", "run", "-c", config,
                                                   "--quiet", stdout=asyncio.subprocess.DEVNULL,
                                                   stderr=asyncio.subprocess.DEVNULL)
    return await process.wait()


async def test_two_runs_back_to_back_share_the_vendors_window(tmp_path):
    async with launch(["peerindex"], limits={"peerindex": "4/6s"}) as sandbox:
        (tmp_path / "roster.csv").write_text("id,name,twitter\n" + "".join(
            f"p{i},Person {i},{h}\n" for i, h in enumerate(sandbox.handles[:4])))
        data = sandbox.config(roster=tmp_path / "roster.csv", store=tmp_path / "history.sqlite",
                              report=tmp_path / "report.txt")
        data["indices"]["peerindex"].update(rate_limit="4/6s", concurrency=4)
        config = tmp_path / "config.toml"
        config.write_text(tomli_w.dumps(data))
        # each run alone fits the window exactly; the second starts while the first's window is full
        assert await aggregator_run(str(config)) in (0, 1)
        assert await aggregator_run(str(config)) in (0, 1)
        stats = sandbox["peerindex"].server.stats
        key = sandbox["peerindex"].api_key
    assert stats["admitted"] == 8 and stats["rate_limited"] == 0
    with Store(tmp_path / "history.sqlite") as store:
        scopes = {row[0] for row in store._db.execute("SELECT scope FROM rate_windows")}
        runs = store.runs()
        kinds = {f.kind.value for r in runs for f in store.failures(r.id)}
        assert len(runs) == 2 and kinds <= {"not_found"}  # coverage gaps only, nothing refused or failed
    assert len(scopes) == 1 and scopes.pop().startswith("peerindex:")
    for name in ("history.sqlite", "history.sqlite-wal"):
        file = tmp_path / name
        assert not file.exists() or key.encode() not in file.read_bytes()  # a digest, never the key


def test_places_taken_ahead_are_counted_by_every_process_on_the_store(tmp_path):
    limit = RateLimit(3, 1.0)
    with Store(tmp_path / "h.sqlite") as first, Store(tmp_path / "h.sqlite") as second:
        taken, _ = first.claim("kred:abc", limit, 100.0, places=3)
        assert [start for _, start in taken] == [100.0] * 3
        first.settle([(ticket, 100.0 + k / 10) for k, (ticket, _) in enumerate(taken)])  # answered .0, .1, .2
        # the window is full: places ahead, each starting as one answered a second earlier leaves it,
        # none later than now + hold
        ahead, wait = first.claim("kred:abc", limit, 100.9, places=3, hold=0.25)
        assert wait == 0 and [start for _, start in ahead] == pytest.approx([101.0, 101.1])
        # the other connection (another process) counts them: at 101.05 the place from 100.0 has
        # left, but the two taken ahead fill the window until the place from 100.2 leaves
        assert second.claim("kred:abc", limit, 101.05) == ([], pytest.approx(0.15))
        # given back, they free the window for everyone
        first.give_back([ticket for ticket, _ in ahead])
        assert len(second.claim("kred:abc", limit, 101.05)[0]) == 1
