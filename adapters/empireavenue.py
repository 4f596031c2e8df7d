"""Empire Avenue: ``profile/info`` for up to 100 tickers a call, share price as the score.

Vendor: Empire Avenue (2010-2018). Docs: https://apidocs.empireavenue.com/v1/ (archived; see
``notes/vendor-apis.md`` §4). Scale: the share price in "eaves", unbounded (higher is better);
components: ``eav_score`` (the network score, a soft 0-100) and each ``*_score`` per network.
Limits: 150 requests/hour per user (and per IP): the default ``rate_limit``. Every reply's
``meta`` says how many requests the key has used (``requests`` of ``limit``) and when the
window resets (``reset``, seconds): when only ``reserve`` remain, the adapter waits for the
reset before asking again, rather than running into the limit.

Config keys (``[indices.NAME.options]``)::

    api_key = "${EA_KEY}"         # the v1 ``apikey`` query parameter, or instead OAuth 2:
    client_id = "..."             #   ``client_id`` and
    access_token = "${EA_TOKEN}"  #   ``access_token`` query parameters
    base_url = "https://api.empireavenue.com"
    batch_size = 100              # tickers per call, at most 100
    reserve = 1                   # requests kept back from meta.limit
    network = "empireavenue"      # which roster handle is the EA ticker ...
    fallback_network = "twitter"  # ... and, for people without one, which handle to try instead
    timeout_seconds, connect_timeout_seconds, label, algorithm_version

Replies are ``{"meta": {...}, "data": [...]}`` with numbers as decimal strings ("168.34393");
tickers are upper case and come back in any order; a ticker missing from ``data`` is not
on Empire Avenue (not_found). The headline is ``last_trade`` (else ``close``); a negative
price is out of range.

Assumptions where the notes say UNCONFIRMED: an error is ``{"error": ...}``, ``{"errors": ...}``
or ``{"meta": {"error": ...}}``, with any status: one that mentions a limit is a rate limit,
one about the key, token or authentication is auth; a 403 that mentions a limit is a rate
limit (retried), any other 401/403 auth; an error saying "no such ticker" (or user, or "not
found"), whatever its status, is not_found for the whole batch; a person without an EA ticker in the roster is
asked for by their Twitter name, upper-cased (many EA tickers were the Twitter name).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from functools import partial
from typing import Any, Self

from pydantic import Field, SecretStr, model_validator
from typing_extensions import override

from adapters._http import Call, HttpAdapter, HttpConfig, HttpRequest, handles, member, number, numbers, settle
from aggregator.errors import AdapterError, FatalAdapterError
from aggregator.models import Failure, FailureKind, IndexSpec, Reading, Subject
from aggregator.plugins import reading_or_failure

AUTH_WORDS = ("key", "token", "auth", "login", "password")
#: how the vendor words "none of these tickers exist"
NOT_FOUND_WORDS = ("no such ticker", "not found", "no such user")


class EmpireAvenueConfig(HttpConfig):
    base_url: str = "https://api.empireavenue.com"
    client_id: str | None = None
    access_token: SecretStr | None = None
    batch_size: int = Field(100, ge=1, le=100)
    reserve: int = Field(1, ge=0)
    network: str = "empireavenue"
    fallback_network: str | None = "twitter"

    @model_validator(mode="after")
    def _credentials(self) -> Self:
        if self.api_key is None and (self.access_token is None or not self.client_id):
            raise ValueError("give api_key, or client_id and access_token")
        return self


class EmpireAvenueAdapter(HttpAdapter[EmpireAvenueConfig]):
    spec = IndexSpec(name="empireavenue", label="Empire Avenue",
                     measures="A share price in eaves, moved by social activity and by people buying shares")
    Config = EmpireAvenueConfig
    default_rate = "150/hour"

    def _request(self, tickers: Iterable[str]) -> HttpRequest:
        config = self.config
        if config.access_token is not None and config.client_id:
            auth = {"client_id": config.client_id, "access_token": config.access_token.get_secret_value()}
        else:
            auth = {"apikey": config.api_key.get_secret_value() if config.api_key else ""}
        return HttpRequest("GET", f"{config.base_url.rstrip('/')}/profile/info", {"ticker": ",".join(tickers), **auth})

    @override
    def classify(self, status: int, body: bytes) -> FailureKind | None:
        if status in {401, 403, 429} and "limit" in error_text(body).lower():
            return FailureKind.RATE_LIMITED
        return super().classify(status, body)

    @override
    async def gather(self, call: Call, subjects: Sequence[Subject]) -> Iterable[Reading | Failure]:
        networks = (self.config.network, *([self.config.fallback_network] if self.config.fallback_network else []))
        wanted, unasked = handles(self.name, subjects, *networks, forbid=",")
        results: list[Reading | Failure] = list(unasked)
        if not wanted:
            return results
        payload = await call(self._request(t.upper() for t in wanted))
        self._mind_quota(payload)
        _raise_error(payload)
        rows = {str(row.get("ticker", "")).lower(): row for row in member(payload, "data") if isinstance(row, dict)}
        for ticker, group in wanted.items():
            for subject in group:
                results.append(settle(self.name, subject, partial(self._result, subject, rows.get(ticker))))
        return results

    def _result(self, subject: Subject, row: dict[str, Any] | None) -> Reading | Failure:
        if row is None:
            return Failure(index=self.name, subject_id=subject.id, kind=FailureKind.NOT_FOUND,
                           message=f"{self.name}: no such ticker on Empire Avenue")
        raw = row.get("last_trade") if row.get("last_trade") not in (None, "") else member(row, "close")
        price = number(raw, "last_trade")
        if price < 0:
            return Failure(index=self.name, subject_id=subject.id, kind=FailureKind.OUT_OF_RANGE,
                           message=f"{self.name}: share price {price:g} is negative")
        parts = numbers(row, {key: key for key in row if key.endswith("_score")})
        return reading_or_failure(self.spec, subject.id, price, raw=str(raw), components=parts)

    def _mind_quota(self, payload: Any) -> None:
        meta = payload.get("meta") if isinstance(payload, dict) else None
        if not isinstance(meta, dict):
            return
        try:
            left = number(meta.get("limit"), "meta.limit") - number(meta.get("requests"), "meta.requests")
            reset = number(meta.get("reset"), "meta.reset")
        except AdapterError:
            return
        if left <= self.config.reserve:
            self.stats["quota/paused"] += 1
            self.pause(reset)


def error_text(body: bytes | Any) -> str:
    """The vendor's error message: ``error``, ``errors`` or ``meta.error`` (else the raw text)."""
    try:
        payload = json.loads(body) if isinstance(body, bytes) else body
    except ValueError:
        return body[:200].decode(errors="replace") if isinstance(body, bytes) else ""
    if not isinstance(payload, dict):
        return ""
    meta = payload.get("meta")
    error = payload.get("error") or payload.get("errors") or (meta.get("error") if isinstance(meta, dict) else None)
    return str(error)[:200] if error else ""


def _raise_error(payload: Any) -> None:
    """A reply that carries an error instead of data becomes the matching AdapterError; one
    saying it has no such ticker is coverage (not_found), not a fault."""
    text = "" if not isinstance(payload, dict) or isinstance(payload.get("data"), list) else error_text(payload)
    if text:
        lowered = text.lower()
        if any(words in lowered for words in NOT_FOUND_WORDS):
            raise FatalAdapterError(f"Empire Avenue says {text!r}", kind=FailureKind.NOT_FOUND)
        kind = FailureKind.RATE_LIMITED if "limit" in lowered else (
            FailureKind.AUTH if any(word in lowered for word in AUTH_WORDS) else FailureKind.BAD_PAYLOAD)
        raise FatalAdapterError(f"Empire Avenue says {text!r}", kind=kind)
