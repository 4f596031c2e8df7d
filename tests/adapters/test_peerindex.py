"""PeerIndex adapter: every recorded PeerIndex payload (actor API and the older one) over real HTTP."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from adapters.peerindex import PeerIndexAdapter, PeerIndexConfig
from aggregator.models import Failure, FailureKind, Reading, Subject
from aggregator.plugins import Limits
from aggregator.ratelimit import RateLimit

KEY = "pi-SENTINEL-7788"
ANN = Subject(id="ann", name="Ann", handles={"twitter": " @Ann_A "})


class PeerIndex(PeerIndexAdapter):
    backoff_base = 0.01


def make(replay, **options):
    config = PeerIndexConfig(base_url=replay.url, api_key=SecretStr(KEY), **options)
    return PeerIndex("peerindex", config, Limits(rate=RateLimit.parse("100/s")))


async def one(adapter, subject=ANN):
    [result] = [r async for r in adapter.fetch([subject])]
    assert result.subject_id == subject.id
    assert KEY not in result.model_dump_json()
    return result


async def test_actor_extended_gives_the_score_and_its_three_components(replay, recorded):
    replay.answer("/1/actor/extended", recorded("peerindex", "actor_extended__londiniumjs_human.json"))
    reading = await one(make(replay))
    assert isinstance(reading, Reading)
    assert (reading.value, reading.raw) == (88.0, "88")
    assert reading.components == {"authority": 83.0, "audience": 83.0, "activity": 58.0}
    [seen] = replay.seen
    assert seen.query == {"twitter_screen_name": "Ann_A", "api_key": KEY}  # '@' and spaces stripped


async def test_topics_where_configured_are_ranked_by_topic_score(replay, recorded):
    replay.answer("/1/actor/extended", recorded("peerindex", "actor_extended__londiniumjs_human.json"))
    replay.answer("/1/actor/topic", recorded("peerindex", "actor_topic__londiniumjs_human.json"))
    reading = await one(make(replay, topics=True))
    assert isinstance(reading, Reading)
    assert reading.topics == ("Arts, Media and Entertainment", "Science and Environment", "Technology and Internet",
                              "News and society", "Health and Medical", "Leisure and Lifestyle", "Sports",
                              "Business and Finance")
    assert [s.path for s in replay.seen] == ["/1/actor/extended", "/1/actor/topic"]


async def test_an_actor_topic_reply_alone_still_carries_the_headline(replay, recorded):
    replay.answer("/1/actor/extended", recorded("peerindex", "actor_topic__londiniumjs_human.json"))
    reading = await one(make(replay))
    assert isinstance(reading, Reading) and reading.value == 88.0 and reading.components == {}


async def test_the_older_flat_profile_reads_the_same_way(replay, recorded):
    replay.answer("/1/actor/extended", recorded("peerindex", "legacy_profile_show__fluidinfo.json"))
    reading = await one(make(replay))
    assert isinstance(reading, Reading)
    assert reading.value == 52.0
    assert reading.components == {"authority": 51.0, "audience": 57.0, "activity": 46.0}
    assert reading.topics == ("languages", "terry jones", "catalonia", "tim oreilly", "writing")


@pytest.mark.parametrize(("name", "status", "kind", "attempts"), [
    ("legacy_404_unknown_user__fluidinfo.json", 404, FailureKind.NOT_FOUND, 1),  # not scored: never a zero
    ("legacy_error_400_invalid_key__fluidinfo.json", 400, FailureKind.AUTH, 1),
    ("legacy_error_403_rate_limit__fluidinfo.json", 403, FailureKind.RATE_LIMITED, 4),  # retried, then given up
])
async def test_recorded_error_replies(replay, recorded, name, status, kind, attempts):
    replay.answer("/1/actor/extended", recorded("peerindex", name), status=status)
    failure = await one(make(replay))
    assert isinstance(failure, Failure)
    assert (failure.kind, failure.attempts) == (kind, attempts)
    assert len(replay.seen) == attempts


@pytest.mark.parametrize(("status", "body", "kind"), [
    (403, "<h1>Developer Inactive</h1>", FailureKind.AUTH),  # Mashery's bad key: not JSON
    (200, "[]", FailureKind.NOT_FOUND),
    (200, "<html>Not Found</html>", FailureKind.BAD_PAYLOAD),  # the old API's HTML 200
    (200, '{"peerindex": 101}', FailureKind.OUT_OF_RANGE),
    (200, '{"peerindex": -1}', FailureKind.OUT_OF_RANGE),
    (200, '{"authority": 5}', FailureKind.BAD_PAYLOAD),
    (200, '{"peerindex": "61", "authority": "n/a"}', None),  # a string number; a bad component is left out
    (503, "<h1>Service Unavailable</h1>", FailureKind.SERVER_ERROR),
])
async def test_defensive_parsing(replay, status, body, kind):
    replay.answer("/1/actor/extended", body, status=status,
                  content_type="text/html" if "<" in body else "application/json")
    result = await one(make(replay))
    if kind is None:
        assert isinstance(result, Reading) and result.value == 61.0 and result.components == {}
    else:
        assert isinstance(result, Failure) and result.kind is kind


async def test_over_qps_then_success(replay, recorded):
    replay.answer("/1/actor/extended", "<h1>Developer Over Qps</h1>", status=403, content_type="text/html",
                  headers={"Retry-After": "0"})
    replay.answer("/1/actor/extended", recorded("peerindex", "actor_extended__londiniumjs_human.json"))
    result = await one(make(replay))
    assert isinstance(result, Reading)
    assert len(replay.seen) == 2


def test_one_request_a_second_by_default():
    adapter = PeerIndexAdapter("peerindex", PeerIndexConfig(api_key=SecretStr(KEY)), Limits())
    assert str(adapter.limits.rate) == "1/1s"
    custom = PeerIndexAdapter("peerindex", PeerIndexConfig(api_key=SecretStr(KEY)),
                              Limits(rate=RateLimit.parse("5/s")))
    assert str(custom.limits.rate) == "5/1s"
