"""Rate limits as data (``"10/s"``, ``"150/hour"``) and a strict sliding-window limiter.

Vendors count requests in sliding windows. A token bucket that starts full hands out its
whole capacity at once and can then exceed the limit over a window that straddles the
burst; the limiter here instead keeps the start times of the last ``count`` requests and
never lets a ``count + 1``-th start inside any window of ``period`` seconds.
"""

from __future__ import annotations

import re
import time
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING

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


class SlidingWindowLimiter:
    """Await :meth:`acquire` before each request; callers are served first come, first served."""

    def __init__(self, limit: RateLimit) -> None:
        self.limit = limit
        self._starts: deque[float] = deque()
        self._lock: asyncio.Lock | None = None
        self._loop: asyncio.AbstractEventLoop | None = None  # the loop the lock belongs to

    async def acquire(self) -> None:
        import asyncio  # here, not at the top: `import aggregator` stays light

        # an asyncio.Lock belongs to one event loop; an adapter may outlive a loop (asyncio.run twice)
        loop = asyncio.get_running_loop()
        if self._lock is None or self._loop is not loop:
            self._lock, self._loop = asyncio.Lock(), loop
        async with self._lock:
            while True:
                now = time.monotonic()
                while self._starts and now - self._starts[0] >= self.limit.period:
                    self._starts.popleft()
                if len(self._starts) < self.limit.count:
                    self._starts.append(now)
                    return
                await asyncio.sleep(self._starts[0] + self.limit.period - now)

    def delay(self, seconds: float) -> None:
        """Treat the window as full for ``seconds`` (a vendor said ``Retry-After``)."""
        until = time.monotonic() + seconds - self.limit.period
        kept = [max(until, start) for start in self._starts]
        self._starts = deque([until] * (self.limit.count - len(kept)) + kept)
