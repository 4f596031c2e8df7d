"""The shared helper for HTTP vendors: one session per fetch, rate limit, retries, error mapping.

Subclass :class:`HttpAdapter`, set ``spec`` (and ``Config``, a subclass of :class:`HttpConfig`,
if the vendor needs more options), and override these hooks, marked ``@override``:

``request_for(subject) -> HttpRequest``
    The one request that asks for a subject's score. Put handles into paths with
    :func:`quote_segment`, so that no handle can change the path or the host.
``parse(payload, subject) -> Reading | Failure``
    ``payload`` is the decoded JSON of a successful response; build the result with
    :func:`aggregator.plugins.reading_or_failure`. An ``AdapterError`` raised here keeps its
    kind; any other exception becomes ``bad_payload`` for that subject alone.
``classify(status, body) -> FailureKind | None``
    ``None`` for success. By default 2xx succeeds, 401/403 is ``auth``, 404 ``not_found``,
    408 ``timeout``, 429 ``rate_limited``, 5xx ``server_error``, anything else ``bad_payload``.
``gather(call, subjects) -> results``
    Only for vendors that need more than one request per subject (a lookup first, polling) or
    answer for a batch (a Config with a ``batch_size`` field): ``subjects`` holds up to
    ``batch_size`` subjects, and ``await call(request)`` waits for the rate limit, retries,
    maps errors and returns the decoded JSON. The default is ``parse(call(request_for(s)), s)``.
    An ``AdapterError`` fails the whole group with its kind; when that kind is a bad payload,
    a server error or an adapter error, a group of several is then asked again in halves, down
    to single subjects, so one subject the vendor chokes on fails alone (unless the vendor
    looks down: ``breaker_after`` failed requests in a row).

Retry policy, tuned by class attributes rather than code: only ``RetriableAdapterError`` is
retried, i.e. a status in ``retry_statuses`` (or one ``classify`` calls ``rate_limited``, or a
403 with ``Retry-After``: vendors behind Mashery answer "over rate" with a 403, GitHub too), a
timeout, a broken connection, or a success whose body is not JSON (a maintenance page, a body
cut short: a bad payload, but a passing one), at most ``max_attempts`` times in all. Waits grow exponentially
from ``backoff_base`` with jitter up to ``backoff_max``; a ``Retry-After`` (seconds or
HTTP-date) is waited out, up to ``backoff_max``, and also pauses the rate limiter so every
worker backs off. A config may override the three (``max_attempts``, ``backoff_seconds``,
``backoff_max_seconds``). The limiter is awaited before every attempt, retries included;
without a configured ``rate_limit`` it holds the vendor's published ``default_rate``. Several
limits (``["10/s", "10000/day"]``) are each held; a window that would free a place only after
``max_window_wait`` (a daily quota used up) fails the request, unsent, as ``rate_limited``. It keeps
a 1% margin on the window, and within windows of a minute or less it also spreads requests
evenly instead of sending a window's worth at once (vendors count requests when they arrive,
and a burst arrives unevenly).

Messages never carry a URL's query, headers or a body: vendors put API keys in query strings,
and aiohttp's exception text (and repr) holds the full URL, so it is never used. Every text
kept from a reply (failure messages, raw values, topics, component names) and every log line has
the config's secrets blanked in each form a server may echo them in: its ``SecretStr`` options,
and whatever ``${VAR}`` put into its other options (a key inside a ``url``), numbers aside.
A redirect is followed only within the configured origin: the request carries the key, and
another host's reply is no reading. No cookie is kept (no vendor keeps a session in one), and
replies are asked for uncompressed.
"""

from __future__ import annotations

import asyncio
import hashlib
import html
import json
import logging
import math
import re
import time
from collections import Counter
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, ClassVar, Generic, TypeVar
from urllib.parse import quote, quote_plus

import aiohttp
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, SecretStr, ValidationInfo, model_validator
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, stop_after_attempt
from tenacity.wait import wait_base, wait_exponential, wait_random
from yarl import URL

from adapters._handover import Handover
from aggregator.errors import AdapterError, FatalAdapterError, RetriableAdapterError
from aggregator.models import UNSAFE_TEXT, Failure, FailureKind, IndexSpec, Reading, Subject
from aggregator.plugins import Limits
from aggregator.ratelimit import RateLimit, SlidingWindowLimiter, WindowLedger, WindowUsedUpError

logger = logging.getLogger(__name__)

