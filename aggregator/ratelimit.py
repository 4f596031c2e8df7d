"""Rate limits as data (``"10/s"``, ``"150/hour"``) and a strict sliding-window limiter.

Vendors count requests in sliding windows. A token bucket that starts full hands out its
whole capacity at once and can then exceed the limit over a window that straddles the
burst; the limiter here instead keeps the last ``count`` requests (from their answers, see
:class:`SlidingWindowLimiter`) and never lets a ``count + 1``-th start inside any window of
``period`` seconds. A :class:`WindowLedger` (the store) shares the windows between processes.
"""

from __future__ import annotations

import bisect
import heapq
import math
import re
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    import asyncio
    from collections.abc import Sequence

# exactly these spellings: a unit read loosely is a limit off by orders of magnitude ("10/ms"
# must not pass as ten a minute)
_UNITS = {
    "s": 1.0, "sec": 1.0, "secs": 1.0, "second": 1.0, "seconds": 1.0,
    "m": 60.0, "min": 60.0, "mins": 60.0, "minute": 60.0, "minutes": 60.0,
    "h": 3600.0, "hour": 3600.0, "hours": 3600.0,
    "d": 86400.0, "day": 86400.0, "days": 86400.0,
}
_NAMES = {1.0: "s", 60.0: "min", 3600.0: "hour", 86400.0: "day"}
_PATTERN = re.compile(r"^\s*(\d+)\s*/\s*(\d*(?:\.\d+)?)\s*([a-z]+)\s*$")

#: Added to every wait for a moment that must have passed on waking. uvloop's timers count whole
#: milliseconds from the time its loop cached at the start of an iteration: a sleep can end about a
#: millisecond early, and one of less than a millisecond at once, so a limiter waiting exactly for its
#: place woke to find it not yet free and slept again, spinning through zero-length timers until it
#: was (measured: 479 wake-ups for 29 places). Waits so padded end after the moment: one wake-up each.
TIMER_SLACK = 0.0015


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
    def text(self) -> str:
        """As a config writes it: ``10/s``, ``150/hour``, ``5/0.5s``."""
        unit = _NAMES.get(self.period)
        return f"{self.count}/{unit}" if unit else f"{self.count}/{self.period:g}s"

    @property
    def per_second(self) -> float:
        return self.count / self.period

    def __str__(self) -> str:
        return f"{self.count}/{self.period:g}s"


class WindowUsedUpError(Exception):
    """The window frees a place only after longer than the limiter may wait (a daily quota used
    up): the caller should stop asking and say when to come back."""

    def __init__(self, limit: RateLimit, wait: float) -> None:
        super().__init__(f"the {limit} window frees a place only in {wait:.0f}s")
        self.limit, self.wait = limit, wait


class WindowLedger(Protocol):
    """Windows kept where several processes see them (the history store keeps them), so that a
    restart, a resumed run or a second run on the same key starts from the vendor's count.

    ``scope`` names one (index, API key) pair without the key; times are epoch seconds.
    """

    def claim(self, scope: str, limit: RateLimit, now: float, *, places: int = 1, hold: float = 0.0,
              answered: Sequence[tuple[int, float]] = (), unused: Sequence[int] = ()
              ) -> tuple[list[tuple[int, float]], float]:
        """Take up to ``places`` places in the window, each with the time it may start from, no
        later than ``now + hold`` (see :func:`place_starts`); a place is used within ``hold`` of its
        start and counted from then until settled. ``([(ticket, start), ...], 0)``, or ``([],
        seconds until a place starts)`` if the window is full. First, in the same transaction,
        :meth:`settle` ``answered`` and :meth:`give_back` ``unused``."""
        ...

    def settle(self, answered: Sequence[tuple[int, float]]) -> None:
        """Each ``(ticket, at)``: that request was answered at ``at`` and counts from then."""
        ...

    def give_back(self, tickets: Sequence[int]) -> None:
        """Places taken but never used: free them for everyone."""
        ...


