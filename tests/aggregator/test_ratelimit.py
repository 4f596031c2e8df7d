from __future__ import annotations

import asyncio
import time

import pytest

from aggregator.collection.store import Store
from aggregator.ratelimit import RateLimit, SlidingWindowLimiter


@pytest.mark.parametrize(("text", "count", "period"), [
    ("10/s", 10, 1.0), ("150/hour", 150, 3600.0), ("5/10s", 5, 10.0), ("2 / min", 2, 60.0), ("1000/day", 1000, 86400.0),
])
def test_parse(text, count, period):
    assert RateLimit.parse(text) == RateLimit(count, period)


@pytest.mark.parametrize("text", ["10 per s", "fast", "0/s", "10/fortnight", "-1/s", "10/0s"])
def test_parse_rejects_with_the_expected_form(text):
    with pytest.raises(ValueError, match=r"COUNT/UNIT|at least 1"):
        RateLimit.parse(text)


def crowded(spans: list[tuple[float, float]], period: float) -> int:
    """The most requests the vendor could have counted in one window of ``period``, wherever in
    its (sent, answered) span each request arrived: for each start, the others sent before it
    and not answered a full window before it."""
    return max(sum(1 for k, (sent, answered) in enumerate(spans)
                   if k != j and sent <= start and answered > start - period) + 1
               for j, (start, _) in enumerate(spans))


async def requests(limiters: list[SlidingWindowLimiter], each: int, latency: float) -> list[tuple[float, float]]:
    spans: list[tuple[float, float]] = []

    async def worker(limiter: SlidingWindowLimiter) -> None:
        for _ in range(each):
            ticket = await limiter.acquire()
            sent = time.monotonic()
            await asyncio.sleep(latency)
            limiter.release(ticket)
            spans.append((sent, time.monotonic()))

    await asyncio.gather(*(worker(limiter) for limiter in limiters for _ in range(4)))
    return spans


async def test_no_window_ever_holds_more_than_the_limit_wherever_requests_arrive():
    limiter = SlidingWindowLimiter(RateLimit(5, 0.2))
    spans = await requests([limiter], 4, latency=0.03)
    assert len(spans) == 16
    # counted from the answers: whenever in its span the vendor saw each request, a window never
    # holds a 6th (tiny clock slack), however late the event loop let each one go
    assert crowded([(sent + 1e-3, answered) for sent, answered in spans], 0.2) <= 5


async def test_processes_sharing_a_store_share_the_window(tmp_path):
    # two connections to one file: what two processes on the same key see
    with Store(tmp_path / "h.sqlite") as first, Store(tmp_path / "h.sqlite") as second:
        limit = RateLimit(4, 0.3)
        spans = await requests([SlidingWindowLimiter(limit, first, "klout:abc"),
                                SlidingWindowLimiter(limit, second, "klout:abc")], 2, latency=0.02)
        assert len(spans) == 16
        assert crowded([(sent + 1e-3, answered) for sent, answered in spans], 0.3) <= 4
        # another key has a window of its own
        other = SlidingWindowLimiter(limit, second, "klout:def")
        other.release(await other.acquire())
        assert first.claim("klout:def", limit, time.time())[0] is not None


async def test_delay_holds_everyone_back():
    limiter = SlidingWindowLimiter(RateLimit(100, 1.0))
    limiter.delay(0.2)
    before = time.monotonic()
    await limiter.acquire()
    assert time.monotonic() - before >= 0.19
