"""Collection that survives faults, end to end against the sandbox vendors on 127.0.0.1.

The fault matrix: every fault at 10% on every vendor, 500 subjects through the real pipeline
into SQLite. Then the guards: the circuit breaker (a vendor that refuses the key, a vendor
that never answers) and the per-index deadline, with the other vendors unaffected.
"""

from __future__ import annotations

import csv

from adapters.sandbox.launch import launch
from adapters.sandbox.servers import FAULT_KINDS, Faults
from aggregator.app.config import config_from_dict
from aggregator.app.pipeline import build_adapters, run
from aggregator.collection.collect import collect
from aggregator.collection.store import Store
from aggregator.models import Failure, FailureKind, Reading, Subject
from aggregator.plugins import Limits
from aggregator.testing import FakeAdapter

VENDORS = ("klout", "peerindex", "kred", "empireavenue")
FAST = dict.fromkeys(VENDORS, "2000/s")


def configure(sandbox, tmp_path, subjects, *, timeout=0.3, attempts=12, options=None, **index):
    """The sandbox's own config for a roster of its first ``subjects`` people, tuned for a test."""
    tmp_path.mkdir(exist_ok=True)
    roster = tmp_path / "roster.csv"
    with roster.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["id", "name", "twitter"])
        writer.writerows([f"p{i}", f"Person {i}", h] for i, h in enumerate(sandbox.handles[:subjects]))
    data = sandbox.config(roster=roster, store=tmp_path / "history.sqlite", report=tmp_path / "r.html")
    for name, table in data["indices"].items():
        table.update({"rate_limit": "1000/s", "concurrency": 16, **index})
        table["options"].update({"timeout_seconds": timeout, "max_attempts": attempts, "backoff_seconds": 0.005,
                                 "backoff_max_seconds": 0.05, **(options or {}).get(name, {})})
    return config_from_dict(data, base_dir=tmp_path)


def pairs(store, run_id):
    readings = {(r.index, r.subject_id): r for _, r in store.readings(run_id)}
    failures = {(f.index, f.subject_id): f for f in store.failures(run_id)}
    return readings, failures


async def test_fault_matrix_every_fault_at_10_percent_on_every_vendor_then_resumed_healthy(tmp_path):
    every = Faults(latency=0.002, jitter=0.004, shares=dict.fromkeys(FAULT_KINDS, 0.1))
    async with launch(VENDORS, faults=every, limits=FAST, seed=11) as sandbox:
        # batches of 10 tickers rather than 100, so that Empire Avenue sees enough requests for every fault;
        # no breaker: on a loaded machine the 0.3 s timeouts come in runs that would mark a vendor down,
        # and this test is about what each fault becomes (the breaker has tests of its own)
        config = configure(sandbox, tmp_path, 500, options={"empireavenue": {"batch_size": 10}}, breaker_after=10_000)
        adapters = build_adapters(config)
        with Store(config.store.path) as store:
            outcome = await run(config, store, adapters_=adapters)
            readings, failures = pairs(store, outcome.run.id)
        faults = {name: sandbox[name].server.stats for name in VENDORS}
        sandbox.set_faults(Faults())  # the same vendors, healthy
        with Store(config.store.path) as store:  # what is left after resuming against them
            await run(config, store, resume=outcome.run.id)
            resumed, left = pairs(store, outcome.run.id)
            await run(config, store, resume=outcome.run.id, retry={FailureKind.OUT_OF_RANGE})
            retried, still = pairs(store, outcome.run.id)
        clean_config = configure(sandbox, tmp_path / "clean", 500, timeout=10)  # the true answers
        with Store(clean_config.store.path) as store:
            clean_run = await run(clean_config, store)
            truth, gaps = pairs(store, clean_run.run.id)

    everyone = {(index, f"p{i}") for index in VENDORS for i in range(500)}
    assert {f.kind for f in gaps.values()} == {FailureKind.NOT_FOUND}  # the healthy run: coverage gaps only
    assert outcome.run.finished
    assert set(readings) | set(failures) == everyone  # every subject has an answer for every index ...
    assert not set(readings) & set(failures)  # ... exactly one
    for name in VENDORS:  # every fault the vendor can show did happen, and was retried where it should be
        shown = {kind for kind in FAULT_KINDS if faults[name][f"fault/{kind}"]}
        assert shown == {kind for kind in FAULT_KINDS if kind != "not_complete" or name == "kred"}, name
    stats = {adapter.name: adapter.stats for adapter in adapters}
    assert all(stats[name]["retry/count"] > 10 for name in VENDORS), stats
    # what a healthy vendor would answer the same way is final; everything else is asked again
    final = {pair: f for pair, f in failures.items() if f.kind.is_final}
    assert {f.kind for f in final.values()} == {FailureKind.OUT_OF_RANGE, FailureKind.NOT_FOUND}
    assert {pair for pair, f in final.items() if f.kind is FailureKind.NOT_FOUND} <= gaps.keys()
    # no garbage became a reading: every reading is the healthy vendor's answer
    assert not gaps.keys() & readings.keys()
    for pair, reading in readings.items():
        assert (reading.value, reading.components) == (truth[pair].value, truth[pair].components), pair
    assert len(readings) > len(truth) // 2
    # resumed against the healthy vendors, nothing transient is left; --retry out_of_range asks the rest
    assert set(left) == set(final) | (gaps.keys() - set(final)) and set(resumed) == everyone - set(left)
    assert set(still) == set(gaps) and set(retried) == set(truth)
    assert all(f.kind is FailureKind.NOT_FOUND for f in still.values())


