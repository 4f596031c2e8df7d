"""The HTTP helper times each request, and the collector reports their p50/p95 per index."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from loopback import serve
from typing_extensions import override

from adapters._http import HttpAdapter, HttpConfig, HttpRequest
from aggregator.collection.collect import collect
from aggregator.models import Failure, IndexSpec, Reading, Scale, Subject
from aggregator.plugins import Limits, reading_or_failure

SLOW, FAST = 0.06, 0.0  # seconds the vendor waits before answering


class Timed(HttpAdapter[HttpConfig]):
    spec = IndexSpec(name="timed", scale=Scale(lo=0, hi=100))

    @override
    def request_for(self, subject: Subject) -> HttpRequest:
        return HttpRequest("GET", f"{self.config.base_url}/score/{subject.id}")

    @override
    def parse(self, payload: Any, subject: Subject) -> Reading | Failure:
        return reading_or_failure(self.spec, subject.id, float(payload["score"]))


@pytest.fixture
async def vendor_url() -> AsyncIterator[str]:
    async def score(request: web.Request) -> web.Response:
        # one in ten answers slowly: the p95 sees it, the median does not
        slow = request.match_info["sid"].endswith("9")
        await asyncio.sleep(SLOW if slow else FAST)
        return web.json_response({"score": 50.0})

    app = web.Application()
    app.router.add_get("/score/{sid}", score)
    async with serve(app) as url:
        yield url


async def test_requests_are_timed_and_summarised_per_index(vendor_url: str) -> None:
    adapter = Timed("timed", HttpConfig(base_url=vendor_url), Limits())
    subjects = [Subject(id=f"s{i:02d}", name=f"S{i}") for i in range(40)]
    (tally,) = await collect([adapter], subjects, lambda item: None)
    assert tally.readings == 40
    assert tally.requests == 40 == len(adapter.latencies)
    assert tally.p50 is not None and tally.p95 is not None
    assert 0 < tally.p50 < SLOW  # most answers come at once
    assert tally.p95 >= SLOW  # the slow tenth is in the tail
    assert tally.seconds >= SLOW

    # a second collection by the same adapter counts only its own requests
    (again,) = await collect([adapter], subjects[:5], lambda item: None)
    assert again.requests == 5 and len(adapter.latencies) == 45
