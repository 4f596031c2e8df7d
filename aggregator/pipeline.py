"""collect -> store -> normalize -> compare, as plain function calls.

Network I/O happens only inside the adapters that :func:`collect` drives; everything after the
store is pure computation on what the store holds (invariant 5: stored before used).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from functools import partial

from aggregator.collect import ProgressCallback, collect
from aggregator.compare import ScoreTable, compare_table
from aggregator.config import Config
from aggregator.errors import ConfigError, Problem
from aggregator.models import Run, utc_now
from aggregator.outcome import RunOutcome
from aggregator.plugins import Adapter, adapters
from aggregator.resume import pending
from aggregator.roster import OptOut, load_roster
from aggregator.store import Store

log = logging.getLogger(__name__)


def build_adapters(config: Config) -> list[Adapter]:
    """One adapter per enabled index, each given only its own validated options."""
    built = []
    for name, index in config.enabled_indices.items():
        factory = adapters.load(index.adapter, where=f"indices.{name}.adapter")
        built.append(factory(name, config.adapter_configs[name], index.limits))
    return built


def new_run_id() -> str:
    return utc_now().strftime("%Y%m%d-%H%M%S-%f")


async def run(
    config: Config,
    store: Store,
    *,
    resume: str | None = None,
    progress: ProgressCallback | None = None,
    adapters_: Sequence[Adapter] | None = None,
) -> RunOutcome:
    """Collect the roster from every index into ``store`` and compare what was stored.

    With ``resume``, continue that run: only the pairs it has no answer for are fetched.
    """
    roster = load_roster(config.roster.path)
    subjects, gone = OptOut.load(config.roster.opt_out).split(roster)
    if gone:
        removed = store.forget(s.id for s in gone)
        if any(removed.values()):
            log.info("opt-out: erased the history of %d subject(s) (%d readings)", len(gone), removed["readings"])
    active = list(adapters_) if adapters_ is not None else build_adapters(config)
    if resume is None:
        current = Run(id=new_run_id(), started_at=utc_now(), config_digest=config.digest)
        store.start_run(current, subjects, [a.spec for a in active])
    else:
        current = store.run(resume)
        _check_resumable(store, current, active)
        erased = {s.id for s in gone}
        subjects = [s for s in store.subjects(current.id) if s.id not in erased]
    todo = pending([a.name for a in active], [s.id for s in subjects], store.answered(current.id))
    await collect(active, subjects, partial(store.add, current.id), todo=todo, progress=progress)
    store.finish_run(current.id, utc_now())
    return outcome_from_store(
        store, current.id, method=config.report.normalizer, threshold=config.report.disagreement_threshold,
        title=config.report.title, opted_out=len(gone),
    )


def _check_resumable(store: Store, run: Run, active: Sequence[Adapter]) -> None:
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


def outcome_from_store(
    store: Store,
    run_id: str,
    *,
    method: str = "percentile",
    threshold: float | None = None,
    title: str = "Influence report",
    opted_out: int = 0,
) -> RunOutcome:
    """Rebuild a run's comparison from the store alone (old runs re-render with new templates)."""
    run = store.run(run_id)
    subjects = store.subjects(run_id)
    specs = store.specs(run_id)
    readings = [reading for _, reading in store.readings(run_id)]
    failures = store.failures(run_id)
    table = ScoreTable.from_readings([s.id for s in subjects], specs, readings)
    options = {} if threshold is None else {"threshold": threshold}
    comparison = compare_table(table, method=method, failures=failures, **options)
    return RunOutcome(
        run=run, subjects=tuple(subjects), comparison=comparison, failures=tuple(failures),
        opted_out=opted_out, title=title, readings=tuple(readings),
    )