#: kinds that fail a batch's request and are worth splitting it over: one subject may be what
#: the vendor chokes on (auth, rate limits and timeouts are about the vendor, not a subject)
SPLIT_KINDS = frozenset({FailureKind.BAD_PAYLOAD, FailureKind.SERVER_ERROR, FailureKind.ADAPTER_ERROR})
#: redirects followed (within the configured origin), and how many in a row, as aiohttp would
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
MAX_REDIRECTS = 10
#: every request asks for its reply uncompressed: scores are small JSON, and inflating each reply
#: cost the client more CPU than the bytes saved were worth (bench/collect.py counts CPU per
#: request). A vendor that compresses anyway is still read (and held to ``max_body_bytes``)
SESSION_HEADERS = {"Accept-Encoding": "identity"}
_STATUS_KINDS = {401: FailureKind.AUTH, 403: FailureKind.AUTH, 404: FailureKind.NOT_FOUND,
                 408: FailureKind.TIMEOUT, 429: FailureKind.RATE_LIMITED}


class HttpConfig(BaseModel):
    """Options every HTTP vendor takes (``[indices.NAME.options]``); vendors may add more."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    base_url: str
    api_key: SecretStr | None = None
    timeout_seconds: float = Field(10, gt=0)
    connect_timeout_seconds: float = Field(5, gt=0)
    #: how the index reads in reports, and the vendor's algorithm era (vendors do not say it)
    label: str = Field("", max_length=100)
    algorithm_version: str | None = None
    #: the retry policy; None keeps the adapter's own (4 attempts, 0.5 s doubling, 30 s cap)
    max_attempts: int | None = Field(None, ge=1, le=20)
    backoff_seconds: float | None = Field(None, gt=0, le=60)
    backoff_max_seconds: float | None = Field(None, gt=0, le=3600)
    #: what ``${VAR}`` put into the options (the config loader says so in the validation context)
    _from_env: tuple[str, ...] = PrivateAttr(default=())

    @model_validator(mode="after")
    def _remember_substituted(self, info: ValidationInfo) -> HttpConfig:
        found = info.context.get("from_env", {}) if isinstance(info.context, dict) else {}
        # a number (a timeout, an attempt count) is no secret, and blanking "10" would blank
        # every "10" of the vendor's replies; any text may be one (a key inside the `url`)
        self._from_env = tuple(value for option, values in found.items() for value in values
                               if not isinstance(getattr(self, option, None), int | float))
        return self

    @property
    def secrets(self) -> list[str]:
        """What no message may hold: every ``SecretStr`` option, and every value ``${VAR}`` put
        into an option that is not a number (in a ``url``'s path or query, a header, ...)."""
        return [*(value.get_secret_value() for value in vars(self).values() if isinstance(value, SecretStr)),
                *self._from_env]


C = TypeVar("C", bound=HttpConfig)


@dataclass(frozen=True)
class HttpRequest:
    method: str
    url: str
    params: Mapping[str, str] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)


def quote_segment(value: str) -> str:
    """Percent-encode ``value`` as exactly one path segment (``/``, ``?`` and ``#`` too)."""
    if value in {"", ".", ".."}:
        # yarl resolves dot segments however they are encoded, so these would climb the path
        raise FatalAdapterError(f"handle {value!r} cannot be a URL path segment", kind=FailureKind.NOT_FOUND)
    return quote(value, safe="")


def handle(subject: Subject, *networks: str) -> str:
    """The subject's handle on the first of ``networks`` it has one for, without spaces or a
    leading ``@``; else not_found."""
    for network in networks:
        value = (subject.handle(network) or "").strip().removeprefix("@").strip()
        if value:
            return value
    raise FatalAdapterError(f"subject has no {' or '.join(networks)} handle", kind=FailureKind.NOT_FOUND)


def number(value: Any, what: str) -> float:
    """A finite number from a JSON number or a decimal string (``"61.5"``); else a bad payload."""
    if type(value) is float and math.isfinite(value):  # most JSON numbers: nothing to convert
        return value
    if isinstance(value, int | float | str) and not isinstance(value, bool):
        try:
            result = float(value.strip() if isinstance(value, str) else value)
        except (ValueError, OverflowError):
            result = math.nan
        if math.isfinite(result):
            return result
    shown = repr(value)[:40] if isinstance(value, str | int | float) else type(value).__name__
    raise FatalAdapterError(f"{what} is not a number ({shown})", kind=FailureKind.BAD_PAYLOAD)


def member(payload: Any, *path: str) -> Any:
    """``payload[path[0]][path[1]]...``; a missing key or a non-object is a bad payload."""
    for depth, key in enumerate(path):
        if not isinstance(payload, dict) or payload.get(key) is None:
            raise FatalAdapterError(f"reply has no {'.'.join(path[:depth + 1])!r}", kind=FailureKind.BAD_PAYLOAD)
        payload = payload[key]
    return payload


