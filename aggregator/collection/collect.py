"""Run every adapter concurrently and hand each result to a sink (the store) as it arrives.

Each adapter keeps its own rate limit and concurrency (its :class:`~aggregator.plugins.Limits`).
One index failing, or one subject failing, never fails the collection: whatever an adapter
does — raise, skip a subject, answer twice — every asked (index, subject) pair ends with
exactly one Reading or Failure.

Two guards per index, from its ``Limits`` (given to :func:`collect`, else the adapter's own
``limits`` attribute, as the HTTP helper keeps, else the defaults): a circuit breaker — after
``breaker_after`` failed requests in a row of the kinds that say the vendor is unwell (auth,
rate limit, timeout, server error, adapter error) the index is marked down for the run, its
fetch is stopped and each remaining subject gets one Failure, not one timeout after another —
and a deadline: what is not fetched ``deadline_seconds`` after the index started fails as a
timeout. Neither kind of Failure is final, so a resumed run asks again.

Requests, not subjects: an adapter that keeps ``failed_in_a_row`` (the HTTP helper does; one
batch of 100 is one request) is counted by it; for any other adapter each failed subject counts
as one request. An adapter that keeps ``asked`` (the ids it sent a request for) lets the
breaker's Failures say exactly which subjects were never asked.

The sink's own errors (the store's: a full disk, a damaged file) are not the adapter's: they
stop the collection and reach the caller as they are.
"""

from __future__ import annotations

import logging
import operator
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass

from aggregator.models import Failure, FailureKind, Reading, Subject, subject_ids, subset
from aggregator.plugins import Adapter, Limits

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Progress:
    """Where one index stands; sent after every result."""

    index: str
    done: int
    total: int
    failures: int
    elapsed: float


ProgressCallback = Callable[[Progress], None]
Sink = Callable[[Reading | Failure], None]


@dataclass(frozen=True)
class Tally:
    """What one index gave in this collection."""

    index: str
    asked: int
    readings: int
    failures: int
    seconds: float
    #: HTTP attempts the adapter timed during this collection (0 for adapters that time none)
    requests: int = 0
    #: median and 95th percentile of those attempts' durations, in seconds
    p50: float | None = None
    p95: float | None = None
    #: subjects never asked because the index was marked down or ran out of time
    not_asked: int = 0


class _SinkError(Exception):
    """The sink (the store) raised: carried past the adapter's error handling, then re-raised."""

    def __init__(self, error: BaseException) -> None:
        super().__init__(str(error))
        self.error = error


async def collect(
    adapters: Sequence[Adapter],
    subjects: Sequence[Subject],
    sink: Sink,
    *,
    todo: Mapping[str, Sequence[str]] | None = None,
    progress: ProgressCallback | None = None,
    limits: Mapping[str, Limits] | None = None,
) -> list[Tally]:
    """Fetch ``subjects`` (or, per index, the ids in ``todo``) from every adapter at once.

    ``sink`` receives each Reading and Failure as it arrives: the pipeline passes the store's
    ``add`` so nothing fetched is lost if the run dies. ``limits`` (by index name) sets each
    index's breaker and deadline.
    """
    import asyncio  # here, not at the top: `import aggregator` stays light

    all_ids = subject_ids(subjects)
    place = {sid: i for i, sid in enumerate(all_ids)}  # once for every index; a repeated id: its last subject
    jobs = []
    for adapter in adapters:
        wanted = _asked_of(subjects, all_ids, place, todo.get(adapter.name, ()) if todo is not None else None)
        own = getattr(adapter, "limits", None)
        chosen = (limits or {}).get(adapter.name) or (own if isinstance(own, Limits) else Limits())
        jobs.append(asyncio.ensure_future(_drain(adapter, wanted, sink, progress, chosen)))
    try:
        return list(await asyncio.gather(*jobs))
    except BaseException:  # the sink failed (or we were cancelled): stop every index, not just one
        for job in jobs:
            job.cancel()
        await asyncio.gather(*jobs, return_exceptions=True)
        raise


