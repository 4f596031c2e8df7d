"""What every vendor server shares: credentials, per-key rate limits, faults, latency, gzip.

A vendor module subclasses :class:`VendorServer` with its routes and the shapes of its errors
(``auth_error``, ``over_limit``, ``error``). Every request goes through one middleware, in
this order: check the credentials (the vendor's auth error if wrong); admit it into the key's
sliding windows (the vendor's over-limit reply with ``Retry-After`` if full); draw its fault
(see ``_faults``); wait the latency; then answer, fault applied. Replies are gzipped when the
client accepts gzip. ``stats`` counts requests, admissions, refusals, faults and statuses.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import socket
import struct
import time
from collections import Counter
from collections.abc import Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, ClassVar

from aiohttp import web

from adapters.sandbox.formulas import VendorScores
from adapters.sandbox.servers._faults import Faults
from adapters.sandbox.servers._limits import DEFAULT_SLACK, KeyLimiter
from adapters.sandbox.servers._people import People, unit
from adapters.sandbox.vendors import VENDORS
from aggregator.ratelimit import RateLimit

_SERVER_ERRORS = (500, 502, 503, 504)
_REASONS = {500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout"}
_HTML_PAGE = (b"<!DOCTYPE html>\n<html><head><title>Down for maintenance</title></head>\n"
              b"<body><h1>We'll be right back</h1><p>The service is down for maintenance.</p></body></html>\n")


@dataclass
class Exchange:
    """What the middleware learnt about the request being handled (read by the handlers)."""

    #: method, path and query without credentials: what makes two requests "the same"
    identity: str
    #: how many times the same request was seen before this one
    attempt: int
    key: str | None = None
    fault: str | None = None


_EXCHANGE: ContextVar[Exchange] = ContextVar("sandbox_exchange")


@dataclass(frozen=True)
class Credentials:
    """What a client must send: an API key, and for Kred an application id too."""

    api_key: str
    app_id: str | None = None

    @classmethod
    def derive(cls, vendor: str, seed: int, *, with_app_id: bool = False) -> Credentials:
        """Deterministic sandbox credentials (32 hex digits; app id 8), not secrets."""
        key = hashlib.blake2b(f"sandbox:{seed}:{vendor}:key".encode(), digest_size=16).hexdigest()
        app_id = hashlib.blake2b(f"sandbox:{seed}:{vendor}:app".encode(), digest_size=4).hexdigest()
        return cls(key, app_id if with_app_id else None)


def mashery_error(status: int, title: str, code: str, retry_after: int | None = None) -> web.Response:
    """A Mashery gateway refusal: a bare ``<h1>`` (not JSON) and an ``X-Mashery-Error-Code``."""
    headers = {"X-Mashery-Error-Code": code}
    if retry_after is not None:
        headers["Retry-After"] = str(retry_after)
    return web.Response(status=status, text=f"<h1>{title}</h1>", content_type="text/html", headers=headers)


def mashery_server_error(status: int) -> web.Response:
    """A 5xx as the Mashery gateway words it (HTML, not the vendor's JSON)."""
    title = _REASONS.get(status, "Service Unavailable")
    return mashery_error(status, title, f"ERR_{status}_{title.upper().replace(' ', '_')}")


class VendorServer:
    """One vendor's API on a loopback aiohttp server; subclasses add routes and error shapes."""

    name: ClassVar[str]
    #: the vendor's own limits per key, as ``RateLimit`` text
    default_limits: ClassVar[tuple[str, ...]]
    #: query parameters that carry credentials (left out of a request's identity)
    auth_params: ClassVar[frozenset[str]]
    needs_app_id: ClassVar[bool] = False

    def __init__(
        self,
        people: People | None = None,
        *,
        version: int = 1,
        faults: Faults | None = None,
        limits: Sequence[str | RateLimit] | None = None,
        credentials: Sequence[Credentials] | None = None,
        seed: int = 0,
        slack: float = DEFAULT_SLACK,
    ) -> None:
        self.people = people if people is not None else People()
        self.seed = seed
        self.set_version(version)
        self.set_faults(faults or Faults())
        chosen = self.default_limits if limits is None else limits
        self.limiter = KeyLimiter([RateLimit.parse(x) if isinstance(x, str) else x for x in chosen], slack)
        self.credentials = tuple(credentials or [Credentials.derive(self.name, seed, with_app_id=self.needs_app_id)])
        self.stats: Counter[str] = Counter()
        #: for subclasses: parts of replies fixed by person and version, built once
        self.memo: dict[tuple[object, ...], Any] = {}
        self._seen: Counter[str] = Counter()
        self._closing = asyncio.Event()

    # -- settings that may change while running (the demo moves from version 1 to 2) -----------

    def set_version(self, version: int) -> None:
        VENDORS[self.name].resolve(version)  # raises for an era before the vendor's first version
        self.version = version

    def set_faults(self, faults: Faults) -> None:
        faults.check_vendor(self.name)
        self.faults = faults

    @property
    def scores(self) -> VendorScores:
        return self.people.scores(self.name, self.version)

    def known(self, row: int | None) -> bool:
        return row is not None and bool(self.scores.known[row])

    # -- hooks ---------------------------------------------------------------------------------

    def routes(self) -> list[web.RouteDef]:
        raise NotImplementedError

    def presented(self, request: web.Request) -> Credentials | None:
        """The credentials in a request, or None when it carries none."""
        raise NotImplementedError

    def auth_error(self, request: web.Request, presented: Credentials | None) -> web.Response:
        raise NotImplementedError

    def over_limit(self, request: web.Request, key: str, which: int, retry_after: int) -> web.Response:
        raise NotImplementedError

    def error(self, status: int, message: str) -> web.Response:
        """The vendor's error reply for any other status (400, 404, 5xx)."""
        raise NotImplementedError

    def server_error(self, status: int) -> web.Response:
        return self.error(status, "The service is temporarily unavailable.")

    # -- helpers for handlers ------------------------------------------------------------------

    @property
    def exchange(self) -> Exchange:
        """The request being handled (set by the middleware for the handler's task)."""
        return _EXCHANGE.get()

    def out_of_range(self) -> bool:
        return self.exchange.fault == "out_of_range"

    def draw(self, salt: str) -> float:
        """A number in [0, 1) fixed by the seed, this request and its attempt number."""
        exchange = self.exchange
        return unit(self.seed, self.name, exchange.identity, exchange.attempt, salt)

    # -- the application -------------------------------------------------------------------------

    def application(self) -> web.Application:
        app = web.Application(middlewares=[self._middleware])
        app.add_routes(self.routes())
        app.on_shutdown.append(self._on_shutdown)
        self._closing = asyncio.Event()
        return app

    async def _on_shutdown(self, app: web.Application) -> None:
        self._closing.set()

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        arrived = time.monotonic()
        self.stats["requests"] += 1
        identity = request.method + " " + request.path + "?" + "&".join(
            sorted(f"{k}={v}" for k, v in request.query.items() if k not in self.auth_params)
        )
        exchange = Exchange(identity, self._seen[identity])
        self._seen[identity] += 1
        token = _EXCHANGE.set(exchange)
        try:
            return await self._respond(request, handler, exchange, arrived)
        finally:
            _EXCHANGE.reset(token)

    async def _respond(
        self, request: web.Request, handler: Any, exchange: Exchange, arrived: float
    ) -> web.StreamResponse:
        presented = self.presented(request)
        if presented is None or presented not in self.credentials:
            self.stats["auth_failed"] += 1
            response: web.StreamResponse = self.auth_error(request, presented)
        elif (refused := self.limiter.admit(presented.api_key, arrived)) is not None:
            self.stats["rate_limited"] += 1
            which, wait = refused
            response = self.over_limit(request, presented.api_key, which, max(1, math.ceil(wait)))
        else:
            self.stats["admitted"] += 1
            exchange.key = presented.api_key
            response = await self._serve(request, handler, exchange)
        if self.faults.latency or self.faults.jitter:
            await asyncio.sleep(self.faults.latency + self.faults.jitter * self.draw("jitter"))
        return await self._finish(request, response, exchange.fault)

    async def _serve(self, request: web.Request, handler: Any, exchange: Exchange) -> web.StreamResponse:
        fault = exchange.fault = self.faults.pick(self.draw("fault"))
        if fault:
            self.stats[f"fault/{fault}"] += 1
        if fault == "server_error":
            return self.server_error(_SERVER_ERRORS[int(self.draw("status") * len(_SERVER_ERRORS))])
        if fault == "html":
            return web.Response(body=_HTML_PAGE, content_type="text/html")
        if fault in {"timeout", "reset"}:
            return web.Response()  # replaced in _finish, after the latency
        response: web.StreamResponse = await handler(request)
        return response

    async def _finish(
        self, request: web.Request, response: web.StreamResponse, fault: str | None
    ) -> web.StreamResponse:
        if fault == "timeout":
            await self._hang(request)
            return response
        if fault == "reset":
            _reset(request)
            return response
        if not isinstance(response, web.Response) or not isinstance(response.body, bytes):
            return response
        if fault == "malformed":
            response.body = response.body[: max(1, len(response.body) // 2)]
        elif fault == "truncated":
            return await _truncated(request, response)
        self.stats[f"status/{response.status}"] += 1
        if "gzip" in request.headers.get("Accept-Encoding", "").lower():
            response.enable_compression(web.ContentCoding.gzip)
        return response

    async def _hang(self, request: web.Request) -> None:
        """Answer nothing until the client gives up or the server shuts down, then drop it."""
        while not self._closing.is_set():
            transport = request.transport
            if transport is None or transport.is_closing():
                return
            try:
                await asyncio.wait_for(self._closing.wait(), 0.2)
            except TimeoutError:
                continue
        if request.transport is not None:
            request.transport.abort()


def _reset(request: web.Request) -> None:
    transport = request.transport
    if transport is None:
        return
    sock = transport.get_extra_info("socket")
    if sock is not None:  # linger 0: close() sends RST instead of FIN
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()


async def _truncated(request: web.Request, full: web.Response) -> web.StreamResponse:
    body = full.body if isinstance(full.body, bytes) else b""
    response = web.StreamResponse(status=full.status, headers={"Content-Type": full.headers["Content-Type"]})
    response.content_length = len(body)
    await response.prepare(request)
    await response.write(body[: len(body) // 2])
    if request.transport is not None:
        request.transport.close()
    return response
