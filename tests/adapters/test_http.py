"""HttpAdapter against a real aiohttp server on 127.0.0.1: outcomes, retries, limits, secrets."""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from contextlib import aclosing
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import pytest
from aiohttp import web
from loopback import serve
from pydantic import SecretStr
from typing_extensions import override

from adapters._http import (
    HttpAdapter,
    HttpConfig,
    HttpRequest,
    public_url,
    quote_segment,
    retry_after_seconds,
)
from aggregator.models import Failure, FailureKind, IndexSpec, Reading, Scale, Subject
from aggregator.plugins import Adapter, Limits, reading_or_failure
from aggregator.ratelimit import RateLimit

SECRET = "SECRET123"


class FakeVendor(HttpAdapter):
    """A vendor at ``/score/{handle}?key=...`` answering ``{"score": 61.5}`` on a 0-100 scale."""

    spec = IndexSpec(name="fake", scale=Scale(lo=0, hi=100))
    max_attempts = 3
    backoff_base = 0.01
    backoff_max = 2.0

    @override
    def request_for(self, subject: Subject) -> HttpRequest:
        assert self.config.api_key
        handle = quote_segment(subject.handles["fake"])
        return HttpRequest("GET", f"{self.config.base_url}/score/{handle}",
                           params={"key": self.config.api_key.get_secret_value()})

    @override
    def parse(self, payload: Any, subject: Subject) -> Reading | Failure:
        return reading_or_failure(self.spec, subject.id, float(payload["score"]),
                                  raw=str(payload["score"]))


@dataclass
class Vendor:
    url: str = ""
    hits: Counter[str] = field(default_factory=Counter)
    starts: list[float] = field(default_factory=list)
    raw_parts: list[tuple[str, ...]] = field(default_factory=list)
    query_keys: list[list[str]] = field(default_factory=list)
    in_flight: int = 0
    max_in_flight: int = 0


async def _answer(vendor: Vendor, request: web.Request) -> web.StreamResponse:
    handle = request.match_info["handle"]
    vendor.hits[handle] += 1
    seen = vendor.hits[handle]
    if request.query.get("key") != SECRET:
        return web.json_response({"error": "bad key"}, status=401)
    if handle == "ghost":
        return web.json_response({"error": "no such user"}, status=404)
    if handle == "locked":
        return web.json_response({"error": "forbidden"}, status=403)
    if handle == "busy" and seen == 1:
        return web.json_response({"error": "slow down"}, status=429, headers={"Retry-After": "1"})
    if handle == "flaky" and seen <= 2:
        return web.Response(status=503, text="try later")
    if handle == "down":  # a careless vendor echoing the request into its error page
        return web.Response(status=500, text=f"crash at {request.path_qs}")
    if handle == "sleepy":
        await asyncio.sleep(10)
    if handle == "html":
        return web.Response(text="<html><body>maintenance</body></html>", content_type="text/html")
    if handle == "garbled":
        return web.Response(text='{"score": ', content_type="application/json")
    if handle == "bad":
        return web.json_response({"error": "bad request"}, status=400)
    if handle == "weird":
        return web.json_response({"points": 3})
    if handle == "dropper":
        assert request.transport is not None
        request.transport.close()
    if handle == "slow":
        await asyncio.sleep(0.05)
    return web.json_response({"score": 150 if handle == "huge" else 61.5})


@pytest.fixture
async def vendor() -> AsyncIterator[Vendor]:
    state = Vendor()

    async def score(request: web.Request) -> web.StreamResponse:
        state.starts.append(time.monotonic())
        state.raw_parts.append(request.rel_url.raw_parts)
        state.query_keys.append(sorted(request.query))
        state.in_flight += 1
        state.max_in_flight = max(state.max_in_flight, state.in_flight)
        try:
            return await _answer(state, request)
        finally:
            state.in_flight -= 1

    app = web.Application()
    app.router.add_get("/score/{handle}", score)
    # handlers are cancelled when the client gives up, so "sleepy" does not hold up the shutdown
    async with serve(app, handler_cancellation=True) as state.url:
        yield state


def make(vendor: Vendor, limits: Limits | None = None, key: str = SECRET) -> FakeVendor:
    config = HttpConfig(base_url=vendor.url, api_key=SecretStr(key), timeout_seconds=0.3)
    return FakeVendor("fake", config, limits or Limits())


async def fetch(adapter: HttpAdapter, handles: Sequence[str]) -> list[Reading | Failure]:
    subjects = [Subject(id=f"s{i}", name=h, handles={"fake": h}) for i, h in enumerate(handles)]
    results = [result async for result in adapter.fetch(subjects)]
    assert sorted(r.subject_id or "" for r in results) == sorted(s.id for s in subjects)
    return results


