"""A replay server for adapter tests: real HTTP on 127.0.0.1 answering with recorded bodies.

``replay.answer(path, body, status=...)`` queues replies for a path (the last one repeats);
``replay.seen`` lists what the adapter asked, so tests can check paths and parameters.
Recorded vendor payloads live in ``../shared/data/vendor-fixtures`` (see its README).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from aiohttp import web
from loopback import serve
from shared_data import shared_path


def fixture(vendor: str, name: str) -> bytes:
    return shared_path("vendor-fixtures", vendor, name).read_bytes()


@dataclass
class Seen:
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    raw_path: str


@dataclass
class Replay:
    url: str = ""
    replies: dict[str, list[tuple[int, bytes, str, dict[str, str]]]] = field(default_factory=dict)
    seen: list[Seen] = field(default_factory=list)

    def answer(self, path: str, body: bytes | str, *, status: int = 200,
               content_type: str = "application/json", headers: dict[str, str] | None = None) -> None:
        data = body.encode() if isinstance(body, str) else body
        self.replies.setdefault(path, []).append((status, data, content_type, headers or {}))

    async def handle(self, request: web.Request) -> web.Response:
        self.seen.append(Seen(request.path, dict(request.query), dict(request.headers), request.raw_path))
        queue = self.replies.get(request.path)
        if not queue:
            return web.Response(status=599, text=f"replay has no reply for {request.path}")
        status, body, content_type, headers = queue.pop(0) if len(queue) > 1 else queue[0]
        return web.Response(status=status, body=body, content_type=content_type, headers=headers)


@pytest.fixture
async def replay() -> AsyncIterator[Replay]:
    state = Replay()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", state.handle)
    async with serve(app) as state.url:
        yield state


@pytest.fixture
def recorded():
    """``recorded(vendor, file name)``: the bytes of a recorded payload."""
    return fixture
