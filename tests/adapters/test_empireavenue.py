"""Empire Avenue adapter: every recorded EA payload, batches, meta-driven back-off, over real HTTP."""

from __future__ import annotations

import json
import time

import pytest
from pydantic import SecretStr, ValidationError

from adapters.empireavenue import EmpireAvenueAdapter, EmpireAvenueConfig
from aggregator.models import Failure, FailureKind, Reading, Subject
from aggregator.plugins import Limits
from aggregator.ratelimit import RateLimit

KEY = "ea-SENTINEL-55aa"
BEAVER = Subject(id="beaver", name="Avid Beaver", handles={"empireavenue": "avidbeaver"})


class EmpireAvenue(EmpireAvenueAdapter):
    backoff_base = 0.01


def make(replay, limits=None, **options):
    config = EmpireAvenueConfig(base_url=replay.url, api_key=SecretStr(KEY), **options)
    return EmpireAvenue("empireavenue", config, limits or Limits())


def envelope(rows, requests=1, limit="150", reset=3600):
    return json.dumps({"meta": {"total_rows": len(rows), "limit": limit, "limit_type": "user",
                                "requests": requests, "reset": reset}, "data": rows})


async def fetch(adapter, subjects=(BEAVER,)):
    results = [r async for r in adapter.fetch(list(subjects))]
    assert sorted(r.subject_id for r in results) == sorted(s.id for s in subjects)
    for result in results:
        assert KEY not in result.model_dump_json()
    return {r.subject_id: r for r in results}


async def test_recorded_profile_info(replay, recorded):
    replay.answer("/profile/info", recorded("empireavenue", "profile_info__barledge.json"))
    reading = (await fetch(make(replay)))["beaver"]
    assert isinstance(reading, Reading)
    assert (reading.value, reading.raw) == (168.34393, "168.34393")
    assert reading.scale.bounded is False
    assert reading.components == {
        "eav_score": 39.128, "facebook_score": 43.73, "flickr_score": 5.631, "foursquare_score": 20.968,
        "gplus_score": 1.0, "instagram_score": 23.266, "linkedin_score": 29.677, "twitter_score": 40.82,
        "youtube_score": 1.324}
    assert replay.seen[0].query == {"ticker": "AVIDBEAVER", "apikey": KEY}


async def test_recorded_portfolio_row_reads_the_same_fields(replay, recorded):
    replay.answer("/profile/info", recorded("empireavenue", "portfolio_base__barledge.json"))
    subject = Subject(id="tx", name="T", handles={"empireavenue": "TXWikinger"})
    reading = (await fetch(make(replay), [subject]))["tx"]
    assert isinstance(reading, Reading) and reading.value == 168.34393 and reading.components["eav_score"] == 39.128


@pytest.mark.parametrize(("status", "kind"), [(403, FailureKind.AUTH), (404, FailureKind.NOT_FOUND),
                                              (200, FailureKind.BAD_PAYLOAD)])
async def test_recorded_client_error_body(replay, recorded, status, kind):
    replay.answer("/profile/info", recorded("empireavenue", "error_client_error__barledge.json"), status=status)
    failure = (await fetch(make(replay)))["beaver"]
    assert isinstance(failure, Failure) and (failure.kind, failure.attempts) == (kind, 1)


async def test_batches_of_up_to_100_tickers_with_gaps_and_per_row_failures(replay):
    subjects = [Subject(id=f"s{i}", name="S", handles={"empireavenue": f"t{i}"}) for i in range(103)]
    rows = [{"ticker": f"T{i}", "last_trade": f"{i}.50000", "eav_score": "50.000"} for i in range(103) if i % 10]
    rows[0]["last_trade"] = "-3.00000"  # s1: a negative price is out of range
    rows[1]["last_trade"] = "n/a"  # s2: unreadable
    replay.answer("/profile/info", envelope(rows[:90]))
    replay.answer("/profile/info", envelope(rows[90:]))
    results = await fetch(make(replay), subjects)
    assert [len(s.query["ticker"].split(",")) for s in replay.seen] == [100, 3]
    kinds = {sid: r.kind for sid, r in results.items() if isinstance(r, Failure)}
    assert kinds == {"s1": FailureKind.OUT_OF_RANGE, "s2": FailureKind.BAD_PAYLOAD,
                     **{f"s{i}": FailureKind.NOT_FOUND for i in range(0, 103, 10)}}
    assert results["s3"].value == 3.5 and results["s3"].components == {"eav_score": 50.0}


