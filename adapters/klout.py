"""Klout (Lithium Technologies): API v2, or with ``api_version = 1`` the older batch API.

Vendor: Klout, closed 2018-05-25. Docs: http://developer.klout.com/io-docs (archived; see
``notes/vendor-apis.md`` §1). Scale: 1-100, unrounded floats, higher is better.
Limits: 10 calls/s and 10,000/day per key; 10/s is the default ``rate_limit`` (the daily
quota is not tracked across runs). v2 asks two calls per subject (three with ``topics``).

Config keys (``[indices.NAME.options]``)::

    api_key = "${KLOUT_KEY}"      # required: sent as the ``key`` query parameter
    base_url = "https://api.klout.com"   # the API's root; /v2 (or /1) is added unless given
    api_version = 2               # 1: klout.json?users=a,b,... (up to batch_size a call)
    batch_size = 5                # v1 only, 1-5
    topics = false                # also fetch topics (v2: user.json/ID/topics, v1: users/topics.json)
    network = "twitter"           # which roster handle is the Twitter screen name
    timeout_seconds, connect_timeout_seconds, label, algorithm_version

v2: ``identity.json/twitter?screenName=H`` gives ``{"id": "<kloutId>", "network": "ks"}``, then
``user.json/<kloutId>/score`` gives the score, its deltas and bucket. kloutIds stay strings
(some exceed 2**53). Components: ``day_change``, ``week_change``, ``month_change`` (from
``scoreDelta`` or ``scoreDeltas``: both spellings are real), ``bucket_low``/``bucket_high``
(from ``bucket`` "90-100"). v1 components: ``network_score``, ``amplification_score``,
``true_reach``, ``slope``, ``delta_1day``, ``delta_5day``.

Assumptions where the notes say UNCONFIRMED: an unknown screen name is a 404 whatever its body;
a 403 whose body says "Over Qps" or "Over Rate" is Mashery's rate limit (retried, honouring
``Retry-After``) and any other 401/403 is auth; the score reply may also come in the user
object's shape (``score`` as an object); v1's ``kscore`` is a number or a decimal string, users
come back in any order, and 202 ("queued for scoring") means not scored yet; a reply whose own
``status`` is 404 ("No such users") says none of the batch is scored (not_found); if fetching
topics fails, the score is kept without topics (v1 and v2 alike).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import partial
from typing import Any, Literal

from pydantic import Field, SecretStr
from typing_extensions import override

from adapters._http import (
    Call,
    HttpAdapter,
    HttpConfig,
    HttpRequest,
    handle,
    handles,
    member,
    number,
    numbers,
    quote_segment,
    settle,
    texts,
)
from aggregator.errors import AdapterError, FatalAdapterError
from aggregator.models import Failure, FailureKind, IndexSpec, Reading, Scale, Subject
from aggregator.plugins import Limits, reading_or_failure

VERSION_PATHS = {1: "/1", 2: "/v2"}
DELTAS = {"day_change": "dayChange", "week_change": "weekChange", "month_change": "monthChange"}
V1_PARTS = {name: name for name in ("network_score", "amplification_score", "true_reach", "slope",
                                    "delta_1day", "delta_5day")}


class KloutConfig(HttpConfig):
    base_url: str = "https://api.klout.com"
    api_key: SecretStr
    api_version: Literal[1, 2] = 2
    batch_size: int = Field(5, ge=1, le=5)
    topics: bool = False
    network: str = "twitter"


class KloutAdapter(HttpAdapter[KloutConfig]):
    spec = IndexSpec(name="klout", label="Klout", scale=Scale(lo=1, hi=100),
                     measures="The ability to drive action (reactions to what a person shares) on social networks",
                     # the score's own changes and its bucket's bounds explain nothing about it
                     restates_score=("day_change", "week_change", "month_change", "bucket_low", "bucket_high",
                                     "slope", "delta_1day", "delta_5day"))
    Config = KloutConfig
    default_rate = "10/s"
    rate_limit_words = (b"over qps", b"over rate")

    def __init__(self, name: str, config: KloutConfig, limits: Limits) -> None:
        super().__init__(name, config, limits)
        self.batch_size = config.batch_size if config.api_version == 1 else 1
        root, path = config.base_url.rstrip("/"), VERSION_PATHS[config.api_version]
        self.root = root if root.endswith(path) else root + path

    def _get(self, path: str, **params: str) -> HttpRequest:
        return HttpRequest("GET", f"{self.root}/{path}", {**params, "key": self.config.api_key.get_secret_value()})

    @override
    def classify(self, status: int, body: bytes) -> FailureKind | None:
        if status == 202:  # v1: the user is queued for scoring
            return FailureKind.NOT_FOUND
        return super().classify(status, body)

    @override
    async def gather(self, call: Call, subjects: Sequence[Subject]) -> Iterable[Reading | Failure]:
        if self.config.api_version == 1:
            return await self._v1(call, subjects)
        (subject,) = subjects
        identity = await call(self._get("identity.json/twitter", screenName=handle(subject, self.config.network)))
        if member(identity, "id") and identity.get("network", "ks") != "ks":
            raise FatalAdapterError(f"identity reply is a {identity['network']!r} id, not a kloutId")
        user = f"user.json/{quote_segment(str(identity['id']))}"
        result = v2_reading(self.spec, subject.id, await call(self._get(f"{user}/score")))
        if self.config.topics and isinstance(result, Reading):
            try:
                found = await call(self._get(f"{user}/topics"))
            except AdapterError:
                self.stats["topics/failed"] += 1
                return [result]
            listed = found if isinstance(found, list) else []
            names = [t.get("displayName") or t.get("name") for t in listed if isinstance(t, dict)]
            result = result.model_copy(update={"topics": texts(names)})
        return [result]

    async def _v1(self, call: Call, subjects: Sequence[Subject]) -> list[Reading | Failure]:
        wanted, unasked = handles(self.name, subjects, self.config.network, forbid=",")
        results: list[Reading | Failure] = list(unasked)
        if not wanted:
            return results
        users = ",".join(wanted)
        scores = v1_users(await call(self._get("klout.json", users=users)))
        topics = await self._v1_topics(call, users) if self.config.topics and scores else {}
        for name, group in wanted.items():
            for subject in group:
                user = scores.get(name)
                if user is None:
                    results.append(Failure(index=self.name, subject_id=subject.id, kind=FailureKind.NOT_FOUND,
                                           message=f"{self.name}: Klout has no score for this user"))
                    continue
                found = topics.get(name, {}).get("topics") or ()
                results.append(settle(self.name, subject, partial(v1_reading, self.spec, subject.id, user, found)))
        return results


    async def _v1_topics(self, call: Call, users: str) -> dict[str, dict[str, Any]]:
        """The batch's topics; if that call fails, the scores are kept without topics (as in v2)."""
        try:
            return v1_users(await call(self._get("users/topics.json", users=users)))
        except AdapterError:
            self.stats["topics/failed"] += 1
            return {}


