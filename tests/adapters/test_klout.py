"""Klout adapter: every recorded Klout payload, v2 and v1, through real HTTP on 127.0.0.1."""

from __future__ import annotations

import pytest
from pydantic import SecretStr, ValidationError

from adapters.klout import KloutAdapter, KloutConfig
from aggregator.models import Failure, FailureKind, Reading, Subject
from aggregator.plugins import Limits

KEY = "k3y-SENTINEL-0042"
JT = Subject(id="jt", name="Justin", handles={"twitter": "jtimberlake"})
IDENTITIES = ["v2_identity_twitter_screenname__jklout2.json", "v2_identity_tw_id__jklout2.json",
              "v2_identity_gp__jklout2.json", "v2_identity_ig__jklout2.json"]


class Klout(KloutAdapter):
    backoff_base = 0.01  # the retry policy is tuned by class attributes; tests need no long waits


def make(replay, version=2, **options):
    root = f"{replay.url}/v2" if version == 2 else replay.url  # with or without the version path
    config = KloutConfig(base_url=root, api_key=SecretStr(KEY), api_version=version, **options)
    return Klout("klout", config, Limits())


async def fetch(adapter, subjects=(JT,)):
    results = [r async for r in adapter.fetch(list(subjects))]
    assert sorted(r.subject_id for r in results) == sorted(s.id for s in subjects)
    for result in results:
        assert KEY not in result.model_dump_json()
    return {r.subject_id: r for r in results}


def v2(replay, recorded, identity="v2_identity_twitter_screenname__jklout2.json",
       score="v2_user_score__jklout2.json", klout_id="635263"):
    replay.answer("/v2/identity.json/twitter", recorded("klout", identity))
    replay.answer(f"/v2/user.json/{klout_id}/score", recorded("klout", score))


async def test_v2_asks_identity_then_score_and_keeps_deltas_and_bucket(replay, recorded):
    v2(replay, recorded)
    reading = (await fetch(make(replay)))["jt"]
    assert isinstance(reading, Reading)
    assert (reading.index, reading.value, reading.raw) == ("klout", 92.8064108888354, "92.8064108888354")
    assert reading.components == {"day_change": 0.11171073367142981, "week_change": 0.07298920976049317,
                                  "month_change": 0.19782863190633293, "bucket_low": 90.0, "bucket_high": 100.0}
    assert [(s.path, s.query) for s in replay.seen] == [
        ("/v2/identity.json/twitter", {"screenName": "jtimberlake", "key": KEY}),
        ("/v2/user.json/635263/score", {"key": KEY}),
    ]


@pytest.mark.parametrize("identity", IDENTITIES)
async def test_every_kloutid_identity_reply_leads_to_the_score_of_that_exact_id(replay, recorded, identity):
    klout_id = {"v2_identity_tw_id__jklout2.json": "54887627490056592", "v2_identity_gp__jklout2.json": "103083",
                "v2_identity_ig__jklout2.json": "68495"}.get(identity, "635263")
    v2(replay, recorded, identity=identity, klout_id=klout_id)  # 17 digits: no float on the way
    assert isinstance((await fetch(make(replay)))["jt"], Reading)
    assert replay.seen[-1].path == f"/v2/user.json/{klout_id}/score"


async def test_a_reverse_lookup_reply_is_not_taken_for_a_kloutid(replay, recorded):
    v2(replay, recorded, identity="v2_identity_klout_to_tw__jklout2.json")
    failure = (await fetch(make(replay)))["jt"]
    assert isinstance(failure, Failure)
    assert failure.kind is FailureKind.BAD_PAYLOAD and "'tw' id" in failure.message
    assert len(replay.seen) == 1


async def test_the_user_object_shape_with_plural_deltas_reads_the_same(replay, recorded):
    v2(replay, recorded, score="v2_user__jklout2.json")
    reading = (await fetch(make(replay)))["jt"]
    assert isinstance(reading, Reading)
    assert reading.value == 92.8064108888354
    assert reading.components["day_change"] == 0.11171073367142981
    assert reading.components["bucket_low"] == 90.0


async def test_an_influence_reply_where_a_score_belongs_is_a_bad_payload(replay, recorded):
    v2(replay, recorded, score="v2_user_influence__jklout2.json")
    failure = (await fetch(make(replay)))["jt"]
    assert isinstance(failure, Failure)
    assert (failure.kind, failure.attempts) == (FailureKind.BAD_PAYLOAD, 2)
    assert "no 'score'" in failure.message


async def test_topics_where_configured_come_from_a_third_call(replay, recorded):
    v2(replay, recorded)
    replay.answer("/v2/user.json/635263/topics", recorded("klout", "v2_user_topics__jklout2.json"))
    reading = (await fetch(make(replay, topics=True)))["jt"]
    assert isinstance(reading, Reading)
    assert reading.topics == ("Music", "Justin Timberlake", "Celebrities", "Timbaland", "Video")


