from __future__ import annotations

import asyncio
import json
import sys
import time

import pytest

from aggregator.collection.store import Store
from aggregator.ratelimit import RateLimit, SlidingWindowLimiter, place_starts


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
            answered = time.monotonic()  # before release's own work (a ledger write on a busy disk)
            limiter.release(ticket)
            spans.append((sent, answered))

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
        assert first.claim("klout:def", limit, time.time())[0]


async def test_callers_are_served_first_come_first_served_even_when_a_place_frees_meanwhile():
    # one place a window: the first caller holds it, the next ones wait in turn; a caller that
    # comes when a place has just freed, while others still wait, does not go ahead of them
    limiter = SlidingWindowLimiter(RateLimit(1, 0.05))
    served: list[str] = []

    async def caller(name: str, after: float) -> None:
        await asyncio.sleep(after)
        limiter.release(await limiter.acquire())
        served.append(name)

    await asyncio.gather(caller("a", 0), caller("b", 0.001), caller("c", 0.002), caller("late", 0.06))
    assert served == ["a", "b", "c", "late"]


def test_places_ahead_start_as_the_oldest_leave_the_window():
    limit = RateLimit(4, 1.0)
    # a full window counted from 10.0, 10.1, 10.2, 10.3 (an empty one: every place starts now)
    assert place_starts([], 0, limit, 10.5, places=3, hold=0.25) == ([10.5, 10.5, 10.5], 0.0)
    # three places wanted: only the 2nd to 4th latest count (the latest stands in as later than any)
    starts, wait = place_starts([10.2, 10.1, 10.0], 4, limit, 10.95, places=3, hold=0.25)
    # each starts a period after one leaves, none later than now + hold
    assert wait == 0.0 and starts == pytest.approx([11.0, 11.1, 11.2])
    # nothing before now + hold: how long until the first
    assert place_starts([10.2, 10.1, 10.0], 4, limit, 10.5, places=3, hold=0.25) == ([], pytest.approx(0.5))


def test_places_ahead_count_their_own_block():
    # two places a window, one held (counted from 10.0): the first new place starts now and counts
    # from now + hold; the second only once the place from 10.0 has left, and the third once the
    # first new one has (past now + hold: not taken)
    limit = RateLimit(2, 1.0)
    assert place_starts([10.0], 1, limit, 10.5, places=3, hold=0.25) == ([10.5], 0.0)
    starts, _ = place_starts([10.0], 1, limit, 10.5, places=3, hold=0.6)
    assert starts == pytest.approx([10.5, 11.0])  # the third would start at 10.5 + 0.6 + 1.0


