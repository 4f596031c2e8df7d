"""Index health: what each index is and how well it answered (coverage, faults, retries, latency),
the failures in report order, and the fault sentences the headline and summary carry.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal, TypeVar

import numpy as np

from aggregator.analytics.compare import Comparison, IndexHealth
from aggregator.analytics.outcome import IndexTiming
from aggregator.models import Failure, FailureKind, Failures, IndexSpec, Subject, subject_ids
from reports.sections._common import SummaryLine, View, half_up, index_label, names_of, plural

#: How many failures the report lists; the rest are counted.
MAX_FAILURES = 200
#: How many distinct fault messages each index shows as examples.
MAX_EXAMPLES = 3
#: Vendor messages longer than this are cut (with an ellipsis).
MAX_MESSAGE_CHARS = 300

#: How each failure kind reads in a table.
KIND_LABELS: dict[FailureKind, str] = {
    FailureKind.AUTH: "authentication refused",
    FailureKind.RATE_LIMITED: "rate limited",
    FailureKind.TIMEOUT: "timeout",
    FailureKind.SERVER_ERROR: "server error",
    FailureKind.BAD_PAYLOAD: "unreadable answer",
    FailureKind.OUT_OF_RANGE: "value out of range",
    FailureKind.NOT_FOUND: "not found",
    FailureKind.ADAPTER_ERROR: "adapter error",
}

#: How each fault reads in a summary sentence: ``{index}``, then ``{scope}`` ("for 12 of 500
#: subjects" or "for every subject").
_FAULT_SENTENCES: dict[FailureKind, str] = {
    FailureKind.AUTH: "{index} refused our credentials {scope} (authentication; check the key).",
    FailureKind.RATE_LIMITED: "{index} kept rate-limiting us and gave no score {scope}.",
    FailureKind.TIMEOUT: "{index} could not be reached {scope} (timeout).",
    FailureKind.SERVER_ERROR: "{index} failed with server errors {scope}.",
    FailureKind.BAD_PAYLOAD: "{index} sent answers we could not read {scope}.",
    FailureKind.OUT_OF_RANGE: (
        "{index} sent scores outside its documented scale {scope}; they were left out."
    ),
    FailureKind.ADAPTER_ERROR: "The {index} adapter broke down {scope} (a plugin bug).",
}

_STATUS_TEXT = {"ok": "OK", "problems": "Problems", "no_data": "No data"}

_KIND_ORDER = {kind: n for n, kind in enumerate(FailureKind)}


class KindCount(View):
    kind: str
    label: str
    count: int
    #: False for coverage gaps (the index not knowing a subject)
    fault: bool


class IndexView(View):
    """One index: what it is, and how well it answered in this run."""

    name: str
    label: str
    #: e.g. "1-100, higher is better"
    scale: str
    #: how its scores were brought to 0-100 under this run's method
    normalization: str
    measures: str
    algorithm_version: str
    scored: int
    asked: int
    coverage_pct: float
    coverage_text: str
    failures: tuple[KindCount, ...]
    faults: int
    not_found: int
    retries: int
    examples: tuple[str, ...]
    #: a fixed token (safe as a CSS class) and its words
    status: Literal["ok", "problems", "no_data"]
    status_text: str
    #: how long the index took to answer, when the run measured it
    latency_text: str | None = None


class FailureRow(View):
    index: str
    #: the subject's name, or "whole index"
    subject: str
    whole_index: bool
    kind: str
    kind_label: str
    fault: bool
    attempts: int
    message: str


def _clip_message(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_MESSAGE_CHARS else text[: MAX_MESSAGE_CHARS - 1] + "…"


def _normalization(method: str, spec: IndexSpec) -> str:
    flip = "" if spec.higher_is_better else "; lower is better, so the order is flipped"
    if method == "percentile":
        return f"percentile among the subjects it scored{flip}"
    if method == "range":
        if spec.scale.bounded:
            return f"documented scale {spec.scale.describe()} mapped onto 0-100{flip}"
        return f"no documented upper limit: log-range over this cohort{flip}"
    return f"normalized with the {method!r} method{flip}"


def health_for(comparison: Comparison, j: int, spec: IndexSpec) -> IndexHealth:
    for health in comparison.health:
        if health.index == spec.name:
            return health
    scored = int(np.sum(~np.isnan(comparison.table.raw[:, j])))
    return IndexHealth(index=spec.name, scored=scored, asked=len(comparison.table.subject_ids))


def _duration(seconds: float) -> str:
    if seconds < 1.0:
        return f"{seconds * 1000:,.0f} ms"
    return f"{seconds:,.1f} s"


def latency_text(timing: IndexTiming | None) -> str | None:
    """"p50 42 ms, p95 120 ms, 2,000 requests in 10.1 s", or "collected in 1.2 s" without requests."""
    if timing is None:
        return None
    if timing.requests and timing.p50 is not None and timing.p95 is not None:
        return (f"p50 {_duration(timing.p50)}, p95 {_duration(timing.p95)}, "
                f"{plural(timing.requests, 'request')} in {_duration(timing.seconds)}")
    return f"collected in {_duration(timing.seconds)}"


def index_view(
    method: str, spec: IndexSpec, health: IndexHealth, examples: tuple[str, ...], latency: str | None = None,
) -> IndexView:
    direction = "higher is better" if spec.higher_is_better else "lower is better"
    pct = float(half_up(np.array([health.coverage * 100.0]), 1)[0])
    counts = sorted(health.failures.items(), key=lambda item: _KIND_ORDER[item[0]])
    faults = health.faults
    status: Literal["ok", "problems", "no_data"] = (
        "no_data" if health.scored == 0 else "problems" if faults else "ok"
    )
    return IndexView(
        name=spec.name,
        label=spec.label or index_label(spec.name),
        scale=f"{spec.scale.describe()}, {direction}",
        normalization=_normalization(method, spec),
        measures=spec.measures.strip() or "not stated by the vendor",
        algorithm_version=spec.algorithm_version,
        scored=health.scored,
        asked=health.asked,
        coverage_pct=pct,
        coverage_text=f"{health.scored:,} of {health.asked:,} ({pct:g}%)",
        failures=tuple(
            KindCount(kind=kind.value, label=KIND_LABELS[kind], count=n, fault=not kind.is_coverage_gap)
            for kind, n in counts
        ),
        faults=faults,
        not_found=sum(n for kind, n in counts if kind.is_coverage_gap),
        retries=health.retries,
        examples=examples,
        status=status,
        status_text=_STATUS_TEXT[status],
        latency_text=latency,
    )


def problem_lines(indices: Sequence[IndexView], failures: Sequence[Failure]) -> list[SummaryLine]:
    given = Failures.of(failures)
    whole = {(index, FailureKind(kind))
             for index, subject, kind in zip(given.indices, given.subject_ids, given.kinds, strict=True)
             if subject is None}
    lines = []
    for index in indices:
        for count in index.failures:
            kind = FailureKind(count.kind)
            if not count.fault:
                continue
            if (index.name, kind) in whole or count.count >= index.asked:
                scope = "for every subject"
            else:
                scope = f"for {count.count:,} of {plural(index.asked, 'subject')}"
            text = _FAULT_SENTENCES[kind].format(index=index.label, scope=scope)
            lines.append(SummaryLine(text=text, tone="problem"))
        if index.scored == 0 and not index.faults:
            lines.append(SummaryLine(text=f"{index.label} scored none of the subjects.", tone="problem"))
    return lines


def _codes(values: Sequence[str]) -> list[int]:
    """Each value's place among the distinct values in sorted order: sorting by it sorts by the text."""
    place = {value: n for n, value in enumerate(sorted(set(values)))}
    return [place[value] for value in values]


