"""How a fetch's workers hand results to the fetch itself: a bounded buffer, cheap per result.

``asyncio.Queue`` costs a dozen Python calls for each item put and taken (its size checks, an
Event cleared at every put, a search for a waiter to wake); at one result per request that was a
share of the client's CPU per request that bench/collect.py could see. Here a hand-over is a
deque append, and a future is made and resolved only when one side actually waits.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Iterable
from typing import Generic, TypeVar

T = TypeVar("T")


class Handover(Generic[T]):
    """Workers :meth:`put` a request's results, the fetch :meth:`take`\\ s them one by one, in
    order. Once ``size`` results wait, a worker's put waits for the fetch to take one: a slow
    consumer holds the workers back instead of piling results up."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: deque[T] = deque()
        self._taker: asyncio.Future[None] | None = None  # the fetch, waiting for a result
        self._putters: deque[asyncio.Future[None]] = deque()  # workers waiting for room

    def __len__(self) -> int:
        return len(self._items)

    async def put(self, results: Iterable[T]) -> None:
        while len(self._items) >= self.size:
            room = asyncio.get_running_loop().create_future()
            self._putters.append(room)
            await room
        self._items.extend(results)
        taker, self._taker = self._taker, None
        if taker is not None and not taker.done():
            taker.set_result(None)

    async def take(self) -> T:
        while not self._items:
            self._taker = taker = asyncio.get_running_loop().create_future()
            await taker
        item = self._items.popleft()
        while self._putters and len(self._items) < self.size:
            room = self._putters.popleft()
            if not room.done():  # (a worker cancelled while it waited)
                room.set_result(None)
                break
        return item