@pytest.mark.parametrize(("status", "body", "kind", "attempts"), [
    (403, '{"meta": {"limit": "150", "requests": 2, "error": "Invalid or missing apikey"}}', FailureKind.AUTH, 1),
    (403, '{"meta": {"limit": "150", "requests": 150, "error": "Rate limit exceeded"}}', FailureKind.RATE_LIMITED, 4),
    (200, '{"meta": {"error": "Rate limit exceeded"}}', FailureKind.RATE_LIMITED, 1),
    (200, '{"errors": "bad access_token"}', FailureKind.AUTH, 1),
    (200, "<html>maintenance</html>", FailureKind.BAD_PAYLOAD, 4),  # passing trouble: retried
    (200, '{"meta": {}, "data": [{"ticker": "AVIDBE', FailureKind.BAD_PAYLOAD, 4),
    (500, '{"meta": {"error": "The service is temporarily unavailable"}}', FailureKind.SERVER_ERROR, 4),
])
async def test_error_replies(replay, status, body, kind, attempts):
    replay.answer("/profile/info", body, status=status, content_type="text/html" if "<" in body else "application/json")
    failure = (await fetch(make(replay)))["beaver"]
    assert isinstance(failure, Failure) and (failure.kind, failure.attempts) == (kind, attempts)


async def test_it_waits_for_the_reset_before_the_quota_runs_out(replay):
    subjects = [Subject(id=f"s{i}", name="S", handles={"empireavenue": f"t{i}"}) for i in range(2)]
    replay.answer("/profile/info", envelope([{"ticker": "T0", "last_trade": "1.0"}], requests=149, limit="150",
                                            reset=1))
    replay.answer("/profile/info", envelope([{"ticker": "T1", "last_trade": "2.0"}], requests=1))
    adapter = make(replay, Limits(rate=RateLimit.parse("100/s"), concurrency=1), batch_size=1)
    started = time.monotonic()
    results = await fetch(adapter, subjects)
    assert all(isinstance(r, Reading) for r in results.values())
    assert time.monotonic() - started >= 0.95  # it waited out meta.reset instead of spending the last request
    assert adapter.stats["quota/paused"] == 1


async def test_oauth_credentials_instead_of_the_apikey(replay, recorded):
    replay.answer("/profile/info", recorded("empireavenue", "profile_info__barledge.json"))
    config = EmpireAvenueConfig(base_url=replay.url, client_id="app-1", access_token=SecretStr(KEY))
    await fetch(EmpireAvenue("ea", config, Limits()))
    assert replay.seen[0].query == {"ticker": "AVIDBEAVER", "client_id": "app-1", "access_token": KEY}


def test_config_and_default_limit():
    adapter = EmpireAvenueAdapter("ea", EmpireAvenueConfig(api_key=SecretStr(KEY)), Limits())
    assert str(adapter.limits.rate) == "150/3600s" and adapter.batch_size == 100
    with pytest.raises(ValidationError, match="api_key, or client_id and access_token"):
        EmpireAvenueConfig()
    with pytest.raises(ValidationError):
        EmpireAvenueConfig(api_key=SecretStr(KEY), batch_size=101)


async def test_a_reply_saying_no_such_ticker_is_coverage_whatever_its_status(replay):
    replay.answer("/profile/info", '{"meta": {"error": "No such ticker"}}')
    failure = (await fetch(make(replay)))["beaver"]
    assert isinstance(failure, Failure) and (failure.kind, failure.attempts) == (FailureKind.NOT_FOUND, 1)


async def test_a_component_name_echoing_the_key_is_blanked_after_clean_names_were_seen(replay):
    # the clean names of the first reply are remembered; a new name in a later reply is searched
    replay.answer("/profile/info", envelope([{"ticker": "AVIDBEAVER", "last_trade": "10.5", "eav_score": "39"}]))
    replay.answer("/profile/info", envelope([{"ticker": "AVIDBEAVER", "last_trade": "11.5", "eav_score": "40",
                                              f"{KEY}_score": "1", "bad\x1b[2J_score": "2"}]))
    adapter = make(replay)
    first = (await fetch(adapter))["beaver"]
    second = (await fetch(adapter))["beaver"]
    assert isinstance(first, Reading) and first.components == {"eav_score": 39.0}
    assert isinstance(second, Reading)
    assert second.components == {"eav_score": 40.0, "***_score": 1.0, "bad\ufffd[2J_score": 2.0}