def in_report_order(
    failures: Sequence[Failure], subjects: Sequence[Subject], index_names: Sequence[str], *, limit: int | None = None,
) -> Failures:
    """Index by index, faults before coverage gaps, then kind, then roster order, then message
    (the first ``limit`` of them, when given).

    Failures arrive in whatever order the fetches finished; sorting them keeps the report the
    same for the same run. Sorted on the columns (one integer code per key, then one stable
    :func:`numpy.lexsort`), so a run with hundreds of thousands of coverage gaps builds no
    :class:`Failure` for them: the result is :class:`Failures` columns in the new order. The
    leading keys (index, fault, kind) take few values: with ``limit``, only the failures of the
    groups they make up to the one holding the ``limit``-th failure are sorted further.
    """
    given = Failures.of(failures)
    if not len(given):
        return given
    column = {name: j for j, name in enumerate(index_names)}  # indices not in the table last, by name
    index_rank = {name: n for n, name in
                  enumerate(sorted(set(given.indices), key=lambda name: (column.get(name, len(column)), name)))}
    width = 2 * len(_KIND_ORDER)
    kind_rank = {kind: FailureKind(kind).is_coverage_gap * len(_KIND_ORDER) + _KIND_ORDER[FailureKind(kind)]
                 for kind in set(given.kinds)}
    group = (np.array([index_rank[name] * width for name in given.indices], dtype=np.int64)
             + np.array([kind_rank[kind] for kind in given.kinds], dtype=np.int64))
    rows = np.arange(len(given))
    if limit is not None and limit < len(given):  # every failure that can be among the first `limit`
        rows = np.flatnonzero(group <= np.partition(group, limit - 1)[limit - 1]) if limit > 0 else rows[:0]
    ids = [given.subject_ids[i] for i in rows.tolist()]
    failing = set(ids)
    position = {sid: n for n, sid in enumerate(subject_ids(subjects)) if sid in failing}
    off_roster = len(subjects)  # off-roster subjects last, whole-index failures first
    keys = (  # least significant first, as lexsort takes them
        np.asarray(_codes([given.messages[i] for i in rows.tolist()]), dtype=np.int64),
        np.array([-1 if sid is None else position.get(sid, off_roster) for sid in ids], dtype=np.int64),
        group[rows],
    )
    return _picked(given, rows[np.lexsort(keys)][:limit].tolist())


