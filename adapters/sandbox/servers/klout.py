"""Klout, API v2 (two-step: identity, then user by kloutId) and the older v1 batch API.

Base: the server root; v2 paths under ``/v2``, v1 under ``/1``. Every call is a GET with the
API key in the query parameter ``key``. Default limits per key: 10/s and 10,000/day.

=============================================  ==================================================
``/v2/identity.json/twitter?screenName=NAME``  ``{"id": "<kloutId>", "network": "ks"}``
``/v2/identity.json/tw/{twitterId}``           the same, from a numeric Twitter id
``/v2/identity.json/klout/{kloutId}/tw``       ``{"id": "<twitterId>", "network": "tw"}``
``/v2/user.json/{kloutId}``                    ``kloutId, nick, score{score, bucket}, scoreDeltas``
``/v2/user.json/{kloutId}/score``              ``score, scoreDelta, bucket`` (note: singular)
``/v2/user.json/{kloutId}/topics``             a bare array of topics (ids are strings)
``/v2/user.json/{kloutId}/influence``          ``myInfluencers``/``myInfluencees`` (5 listed each)
``/1/klout.json?users=a,b``                    ``{"status": 200, "users": [{twitter_screen_name,
                                               kscore}]}``, at most 5 users, any order
``/1/users/show.json?users=a,b``               v1 profiles with ``score`` components
``/1/users/topics.json?users=a,b``             v1 topics as plain strings
=============================================  ==================================================

Quirks emulated: kloutIds are 6-18 digit strings (beyond 2**53); ``bucket`` is missing for
about 1 person in 10 (in ``user.json`` and ``/score``; influence payloads always have it); v1
``kscore`` is a string for about 3 people in 10; v1 users come back shuffled, unknown ones
left out. Errors: a bad or missing key is 403 with the JSON body
``{"error": 403, "description": ...}`` (recorded); over a limit, the Mashery gateway's 403 with a
bare ``<h1>Developer Over Qps</h1>`` (or ``Over Rate``), ``X-Mashery-Error-Code`` and
``Retry-After``; 5xx are Mashery HTML too. UNCONFIRMED, assumed: an unknown person or kloutId
is 404 with ``{"error": 404, "description": ...}``; v1 with more than 5 users is 403.
Out-of-range fault: ``score``/``kscore`` above 100.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from aiohttp import web

from adapters.sandbox.servers._base import Credentials, VendorServer, mashery_error, mashery_server_error

_INVALID_KEY = "Invalid or unprovided API key. All calls must have a key."
_TOPICS = (  # (id, name, type): a few short ids, as in the recorded payloads
    ("5241585099662481339", "Music", "sub"), ("6384689669400182828", "Video", "entity"),
    ("6953585193220490118", "Celebrities", "entity"), ("560", "Social Media", "entity"),
    ("8083048468711632185", "Technology", "sub"), ("9130216466716474146", "Marketing", "sub"),
    ("1245", "Startups", "entity"), ("7283618023413418732", "Politics", "sub"),
    ("6105936148476402130", "Football", "entity"), ("5419204912342315671", "Photography", "sub"),
    ("3391", "Travel", "sub"), ("8461219284617273120", "Food", "sub"),
)
_KCLASSES = ((20, "Observer"), (35, "Explorer"), (50, "Conversationalist"), (65, "Socializer"),
             (80, "Thought Leader"), (101, "Celebrity"))


class KloutServer(VendorServer):
    name = "klout"
    default_limits = ("10/s", "10000/day")
    auth_params = frozenset({"key"})

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/v2/identity.json/twitter", self.identity_by_screen_name),
            web.get("/v2/identity.json/tw/{twitter_id}", self.identity_by_twitter_id),
            web.get("/v2/identity.json/klout/{klout_id}/tw", self.twitter_by_klout_id),
            web.get("/v2/user.json/{klout_id}", self.user),
            web.get("/v2/user.json/{klout_id}/score", self.score),
            web.get("/v2/user.json/{klout_id}/topics", self.topics),
            web.get("/v2/user.json/{klout_id}/influence", self.influence),
            web.get("/1/klout.json", self.v1_scores),
            web.get("/1/users/show.json", self.v1_show),
            web.get("/1/users/topics.json", self.v1_topics),
        ]

    def presented(self, request: web.Request) -> Credentials | None:
        key = request.query.get("key")
        return Credentials(key) if key else None

    def auth_error(self, request: web.Request, presented: Credentials | None) -> web.Response:
        return self.error(403, _INVALID_KEY)

    def over_limit(self, request: web.Request, key: str, which: int, retry_after: int) -> web.Response:
        title, code = ("Developer Over Qps", "QPS") if which == 0 else ("Developer Over Rate", "RATE")
        return mashery_error(403, title, f"ERR_403_DEVELOPER_OVER_{code}", retry_after)

    def error(self, status: int, message: str) -> web.Response:
        return web.json_response({"error": status, "description": message}, status=status)

    def server_error(self, status: int) -> web.Response:
        return mashery_server_error(status)

    # -- values ----------------------------------------------------------------------------------

    def _value(self, row: int) -> float:
        if self.out_of_range():
            return 100.5 + 60.0 * self.people.unit(row, "klout/out-of-range")
        return float(self.scores.values[row])

    def _deltas(self, row: int) -> dict[str, float]:
        return {f"{span}Change": (self.people.unit(row, f"klout/delta/{span}") - 0.5) * size
                for span, size in (("day", 0.4), ("week", 2.0), ("month", 8.0))}

    def _score(self, row: int, *, bucket: bool = False) -> dict[str, Any]:
        value = self._value(row)
        out: dict[str, Any] = {"score": value}
        if bucket or self.people.unit(row, "klout/no-bucket") >= 0.1:
            out["bucket"] = "90-100" if value >= 90 else f"{int(value // 10) * 10}-{int(value // 10) * 10 + 9}"
        return out

    def _user(self, row: int, *, bucket: bool = False) -> dict[str, Any]:
        return {"kloutId": self.people.klout_ids[row], "nick": self.people.handles[row],
                "score": self._score(row, bucket=bucket), "scoreDeltas": self._deltas(row)}

    # -- v2 ----------------------------------------------------------------------------------------

    async def identity_by_screen_name(self, request: web.Request) -> web.Response:
        name = request.query.get("screenName", "")
        if not name:
            return self.error(400, "Missing parameter: screenName")
        return self._identity(self.people.by_handle(name))

    async def identity_by_twitter_id(self, request: web.Request) -> web.Response:
        return self._identity(self.people.by_twitter_id(request.match_info["twitter_id"]))

    def _identity(self, row: int | None) -> web.Response:
        if row is None or not self.known(row):
            return self.error(404, "User not found.")
        return web.json_response({"id": self.people.klout_ids[row], "network": "ks"})

    async def twitter_by_klout_id(self, request: web.Request) -> web.Response:
        return self._answer(lambda row: {"id": self.people.twitter_ids[row], "network": "tw"}, request)

    async def user(self, request: web.Request) -> web.Response:
        return self._answer(self._user, request)

    async def score(self, request: web.Request) -> web.Response:
        def body(row: int) -> dict[str, Any]:
            score = self._score(row)
            return {"score": score["score"], "scoreDelta": self._deltas(row),
                    **({"bucket": score["bucket"]} if "bucket" in score else {})}

        return self._answer(body, request)

    async def topics(self, request: web.Request) -> web.Response:
        def body(row: int) -> list[dict[str, str]]:
            return [{"id": topic_id, "displayName": name, "name": name, "slug": name.lower().replace(" ", "-"),
                     "imageUrl": "http://kcdn3.klout.com/static/images/icons/generic-topic.png", "topicType": kind}
                    for topic_id, name, kind in self._topics(row)]

        return self._answer(body, request)

    async def influence(self, request: web.Request) -> web.Response:
        def body(row: int) -> dict[str, Any]:
            rng = random.Random(self.people.population.ids[row])
            others = rng.sample([r for r in range(len(self.people)) if r != row], min(10, len(self.people) - 1))
            entity = [{"entity": {"id": self.people.klout_ids[r], "payload": self._user(r, bucket=True)}}
                      for r in others]
            return {"myInfluencers": entity[:5], "myInfluencees": entity[5:],
                    "myInfluencersCount": 5 + rng.randrange(40), "myInfluenceesCount": 5 + rng.randrange(40)}

        return self._answer(body, request)

    def _answer(self, body: Callable[[int], Any], request: web.Request) -> web.Response:
        row = self.people.by_klout_id(request.match_info["klout_id"])
        if row is None or not self.known(row):
            return self.error(404, "User not found.")
        return web.json_response(body(row))

    def _topics(self, row: int) -> list[tuple[str, str, str]]:
        rng = random.Random(f"klout/topics/{self.people.population.ids[row]}")
        return rng.sample(_TOPICS, 1 + rng.randrange(5))

    # -- v1 ----------------------------------------------------------------------------------------

    def _v1(self, request: web.Request, user: Any) -> web.Response:
        names = [name.strip() for name in request.query.get("users", "").split(",") if name.strip()]
        if not names:
            return self.error(403, "Missing parameter: users")
        if len(names) > 5:
            return self.error(403, "Too many users: at most 5 per call")
        rows = [row for row in map(self.people.by_handle, names) if row is not None and self.known(row)]
        if not rows:
            return web.json_response({"status": 404, "error": "No such users"}, status=404)
        users = [user(row) for row in dict.fromkeys(rows)]
        random.Random(self.draw("order")).shuffle(users)
        return web.json_response({"status": 200, "users": users})

    def _kscore(self, row: int) -> float | str:
        value = round(self._value(row), 2)
        return str(value) if self.people.unit(row, "klout/v1-string") < 0.3 else value

    async def v1_scores(self, request: web.Request) -> web.Response:
        return self._v1(request, lambda row: {"twitter_screen_name": self.people.handles[row],
                                              "kscore": self._kscore(row)})

    async def v1_show(self, request: web.Request) -> web.Response:
        def user(row: int) -> dict[str, Any]:
            kscore = self._kscore(row)
            kclass_id, kclass = next((i, label) for i, (top, label) in enumerate(_KCLASSES, 1) if float(kscore) < top)
            deltas = self._deltas(row)
            parts = {name: round(float(values[row]), 2) for name, values in self.scores.components.items()}
            return {"twitter_id": self.people.twitter_ids[row], "twitter_screen_name": self.people.handles[row],
                    "score": {"kscore": kscore, "slope": round(deltas["monthChange"] / 30, 2), "description": "",
                              "kclass_id": kclass_id, "kclass": kclass,
                              "kclass_description": f"Klout class {kclass} (sandbox).", "kscore_description": "",
                              "network_score": parts["network"], "amplification_score": parts["amplification"],
                              "true_reach": parts["true_reach"], "delta_1day": round(deltas["dayChange"], 2),
                              "delta_5day": round(deltas["weekChange"] * 5 / 7, 2)}}

        return self._v1(request, user)

    async def v1_topics(self, request: web.Request) -> web.Response:
        return self._v1(request, lambda row: {"twitter_screen_name": self.people.handles[row],
                                              "topics": [name.lower() for _, name, _ in self._topics(row)]})