async def test_failed_topics_keep_the_score(replay, recorded):
    v2(replay, recorded)
    replay.answer("/v2/user.json/635263/topics", "<h1>oops</h1>", content_type="text/html")
    adapter = make(replay, topics=True)
    reading = (await fetch(adapter))["jt"]
    assert isinstance(reading, Reading) and reading.topics == ()
    assert adapter.stats["topics/failed"] == 1


async def test_the_recorded_bad_key_reply_is_auth_without_the_key(replay, recorded):
    replay.answer("/v2/identity.json/twitter", recorded("klout", "v2_error_403_invalid_key__jklout2.json"),
                  status=403)
    failure = (await fetch(make(replay)))["jt"]
    assert isinstance(failure, Failure)
    assert (failure.kind, failure.attempts) == (FailureKind.AUTH, 1)
    assert failure.message.startswith("klout: HTTP 403 from http://127.0.0.1:")


async def test_mashery_over_qps_is_a_rate_limit_that_is_waited_out(replay, recorded):
    replay.answer("/v2/identity.json/twitter", "<h1>Developer Over Qps</h1>", status=403, content_type="text/html",
                  headers={"X-Mashery-Error-Code": "ERR_403_DEVELOPER_OVER_QPS", "Retry-After": "0"})
    v2(replay, recorded)
    adapter = make(replay)
    assert isinstance((await fetch(adapter))["jt"], Reading)
    assert adapter.stats["retry/reason/rate_limited"] == 1


@pytest.mark.parametrize(("status", "body", "kind"), [
    (404, '{"error": 404, "description": "User not found."}', FailureKind.NOT_FOUND),
    (200, "<html><body>maintenance</body></html>", FailureKind.BAD_PAYLOAD),
    (200, '{"id": "635', FailureKind.BAD_PAYLOAD),
    (200, '{"network": "ks"}', FailureKind.BAD_PAYLOAD),
    (401, "<h1>Developer Inactive</h1>", FailureKind.AUTH),
])
async def test_identity_failures_map_to_kinds(replay, status, body, kind):
    replay.answer("/v2/identity.json/twitter", body, status=status,
                  content_type="text/html" if body.startswith("<") else "application/json")
    failure = (await fetch(make(replay)))["jt"]
    assert isinstance(failure, Failure) and failure.kind is kind


@pytest.mark.parametrize(("score", "expected"), [
    ('"57.31942"', 57.31942),  # a number as a string
    ("1", 1.0),
    ("100", 100.0),
    ("100.5", FailureKind.OUT_OF_RANGE),  # never clipped to 100
    ("0.2", FailureKind.OUT_OF_RANGE),
    ('"NaN"', FailureKind.BAD_PAYLOAD),
    ("true", FailureKind.BAD_PAYLOAD),
    ("null", FailureKind.BAD_PAYLOAD),
])
async def test_scores_are_read_leniently_but_never_clipped(replay, recorded, score, expected):
    replay.answer("/v2/identity.json/twitter", recorded("klout", IDENTITIES[0]))
    replay.answer("/v2/user.json/635263/score", f'{{"score": {score}}}')  # no deltas, no bucket: optional
    result = (await fetch(make(replay)))["jt"]
    if isinstance(expected, FailureKind):
        assert isinstance(result, Failure) and result.kind is expected
    else:
        assert isinstance(result, Reading) and result.value == expected and result.components == {}


async def test_a_subject_without_a_twitter_handle_is_not_asked_about(replay):
    failure = (await fetch(make(replay), [Subject(id="x", name="X")]))["x"]
    assert isinstance(failure, Failure) and (failure.kind, failure.attempts) == (FailureKind.NOT_FOUND, 0)
    assert replay.seen == []


# -- v1 ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "handle", "value"), [
    ("v1_klout__dalecaru.json", "damiancaruso", 10.86),
    ("v1_klout__zigotto_vcr.json", "zigotto", 25.9),
])
async def test_v1_score_replies(replay, recorded, name, handle, value):
    replay.answer("/1/klout.json", recorded("klout", name))
    subject = Subject(id="s", name="S", handles={"twitter": handle})
    reading = (await fetch(make(replay, version=1), [subject]))["s"]
    assert isinstance(reading, Reading) and reading.value == value
    assert replay.seen[0].query == {"users": handle, "key": KEY}


async def test_v1_users_show_shape_gives_components(replay, recorded):
    replay.answer("/1/klout.json", recorded("klout", "v1_users_show__dalecaru.json"))
    subject = Subject(id="s", name="S", handles={"twitter": "DamianCaruso"})
    reading = (await fetch(make(replay, version=1), [subject]))["s"]
    assert isinstance(reading, Reading) and reading.value == 10.86
    assert reading.components == {"network_score": 11.25, "amplification_score": 2.0, "true_reach": 3.0,
                                  "slope": -0.32, "delta_1day": -0.07, "delta_5day": -0.34}