async def test_a_vendor_refusing_the_key_is_marked_down_and_the_others_carry_on(tmp_path):
    async with launch(["klout", "kred"], limits={"klout": "2000/s", "kred": "2000/s"}) as sandbox:
        config = configure(sandbox, tmp_path, 200, breaker_after=5, options={"klout": {"api_key": "wrong-key"}})
        with Store(config.store.path) as store:
            outcome = await run(config, store)
            readings, failures = pairs(store, outcome.run.id)
        asked = sandbox["klout"].server.stats["requests"]
    assert config.indices["klout"].limits.breaker_after == 5
    klout_failures = [f for (index, _), f in failures.items() if index == "klout"]
    assert len(klout_failures) == 200 and {f.kind for f in klout_failures} == {FailureKind.AUTH}
    # the breaker's five, plus what the 16 workers had in flight or waiting to be handed over
    assert asked <= 5 + 2 * 16
    # "not asked" is never said of a subject the vendor saw (each subject is one request here:
    # identity, refused, not retried); requests cut off in flight are "asked, but cut off"
    down = [f for f in klout_failures if f.attempts == 0]
    cut = [f for f in klout_failures if "asked, but its answer was cut off" in f.message]
    assert 200 - asked - len(cut) <= len(down) <= 200 - asked
    assert all("not asked: the index was marked down for this run after 5 failed requests in a row" in f.message
               for f in down)
    assert "wrong-key" not in " ".join(f.message for f in klout_failures)
    assert sum(1 for index, _ in readings if index == "kred") > 100  # unaffected


async def test_a_vendor_that_never_answers_costs_one_breaker_not_a_timeout_per_subject(tmp_path):
    down = {"peerindex": Faults(shares={"timeout": 1.0})}
    async with launch(["peerindex", "kred"], faults=down, limits={"peerindex": "2000/s", "kred": "2000/s"}) as sandbox:
        config = configure(sandbox, tmp_path, 300, timeout=0.1, attempts=2, breaker_after=8,
                           options={"kred": {"timeout_seconds": 10}})  # kred is healthy, even on a busy machine
        with Store(config.store.path) as store:
            outcome = await run(config, store)
            readings, failures = pairs(store, outcome.run.id)
        asked = sandbox["peerindex"].server.stats["requests"]
    peerindex = [f for (index, _), f in failures.items() if index == "peerindex"]
    assert len(peerindex) == 300 and {f.kind for f in peerindex} == {FailureKind.TIMEOUT}
    assert asked <= (8 + 2 * 16) * 2  # 300 subjects would have cost 600 timed-out requests
    assert not FailureKind.TIMEOUT.is_final  # a resumed run asks again
    kred = {pair: f for pair, f in failures.items() if pair[0] == "kred"}
    assert {f.kind for f in kred.values()} <= {FailureKind.NOT_FOUND}  # unaffected: coverage gaps only
    assert sum(1 for index, _ in readings if index == "kred") + len(kred) == 300


