"""The hand-over between a fetch's workers and the fetch: order, the bound, cancelled workers."""

from __future__ import annotations

import asyncio

from adapters._handover import Handover


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_results_are_taken_one_by_one_in_the_order_put():
    handover: Handover[int] = Handover(10)
    await handover.put([1, 2])
    await handover.put([3])
    assert [await handover.take() for _ in range(3)] == [1, 2, 3]


async def test_a_take_waits_for_a_put():
    handover: Handover[str] = Handover(1)
    taking = asyncio.ensure_future(handover.take())
    await settle()
    assert not taking.done()
    await handover.put(["a"])
    assert await taking == "a"


async def test_a_full_buffer_holds_the_workers_back_until_the_fetch_takes():
    handover: Handover[int] = Handover(2)
    put: list[int] = []

    async def worker(start: int) -> None:
        for value in range(start, start + 3):
            await handover.put([value])
            put.append(value)

    workers = [asyncio.ensure_future(worker(0)), asyncio.ensure_future(worker(10))]
    await settle()
    assert len(handover) == 2 and len(put) == 2  # nobody takes: the workers wait
    taken = [await handover.take() for _ in range(6)]
    await asyncio.gather(*workers)
    assert sorted(taken) == [0, 1, 2, 10, 11, 12] and len(handover) == 0


async def test_a_worker_cancelled_while_it_waits_does_not_take_another_ones_turn():
    handover: Handover[int] = Handover(1)
    await handover.put([0])
    cancelled = asyncio.ensure_future(handover.put([1]))
    waiting = asyncio.ensure_future(handover.put([2]))
    await settle()
    cancelled.cancel()
    await settle()
    assert await handover.take() == 0
    await asyncio.wait_for(waiting, 1)  # woken, though the first in line had gone
    assert await handover.take() == 2