async def test_v1_topics_reply(replay, recorded):
    replay.answer("/1/klout.json", recorded("klout", "v1_klout__dalecaru.json"))
    replay.answer("/1/users/topics.json", recorded("klout", "v1_users_topics__dalecaru.json"))
    subject = Subject(id="s", name="S", handles={"twitter": "damiancaruso"})
    reading = (await fetch(make(replay, version=1, topics=True), [subject]))["s"]
    assert isinstance(reading, Reading)
    assert reading.topics == ("humor", "comedy", "babies", "human rights", "entertainment")


async def test_v1_topics_reply_where_scores_belong_is_a_bad_payload(replay, recorded):
    replay.answer("/1/klout.json", recorded("klout", "v1_users_topics__dalecaru.json"))
    subject = Subject(id="s", name="S", handles={"twitter": "damiancaruso"})
    failure = (await fetch(make(replay, version=1), [subject]))["s"]
    assert isinstance(failure, Failure) and failure.kind is FailureKind.BAD_PAYLOAD


async def test_v1_batches_of_five_in_any_order_with_string_scores_and_gaps(replay):
    subjects = [Subject(id=f"s{i}", name="S", handles={"twitter": f"User{i}"}) for i in range(7)]
    replay.answer("/1/klout.json", '{"status": 200, "users": [{"twitter_screen_name": "user3", "kscore": "30.01"},'
                                   ' {"twitter_screen_name": "USER0", "kscore": 12},'
                                   ' {"twitter_screen_name": "user4", "kscore": 140}]}')
    replay.answer("/1/klout.json", '{"status": 200, "users": [{"twitter_screen_name": "user6", "kscore": 50}]}')
    results = await fetch(make(replay, version=1, batch_size=5), subjects)
    assert [s.query["users"] for s in replay.seen] == ["user0,user1,user2,user3,user4", "user5,user6"]
    assert {sid: r.value for sid, r in results.items() if isinstance(r, Reading)} == {
        "s0": 12.0, "s3": 30.01, "s6": 50.0}
    assert {sid: r.kind for sid, r in results.items() if isinstance(r, Failure)} == {
        "s1": FailureKind.NOT_FOUND, "s2": FailureKind.NOT_FOUND, "s4": FailureKind.OUT_OF_RANGE,
        "s5": FailureKind.NOT_FOUND}
    assert results["s3"].raw == "30.01"


async def test_v1_queued_for_scoring_is_not_found(replay):
    replay.answer("/1/klout.json", "", status=202)
    failure = (await fetch(make(replay, version=1)))["jt"]
    assert isinstance(failure, Failure) and failure.kind is FailureKind.NOT_FOUND


def test_config_defaults_limits_and_bounds():
    adapter = KloutAdapter("klout", KloutConfig(api_key=SecretStr(KEY)), Limits())
    assert adapter.root == "https://api.klout.com/v2"
    same = KloutAdapter("klout", KloutConfig(api_key=SecretStr(KEY), base_url="http://h:1/x/v2/"), Limits())
    assert same.root == "http://h:1/x/v2"
    assert str(adapter.limits.rate) == "10/1s"
    assert adapter.batch_size == 1
    v1 = KloutAdapter("k1", KloutConfig(api_key=SecretStr(KEY), api_version=1, batch_size=3), Limits())
    assert (v1.root, v1.batch_size) == ("https://api.klout.com/1", 3)
    with pytest.raises(ValidationError):
        KloutConfig(api_key=SecretStr(KEY), batch_size=6)
    with pytest.raises(ValidationError):
        KloutConfig()  # the key is required


async def test_v1_failed_topics_keep_every_score_of_the_batch(replay):
    subjects = [Subject(id=f"s{i}", name="S", handles={"twitter": f"user{i}"}) for i in range(3)]
    replay.answer("/1/klout.json", '{"status": 200, "users": [{"twitter_screen_name": "user0", "kscore": 12},'
                                   ' {"twitter_screen_name": "user2", "kscore": 40}]}')
    replay.answer("/1/users/topics.json", "<h1>Service Unavailable</h1>", status=503, content_type="text/html")
    adapter = make(replay, version=1, batch_size=3, topics=True)
    results = await fetch(adapter, subjects)
    assert {sid: (r.value, r.topics) for sid, r in results.items() if isinstance(r, Reading)} == {
        "s0": (12.0, ()), "s2": (40.0, ())}
    assert results["s1"].kind is FailureKind.NOT_FOUND
    assert adapter.stats["topics/failed"] == 1


async def test_v1_a_reply_saying_no_such_users_is_coverage_not_a_fault(replay):
    replay.answer("/1/klout.json", '{"status": 404, "error": "No such users"}')
    subjects = [Subject(id=f"s{i}", name="S", handles={"twitter": f"user{i}"}) for i in range(2)]
    results = await fetch(make(replay, version=1, batch_size=2), subjects)
    assert {(r.kind, r.attempts) for r in results.values()} == {(FailureKind.NOT_FOUND, 1)}
