"""Rate limits as data (``"10/s"``, ``"150/hour"``) and a strict sliding-window limiter.

Vendors count requests in sliding windows. A token bucket that starts full hands out its
whole capacity at once and can then exceed the limit over a window that straddles the
burst; the limiter here instead keeps the last ``count`` requests (from their answers, see
:class:`SlidingWindowLimiter`) and never lets a ``count + 1``-th start inside any window of
``period`` seconds. A :class:`WindowLedger` (the store) shares the windows between processes.
"""

from __future__ import annotations

import heapq
import re
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    import asyncio

# exactly these spellings: a unit read loosely is a limit off by orders of magnitude ("10/ms"
# must not pass as ten a minute)
_UNITS = {
    "s": 1.0, "sec": 1.0, "secs": 1.0, "second": 1.0, "seconds": 1.0,
    "m": 60.0, "min": 60.0, "mins": 60.0, "minute": 60.0, "minutes": 60.0,
    "h": 3600.0, "hour": 3600.0, "hours": 3600.0,
    "d": 86400.0, "day": 86400.0, "days": 86400.0,
}
_PATTERN = re.compile(r"^\s*(\d+)\s*/\s*(\d*(?:\.\d+)?)\s*([a-z]+)\s*$")


@dataclass(frozen=True)
class RateLimit:
    """At most ``count`` requests in any window of ``period`` seconds.

    >>> RateLimit.parse("150/hour")
    RateLimit(count=150, period=3600.0)
    >>> RateLimit.parse("5/10s")
    RateLimit(count=5, period=10.0)
    """

    count: int
    period: float

    @classmethod
    def parse(cls, text: str) -> RateLimit:
        match = _PATTERN.match(text.lower())
        unit = match and _UNITS.get(match.group(3))
        if not match or unit is None:
            raise ValueError(
                f"rate limit {text!r} is not of the form COUNT/UNIT, e.g. '10/s', '150/hour', "
                f"'5/10s' (units: s, min, hour, day)"
            )
        count = int(match.group(1))
        multiple = float(match.group(2)) if match.group(2) else 1.0
        if count < 1 or multiple <= 0:
            raise ValueError(f"rate limit {text!r} must allow at least 1 request per positive window")
        return cls(count=count, period=multiple * unit)

    @property
    def per_second(self) -> float:
        return self.count / self.period

    def __str__(self) -> str:
        return f"{self.count}/{self.period:g}s"


class WindowLedger(Protocol):
    """Windows kept where several processes see them (the history store keeps them), so that a
    restart, a resumed run or a second run on the same key starts from the vendor's count.

    ``scope`` names one (index, API key) pair without the key; times are epoch seconds.
    """

    def claim(self, scope: str, limit: RateLimit, now: float) -> tuple[int | None, float]:
        """Take a place in the window: ``(ticket, 0)``, or ``(None, seconds to wait)`` if full."""
        ...

    def settle(self, ticket: int, at: float) -> None:
        """The request was answered at ``at``: it counts from then."""
        ...


class SlidingWindowLimiter:
    """Await :meth:`acquire` before each request and call :meth:`release` once it is answered;
    callers are served first come, first served.

    A request holds its place from when it is sent until ``period`` after its answer: the
    vendor counts it when it arrives, some time between the two, so counting from the answer
    never lets the next window start early, whatever the concurrency or a busy event loop's
    delays. With a ``ledger``, every process sharing it shares the window too.
    """

    def __init__(self, limit: RateLimit, ledger: WindowLedger | None = None, scope: str = "") -> None:
        self.limit = limit
        self.ledger, self.scope = ledger, scope
        self._counted: list[float] = []  # a heap of the times answered requests count from
        self._in_flight = 0
        self._lock: asyncio.Lock | None = None
        self._released: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None  # the loop the lock belongs to

    async def acquire(self) -> int | None:
        """Wait for a place; returns the ledger's ticket for it (give it back to :meth:`release`)."""
        import asyncio  # here, not at the top: `import aggregator` stays light

        # an asyncio.Lock belongs to one event loop; an adapter may outlive a loop (asyncio.run twice)
        loop = asyncio.get_running_loop()
        if self._lock is None or self._released is None or self._loop is not loop:
            self._lock, self._released, self._loop = asyncio.Lock(), asyncio.Event(), loop
            self._in_flight = 0
        async with self._lock:
            while True:
                now = time.monotonic()
                while self._counted and now - self._counted[0] >= self.limit.period:
                    heapq.heappop(self._counted)
                if len(self._counted) + self._in_flight < self.limit.count:
                    break
                if self._counted:
                    await asyncio.sleep(self._counted[0] + self.limit.period - now)
                else:  # every place is held by a request in flight: wait for an answer
                    self._released.clear()
                    await self._released.wait()
            ticket = None
            while self.ledger is not None:
                ticket, wait = self.ledger.claim(self.scope, self.limit, time.time())
                if ticket is not None:
                    break
                await asyncio.sleep(max(wait, 0.001))
            self._in_flight += 1
            return ticket

    def release(self, ticket: int | None = None) -> None:
        """A request let through by :meth:`acquire` was answered (or failed) now."""
        self._in_flight = max(0, self._in_flight - 1)
        heapq.heappush(self._counted, time.monotonic())
        if self.ledger is not None and ticket is not None:
            self.ledger.settle(ticket, time.time())
        if self._released is not None:
            self._released.set()

    def delay(self, seconds: float) -> None:
        """Treat the window as full for ``seconds`` (a vendor said ``Retry-After``)."""
        until = time.monotonic() + seconds - self.limit.period
        kept = [max(until, start) for start in self._counted]
        self._counted = [until] * max(0, self.limit.count - len(kept)) + kept
        heapq.heapify(self._counted)
