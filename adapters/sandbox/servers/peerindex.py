"""PeerIndex, the actor API (2012-13, payloads "version 1.1").

Base: the server root; GET ``/1/actor/basic``, ``/1/actor/extended``, ``/1/actor/topic`` (a
``.json`` suffix is accepted too) with ``api_key`` and exactly one of ``twitter_screen_name``,
``twitter_id`` or ``peerindex_id``. Default limits per key: 1/s and 10,000/day.

- ``actor/basic``: ``version, peerindex_id, peerindex, twitter{id}``.
- ``actor/extended``: basic plus ``authority, audience, activity`` (integers 0-100) and
  ``demographics`` (``{"location": {...}}`` for about half the people, else ``{}``).
- ``actor/topic``: ``version, peerindex_id, peerindex, benchmark_topics`` (eight topics with an
  integer ``id``, ``name`` and ``topic_score``).

Ids are strings (``peerindex_id`` a UUID, ``twitter.id`` numeric text). Errors: an actor
PeerIndex has not scored is **404** with the body ``[]`` (normal: coverage is partial); no
identifier, or more than one, is 400 ``{"error": ...}``; a bad or missing key is the Mashery
gateway's 403 with the non-JSON body ``<h1>Developer Inactive</h1>``; over a limit, Mashery's 403
``<h1>Developer Over Qps</h1>`` (or ``Over Rate``) with ``X-Mashery-Error-Code`` and
``Retry-After``; 5xx are Mashery HTML. UNCONFIRMED, assumed: the 404 body (``[]`` as in the
legacy API) and the actor API's limits. Out-of-range fault: ``peerindex`` above 100.
"""

from __future__ import annotations

import random
from typing import Any

from aiohttp import web

from adapters.sandbox.servers._base import Credentials, VendorServer, mashery_error, mashery_server_error

_IDENTIFIERS = ("twitter_screen_name", "twitter_id", "peerindex_id")
#: PeerIndex's eight benchmark topics (notes §2.2).
BENCHMARK_TOPICS = (
    "Business and Finance", "Arts, Media and Entertainment", "Health and Medical",
    "Technology and Internet", "Sports", "Science and Environment", "Leisure and Lifestyle",
    "News and society",
)
_TOPIC_IDS = dict(zip(BENCHMARK_TOPICS, (4200, 4202, 4203, 4208, 4244, 4418, 4419, 4420), strict=True))
_PLACES = (  # (geoname_id, country, county, place, latitude, longitude)
    (2643743, "GB", "Greater London", "London", 51.50853, -0.12574),
    (5128581, "US", "New York County", "New York City", 40.71427, -74.00597),
    (5391959, "US", "San Francisco County", "San Francisco", 37.77493, -122.41942),
    (2988507, "FR", "Paris", "Paris", 48.85341, 2.3488),
    (2950159, "DE", "Berlin", "Berlin", 52.52437, 13.41053),
    (6167865, "CA", "Toronto", "Toronto", 43.70011, -79.4163),
)


class PeerIndexServer(VendorServer):
    name = "peerindex"
    default_limits = ("1/s", "10000/day")
    auth_params = frozenset({"api_key"})

    def routes(self) -> list[web.RouteDef]:
        return [web.get(f"/1/actor/{method}{suffix}", handler)
                for method, handler in (("basic", self.basic), ("extended", self.extended), ("topic", self.topic))
                for suffix in ("", ".json")]

    def presented(self, request: web.Request) -> Credentials | None:
        key = request.query.get("api_key")
        return Credentials(key) if key else None

    def auth_error(self, request: web.Request, presented: Credentials | None) -> web.Response:
        return mashery_error(403, "Developer Inactive", "ERR_403_DEVELOPER_INACTIVE")

    def over_limit(self, request: web.Request, key: str, which: int, retry_after: int) -> web.Response:
        title, code = ("Developer Over Qps", "QPS") if which == 0 else ("Developer Over Rate", "RATE")
        return mashery_error(403, title, f"ERR_403_DEVELOPER_OVER_{code}", retry_after)

    def error(self, status: int, message: str) -> web.Response:
        return web.json_response({"error": message}, status=status)

    def server_error(self, status: int) -> web.Response:
        return mashery_server_error(status)

    def _actor(self, request: web.Request) -> int | web.Response:
        given = [name for name in _IDENTIFIERS if request.query.get(name)]
        if len(given) != 1:
            return self.error(400, "Query must include ONE of peerindex_id, twitter_id, twitter_screen_name")
        value = request.query[given[0]]
        lookup = {"twitter_screen_name": self.people.by_handle, "twitter_id": self.people.by_twitter_id,
                  "peerindex_id": self.people.by_peerindex_id}[given[0]]
        row = lookup(value)
        if row is None or not self.known(row):
            return web.json_response([], status=404)  # not scored: a normal answer, never a zero
        return row

    def _basic(self, row: int) -> dict[str, Any]:
        value = int(self.scores.values[row])
        if self.out_of_range():
            value = 101 + int(60 * self.people.unit(row, "peerindex/out-of-range"))
        return {"version": "1.1", "peerindex_id": self.people.peerindex_ids[row], "peerindex": value,
                "twitter": {"id": self.people.twitter_ids[row]}}

    async def basic(self, request: web.Request) -> web.Response:
        row = self._actor(request)
        return row if isinstance(row, web.Response) else web.json_response(self._basic(row))

    async def extended(self, request: web.Request) -> web.Response:
        row = self._actor(request)
        if isinstance(row, web.Response):
            return row
        body = self._basic(row)
        for name, values in self.scores.components.items():
            body[name] = int(values[row])
        body["demographics"] = self._demographics(row)
        return web.json_response(body)

    async def topic(self, request: web.Request) -> web.Response:
        row = self._actor(request)
        if isinstance(row, web.Response):
            return row
        body = self._basic(row)
        del body["twitter"]
        authority = float(self.scores.components["authority"][row])
        rng = random.Random(f"peerindex/topics/{self.people.population.ids[row]}")
        body["benchmark_topics"] = [
            {"name": name, "topic_score": int(min(100, max(0, authority + rng.gauss(0, 12)))), "id": topic_id}
            for name, topic_id in _TOPIC_IDS.items()
        ]
        return web.json_response(body)

    def _demographics(self, row: int) -> dict[str, Any]:
        if self.people.unit(row, "peerindex/located") < 0.5:
            return {}
        geoname_id, country, county, place, latitude, longitude = _PLACES[
            int(self.people.unit(row, "peerindex/place") * len(_PLACES))
        ]
        return {"location": {"county": county, "place_type": "populated_place", "geoname_id": geoname_id,
                             "longitude": longitude, "country_code": country, "latitude": latitude,
                             "place_name": place}}
