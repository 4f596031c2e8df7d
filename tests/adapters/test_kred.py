"""Kred adapter over real HTTP. No Kred reply was ever recorded publicly (fixtures README), so the
replies here follow the shape on PeopleBrowsr's archived kredscore page (notes §3.2)."""

from __future__ import annotations

import json

import pytest
from pydantic import SecretStr, ValidationError

from adapters.kred import KredAdapter, KredConfig
from aggregator.models import Failure, FailureKind, Reading, Subject
from aggregator.plugins import Limits

APP_ID, KEY = "ab12cd34", "kred-SENTINEL-0123456789abcdef0123"


class Kred(KredAdapter):
    backoff_base = 0.01


def make(replay, **options):
    options = {"poll_seconds": 0.01, **options}
    config = KredConfig(base_url=replay.url, app_id=SecretStr(APP_ID), api_key=SecretStr(KEY), **options)
    return Kred("kred", config, Limits())


def reply(rows, status="complete", term="x"):
    """The documented envelope; the request echo carries the key, as the vendor's sample does."""
    return json.dumps({"data": rows, "id": "999-0123456789abcdef0123456789abcdef",
                       "request": {"app_id": APP_ID, "app_key": KEY, "source": "twitter", "term": term},
                       "status": status})


def people(*handles):
    return [Subject(id=f"s{i}", name="S", handles={"twitter": h}) for i, h in enumerate(handles)]


async def fetch(adapter, subjects):
    results = [r async for r in adapter.fetch(subjects)]
    assert sorted(r.subject_id for r in results) == sorted(s.id for s in subjects)
    for result in results:
        assert KEY not in result.model_dump_json() and APP_ID not in result.model_dump_json()
    return {r.subject_id: r for r in results}


async def test_a_comma_batch_with_names_in_any_case_and_order(replay):
    replay.answer("/kredscore", reply([{"influence": "712", "name": "Bobb", "outreach": 6},
                                       {"influence": 640, "name": "ANN_A", "outreach": "3"}]))
    results = await fetch(make(replay), people("@ann_a", "BobB", "cychan"))
    [seen] = replay.seen
    assert seen.path == "/kredscore"
    assert seen.query == {"term": "ann_a,bobb,cychan", "source": "twitter", "app_id": APP_ID, "app_key": KEY}
    assert (results["s0"].value, results["s0"].components) == (640.0, {"outreach": 3.0})
    assert (results["s1"].value, results["s1"].raw, results["s1"].components) == (712.0, "712", {"outreach": 6.0})
    assert isinstance(results["s2"], Failure) and results["s2"].kind is FailureKind.NOT_FOUND


async def test_batches_follow_batch_size(replay):
    replay.answer("/kredscore", reply([]))
    await fetch(make(replay, batch_size=2), people("a", "b", "c", "d", "e"))
    assert sorted(s.query["term"] for s in replay.seen) == ["a,b", "c,d", "e"]


async def test_it_polls_until_the_reply_is_complete(replay):
    replay.answer("/kredscore", reply([], status="processing"))
    replay.answer("/kredscore", reply([], status="processing"))
    replay.answer("/kredscore", reply([{"influence": 500, "name": "ann", "outreach": 1}]))
    results = await fetch(make(replay), people("ann"))
    assert isinstance(results["s0"], Reading) and results["s0"].value == 500.0
    assert results["s0"].components == {"outreach": 1.0}
    assert len(replay.seen) == 3


async def test_still_computing_after_max_polls_is_a_timeout_asked_again_on_resume(replay):
    replay.answer("/kredscore", reply([], status="processing"))
    results = await fetch(make(replay, max_polls=2), people("ann", "bob"))
    assert {r.kind for r in results.values()} == {FailureKind.TIMEOUT}
    assert not FailureKind.TIMEOUT.is_final
    assert results["s0"].attempts == 3 and len(replay.seen) == 3


@pytest.mark.parametrize(("influence", "kind"), [
    (1000, None), (1, None), ("999", None), (1001, FailureKind.OUT_OF_RANGE), (0, FailureKind.OUT_OF_RANGE),
    ("lots", FailureKind.BAD_PAYLOAD), (None, FailureKind.NOT_FOUND),
])
async def test_one_bad_row_fails_its_subject_only(replay, influence, kind):
    replay.answer("/kredscore", reply([{"influence": influence, "name": "ann"},
                                       {"influence": 300, "name": "bob", "outreach": 2}]))
    results = await fetch(make(replay), people("ann", "bob"))
    assert isinstance(results["s1"], Reading) and results["s1"].value == 300.0
    if kind is None:
        assert isinstance(results["s0"], Reading) and results["s0"].components == {}
    else:
        assert isinstance(results["s0"], Failure) and results["s0"].kind is kind


@pytest.mark.parametrize(("status", "body", "kind", "attempts"), [
    (401, '{"status": "error", "message": "Invalid or missing app_id/app_key"}', FailureKind.AUTH, 1),
    (200, '{"status": "error", "message": "Something broke"}', FailureKind.BAD_PAYLOAD, 1),
    (200, "<html>down</html>", FailureKind.BAD_PAYLOAD, 4),  # not JSON: passing trouble, retried
    (200, '{"data": [{"influence": 5', FailureKind.BAD_PAYLOAD, 4),
    (200, '{"status": "complete"}', FailureKind.BAD_PAYLOAD, 1),
    (502, "bad gateway", FailureKind.SERVER_ERROR, 4),
])
async def test_whole_batch_failures_give_each_subject_one_failure(replay, status, body, kind, attempts):
    replay.answer("/kredscore", body, status=status, content_type="text/html" if "<" in body else "application/json")
    results = await fetch(make(replay), people("ann", "bob"))
    assert {(r.kind, r.attempts) for r in results.values()} == {(kind, attempts)}


async def test_handles_that_would_split_the_batch_are_not_sent(replay):
    replay.answer("/kredscore", reply([{"influence": 10, "name": "ann"}]))
    results = await fetch(make(replay), [*people("ann"), Subject(id="evil", name="E", handles={"twitter": "a,b"}),
                                         Subject(id="none", name="N")])
    assert replay.seen[0].query["term"] == "ann"
    assert (results["evil"].kind, results["evil"].attempts) == (FailureKind.NOT_FOUND, 0)
    assert results["none"].kind is FailureKind.NOT_FOUND


async def test_a_429_with_retry_after_is_waited_out(replay):
    replay.answer("/kredscore", '{"status": "error", "message": "Rate limit exceeded"}', status=429,
                  headers={"Retry-After": "0"})
    replay.answer("/kredscore", reply([{"influence": 10, "name": "ann"}]))
    adapter = make(replay)
    results = await fetch(adapter, people("ann"))
    assert isinstance(results["s0"], Reading) and len(replay.seen) == 2
    assert adapter.stats["retry/reason/rate_limited"] == 1


def test_config():
    config = KredConfig(app_id=SecretStr(APP_ID), api_key=SecretStr(KEY))
    adapter = KredAdapter("kred", config, Limits())
    assert (adapter.batch_size, adapter.limits.rate, config.base_url) == (10, None, "https://api.kred.com")
    assert APP_ID not in repr(config) and KEY not in repr(config)
    with pytest.raises(ValidationError):
        KredConfig(api_key=SecretStr(KEY))  # app_id is required too
    with pytest.raises(ValidationError):
        KredConfig(app_id=SecretStr(APP_ID), api_key=SecretStr(KEY), source="myspace")
