"""Per-key strict sliding windows: no more than ``count`` admitted requests in any ``period``.

Requests are timed when they arrive. A request is admitted only if every window of the key
has room; a rejected request is not counted (a gateway does not bill refusals). ``slack``
forgives requests that arrive up to that many seconds (at most a tenth of the window) before
the oldest one leaves the window: a client that paces its *starts* exactly at the limit sees
its requests *arrive* a little late or early, by a few milliseconds on an idle loopback and
by tens under load, and would otherwise be refused now and then (measured in
bench/sandbox_servers.py). A client that bursts (a token bucket that starts full) exceeds a
window by a whole burst and is refused all the same.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence

from aggregator.ratelimit import RateLimit

#: Seconds of arrival jitter forgiven at a window's edge (at most a tenth of the window).
DEFAULT_SLACK = 0.05


class SlidingWindow:
    def __init__(self, limit: RateLimit, slack: float = DEFAULT_SLACK) -> None:
        if slack < 0.0:
            raise ValueError(f"slack must be 0 or more, got {slack}")
        self.limit = limit
        self._span = limit.period - min(slack, limit.period / 10)
        self._times: deque[float] = deque()

    def _prune(self, now: float) -> None:
        while self._times and now - self._times[0] >= self._span:
            self._times.popleft()

    def wait(self, now: float) -> float:
        """0 if a request arriving ``now`` fits, else seconds until one would."""
        self._prune(now)
        if len(self._times) < self.limit.count:
            return 0.0
        return self._times[0] + self._span - now

    def add(self, now: float) -> None:
        self._times.append(now)

    def used(self, now: float) -> int:
        """Requests counted in the window that ends ``now``."""
        self._prune(now)
        return len(self._times)

    def reset_in(self, now: float) -> float:
        """Seconds until the oldest counted request leaves the window (0 when empty)."""
        self._prune(now)
        return self._times[0] + self._span - now if self._times else 0.0


class KeyLimiter:
    """Sliding windows per API key; several limits at once (e.g. 10/s and 10,000/day)."""

    def __init__(self, limits: Sequence[RateLimit], slack: float = DEFAULT_SLACK) -> None:
        self.limits = tuple(limits)
        self.slack = slack
        self._windows: dict[str, list[SlidingWindow]] = {}

    def windows(self, key: str) -> list[SlidingWindow]:
        if key not in self._windows:
            self._windows[key] = [SlidingWindow(limit, self.slack) for limit in self.limits]
        return self._windows[key]

    def admit(self, key: str, now: float) -> tuple[int, float] | None:
        """None if admitted (and counted); else (which limit is full, seconds to wait)."""
        windows = self.windows(key)
        waits = [window.wait(now) for window in windows]
        full = [position for position, wait in enumerate(waits) if wait > 0.0]
        if full:
            worst = max(full, key=lambda position: waits[position])
            return worst, waits[worst]
        for window in windows:
            window.add(now)
        return None