async def test_the_deadline_fails_what_is_left_as_timeouts(tmp_path):
    slow = {"kred": Faults(latency=0.05)}
    async with launch(["kred", "empireavenue"], faults=slow, limits={"kred": "2000/s", "empireavenue": "2000/s"}
                      ) as sandbox:
        config = configure(sandbox, tmp_path, 400, deadline_seconds=0.4, concurrency=1)
        with Store(config.store.path) as store:
            outcome = await run(config, store)
            readings, failures = pairs(store, outcome.run.id)
    kred_read = [pair for pair in readings if pair[0] == "kred"]
    late = [f for (index, _), f in failures.items() if index == "kred" and f.kind is FailureKind.TIMEOUT]
    # what was fetched by the deadline is kept (how much depends on the machine), the rest times out
    assert len(kred_read) + len([p for p in failures if p[0] == "kred"]) == 400
    assert late and len(kred_read) < 400
    assert all("deadline of 0.4s passed" in f.message for f in late)
    # one request (a batch of 10) in flight at concurrency 1: at most 10 were asked and cut off
    assert [f.attempts for f in late].count(0) >= len(late) - 10
    assert len([p for p in set(readings) | set(failures) if p[0] == "empireavenue"]) == 400  # unaffected


async def test_breaker_counts_only_failures_in_a_row_that_say_the_vendor_is_unwell():
    subjects = [Subject(id=f"s{i}", name="S") for i in range(30)]
    answers: dict = {f"s{i}": FailureKind.NOT_FOUND for i in range(12)}  # coverage gaps never trip it
    answers |= {f"s{i}": FailureKind.SERVER_ERROR for i in range(12, 15)}
    answers |= {"s15": 1.0}  # a reading resets the count
    answers |= {f"s{i}": FailureKind.TIMEOUT for i in range(16, 30)}
    fake = FakeAdapter("v", answers)
    got: list[Reading | Failure] = []
    await collect([fake], subjects, got.append, limits={"v": Limits(breaker_after=4)})
    by_id = {item.subject_id: item for item in got}
    assert len(got) == 30 and fake.asked == [f"s{i}" for i in range(20)]  # stopped after s16..s19
    assert [by_id[f"s{i}"].attempts for i in range(16, 30)] == [1] * 4 + [0] * 10
    assert "after 4 failed requests in a row (last: v: timeout (fake))" in by_id["s29"].message


async def test_at_the_vendors_limit_at_concurrency_32_nothing_is_refused(tmp_path):
    # The sandbox enforces a strict sliding window of 60 a second per key, timed when a request
    # arrives. The adapters are set to exactly that, 32 requests in flight: a limiter that starts
    # with a full bucket, or counts a request from when it was sent, lets a window straddle more
    # than 60 arrivals when the event loop (shared here with the vendors) stalls.
    limits = dict.fromkeys(VENDORS, "60/s")
    async with launch(VENDORS, faults=Faults(latency=0.005), limits=limits) as sandbox:
        config = configure(sandbox, tmp_path, 120, rate_limit="60/s", concurrency=32, timeout=5,
                           options={"klout": {"api_version": 1, "batch_size": 1}, "kred": {"batch_size": 1},
                                    "empireavenue": {"batch_size": 1}})
        with Store(config.store.path) as store:
            outcome = await run(config, store)
            readings, failures = pairs(store, outcome.run.id)
        stats = {name: sandbox[name].server.stats for name in VENDORS}
    # what the product promises, not what scheduling gives: nothing refused, every pair answered
    # once (on a busy machine a request may time out and be retried, so the count may exceed 120)
    assert {name: stats[name]["rate_limited"] for name in VENDORS} == dict.fromkeys(VENDORS, 0)
    assert all(stats[name]["requests"] >= 120 for name in VENDORS)
    assert len(readings) + len(failures) == 480 and not readings.keys() & failures.keys()