async def test_places_not_used_in_time_lapse_and_are_given_back(tmp_path):
    given_back: list[int] = []
    blocks: list[list[int]] = []

    class Noting(Store):  # the real store, noting each block and the places given back with it
        def claim(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            given_back.extend(kwargs.get("unused", ()))
            taken, wait = super().claim(*args, **kwargs)
            blocks.append([ticket for ticket, _ in taken])
            return taken, wait

    with Noting(tmp_path / "h.sqlite") as store:
        # blocks of up to 6, each place usable for hold = 0.25 s (the most any limit gets): room for a
        # busy machine to stall between the four acquires below without their places lapsing
        limiter = SlidingWindowLimiter(RateLimit(40, 1.6), store, "kred:abc")
        used = []
        for _ in range(4):  # blocks of 2, then 4: two places of the second are left over
            used.append(await limiter.acquire())
            limiter.release(used[-1])
        left_over = blocks[-1][2:]
        assert [len(block) for block in blocks] == [2, 4] and len(left_over) == 2
        await asyncio.sleep(limiter.hold + 0.05)  # not used in time: they lapse
        used.append(await limiter.acquire())
        limiter.release(used[-1])
        assert given_back == left_over  # with the next claim
        limiter.flush()
        rows = {rowid for (rowid,) in store._db.execute("SELECT rowid FROM rate_windows")}
    assert rows == set(used)  # every used place kept, the rest of the last block given back


async def test_delay_holds_everyone_back():
    limiter = SlidingWindowLimiter(RateLimit(100, 1.0))
    limiter.delay(0.2)
    before = time.monotonic()
    await limiter.acquire()
    assert time.monotonic() - before >= 0.19


# one process sharing a store's window: it takes places in blocks (counting its transactions)
SHARER = """
import asyncio, json, sys, time
from aggregator.collection.store import Store
from aggregator.ratelimit import RateLimit, SlidingWindowLimiter, place_starts

class Counting(Store):  # the real store; notes the transactions that take places and the answers written
    claims = 0
    settled = []
    def claim(self, *args, **kwargs):
        Counting.claims += 1
        Counting.settled += [ticket for ticket, _ in kwargs.get("answered", ())]  # written with the claim
        return super().claim(*args, **kwargs)
    def settle(self, answered):
        Counting.settled += [ticket for ticket, _ in answered]
        return super().settle(answered)

async def main(path, start, each):
    spans = []
    with Counting(path) as store:
        limiter = SlidingWindowLimiter(RateLimit(200, 0.5), store, "kred:abc")
        async def worker():
            for _ in range(each):
                ticket = await limiter.acquire()
                sent = time.time()
                await asyncio.sleep(0.01)
                answered = time.time()
                limiter.release(ticket)
                spans.append((ticket, sent, answered))
        await asyncio.sleep(max(0.0, start - time.time()))  # both processes start together
        await asyncio.gather(*(worker() for _ in range(8)))
        limiter.flush()
    print(json.dumps({"spans": spans, "claims": Counting.claims, "settled": Counting.settled}))

asyncio.run(main(sys.argv[1], float(sys.argv[2]), int(sys.argv[3])))
"""


async def test_two_processes_taking_places_in_blocks_together_stay_inside_the_window(tmp_path):
    path = str(tmp_path / "h.sqlite")
    Store(path).close()  # created (and migrated) before both open it
    start = time.time() + 1.5
    processes = [await asyncio.create_subprocess_exec(sys.executable, "-c", SHARER, path, str(start), "40",
                                                      stdout=asyncio.subprocess.PIPE)
                 for _ in range(2)]
    outputs = [json.loads((await process.communicate())[0]) for process in processes]
    spans = [tuple(span) for output in outputs for span in output["spans"]]
    assert len(spans) == 640
    # the vendor's view: wherever in its span each request arrived, no window of 0.5 s holds a 201st
    assert crowded([(sent + 1e-3, answered) for _, sent, answered in spans], 0.5) <= 200
    # in blocks, taken ahead while the window is full: far fewer transactions than requests in
    # each process (taken only as places freed, a block was one or two places)
    assert all(output["claims"] < len(output["spans"]) / 8 for output in outputs)
    # every answer was written, once; the places taken but not used were given back
    used = sorted(ticket for ticket, _, _ in spans)
    assert sorted(ticket for output in outputs for ticket in output["settled"]) == used
    with Store(path) as store:
        rows = [rowid for (rowid,) in store._db.execute("SELECT rowid FROM rate_windows")]
    assert rows and set(rows) <= set(used)


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
def test_a_request_at_the_limit_wakes_once(loop, monkeypatch):
    """At the limit each place frees as an answer leaves the window: the wait for it ends once,
    after it freed, on either loop (uvloop's timers may fire up to a millisecond early)."""
    factory = None
    if loop == "uvloop":
        factory = pytest.importorskip("uvloop").new_event_loop
    waits: list[float] = []
    real_sleep = asyncio.sleep

    async def counted(delay: float, result: object = None) -> object:
        waits.append(delay)
        return await real_sleep(delay, result)

    async def at_the_limit() -> None:
        limiter = SlidingWindowLimiter(RateLimit(1, 0.0124))  # waits of a fraction of a millisecond more
        for _ in range(30):  # answered at once: every acquire after the first waits for the last to leave
            limiter.release(await limiter.acquire())

    monkeypatch.setattr(asyncio, "sleep", counted)
    with asyncio.Runner(loop_factory=factory) as runner:
        runner.run(at_the_limit())
    # one wait a place (a few more if a loaded machine preempts the loop mid-iteration; fewer if it stalls
    # past a place between an answer and the next ask); before the slack, uvloop spun: 479
    assert 20 <= len(waits) <= 32, f"{len(waits)} waits for 29 places that had to be waited for"