def v2_reading(spec: IndexSpec, subject_id: str, payload: Any) -> Reading | Failure:
    """A v2 score reply (or a user object, whose ``score`` is itself an object)."""
    score = member(payload, "score")
    scored = score if isinstance(score, dict) else payload
    value = number(member(scored, "score"), "score")
    deltas = payload.get("scoreDelta") or payload.get("scoreDeltas") or {}
    parts = numbers(deltas, DELTAS) | _bucket(scored.get("bucket"))
    return reading_or_failure(spec, subject_id, value, raw=str(scored["score"]), components=parts)


def v1_users(payload: Any) -> dict[str, dict[str, Any]]:
    """A v1 ``{"status": 200, "users": [...]}`` reply, by lower-cased screen name."""
    status = payload.get("status", 200) if isinstance(payload, dict) else 200
    if str(status) == "404":  # {"status": 404, "error": "No such users"}: coverage, not a fault
        return {}
    if str(status) not in {"200", "202"}:
        raise FatalAdapterError(f"reply says status {str(status)[:10]!r}")
    users = member(payload, "users")
    return {str(u["twitter_screen_name"]).lower(): u for u in users
            if isinstance(u, dict) and u.get("twitter_screen_name")}


def v1_reading(spec: IndexSpec, subject_id: str, user: dict[str, Any], topics: Iterable[Any]) -> Reading | Failure:
    """A v1 user: ``kscore`` at the top (klout.json) or inside ``score`` (users/show.json)."""
    scored = user["score"] if isinstance(user.get("score"), dict) else user
    raw = member(scored, "kscore")
    parts = numbers(scored, V1_PARTS)
    return reading_or_failure(spec, subject_id, number(raw, "kscore"), raw=str(raw), components=parts,
                              topics=texts(topics))


def _bucket(value: Any) -> dict[str, float]:
    low, _, high = str(value or "").partition("-")
    try:
        return {"bucket_low": float(low), "bucket_high": float(high)}
    except ValueError:
        return {}