CASES = [  # handle, expected failure kind (None: a reading), attempts = requests the server saw
    ("ada", None, 1),
    ("busy", None, 2),
    ("flaky", None, 3),
    ("ghost", FailureKind.NOT_FOUND, 1),
    ("locked", FailureKind.AUTH, 1),
    ("down", FailureKind.SERVER_ERROR, 3),
    ("sleepy", FailureKind.TIMEOUT, 3),
    ("dropper", FailureKind.SERVER_ERROR, 3),
    ("html", FailureKind.BAD_PAYLOAD, 3),  # a 200 that is not JSON is passing trouble: retried
    ("garbled", FailureKind.BAD_PAYLOAD, 3),
    ("weird", FailureKind.BAD_PAYLOAD, 1),
    ("huge", FailureKind.OUT_OF_RANGE, 1),
    ("bad", FailureKind.BAD_PAYLOAD, 1),  # a 400 is asked exactly once
]


@pytest.mark.parametrize(("handle", "kind", "attempts"), CASES, ids=[c[0] for c in CASES])
async def test_each_response_maps_to_one_outcome(
    vendor: Vendor, handle: str, kind: FailureKind | None, attempts: int
) -> None:
    [result] = await fetch(make(vendor), [handle])
    if kind is None:
        assert isinstance(result, Reading)
        assert (result.index, result.value, result.raw) == ("fake", 61.5, "61.5")
    else:
        assert isinstance(result, Failure)
        assert (result.index, result.kind, result.attempts) == ("fake", kind, attempts)
    # aiohttp itself resends an idempotent request once when the server drops the connection
    assert vendor.hits[handle] == attempts * (2 if handle == "dropper" else 1)


async def test_messages_say_what_and_where_but_not_the_query(vendor: Vendor) -> None:
    results = await fetch(make(vendor), ["ghost", "html", "sleepy", "down"])
    messages = {r.message for r in results if isinstance(r, Failure)}
    assert f"fake: HTTP 404 from {vendor.url}/score/ghost (1 attempt)" in messages
    assert f"fake: HTTP 500 from {vendor.url}/score/down (3 attempts)" in messages
    assert f"fake: expected JSON, got text/html (37 bytes) from {vendor.url}/score/html (3 attempts)" in messages
    # the seconds are measured: 0.3 s on a quiet machine, more beside CPU burners
    timed_out = re.compile(rf"fake: timed out after \d+\.\ds at {re.escape(vendor.url)}/score/sleepy \(3 attempts\)")
    assert [m for m in messages if timed_out.fullmatch(m)], messages