async def _drain(adapter: Adapter, subjects: Sequence[Subject], sink: Sink,
                 progress: ProgressCallback | None, limits: Limits) -> Tally:
    try:
        return await _drain_index(adapter, subjects, sink, progress, limits)
    except _SinkError as exc:
        raise exc.error from None


async def _drain_index(adapter: Adapter, subjects: Sequence[Subject], sink: Sink,
                       progress: ProgressCallback | None, limits: Limits) -> Tally:
    import asyncio

    name = adapter.name
    started = time.monotonic()
    timed = _latencies(adapter)
    timed_before = len(timed) if timed is not None else 0
    waiting = set(subject_ids(subjects))
    readings = failures = in_a_row = 0
    whole_index: Failure | None = None
    tripped: Failure | None = None
    counted = _requests_failed_in_a_row(adapter) is not None

    def deliver(item: Reading | Failure) -> None:
        nonlocal readings, failures, whole_index, in_a_row, tripped
        try:
            sink(item)
        except Exception as exc:
            raise _SinkError(exc) from exc
        if item.subject_id is None:  # about the whole index: its subjects get their own below
            whole_index = item if isinstance(item, Failure) else whole_index
            return
        waiting.discard(item.subject_id)
        if isinstance(item, Reading):
            readings += 1
        else:
            failures += 1
        if counted:
            in_a_row = _requests_failed_in_a_row(adapter) or 0
        else:
            in_a_row = in_a_row + 1 if isinstance(item, Failure) and item.kind.is_vendor_trouble else 0
        if tripped is None and limits.breaker_after is not None and in_a_row >= limits.breaker_after:
            assert isinstance(item, Failure)
            tripped = item
        if progress is not None:
            progress(Progress(name, readings + failures, len(subjects), failures, time.monotonic() - started))

    if progress is not None:
        progress(Progress(name, 0, len(subjects), 0, 0.0))
    if subjects:
        kind = FailureKind.ADAPTER_ERROR
        reason = f"{name}: the adapter returned no result for this subject"
        deadline = asyncio.timeout(limits.deadline_seconds)
        try:
            async with deadline, _closing(adapter.fetch(subjects)) as stream:
                async for item in stream:
                    checked = _check(adapter, item, waiting)
                    if checked is not None:
                        deliver(checked)
                    if tripped is not None:
                        break  # closing the stream stops the adapter's requests in flight
        except _SinkError:
            raise
        except Exception as exc:
            if isinstance(exc, TimeoutError) and deadline.expired():
                kind = FailureKind.TIMEOUT
                reason = f"{name}: the index's deadline of {limits.deadline_seconds:g}s passed before this subject"
                log.warning("index %r: its deadline of %gs passed with %d subject(s) not fetched",
                            name, limits.deadline_seconds, len(waiting))
            else:  # a plugin bug must not take the run down
                # the exception's text may quote a URL with a key in it: log the type only
                log.error("adapter %r raised %s; its remaining subjects are marked as failed",
                          name, type(exc).__name__)
                reason = f"{name}: the adapter stopped with {type(exc).__name__}"
        asked = _asked(adapter)
        left = [sid for sid in subject_ids(subjects) if sid in waiting]
        cut = {sid for sid in left if asked is not None and sid in asked}
        if tripped is not None:
            kind = tripped.kind
            why = (f"the index was marked down for this run after {limits.breaker_after} failed requests "
                   f"in a row (last: {tripped.message[:1500]})")
            reason = f"{name}: not asked: {why}"
            log.warning("index %r marked down after %d failed requests in a row (%s); %d subject(s) not asked, "
                        "%d asked but cut off", name, in_a_row, tripped.kind.value, len(left) - len(cut), len(cut))
        elif whole_index is not None:
            kind, reason = whole_index.kind, whole_index.message
            why = reason
        else:
            why = reason.removeprefix(f"{name}: ")
        not_asked = 0
        for sid in left:
            if sid in cut:  # its request was in flight when the index was stopped
                deliver(Failure(index=name, subject_id=sid, kind=kind, attempts=1,
                                message=f"{name}: asked, but its answer was cut off: {why}"))
            else:
                not_asked += 1
                deliver(Failure(index=name, subject_id=sid, kind=kind, attempts=0, message=reason))
    else:
        not_asked = 0
    seconds = time.monotonic() - started
    durations = sorted(timed[timed_before:]) if timed is not None else []
    return Tally(name, len(subjects), readings, failures, seconds, len(durations),
                 _quantile(durations, 0.5), _quantile(durations, 0.95), not_asked)