def place_starts(near: Sequence[float], held: int, limit: RateLimit, now: float, *, places: int,
                 hold: float) -> tuple[list[float], float]:
    """When each of up to ``places`` new places in a shared window may start: ``(starts, 0)``,
    or ``([], seconds until the first could)`` if none can start before ``now + hold``.

    The window holds ``held`` places, each counted from a time ``at`` (its answer's, or until
    then the latest its request may have reached the vendor); ``near`` holds the ``at`` of those
    ranked ``N - places + 1`` to ``N`` from the latest (``N = limit.count``). A place starting at
    ``s`` is counted from ``s + hold`` until its answer; it may start once fewer than ``N`` places
    (those taken before it included) count from after ``s - period``. Whenever requests then
    arrive within their places' spans, a window of the vendor's holds at most ``N``: of ``N + 1``
    in one window, the last taken would have seen the ``N`` others counted after its start minus
    the period. So a process may take places ahead, while the window is still full, and other
    processes see them counted.

    Only the ``N``-th latest time matters, and ``places`` new ones move it up by at most
    ``places`` ranks: the places ranked above ``near`` stand in as later than any.
    """
    count = limit.count
    ranked = sorted(near) + [math.inf] * min(held, max(0, count - places))
    starts: list[float] = []
    for _ in range(places):
        start = now if len(ranked) < count else max(now, ranked[-count] + limit.period)
        if start > now + hold:
            return (starts, 0.0) if starts else ([], start - now)
        starts.append(start)
        bisect.insort(ranked, start + hold)
    return starts, 0.0


