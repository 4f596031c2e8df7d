"""PeerIndex: the actor API (2012-13, payloads "version 1.1").

Vendor: PeerIndex (London), closed 2014. Docs: https://developers.peerindex.com/docs/read/terminology
(archived; see ``notes/vendor-apis.md`` §2). Scale: 0-100 integers, higher is better.
Limits: the actor API's were never published; the default ``rate_limit`` is 1/s, what clients
of the older API held themselves to (that API also allowed 10,000 a day).

Config keys (``[indices.NAME.options]``)::

    api_key = "${PEERINDEX_KEY}"  # required: sent as the ``api_key`` query parameter
    base_url = "https://api.peerindex.com"   # the API's root; /1 is added unless given
    topics = false                # also call actor/topic (a second request per subject)
    network = "twitter"           # which roster handle is the Twitter screen name
    timeout_seconds, connect_timeout_seconds, label, algorithm_version

One call per subject: ``actor/extended?twitter_screen_name=H`` gives ``peerindex`` (the
headline) and ``authority``, ``audience``, ``activity``, kept as components. Topics are the
names in ``benchmark_topics`` and ``topics``, highest ``topic_score`` first. A 404 means
PeerIndex has not scored the person: a Failure of kind not_found, never a zero.

Assumptions where the notes say UNCONFIRMED: a 403 whose body speaks of a rate ("Over Qps",
"Over Rate", "API Key Over Rate Limit") is a rate limit (retried, honouring ``Retry-After``),
any other 401/403 is auth (Mashery's plain "Developer Inactive"); a 400 about the key is auth,
as the older API answered; an empty reply (``[]`` or ``{}``) with 200 is not_found, like the
404's ``[]``; the older API's flat shape (topics as plain strings) is read the same way; if
fetching topics fails, the score is kept without topics.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from pydantic import SecretStr
from typing_extensions import override

from adapters._http import Call, HttpAdapter, HttpConfig, HttpRequest, handle, member, number, numbers, texts
from aggregator.errors import AdapterError, FatalAdapterError
from aggregator.models import Failure, FailureKind, IndexSpec, Reading, Scale, Subject
from aggregator.plugins import reading_or_failure

COMPONENTS = {name: name for name in ("authority", "audience", "activity")}


class PeerIndexConfig(HttpConfig):
    base_url: str = "https://api.peerindex.com"
    api_key: SecretStr
    topics: bool = False
    network: str = "twitter"


class PeerIndexAdapter(HttpAdapter[PeerIndexConfig]):
    spec = IndexSpec(name="peerindex", label="PeerIndex", scale=Scale(lo=0, hi=100),
                     measures="Authority, receptive audience and topical activity, relative to everyone else")
    Config = PeerIndexConfig
    default_rate = "1/s"
    rate_limit_words = (b"over qps", b"over rate", b"rate limit")

    def _get(self, method: str, subject: Subject) -> HttpRequest:
        root = self.config.base_url.rstrip("/")
        return HttpRequest("GET", f"{root.removesuffix('/1')}/1/actor/{method}", {
            "twitter_screen_name": handle(subject, self.config.network),
            "api_key": self.config.api_key.get_secret_value()})

    @override
    def request_for(self, subject: Subject) -> HttpRequest:
        return self._get("extended", subject)

    @override
    def classify(self, status: int, body: bytes) -> FailureKind | None:
        if status == 400 and b"key" in body[:2000].lower():
            return FailureKind.AUTH
        return super().classify(status, body)

    @override
    def parse(self, payload: Any, subject: Subject) -> Reading | Failure:
        if payload in ([], {}):
            raise FatalAdapterError("PeerIndex has no data for this person", kind=FailureKind.NOT_FOUND)
        raw = member(payload, "peerindex")
        return reading_or_failure(self.spec, subject.id, number(raw, "peerindex"), raw=str(raw),
                                  components=numbers(payload, COMPONENTS), topics=texts(payload.get("topics") or ()))

    @override
    async def gather(self, call: Call, subjects: Sequence[Subject]) -> Iterable[Reading | Failure]:
        results = list(await super().gather(call, subjects))
        if not self.config.topics:
            return results
        for position, (subject, result) in enumerate(zip(subjects, results, strict=True)):
            if isinstance(result, Reading):
                try:
                    found = await call(self._get("topic", subject))
                except AdapterError:
                    self.stats["topics/failed"] += 1
                    continue
                results[position] = result.model_copy(update={"topics": topic_names(found)})
        return results


def topic_names(payload: Any) -> tuple[str, ...]:
    """Names of ``benchmark_topics`` and ``topics`` (objects with ``name``, ``topic_score``)."""
    if not isinstance(payload, dict):
        return ()
    listed = [t for key in ("benchmark_topics", "topics") if isinstance(payload.get(key), list)
              for t in payload[key] if isinstance(t, dict)]
    ranked = sorted(listed, key=lambda t: -(numbers(t, {"s": "topic_score"}).get("s", 0.0)))
    return texts(t.get("name") for t in ranked)