async def test_the_key_never_leaks_into_results_or_logs(
    vendor: Vendor, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    adapter = make(vendor)
    results = await fetch(adapter, [case[0] for case in CASES])
    assert len(results) == len(CASES)
    for result in results:
        assert SECRET not in repr(result)
        assert SECRET not in result.model_dump_json()
    assert "attempt 2 of 3" in caplog.text  # the retries were logged, just not the key
    assert SECRET not in caplog.text
    assert SECRET not in repr(adapter.stats)


async def test_a_wrong_key_is_auth_and_is_not_retried(vendor: Vendor) -> None:
    results = await fetch(make(vendor, key="wrong"), ["ada", "flaky"])
    assert {(r.kind, r.attempts) for r in results if isinstance(r, Failure)} == {
        (FailureKind.AUTH, 1)}
    assert len(results) == 2


async def test_retry_after_is_honoured(vendor: Vendor) -> None:
    adapter = make(vendor, Limits(rate=RateLimit.parse("5/s")))
    started = time.monotonic()
    [result] = await fetch(adapter, ["busy"])
    assert isinstance(result, Reading)
    assert vendor.starts[1] - vendor.starts[0] >= 0.95
    assert time.monotonic() - started >= 0.95
    assert adapter.stats["retry/reason/rate_limited"] == 1


def test_retry_after_reads_seconds_and_http_dates() -> None:
    assert retry_after_seconds("3") == 3.0
    soon = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    assert 28 <= (retry_after_seconds(soon) or 0) <= 30
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0
    assert retry_after_seconds("soon") is None
    assert retry_after_seconds(None) is None


async def test_stats_count_requests_statuses_and_retries(vendor: Vendor) -> None:
    adapter = make(vendor)
    await fetch(adapter, ["flaky", "ghost"])
    assert adapter.stats == Counter({
        "request/count": 4, "http/status/503": 2, "http/status/200": 1, "http/status/404": 1,
        "retry/count": 2, "retry/reason/server_error": 2,
    })


async def test_a_handle_cannot_change_the_path_or_query(vendor: Vendor) -> None:
    [result] = await fetch(make(vendor), ["../../evil?x=1#"])
    assert isinstance(result, Reading)
    assert vendor.hits == Counter({"../../evil?x=1#": 1})
    assert vendor.raw_parts == [("/", "score", "..%2F..%2Fevil%3Fx=1%23")]
    assert vendor.query_keys == [["key"]]


async def test_dot_handles_are_refused_without_a_request(vendor: Vendor) -> None:
    results = await fetch(make(vendor), ["..", "."])
    assert {(r.kind, r.attempts) for r in results if isinstance(r, Failure)} == {
        (FailureKind.NOT_FOUND, 0)}
    assert vendor.hits == Counter()


async def test_rate_limit_holds_over_every_window(vendor: Vendor) -> None:
    adapter = make(vendor, Limits(rate=RateLimit.parse("5/s"), concurrency=10))
    await fetch(adapter, ["ada"] * 10)
    starts = sorted(vendor.starts)
    assert len(starts) == 10
    # the 6th request in any window must start a full second after the 1st (minus clock slop)
    assert all(later - first >= 0.95 for first, later in zip(starts, starts[5:], strict=False))


async def test_concurrency_is_capped(vendor: Vendor) -> None:
    results = await fetch(make(vendor, Limits(concurrency=3)), ["slow"] * 12)
    assert all(isinstance(r, Reading) for r in results)
    assert vendor.max_in_flight == 3


async def test_stopping_early_closes_cleanly(vendor: Vendor) -> None:
    adapter = make(vendor, Limits(concurrency=2))
    subjects = [Subject(id=f"s{i}", name="x", handles={"fake": "slow"}) for i in range(20)]
    async with aclosing(adapter.fetch(subjects)) as results:
        async for _ in results:
            break
    assert sum(vendor.hits.values()) < 20


async def test_an_oversized_body_is_a_bad_payload(vendor: Vendor) -> None:
    class Tiny(FakeVendor):
        max_body_bytes = 10  # {"score": 61.5} is 15

    adapter = Tiny("fake", HttpConfig(base_url=vendor.url, api_key=SecretStr(SECRET)), Limits())
    [result] = await fetch(adapter, ["ada"])
    assert isinstance(result, Failure)
    assert (result.kind, result.attempts) == (FailureKind.BAD_PAYLOAD, 1)
    assert "response over 10 bytes" in result.message


@pytest.fixture
async def compressing() -> AsyncIterator[tuple[str, list[dict[str, str]]]]:
    """A vendor that gzips every reply whatever it was asked, and sets a cookie with each; it
    notes the headers of every request. ``/score/bomb`` unpacks to 10,000 bytes."""
    seen: list[dict[str, str]] = []

    async def score(request: web.Request) -> web.StreamResponse:
        seen.append(dict(request.headers))
        padding = " " * 10_000 if request.match_info["handle"] == "bomb" else ""
        response = web.Response(text='{"score": 61.5}' + padding, content_type="application/json")
        response.set_cookie("session", "s1")
        response.enable_compression(web.ContentCoding.gzip)
        return response

    app = web.Application()
    app.router.add_get("/score/{handle}", score)
    async with serve(app) as url:
        yield url, seen


async def test_replies_are_asked_for_uncompressed_and_no_cookie_is_kept(
        compressing: tuple[str, list[dict[str, str]]]) -> None:
    url, seen = compressing
    # by name: cookie jars take no cookie from an IP address
    adapter = FakeVendor("fake", HttpConfig(base_url=url.replace("127.0.0.1", "localhost"), api_key=SecretStr(SECRET)),
                         Limits(concurrency=1))
    results = await fetch(adapter, ["ada", "bob", "cy"])
    # a vendor that compresses anyway is still read
    assert [r.value for r in results if isinstance(r, Reading)] == [61.5, 61.5, 61.5]
    assert [headers.get("Accept-Encoding") for headers in seen] == ["identity"] * 3
    assert not any("Cookie" in headers for headers in seen)  # the vendor's cookie is never sent back


async def test_a_compressed_body_is_held_to_the_size_cap_once_unpacked(
        compressing: tuple[str, list[dict[str, str]]]) -> None:
    class Small(FakeVendor):
        max_body_bytes = 1000  # the bomb is under 100 bytes on the wire, 10,015 unpacked

    url, _ = compressing
    adapter = Small("fake", HttpConfig(base_url=url, api_key=SecretStr(SECRET)), Limits())
    ok, bomb = await fetch(adapter, ["ada", "bomb"])
    assert isinstance(ok, Reading)
    assert isinstance(bomb, Failure) and bomb.kind == FailureKind.BAD_PAYLOAD
    assert "response over 1000 bytes" in bomb.message


def test_it_is_an_adapter_named_after_its_instance() -> None:
    adapter = FakeVendor("fake_eu", HttpConfig(base_url="http://127.0.0.1:9"), Limits())
    assert isinstance(adapter, Adapter)
    assert adapter.spec.name == "fake_eu"
    assert adapter.spec.scale == Scale(lo=0, hi=100)


def test_public_url_keeps_only_scheme_host_and_path() -> None:
    url = "https://user:pw@api.example.com:8443/v1/score/a%2Fb?key=SECRET123#frag"
    assert public_url(url) == "https://api.example.com:8443/v1/score/a%2Fb"