class SlidingWindowLimiter:
    """Await :meth:`acquire` before each request and call :meth:`release` once it is answered;
    callers are served first come, first served.

    A request holds its place from when it is sent until ``period`` after its answer: the
    vendor counts it when it arrives, some time between the two, so counting from the answer
    never lets the next window start early, whatever the concurrency or a busy event loop's
    delays. With a ``ledger``, every process sharing it shares the window too.

    The ledger is a database, so at high rates places are taken from it in blocks: one
    transaction takes up to about what this limiter lets through in ``hold`` seconds (a quarter
    of the period, at most 0.25 s; fewer after a block that was not used up in time). A window
    kept full has only a place or two free at any moment, so a block takes places ahead: each
    with the time it may start from (when an older place leaves the window, at most ``hold``
    ahead), used within ``hold`` of that and counted from the end of that time until its answer
    is written, so a place handed out late is never counted from before its request was sent
    (:func:`place_starts`). Answers are written back in groups (within ``hold``, and in the
    transaction that takes each block); places not used in time (given back in that transaction
    too), or still unused when :meth:`flush` is called at the end of a fetch, are given back.
    """

    def __init__(self, limit: RateLimit, ledger: WindowLedger | None = None, scope: str = "",
                 *, max_wait: float | None = None) -> None:
        self.limit = limit
        #: a wait for a place longer than this raises :class:`WindowUsedUpError` instead (None: wait)
        self.max_wait = max_wait
        self.ledger, self.scope = ledger, scope
        self.hold = min(0.25, limit.period / 4)
        #: places taken from the ledger in one transaction, at most
        self.block = max(1, min(64, int(limit.count * self.hold / limit.period)))
        self._counted: list[float] = []  # a heap of the times answered requests count from
        self._in_flight = 0
        self._lock: asyncio.Lock | None = None
        self._queued = 0  # callers waiting for the lock (none: the fast path may serve a caller)
        self._released: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None  # the loop the lock belongs to
        # the ledger's places taken for this process, not yet used: (ticket, epoch seconds it may
        # start from), the next one last; a place not used within ``hold`` of its start would count
        # from too early: it lapses, and is given back with the next claim
        self._reserved: list[tuple[int, float]] = []
        self._lapsed: list[int] = []
        self._block_size = 1  # places the last block took
        self._answered: list[tuple[int, float]] = []  # answers not yet written to the ledger
        self._writing: asyncio.TimerHandle | None = None  # when they will be

    async def acquire(self) -> int | None:
        """Wait for a place; returns the ledger's ticket for it (give it back to :meth:`release`)."""
        import asyncio  # here, not at the top: `import aggregator` stays light

        # an asyncio.Lock belongs to one event loop; an adapter may outlive a loop (asyncio.run twice)
        loop = asyncio.get_running_loop()
        if self._lock is None or self._released is None or self._loop is not loop:
            self._lock, self._released, self._loop = asyncio.Lock(), asyncio.Event(), loop
            self._in_flight = self._queued = 0
        # nobody is waiting: a place free now (and, with a ledger, one already taken from it that
        # may start now) is handed out without an await: the usual request costs no lock and no
        # task switch
        if self._queued == 0 and not self._lock.locked() and self._free(time.monotonic()) > 0:
            if self.ledger is None:
                self._in_flight += 1
                return None
            if self._reserved:
                place, start = self._reserved[-1]
                if start <= time.time() <= start + self.hold:
                    self._reserved.pop()
                    self._in_flight += 1
                    return place
        self._queued += 1
        try:
            await self._lock.acquire()
        finally:
            self._queued -= 1
        try:
            while True:
                now = time.monotonic()
                free = self._free(now)
                if free > 0:
                    break
                if self._counted:
                    await asyncio.sleep(self._check_wait(self._counted[0] + self.limit.period - now) + TIMER_SLACK)
                else:  # every place is held by a request in flight: wait for an answer
                    self._released.clear()
                    await self._released.wait()
            ticket = None
            if self.ledger is not None:
                ticket = await self._ledger_place(self.ledger)
            self._in_flight += 1
            return ticket
        finally:
            self._lock.release()

    def _free(self, now: float) -> int:
        """Places free in the window at ``now`` (forgetting answers older than the period)."""
        while self._counted and now - self._counted[0] >= self.limit.period:
            heapq.heappop(self._counted)
        return self.limit.count - len(self._counted) - self._in_flight

    async def _ledger_place(self, ledger: WindowLedger) -> int:
        """A place in the shared window: one already taken (waiting for its start), else a new block
        (waiting if the window is full)."""
        import asyncio

        while True:
            now = time.time()
            while self._reserved and self._reserved[-1][1] + self.hold < now:
                self._lapsed.append(self._reserved.pop()[0])
            if self._reserved:
                ticket, start = self._reserved[-1]
                if start <= now:
                    self._reserved.pop()
                    return ticket
                await asyncio.sleep(start - now + TIMER_SLACK)
                continue
            # as many as the last block used in time, twice that if it used them all: a slow
            # moment takes one at a time rather than giving most of a block back
            unused, self._lapsed = self._lapsed, []
            size = self._block_size
            places = max(1, min(self.block, 2 * size if not unused else size - len(unused)))
            # one transaction writes the answers, gives back the lapsed places and takes the block
            taken, wait = ledger.claim(self.scope, self.limit, now, places=places, hold=self.hold,
                                       answered=self._answers(), unused=unused)
            if taken:
                self._reserved, self._block_size = taken[::-1], len(taken)
                continue
            await asyncio.sleep(self._check_wait(max(wait, 0.001)) + TIMER_SLACK)

    def _check_wait(self, wait: float) -> float:
        if self.max_wait is not None and wait > self.max_wait:
            raise WindowUsedUpError(self.limit, wait)
        return wait

    def _answers(self) -> list[tuple[int, float]]:
        """The answers not yet written, handed over to be written now (no timer left for them)."""
        if self._writing is not None:
            self._writing.cancel()
            self._writing = None
        answered, self._answered = self._answered, []
        return answered

    def _write_answers(self) -> None:
        answered = self._answers()
        if answered and self.ledger is not None:
            self.ledger.settle(answered)

    def _write_back(self, ledger: WindowLedger) -> None:
        """Write the answers known so far and give back the places not used in time."""
        self._write_answers()
        unused = [*self._lapsed, *(ticket for ticket, _ in self._reserved)]
        self._reserved, self._lapsed = [], []
        if unused:
            ledger.give_back(unused)

    def release(self, ticket: int | None = None) -> None:
        """A request let through by :meth:`acquire` was answered (or failed) now."""
        self._in_flight = max(0, self._in_flight - 1)
        heapq.heappush(self._counted, time.monotonic())
        if self.ledger is not None and ticket is not None:
            now = time.time()
            self._answered.append((ticket, now))
            # a place counts from ``hold`` after it was taken until its answer is written: write
            # answers back within ``hold``, so that other processes see them in time
            if len(self._answered) >= self.block:
                self._write_answers()
            elif self._writing is None and self._loop is not None and not self._loop.is_closed():
                self._writing = self._loop.call_later(self.hold, self._write_answers)
        if self._released is not None:
            self._released.set()

    def flush(self) -> None:
        """Write back every answer and give back every unused place (at the end of a fetch)."""
        if self.ledger is not None:
            self._write_back(self.ledger)

    def delay(self, seconds: float) -> None:
        """Treat the window as full for ``seconds`` (a vendor said ``Retry-After``)."""
        until = time.monotonic() + seconds - self.limit.period
        kept = [max(until, start) for start in self._counted]
        self._counted = [until] * max(0, self.limit.count - len(kept)) + kept
        heapq.heapify(self._counted)