def numbers(payload: Any, names: Mapping[str, str]) -> dict[str, float]:
    """Optional numeric fields (``{our name: vendor key}``): absent or unreadable ones are left out."""
    found: dict[str, float] = {}
    if not isinstance(payload, dict):
        return found
    for ours, theirs in names.items():
        value = payload.get(theirs)
        if value is None:  # absent: the common case, so no error is raised and caught for it
            continue
        try:
            found[ours] = number(value, theirs)
        except FatalAdapterError:
            continue
    return found


def texts(values: Iterable[Any], *, limit: int = 50, length: int = 100) -> tuple[str, ...]:
    """Vendor strings (topics): non-empty strings only, trimmed, at most ``limit`` of them."""
    kept = [v.strip()[:length] for v in values if isinstance(v, str) and v.strip()]
    return tuple(kept[:limit])


def settle(index: str, subject: Subject, build: Callable[[], Reading | Failure]) -> Reading | Failure:
    """``build()``, or the subject's Failure if it raises an AdapterError: in a batch reply, one
    bad row fails its own subject, not the batch."""
    try:
        return build()
    except AdapterError as exc:
        return Failure(index=index, subject_id=subject.id, kind=exc.kind, message=f"{index}: {exc}")


def handles(index: str, subjects: Sequence[Subject], *networks: str, forbid: str = ""
            ) -> tuple[dict[str, list[Subject]], list[Failure]]:
    """For a batch: subjects by lower-cased handle, and a not_found Failure (0 attempts) for each
    subject without a usable handle (one holding a character of ``forbid`` cannot be sent)."""
    wanted: dict[str, list[Subject]] = {}
    unasked: list[Failure] = []
    for subject in subjects:
        try:
            name = handle(subject, *networks)
            if any(char in name for char in forbid):
                raise FatalAdapterError(f"{name[:40]!r} cannot be asked for", kind=FailureKind.NOT_FOUND)
        except AdapterError as exc:
            unasked.append(Failure(index=index, subject_id=subject.id, kind=exc.kind, attempts=0,
                                   message=f"{index}: {exc}"))
            continue
        wanted.setdefault(name.lower(), []).append(subject)
    return wanted, unasked


def public_url(url: str) -> str:
    """Scheme, host, port and path: all a message may say about where we asked."""
    parsed = URL(url)
    return f"{parsed.origin()}{parsed.raw_path}" if parsed.absolute else parsed.raw_path


def retry_after_seconds(value: str | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP-date), else None."""
    value = (value or "").strip()
    if not value:  # nearly every reply: no header
        return None
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:  # "-0000" means UTC but parses naive
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def adapter_error(exc: TimeoutError | aiohttp.ClientError | ConnectionError, url: str, started: float) -> AdapterError:
    """Our ``AdapterError`` for an aiohttp or asyncio exception, most specific first.

    Messages are built from ``url`` without its query (:func:`public_url`, worked out only for a
    message) and type names only, never ``str(exc)``.
    """
    if isinstance(exc, TimeoutError):  # asyncio's, and aiohttp's ServerTimeoutError
        return RetriableAdapterError(f"timed out after {time.monotonic() - started:.1f}s at {public_url(url)}",
                                     kind=FailureKind.TIMEOUT)
    if isinstance(exc, aiohttp.ClientSSLError):  # certificates do not fix themselves between attempts
        return FatalAdapterError(f"TLS failed ({type(exc).__name__}) at {public_url(url)}",
                                 kind=FailureKind.SERVER_ERROR)
    if isinstance(exc, aiohttp.ClientConnectionError | aiohttp.ClientPayloadError | ConnectionError):
        # refused, reset, disconnected, body cut short: usually passing trouble
        return RetriableAdapterError(f"connection failed ({type(exc).__name__}) at {public_url(url)}",
                                     kind=FailureKind.SERVER_ERROR)
    # too many redirects, invalid URL, ...
    return FatalAdapterError(f"request failed ({type(exc).__name__}) at {public_url(url)}",
                             kind=FailureKind.SERVER_ERROR)


class _RetryAfterWait(wait_base):
    """Exponential backoff with jitter, but never shorter than the vendor's ``Retry-After``."""

    def __init__(self, base: float, cap: float) -> None:
        # not wait_exponential_jitter: its arguments changed between tenacity 8 and 9
        self.backoff = wait_exponential(multiplier=base, max=cap) + wait_random(0, base)
        self.cap = cap

    def __call__(self, retry_state: RetryCallState) -> float:
        wait = min(self.backoff(retry_state), self.cap)
        error = retry_state.outcome.exception() if retry_state.outcome else None
        asked = error.retry_after if isinstance(error, AdapterError) else None
        return wait if asked is None else max(wait, min(asked, self.cap))