def _asked_of(
    subjects: Sequence[Subject], all_ids: Sequence[str], place: Mapping[str, int], ids: Sequence[str] | None,
) -> Sequence[Subject]:
    """The subjects to ask an index about: those of ``ids`` (every one of ``subjects`` if None),
    in that order, once per id. ``all_ids``: the subjects' ids; ``place``: each id's (last) position.

    The whole roster, the common case, is ``subjects`` itself: a million subjects are not
    copied (or, held as columns, built as models) once per index.
    """
    unique = len(place) == len(all_ids)
    if unique and (ids is None or (len(ids) == len(all_ids) and all(map(operator.eq, ids, all_ids)))):
        return subjects
    return subset(subjects, [place[sid] for sid in (place if ids is None else ids) if sid in place])


def _requests_failed_in_a_row(adapter: Adapter) -> int | None:
    """How many of the adapter's requests failed in a row, if it counts them (the HTTP helper does)."""
    found = getattr(adapter, "failed_in_a_row", None)
    return found if isinstance(found, int) and not isinstance(found, bool) else None


def _asked(adapter: Adapter) -> set[str] | None:
    """The ids the adapter sent a request for in this fetch, if it keeps them."""
    found = getattr(adapter, "asked", None)
    return found if isinstance(found, set) else None


def _latencies(adapter: Adapter) -> list[float] | None:
    """The adapter's list of request durations (the HTTP helper keeps one), if it has one."""
    found = getattr(adapter, "latencies", None)
    return found if isinstance(found, list) else None


def _quantile(ordered: Sequence[float], q: float) -> float | None:
    """The ``q`` quantile of sorted values by linear interpolation (None if there are none)."""
    if not ordered:
        return None
    at = q * (len(ordered) - 1)
    low = int(at)
    high = min(low + 1, len(ordered) - 1)
    return float(ordered[low] + (ordered[high] - ordered[low]) * (at - low))


@asynccontextmanager
async def _closing(stream: AsyncIterator[Reading | Failure]) -> AsyncIterator[AsyncIterator[Reading | Failure]]:
    """Close an async generator however the loop over it ends (break, deadline, error)."""
    try:
        yield stream
    finally:
        close = getattr(stream, "aclose", None)
        if close is not None:
            await close()


def _check(adapter: Adapter, item: object, waiting: set[str]) -> Reading | Failure | None:
    """Hold adapters to their contract: right type, right index, each asked subject once."""
    name = adapter.name
    if not isinstance(item, Reading | Failure):
        log.warning("adapter %r yielded a %s, not a Reading or Failure; ignored", name, type(item).__name__)
        return None
    if item.subject_id is None:  # a whole-index failure
        return item if item.index == name else None
    if item.subject_id not in waiting:
        log.warning("adapter %r answered for subject %r it was not asked about (or twice); ignored",
                    name, item.subject_id)
        return None
    if item.index != name:
        return Failure(index=name, subject_id=item.subject_id, kind=FailureKind.ADAPTER_ERROR, attempts=0,
                       message=f"{name}: the adapter labelled its result as index {item.index!r}")
    return item
