"""Kred (PeopleBrowsr): ``kredscore``, Influence 1-1000 and Outreach level, comma-batched.

GET ``/kredscore?term=a,b&source=twitter&app_id=ID&app_key=KEY``: ``term`` is a comma list of
Twitter screen names without ``@`` (at most 100), ``source`` ``twitter`` (default) or
``combined`` (the same here); ``facebook`` knows nobody. Default limit per key: 10/s.

Reply, status 200::

    {"data": [{"influence": 712, "name": "SomeName", "outreach": 6}, ...],
     "id": "999-<32 hex>", "request": {"app_id": ..., "app_key": ..., "source": ..., "term": ...},
     "status": "complete"}

Quirks emulated: ``data`` holds only the people Kred knows, in the order asked, with ``name``
as Kred spells it (match names ignoring case); a term written with ``@`` finds nothing; numbers
are strings for about 1 person in 4 (the docs call them STRING, the sample shows integers);
the request is echoed back, **app_key included** (as in the vendor's sample). The
``not_complete`` fault answers ``{"data": [], ..., "status": "processing"}``: ask again.
UNCONFIRMED, assumed (nothing recorded survives): errors are JSON
``{"status": "error", "message": ...}`` — 401 for bad or missing credentials, 429 with
``Retry-After`` over the limit, 400 for a bad query, 5xx for faults; the 100-term cap; the
"processing" value; the 10/s limit. Out-of-range fault: ``influence`` above 1000.
"""

from __future__ import annotations

import hashlib
from typing import Any

from aiohttp import web

from adapters.sandbox.servers._base import Credentials, VendorServer

MAX_TERMS = 100


class KredServer(VendorServer):
    name = "kred"
    default_limits = ("10/s",)
    auth_params = frozenset({"app_id", "app_key"})
    needs_app_id = True

    def routes(self) -> list[web.RouteDef]:
        return [web.get("/kredscore", self.kredscore)]

    def presented(self, request: web.Request) -> Credentials | None:
        key, app_id = request.query.get("app_key"), request.query.get("app_id")
        return Credentials(key, app_id) if key and app_id else None

    def auth_error(self, request: web.Request, presented: Credentials | None) -> web.Response:
        return self.error(401, "Invalid or missing app_id/app_key")

    def over_limit(self, request: web.Request, key: str, which: int, retry_after: int) -> web.Response:
        response = self.error(429, "Rate limit exceeded")
        response.headers["Retry-After"] = str(retry_after)
        return response

    def error(self, status: int, message: str) -> web.Response:
        return web.json_response({"status": "error", "message": message}, status=status)

    async def kredscore(self, request: web.Request) -> web.Response:
        term = request.query.get("term", "")
        source = request.query.get("source", "twitter")
        names = [name.strip() for name in term.split(",") if name.strip()]
        if not names:
            return self.error(400, "Missing parameter: term")
        if len(names) > MAX_TERMS:
            return self.error(400, f"Too many terms: at most {MAX_TERMS} per call")
        if source not in {"twitter", "facebook", "combined"}:
            return self.error(400, "source must be twitter, facebook or combined")
        request_id = hashlib.blake2b(f"{self.seed}:{self.exchange.identity}:{self.exchange.attempt}".encode(),
                                     digest_size=16).hexdigest()
        body: dict[str, Any] = {
            "data": [],
            "id": f"999-{request_id}",
            "request": {"app_id": request.query.get("app_id", ""), "app_key": request.query.get("app_key", ""),
                        "source": source, "term": term},
            "status": "complete",
        }
        if self.exchange.fault == "not_complete":
            body["status"] = "processing"
            return web.json_response(body)
        if source == "facebook":
            return web.json_response(body)
        rows = [self.people.by_handle(name) for name in names if not name.startswith("@")]
        for row in dict.fromkeys(row for row in rows if row is not None and self.known(row)):
            body["data"].append(self._item(row))
        return web.json_response(body)

    def _item(self, row: int) -> dict[str, Any]:
        influence = int(self.scores.values[row])
        if self.out_of_range():
            influence = 1001 + int(900 * self.people.unit(row, "kred/out-of-range"))
        outreach = int(self.scores.components["outreach"][row])
        if self.people.unit(row, "kred/strings") < 0.25:
            return {"influence": str(influence), "name": self.people.handles[row], "outreach": str(outreach)}
        return {"influence": influence, "name": self.people.handles[row], "outreach": outreach}
