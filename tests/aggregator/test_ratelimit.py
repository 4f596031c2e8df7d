from __future__ import annotations

import asyncio
import time

import pytest

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


async def test_no_window_ever_holds_more_than_the_limit():
    limiter = SlidingWindowLimiter(RateLimit(5, 0.2))
    starts: list[float] = []

    async def worker() -> None:
        for _ in range(4):
            await limiter.acquire()
            starts.append(time.monotonic())

    await asyncio.gather(*(worker() for _ in range(4)))
    starts.sort()
    assert len(starts) == 16
    for i in range(len(starts) - 5):
        # the 6th request after any request starts a full window later (tiny clock slack)
        assert starts[i + 5] - starts[i] >= 0.2 - 1e-3
    # and it is not needlessly slow: 16 requests at 5 per 0.2 s need just over 3 windows
    assert starts[-1] - starts[0] < 0.2 * 3 + 0.15


async def test_delay_holds_everyone_back():
    limiter = SlidingWindowLimiter(RateLimit(100, 1.0))
    limiter.delay(0.2)
    before = time.monotonic()
    await limiter.acquire()
    assert time.monotonic() - before >= 0.19
