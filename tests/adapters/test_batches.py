"""Batches on a bad day, against a real aiohttp vendor on 127.0.0.1: a batch whose reply stays
bad is split until the subject the vendor chokes on fails alone; a failed batch is one failed
request to the circuit breaker, not one per subject."""

from __future__ import annotations

import asyncio

from aiohttp import web
from loopback import serve
from pydantic import SecretStr

from adapters.empireavenue import EmpireAvenueAdapter, EmpireAvenueConfig
from aggregator.collection.collect import collect
from aggregator.models import Failure, FailureKind, Reading, Subject
from aggregator.plugins import Limits

SUBJECTS = [Subject(id=f"s{i}", name="S", handles={"empireavenue": f"t{i}"}) for i in range(40)]


class EmpireAvenue(EmpireAvenueAdapter):
    backoff_base = 0.005


def profile_info(choke_on: str | None = None, hang_on: str | None = None, asked: list[list[str]] | None = None,
                 down: bool = False) -> web.Application:
    """An Empire Avenue that answers every ticker, except that a batch holding ``choke_on`` gets a
    maintenance page and one holding ``hang_on`` never answers; ``down``: every request is a 503."""

    async def handle(request: web.Request) -> web.StreamResponse:
        tickers = request.query["ticker"].split(",")
        if asked is not None:
            asked.append(tickers)
        if down:
            return web.Response(status=503, text="<h1>Service Unavailable</h1>", content_type="text/html")
        if choke_on in tickers:
            return web.Response(text="<html>We'll be right back</html>", content_type="text/html")
        if hang_on in tickers:
            await asyncio.sleep(5)
        rows = [{"ticker": t, "last_trade": f"{int(t[1:]) + 1}.5"} for t in tickers]
        return web.json_response({"meta": {"limit": "150", "requests": 1, "reset": 3600}, "data": rows})

    app = web.Application()
    app.router.add_get("/profile/info", handle)
    return app


def adapter(url: str, *, batch_size: int, breaker_after: int | None = 10, **options) -> EmpireAvenue:
    config = EmpireAvenueConfig(base_url=url, api_key=SecretStr("k"), batch_size=batch_size, max_attempts=2,
                                **options)
    return EmpireAvenue("empireavenue", config, Limits(concurrency=1, breaker_after=breaker_after))


async def test_a_batch_the_vendor_chokes_on_is_split_until_only_that_subject_fails():
    asked: list[list[str]] = []
    async with serve(profile_info(choke_on="T13", asked=asked)) as url:
        ea = adapter(url, batch_size=20)
        results = {r.subject_id: r async for r in ea.fetch(SUBJECTS)}
    assert {sid for sid, r in results.items() if isinstance(r, Reading)} == {s.id for s in SUBJECTS} - {"s13"}
    assert results["s7"].value == 8.5
    choked = results["s13"]
    assert isinstance(choked, Failure) and choked.kind is FailureKind.BAD_PAYLOAD and not choked.kind.is_final
    # each bad reply was retried once before splitting: 20 -> 10 -> 5 -> 3 -> 2 -> 1 holding T13
    assert [len(t) for t in asked if "T13" in t] == [20, 20, 10, 10, 5, 5, 3, 3, 2, 2, 1, 1]
    assert ea.stats["batch/split"] == 5


async def test_a_failed_batch_is_one_failed_request_to_the_breaker():
    got: list[Reading | Failure] = []
    async with serve(profile_info(hang_on="T0")) as url:
        ea = adapter(url, batch_size=10, breaker_after=2, timeout_seconds=0.2)
        tallies = await collect([ea], SUBJECTS, got.append)
    failed = [r for r in got if isinstance(r, Failure)]
    # ten subjects failed in one request: below a breaker of 2 requests, so the rest was asked
    assert len(failed) == 10 and {(f.kind, f.attempts) for f in failed} == {(FailureKind.TIMEOUT, 2)}
    assert sum(isinstance(r, Reading) for r in got) == 30
    assert tallies[0].not_asked == 0


async def test_not_asked_is_counted_exactly_when_the_breaker_trips():
    got: list[Reading | Failure] = []
    asked: list[list[str]] = []
    async with serve(profile_info(down=True, asked=asked)) as url:
        ea = adapter(url, batch_size=1, breaker_after=3)
        tallies = await collect([ea], SUBJECTS, got.append)
    failed = [r for r in got if isinstance(r, Failure)]
    assert len(failed) == 40 and {f.kind for f in failed} == {FailureKind.SERVER_ERROR}
    seen_by_vendor = {ticker for tickers in asked for ticker in tickers}
    not_asked = [f for f in failed if f.attempts == 0]
    assert 3 <= len(seen_by_vendor) < 40
    # never "not asked" for a subject the vendor saw; at most the one request in flight was cut off
    assert 40 - len(seen_by_vendor) - 1 <= tallies[0].not_asked == len(not_asked) <= 40 - len(seen_by_vendor)
    assert all("not asked: the index was marked down" in f.message for f in not_asked)
    assert {f.subject_id for f in not_asked}.isdisjoint({f"s{t[1:]}" for t in seen_by_vendor})
