"""collect -> store -> normalize -> compare, as plain function calls.

Network I/O happens only inside the adapters that :func:`collect` drives; everything after the
store is pure computation on what the store holds (invariant 5: stored before used).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

from aggregator.analytics.outcome import RunOutcome
from aggregator.analytics.people import people_agreement
from aggregator.app.activity import roster_features
from aggregator.app.config import Config
from aggregator.app.history import outcome_from_store
from aggregator.collection.collect import ProgressCallback, collect
from aggregator.collection.judgments import Judgments, load_judgments
from aggregator.collection.resume import pending
from aggregator.collection.roster import OptOut, load_roster, take_shard
from aggregator.collection.store import Store, Writer
from aggregator.errors import ConfigError, Problem, StoreUnusableError
from aggregator.models import FailureKind, Run, Subject, subject_ids, subset, utc_now
from aggregator.plugins import Adapter, CheckedAdapter, adapters

log = logging.getLogger(__name__)
T = TypeVar("T")
#: ``(K, N)``: the K-th (1-based) of N parts of the roster
ShardChoice = tuple[int, int]


def build_adapters(config: Config) -> list[Adapter]:
    """One adapter per enabled index, each given only its own validated options."""
    built = []
    for name, index in config.enabled_indices.items():
        factory = adapters.load(index.adapter, where=f"indices.{name}.adapter")
        built.append(factory(name, config.adapter_configs[name], index.limits))
    return built


def new_run_id() -> str:
    return utc_now().strftime("%Y%m%d-%H%M%S-%f")


def _new_run(store: Store, config: Config, run_id: str | None) -> Run:
    """A new run, named ``run_id`` if given (shards of one roster share one id, by which
    ``export`` joins them); an id the store already holds is refused."""
    if run_id is not None and run_id in {rid for rid, _ in store.run_states()}:
        raise ConfigError([Problem("--run-id", f"{store.path} already holds run {run_id!r}; continue it with "
                                               f"--resume {run_id}, or give a new id")])
    return Run(id=run_id or new_run_id(), started_at=utc_now(), config_digest=config.digest)


@dataclass(frozen=True)
class Collected:
    """A finished collection: the run in the store, and who was left out of it."""

    run_id: str
    #: the subjects collected, in roster order (as columns when read from a roster file)
    subjects: Sequence[Subject]
    opted_out: int
    forgotten: int
    #: people's judged pairs to check every index against, read before anything was fetched
    judgments: Judgments | None = None
    #: by index, the subjects this collection never sent a request for (the index was marked
    #: down or ran out of time): their Failures are faults like the others, but nobody asked
    not_asked: Mapping[str, int] = field(default_factory=dict)


async def collect_run(
    config: Config,
    store: Store,
    *,
    resume: str | None = None,
    retry: Collection[FailureKind] = (),
    progress: ProgressCallback | None = None,
    adapters_: Sequence[Adapter] | None = None,
    shard: ShardChoice | None = None,
    run_id: str | None = None,
) -> Collected:
    """Collect the roster from every index into ``store`` (the first half of :func:`run`).

    With ``resume``, continue that run: only the pairs it has no answer for are fetched, and
    those whose failure is of a kind in ``retry``, final or not. With ``shard`` ``(K, N)``,
    collect only the K-th of N disjoint parts of the roster (see ``docs/spark.md``), as run
    ``run_id`` (default: a new id from the clock).
    """
    roster = load_roster(config.roster.path)
    opt_out = OptOut.load(config.roster.opt_out)
    for warning in opt_out.warnings(roster, config.roster.opt_out):
        log.warning("%s", warning)
    subjects, gone = opt_out.split(roster)
    # read before anything is fetched: a judgments file that cannot be used fails the run early
    judgments = read_judgments(config, roster, gone)
    forgotten = _forget_opted_out(store, gone)
    active = list(adapters_) if adapters_ is not None else build_adapters(config)
    check_inputs(active, roster)
    for adapter in active:  # vendors count per key, across processes: so do we (the HTTP helper)
        share = getattr(adapter, "share_windows", None)
        if callable(share):
            share(store)
    if resume is None:
        current = _new_run(store, config, run_id)
        positions = None
        if shard is not None:
            part, positions = take_shard(subjects, *shard)
            current = current.model_copy(update={"shard": part})
            subjects = subset(subjects, positions)
        store.start_run(current, subjects, [a.spec for a in active], positions)
    else:
        current = store.run(resume)
        _check_resumable(store, current, active, shard)
        erased = set(subject_ids(gone))
        stored = store.subject_columns(current.id)
        subjects = subset(stored, (i for i, sid in enumerate(stored.ids) if sid not in erased))
    del roster  # the roster's columns stay only as far as ``subjects`` shares them
    todo = pending([a.name for a in active], subject_ids(subjects), store.answered(current.id, retry=retry))
    limits = {name: index.limits for name, index in config.enabled_indices.items()}
    try:
        with store.writer(current.id) as sink:
            tallies = await _flushing(sink, collect(active, subjects, sink, todo=todo, progress=progress,
                                                    limits=limits))
    except StoreUnusableError as exc:
        if not exc.resumable:
            raise
        raise StoreUnusableError(f"{exc} — this run is {current.id}", resumable=True) from None
    for tally in tallies:
        store.add_index_timing(current.id, tally.index, seconds=tally.seconds, requests=tally.requests,
                               p50=tally.p50, p95=tally.p95)
    store.finish_run(current.id, utc_now())
    return Collected(current.id, subjects, len(gone), forgotten, judgments,
                     not_asked={tally.index: tally.not_asked for tally in tallies})


def compare_stored(config: Config, store: Store, collected: Collected) -> RunOutcome:
    """Compare what the store holds of a collected run (the second half of :func:`run`)."""
    outcome = outcome_from_store(
        store, collected.run_id, method=config.report.normalizer,
        threshold=config.report.disagreement_threshold, title=config.report.title,
        opted_out=collected.opted_out, forgotten=collected.forgotten, consensus=config.report.consensus,
        features=roster_features(config, collected.subjects),
    )
    return with_people(outcome, collected.judgments, config.validation.in_sample)


def read_judgments(config: Config, roster: Sequence[Subject], gone: Sequence[Subject] = ()) -> Judgments | None:
    """The config's judgments, read against the whole roster (None without any); bad rows are logged.

    The whole roster, so that a pair naming an opted-out subject (one of ``gone``) is not an
    error: such pairs are simply not in the run, and no problem names them.
    """
    path = config.validation.judgments
    if path is None:
        return None
    judgments = load_judgments(path, roster, set(subject_ids(gone)))
    for problem in judgments.problems:
        log.warning("%s: %s (row skipped)", path, problem)
    return judgments


def with_people(outcome: RunOutcome, judgments: Judgments | None, in_sample: Sequence[str] = ()) -> RunOutcome:
    """The outcome with each index checked against the judgments (unchanged without any)."""
    if judgments is None:
        return outcome
    people = people_agreement(outcome.comparison, judgments.pairs, in_sample=in_sample)
    people = replace(people, source=Path(judgments.source).name, skipped=len(judgments.problems),
                     judges=judgments.judges)
    return replace(outcome, people=people)


def check_inputs(active: Sequence[Adapter], roster: Sequence[Subject]) -> None:
    """Every adapter's own check of its inputs (an export's columns, the roster network it reads),
    before any request: a mistake there would otherwise run to the end with 0 % coverage."""
    problems = [p for adapter in active if isinstance(adapter, CheckedAdapter) for p in adapter.check_inputs(roster)]
    if problems:
        raise ConfigError(problems)


async def run(config: Config, store: Store, **options: Any) -> RunOutcome:
    """Collect the roster from every index into ``store`` and compare what was stored: :func:`collect_run`
    (which takes ``options``: ``resume``, ``retry``, ``progress``, ``adapters_``, ``shard``, ``run_id``),
    then :func:`compare_stored`."""
    return compare_stored(config, store, await collect_run(config, store, **options))


async def _flushing(sink: Writer, work: Awaitable[T]) -> T:
    """Await ``work`` while committing the sink's group every few tens of milliseconds, so that
    answers never wait long in memory when a vendor is slow."""
    import asyncio

    async def tick() -> None:
        while True:
            await asyncio.sleep(sink.seconds)
            sink.flush_if_due()

    ticker = asyncio.ensure_future(tick())
    try:
        return await work
    finally:
        ticker.cancel()


def _forget_opted_out(store: Store, gone: Sequence[Subject]) -> int:
    """Erase what the store holds about newly opted-out subjects, leaving no trace in the file."""
    held = store.stored_subjects(subject_ids(gone))
    if not held:
        return 0
    removed = store.forget(held)
    store.vacuum()
    log.warning(
        "opt-out: erased the stored history of %d subject(s) who asked not to be scored "
        "(%d readings, %d failures, from %d run(s))", len(held), removed["readings"], removed["failures"],
        removed["runs"],
    )
    return len(held)


def _check_resumable(store: Store, run: Run, active: Sequence[Adapter], shard: ShardChoice | None = None) -> None:
    if shard is not None and (run.shard is None or (run.shard.index, run.shard.count) != shard):
        collected = f"shard {run.shard}" if run.shard else "the whole roster"
        raise ConfigError([Problem("--shard", f"run {run.id} collected {collected}, not shard {shard[0]}/{shard[1]}; "
                                              "resume it without --shard (it keeps its own part)")])
    stored = [spec.name for spec in store.specs(run.id)]
    configured = [a.name for a in active]
    if sorted(stored) != sorted(configured):
        raise ConfigError([Problem(
            "indices",
            f"run {run.id} collected indices {', '.join(stored)}, but the config now has "
            f"{', '.join(configured)}; resume with the config the run started with, or start a new run",
        )])
    if run.finished:
        log.info("run %s had finished; fetching only what it is missing", run.id)