Call = Callable[[HttpRequest], Awaitable[Any]]


class _NotSentError(FatalAdapterError):
    """The request was never sent (a quota used up): it is no attempt."""


class HttpAdapter(Generic[C]):
    """Base for HTTP vendors; implements the ``Adapter`` protocol around a few hooks."""

    spec: IndexSpec
    Config: ClassVar[type[BaseModel]] = HttpConfig
    #: the vendor's published limit (``"10/s"``), held when the config sets no ``rate_limit``
    default_rate: ClassVar[str | None] = None
    #: words in a 401/403 body that mean "over your quota", not "bad key" (Mashery's "over qps")
    rate_limit_words: ClassVar[tuple[bytes, ...]] = ()
    retry_statuses: ClassVar[frozenset[int]] = frozenset({408, 429, 500, 502, 503, 504})
    max_attempts: ClassVar[int] = 4
    backoff_base: ClassVar[float] = 0.5
    backoff_max: ClassVar[float] = 30.0
    max_body_bytes: ClassVar[int] = 5 * 2**20
    #: seconds a request may wait for a place in a window; a window used up for longer (a
    #: daily quota) fails the request as rate_limited, saying when it frees. Two hours: an
    #: hourly window (Empire Avenue's 150/hour) is always waited out, as it always was
    max_window_wait: ClassVar[float] = 7200.0
    #: share of the rate window kept in hand (at least 10 ms): the vendor times a request when it
    #: arrives, and requests do not all take the same time to get there (a busy loop, a connection)
    window_margin: ClassVar[float] = 0.01

    def __init__(self, name: str, config: C, limits: Limits) -> None:
        self.name = name
        overrides = {"name": name, **({"label": config.label} if config.label else {}),
                     **({"algorithm_version": config.algorithm_version} if config.algorithm_version else {})}
        # validated, not model_copy'd: a bad instance name should fail here, not mid-fetch
        self.spec = IndexSpec.model_validate({**type(self).spec.model_dump(), **overrides})
        self.config = config
        if limits.rate is None and self.default_rate:
            limits = replace(limits, rate=RateLimit.parse(self.default_rate))
        self.limits = limits
        #: subjects per request; a Config with a ``batch_size`` field sets it
        self.batch_size: int = max(1, int(getattr(config, "batch_size", 1)))
        #: scrapy-style counters (``request/count``, ``http/status/503``, ``retry/reason/timeout``)
        self.stats: Counter[str] = Counter()
        #: requests (after their retries) that failed in a row, of the kinds that say the vendor
        #: is unwell: the collector's circuit breaker counts these, not failed subjects
        self.failed_in_a_row = 0
        #: ids of the subjects this fetch sent a request for (so "not asked" is said exactly)
        self.asked: set[str] = set()
        #: seconds each answered HTTP attempt took, from sending to the body read (retries
        #: included, waits for the rate limit not); the collector reads the ones of its fetch
        self.latencies: list[float] = []
        self._secret_forms: tuple[str, ...] | None = None
        self._unclean: re.Pattern[str] | None = None  # any secret form or unsafe character
        #: component names found clean: a vendor's are a few, the same in every reply
        self._clean_names: set[str] = set()
        # per instance, not per fetch: the vendor counts our requests across fetch calls. Every
        # limit has its window, the longest first: a quota that is used up holds no other place
        self._rates = tuple(sorted(limits.rates, key=lambda rate: rate.period, reverse=True))
        self._limiters = [SlidingWindowLimiter(_padded(rate, self.window_margin), max_wait=self.max_window_wait)
                          for rate in self._rates]
        # within short windows, requests are spread evenly rather than sent in a burst: a burst
        # queues up at the vendor, and requests that arrive late make the next window's look early
        shortest = self._limiters[-1].limit if self._limiters else None
        self._pacer = _Pacer(shortest.period / shortest.count) if shortest and shortest.period <= 60 else None

    def request_for(self, subject: Subject) -> HttpRequest:
        raise NotImplementedError(f"{type(self).__name__} must define request_for()")

    def parse(self, payload: Any, subject: Subject) -> Reading | Failure:
        raise NotImplementedError(f"{type(self).__name__} must define parse()")

    def classify(self, status: int, body: bytes) -> FailureKind | None:
        if 200 <= status < 300:
            return None
        if status in {401, 403} and any(word in body[:2000].lower() for word in self.rate_limit_words):
            return FailureKind.RATE_LIMITED
        default = FailureKind.SERVER_ERROR if status >= 500 else FailureKind.BAD_PAYLOAD
        return _STATUS_KINDS.get(status, default)

    async def gather(self, call: Call, subjects: Sequence[Subject]) -> Iterable[Reading | Failure]:
        return [self.parse(await call(self.request_for(subject)), subject) for subject in subjects]

    def share_windows(self, ledger: WindowLedger) -> None:
        """Keep this index's rate windows in ``ledger`` (the store), shared with every process
        using it on the same API key: a restart or a second run starts from the vendor's count."""
        scope = f"{self.name}:{self.key_digest}"  # the store keeps one window per (scope, period)
        self._limiters = [SlidingWindowLimiter(limiter.limit, ledger, scope, max_wait=limiter.max_wait)
                          for limiter in self._limiters]

    @property
    def key_digest(self) -> str:
        """Who the vendor counts: the base URL and the config's secrets, digested (never the key)."""
        secrets = sorted((name, value.get_secret_value()) for name, value in vars(self.config).items()
                         if isinstance(value, SecretStr))
        text = json.dumps([self.config.base_url, secrets])
        return hashlib.blake2b(text.encode(), digest_size=12, person=b"ratewindow").hexdigest()

    def pause(self, seconds: float) -> None:
        """Hold every request for ``seconds`` (the vendor says its quota is nearly used up)."""
        if self._limiters and seconds > 0:  # the shortest window paces every request
            self._limiters[-1].delay(seconds)

    async def fetch(self, subjects: Sequence[Subject]) -> AsyncGenerator[Reading | Failure, None]:
        self.asked = set()
        timeout = aiohttp.ClientTimeout(total=self.config.timeout_seconds, connect=self.config.connect_timeout_seconds)
        size = self.batch_size
        groups = [subjects[i:i + size] for i in range(0, len(subjects), size)]
        pending = iter(groups)
        # bounded, so a slow consumer holds the workers back instead of piling up results
        results: Handover[Reading | Failure] = Handover(self.limits.concurrency)
        async with aiohttp.ClientSession(
            timeout=timeout, connector=aiohttp.TCPConnector(limit=self.limits.concurrency),
            cookie_jar=aiohttp.DummyCookieJar(), headers=SESSION_HEADERS,
        ) as session:

            async def work() -> None:
                # workers share one iterator: a fixed pool, not a task per subject
                for group in pending:
                    await results.put(await self._fetch_group(session, group))

            workers = [asyncio.create_task(work()) for _ in range(max(1, min(self.limits.concurrency, len(groups))))]
            try:
                for _ in range(len(subjects)):
                    yield await results.take()
            finally:
                # cancel until they are done: aiohttp's own timeout can swallow a cancellation
                # that lands at the same moment, and the worker would then wait on a full queue
                running = set(workers)
                while running:
                    for worker in running:
                        worker.cancel()
                    running = (await asyncio.wait(running, timeout=0.5))[1]
                for worker in workers:  # retrieved, so a worker's crash is not reported at exit
                    if not worker.cancelled():
                        worker.exception()
                for limiter in self._limiters:  # answers written, unused shared places given back
                    limiter.flush()

    async def _fetch_group(self, session: aiohttp.ClientSession, group: Sequence[Subject]) -> list[Reading | Failure]:
        """One request's results (a batch's), splitting a batch whose reply stays bad in halves
        so the subject the vendor chokes on fails alone and the others get their readings."""
        results, trouble = await self._ask(session, group)
        if trouble is None or trouble not in SPLIT_KINDS or len(group) < 2 or self._looks_down:
            return results
        self.stats["batch/split"] += 1
        half = len(group) // 2
        return [*await self._fetch_group(session, group[:half]), *await self._fetch_group(session, group[half:])]

    @property
    def _looks_down(self) -> bool:
        """The collector's breaker is about to trip: splitting would only ask a dead vendor more."""
        after = self.limits.breaker_after
        return after is not None and self.failed_in_a_row >= after

    async def _ask(self, session: aiohttp.ClientSession, group: Sequence[Subject]
                   ) -> tuple[list[Reading | Failure], FailureKind | None]:
        """The group's results, and the kind that failed the whole request (None if it was answered)."""
        attempts = answers = 0

        async def once(request: HttpRequest) -> Any:
            nonlocal attempts
            attempts += 1
            try:
                return await self._attempt(session, request, asking=group)
            except _NotSentError:
                attempts -= 1  # the vendor was not asked: a resumed run's summary counts it so
                raise

        async def call(request: HttpRequest) -> Any:
            nonlocal answers
            try:
                # nearly every request is answered at once: only a failed one pays for tenacity
                payload = await once(request)
            except RetriableAdapterError as failed:
                payload = await self._retry(once, request, failed)
            answers += 1
            return payload

        try:
            found = list(await self.gather(call, group))
        except AdapterError as exc:
            retried = isinstance(exc, RetriableAdapterError)
            if retried:
                self.stats["retry/max_reached"] += 1
            self._count_request(failed=retried or exc.kind.is_vendor_trouble)
            return [self._failure(s, exc.kind, str(exc), attempts) for s in group], exc.kind
        except Exception as exc:
            self._count_request(failed=True)
            if not answers:  # a bug in a hook or here; its text may hold the URL, so only its type
                return [self._failure(s, FailureKind.ADAPTER_ERROR, f"failed ({type(exc).__name__})", attempts)
                        for s in group], FailureKind.ADAPTER_ERROR
            # the payload surprised a hook: that group fails, not the run
            message = f"unexpected payload ({type(exc).__name__}: {str(exc)[:200]})"
            return [self._failure(s, FailureKind.BAD_PAYLOAD, message, attempts) for s in group], \
                FailureKind.BAD_PAYLOAD
        self._count_request(failed=False)
        by_id: dict[str, Reading | Failure] = {}
        for result in found:
            if result.subject_id is not None:
                by_id.setdefault(result.subject_id, result)
        return [self._finish(s, by_id.get(s.id), attempts) for s in group], None

    def _count_request(self, *, failed: bool) -> None:
        """Requests (after their retries) that failed in a row: what the collector's breaker counts."""
        self.failed_in_a_row = self.failed_in_a_row + 1 if failed else 0

    def _finish(self, subject: Subject, result: Reading | Failure | None, attempts: int) -> Reading | Failure:
        if result is None:
            return self._failure(subject, FailureKind.ADAPTER_ERROR, "the adapter gave no result", attempts)
        if isinstance(result, Failure):
            # a Failure built with 0 attempts is about a subject the hook never asked for
            kept: dict[str, Any] = {"attempts": attempts if result.attempts else 0,
                                    "message": self._scrub(result.message)}
            changed = kept["attempts"] != result.attempts or kept["message"] is not result.message
        else:  # a vendor may echo the key anywhere in its reply: every text we keep is scrubbed
            raw, topics, components = result.raw, result.topics, result.components
            kept = {"raw": None if raw is None else self._scrub(raw),
                    "topics": tuple(self._scrub(topic) for topic in topics) if topics else topics,
                    "components": components if self._clean_names.issuperset(components)
                    else self._scrub_names(components)}
            # _scrub hands back the very text it was given when there was nothing to blank
            changed = (kept["raw"] is not raw or kept["components"] is not components
                       or any(a is not b for a, b in zip(kept["topics"], topics, strict=True)))
        # copied only if something changed: nearly always nothing does, and a copy costs per pair
        return result.model_copy(update=kept) if changed else result

    def _scrub_names(self, components: dict[str, float]) -> dict[str, float]:
        """``components`` with its names scrubbed (the same dict if none changed); clean names are
        remembered, so the next reply's are not searched again."""
        scrubbed = {self._scrub(name): value for name, value in components.items()}
        if len(self._clean_names) < 1000:  # a vendor naming its components freely is still scrubbed
            self._clean_names.update(name for name in components if name in scrubbed)
        return components if scrubbed.keys() == components.keys() else scrubbed

    @property
    def _attempts(self) -> int:
        return self.config.max_attempts or self.max_attempts

    @property
    def _wait_cap(self) -> float:
        return self.config.backoff_max_seconds or self.backoff_max

    async def _retry(self, once: Callable[[HttpRequest], Awaitable[Any]], request: HttpRequest,
                     failed: RetriableAdapterError) -> Any:
        """The rest of the retry policy after a first attempt that failed with ``failed``: tenacity
        replays that failure as its attempt 1, so the count, the wait and the cap are its own."""
        replay: list[RetriableAdapterError] = [failed]
        payload: Any = None
        async for attempt in AsyncRetrying(
            retry=retry_if_exception_type(RetriableAdapterError),
            stop=stop_after_attempt(self._attempts),
            wait=_RetryAfterWait(self.config.backoff_seconds or self.backoff_base, self._wait_cap),
            before_sleep=self._count_retry,
            reraise=True,
        ):
            with attempt:
                if replay:
                    raise replay.pop()
                payload = await once(request)
        return payload

    def _count_retry(self, state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        kind = error.kind if isinstance(error, AdapterError) else "unknown"
        self.stats["retry/count"] += 1
        self.stats[f"retry/reason/{kind}"] += 1
        wait = state.next_action.sleep if state.next_action else 0.0
        logger.debug("%s: %s; attempt %d of %d in %.2fs",
                     self.name, self._scrub(str(error)), state.attempt_number + 1, self._attempts, wait)

    async def _attempt(self, session: aiohttp.ClientSession, request: HttpRequest,
                       asking: Sequence[Subject] = ()) -> Any:
        url = request.url  # public_url(url) only for a message: parsing it costs per request
        if self._pacer is not None:
            await self._pacer.wait()
        tickets = await self._places(url)
        self.asked.update(s.id for s in asking)  # sent now, no longer "not asked"
        self.stats["request/count"] += 1
        sent = time.monotonic()
        try:
            status, body, content_type, retry_after = await self._exchange(session, request)
        except (TimeoutError, aiohttp.ClientError, ConnectionError) as exc:
            raise adapter_error(exc, url, sent) from exc
        finally:  # the vendor counted it when it arrived: before now, whatever became of it
            for limiter, ticket in zip(self._limiters, tickets, strict=True):
                limiter.release(ticket)
        self.latencies.append(time.monotonic() - sent)
        kind = self.classify(status, body)
        if kind is None:
            return _decode_json(body, content_type, url)
        if kind is FailureKind.AUTH and status == 403 and retry_after is not None:
            kind = FailureKind.RATE_LIMITED  # a refusal that says when to come back (Mashery, GitHub)
        if status not in self.retry_statuses and kind is not FailureKind.RATE_LIMITED:
            raise FatalAdapterError(f"HTTP {status} from {public_url(url)}", kind=kind)
        if retry_after is not None:
            self.pause(min(retry_after, self._wait_cap))
        raise RetriableAdapterError(f"HTTP {status} from {public_url(url)}", kind=kind,
                                    retry_after=retry_after)

    async def _exchange(self, session: aiohttp.ClientSession, request: HttpRequest
                        ) -> tuple[int, bytes, str, float | None]:
        """Send ``request`` and read the reply: status, body, the Content-Type header and Retry-After.

        Redirects are followed here, within the configured origin only: the request carries the
        key. (aiohttp's own following can only be checked by a trace hook, and a session with
        one traces every step of every request.)"""
        method, url, params = request.method, URL(request.url), dict(request.params)
        headers = dict(request.headers)
        for _ in range(MAX_REDIRECTS + 1):
            async with session.request(method, url, params=params, headers=headers,
                                       allow_redirects=False) as response:
                location = response.headers.get("Location") if response.status in _REDIRECTS else None
                if location is None:
                    self.stats[f"http/status/{response.status}"] += 1
                    body = await self._read_body(response, request.url)
                    # the header as sent: parsed only if the body is not JSON (see _decode_json)
                    return (response.status, body, response.headers.get("Content-Type", ""),
                            retry_after_seconds(response.headers.get("Retry-After")))
                url, params = _within_origin(response.url, location), {}  # the Location holds the query
                method = "GET" if response.status == 303 else method
        raise FatalAdapterError(f"more than {MAX_REDIRECTS} redirects from {public_url(request.url)}",
                                kind=FailureKind.SERVER_ERROR)

    async def _places(self, url: str) -> list[int | None]:
        """A place in every window (the longest first), or, if one is used up for longer than
        ``max_window_wait``, a rate_limited error saying when it frees (a resumed run asks again)."""
        tickets: list[int | None] = []
        try:
            for limiter in self._limiters:
                tickets.append(await limiter.acquire())
        except WindowUsedUpError as exc:
            for limiter, ticket in zip(self._limiters, tickets, strict=False):
                limiter.release(ticket)
            rate = self._rates[len(tickets)]
            frees = datetime.fromtimestamp(time.time() + exc.wait, UTC).strftime("%Y-%m-%d %H:%M UTC")
            raise _NotSentError(f"the {rate.text} limit is used up until {frees} "
                                    f"(not asked of {public_url(url)}); resume the run after that",
                                    kind=FailureKind.RATE_LIMITED) from None
        return tickets

    async def _read_body(self, response: aiohttp.ClientResponse, url: str) -> bytes:
        declared = response.content_length
        if declared is not None and declared <= self.max_body_bytes and "Content-Encoding" not in response.headers:
            # in one read: the parser holds the body to its declared length (a compressed body
            # may unpack to more, so it is counted chunk by chunk below)
            return await response.read()
        body = bytearray()
        async for chunk in response.content.iter_any():
            body += chunk
            if max(declared or 0, len(body)) > self.max_body_bytes:
                raise FatalAdapterError(f"response over {self.max_body_bytes} bytes from {public_url(url)}",
                                        kind=FailureKind.BAD_PAYLOAD)
        return bytes(body)

    def _failure(self, subject: Subject, kind: FailureKind, message: str, attempts: int) -> Failure:
        text = f"{self.name}: {message}"
        if attempts:
            text += f" ({attempts} attempt{'' if attempts == 1 else 's'})"
        return Failure(index=self.name, subject_id=subject.id, kind=kind, attempts=attempts,
                       message=self._scrub(text)[:2000])

    def _scrub(self, text: str) -> str:
        """Belt and braces: blank every secret of the config (a key in a path, or echoed back), and
        replace control and bidirectional-override characters."""
        unclean = self._unclean
        if unclean is None:  # worked out once: the config is frozen, and this runs for every text kept
            self._secret_forms = secret_forms(self.config.secrets)
            unclean = self._unclean = re.compile("|".join([*map(re.escape, self._secret_forms), UNSAFE_TEXT.pattern]))
        if unclean.search(text) is None:  # nearly every text: one search, and the same text back
            return text
        for form in self._secret_forms or ():
            if form in text:
                text = text.replace(form, "***")
        return UNSAFE_TEXT.sub("\ufffd", text)  # and no vendor text reaches anyone raw


def secret_forms(secrets: Iterable[str]) -> tuple[str, ...]:
    """Every form a server may echo a secret in: as written, percent-encoded (``%2B`` or ``%2b``,
    ``+`` or ``%20`` for a space), HTML- or JSON-escaped; the longest first, as a form may hold
    another."""
    forms: set[str] = set()
    for secret in secrets:
        if not secret:
            continue
        for encoded in (secret, quote(secret, safe=""), quote(secret, safe="/"), quote_plus(secret),
                        html.escape(secret), json.dumps(secret)[1:-1]):
            forms |= {encoded, re.sub(r"%[0-9A-F]{2}", lambda m: m.group(0).lower(), encoded)}
    return tuple(sorted(forms, key=len, reverse=True))


def _within_origin(url: URL, location: str) -> URL:
    """Where a redirect from ``url`` to ``location`` leads, if within ``url``'s origin: the
    request carries the key (in a header or the query), which goes only to the configured host,
    and that host's reply is the reading. Elsewhere: a failure naming both origins."""
    here = url.origin()
    try:
        target = url.join(URL(location))
        there: URL | None = target.origin()
    except ValueError:
        there = None
    if there != here:
        raise FatalAdapterError(f"redirected from {here} to {there or 'an invalid location'}; not followed "
                                f"(the request and its key go only to {here})", kind=FailureKind.SERVER_ERROR)
    return target


class _Pacer:
    """Start times ``interval`` apart on average, first come first served (GCRA): a caller that
    comes late may start up to ``slack`` intervals early, so a moment with nobody waiting is
    made up for instead of lost; the sliding window still holds the limit itself."""

    def __init__(self, interval: float, slack: float = 2.0) -> None:
        self.interval = interval
        self.tolerance = slack * interval
        self._due = 0.0  # when the next start is due at the steady rate

    async def wait(self) -> None:
        now = time.monotonic()
        start = max(now, self._due - self.tolerance)
        self._due = max(self._due, start) + self.interval  # claimed before sleeping: the slot is ours
        if start > now:
            await asyncio.sleep(start - now)


def _padded(rate: RateLimit, margin: float) -> RateLimit:
    """``rate`` over a window ``margin`` longer (at least 10 ms): at most that many in any window."""
    return RateLimit(count=rate.count, period=rate.period + max(0.01, rate.period * margin))


def _decode_json(body: bytes, content_type: str, url: str) -> Any:
    """The decoded body; one that is not JSON (a maintenance page, a body cut short) is how a
    flaky vendor fails for a few seconds, so it is retried like a 5xx. ``content_type`` is the
    reply's header, as sent."""
    try:
        return json.loads(body)
    except (ValueError, RecursionError) as exc:
        media = content_type.partition(";")[0].strip().lower() or "application/octet-stream"
        got = "malformed JSON" if "json" in media else f"expected JSON, got {media[:80]}"
        raise RetriableAdapterError(f"{got} ({len(body)} bytes) from {public_url(url)}",
                                    kind=FailureKind.BAD_PAYLOAD) from exc
