"""Kred (PeopleBrowsr): ``kredscore``, Kred Influence and Outreach for Twitter names.

Vendor: PeopleBrowsr's Kred. Docs: http://developer.peoplebrowsr.com/kred/kredscore/ (archived;
see ``notes/vendor-apis.md`` §3). Scale: Influence 1-1000 (higher is better), normalized so the
top account scores 1000; the Outreach level (0-12 or so, never decreasing) is a component.
Limits: plan-based, numbers never published: no default ``rate_limit``, set yours.

Config keys (``[indices.NAME.options]``)::

    app_id = "${KRED_APP_ID}"     # required: the ``app_id`` query parameter
    api_key = "${KRED_APP_KEY}"   # required: the ``app_key`` query parameter
    base_url = "https://api.kred.com"
    source = "twitter"            # twitter | facebook | combined
    batch_size = 10               # names per call, comma-separated in ``term``
    poll_seconds = 0.5            # wait between polls while the reply is not yet complete
    max_polls = 5                 # then the batch fails as a timeout (asked again on resume)
    network = "twitter"           # which roster handle is the Twitter name
    timeout_seconds, connect_timeout_seconds, label, algorithm_version

A reply is ``{"data": [{"name", "influence", "outreach"}], "id", "request", "status"}``; names
come back in any order and in any case; a name missing from ``data`` is not scored
(not_found). Names are sent without ``@`` (with it Kred finds nothing).

Assumptions where the notes say UNCONFIRMED: the largest batch (default 10, at most 100); a
reply without ``status`` is complete; any other ``status`` means "still computing", and the
same request is asked again (each poll counts against the rate limit), except ``"error"``;
error statuses keep their usual HTTP meanings (401 auth, 429 rate limit with ``Retry-After``);
``influence``/``outreach`` are numbers or decimal strings. A handle with a comma cannot be
asked for (it would split the batch): not_found.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from functools import partial
from typing import Any, Literal

from pydantic import Field, SecretStr
from typing_extensions import override

from adapters._http import Call, HttpAdapter, HttpConfig, HttpRequest, handles, member, number, numbers, settle
from aggregator.errors import AdapterError, FatalAdapterError
from aggregator.models import Failure, FailureKind, IndexSpec, Reading, Scale, Subject
from aggregator.plugins import reading_or_failure


class KredConfig(HttpConfig):
    base_url: str = "https://api.kred.com"
    app_id: SecretStr
    api_key: SecretStr
    source: Literal["twitter", "facebook", "combined"] = "twitter"
    batch_size: int = Field(10, ge=1, le=100)
    poll_seconds: float = Field(0.5, ge=0, le=60)
    max_polls: int = Field(5, ge=0, le=100)
    network: str = "twitter"


class KredAdapter(HttpAdapter[KredConfig]):
    spec = IndexSpec(name="kred", label="Kred", scale=Scale(lo=1, hi=1000),
                     measures="Influence: points for the reactions a person inspires, relative to the top account")
    Config = KredConfig

    def _request(self, names: Iterable[str]) -> HttpRequest:
        return HttpRequest("GET", f"{self.config.base_url.rstrip('/')}/kredscore", {
            "term": ",".join(names), "source": self.config.source,
            "app_id": self.config.app_id.get_secret_value(), "app_key": self.config.api_key.get_secret_value()})

    @override
    async def gather(self, call: Call, subjects: Sequence[Subject]) -> Iterable[Reading | Failure]:
        wanted, unasked = handles(self.name, subjects, self.config.network, forbid=",")
        results: list[Reading | Failure] = list(unasked)
        if not wanted:
            return results
        request = self._request(wanted)
        payload = await call(request)
        for _ in range(self.config.max_polls):
            if is_complete(payload):
                break
            await asyncio.sleep(self.config.poll_seconds)
            payload = await call(request)
        if not is_complete(payload):
            raise AdapterError(f"Kred was still computing after {self.config.max_polls} polls",
                               kind=FailureKind.TIMEOUT)
        rows = {str(row.get("name", "")).lower(): row for row in member(payload, "data") if isinstance(row, dict)}
        for name, group in wanted.items():
            for subject in group:
                results.append(settle(self.name, subject, partial(self._result, subject, rows.get(name))))
        return results

    def _result(self, subject: Subject, row: dict[str, Any] | None) -> Reading | Failure:
        if row is None or row.get("influence") in (None, ""):
            return Failure(index=self.name, subject_id=subject.id, kind=FailureKind.NOT_FOUND,
                           message=f"{self.name}: Kred has no score for this name")
        raw = row["influence"]
        return reading_or_failure(self.spec, subject.id, number(raw, "influence"), raw=str(raw),
                                  components=numbers(row, {"outreach": "outreach"}))


def is_complete(payload: Any) -> bool:
    """True unless the reply says it is still being computed (``status`` other than complete)."""
    status = str(payload.get("status") if isinstance(payload, dict) else None).lower()
    if status in {"error", "failed"}:
        raise FatalAdapterError(f"Kred says {str(payload.get('message', status))[:200]!r}")
    return status in {"none", "complete"}