_Cell = TypeVar("_Cell")


def faults_of(failures: Sequence[Failure]) -> Failures:
    """The failures that are faults (not an index not knowing a subject), in their order."""
    given = Failures.of(failures)
    gap = {kind: FailureKind(kind).is_coverage_gap for kind in set(given.kinds)}
    return _picked(given, [i for i, kind in enumerate(given.kinds) if not gap[kind]])


def _picked(given: Failures, rows: list[int]) -> Failures:
    def pick(values: Sequence[_Cell]) -> list[_Cell]:
        return [values[i] for i in rows]

    return Failures(pick(given.indices), pick(given.subject_ids), pick(given.kinds), pick(given.attempts),
                    pick(given.messages), pick(given.times))


def fault_examples(failures: Sequence[Failure], index: str) -> tuple[str, ...]:
    """The first few distinct fault messages of one index, in report order."""
    given = Failures.of(failures)
    gap = {kind: FailureKind(kind).is_coverage_gap for kind in set(given.kinds)}
    examples: dict[str, None] = {}
    for name, kind, message in zip(given.indices, given.kinds, given.messages, strict=True):
        if name == index and not gap[kind]:
            examples.setdefault(_clip_message(message))
            if len(examples) == MAX_EXAMPLES:
                break
    return tuple(examples)


def failure_rows(
    ordered: Sequence[Failure], subjects: Sequence[Subject], labels: Mapping[str, str]
) -> list[FailureRow]:
    if not ordered:
        return []  # nothing to name: no walk over the roster
    listed = {f.subject_id for f in ordered[:MAX_FAILURES]}
    names = {sid: name for sid, name in zip(subject_ids(subjects), names_of(subjects), strict=True) if sid in listed}
    rows = []
    for f in ordered[:MAX_FAILURES]:
        if f.subject_id is None:
            subject = "whole index"
        else:  # off this run's roster: never echo an id we were not asked to show
            subject = names.get(f.subject_id, "(subject not in this run)")
        rows.append(
            FailureRow(
                index=labels.get(f.index) or index_label(f.index), subject=subject, whole_index=f.subject_id is None,
                kind=f.kind.value, kind_label=KIND_LABELS[f.kind], fault=not f.kind.is_coverage_gap,
                attempts=f.attempts, message=_clip_message(f.message),
            )
        )
    return rows
