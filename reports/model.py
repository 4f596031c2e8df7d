"""The report's view-model: a run's numbers, rounded and put into words, ready to lay out.

:func:`build_view` is the only place a report computes anything. It takes a
:class:`~aggregator.analytics.outcome.RunOutcome` and returns a frozen :class:`ReportView` whose values are
already rounded, labelled and ordered, so templates only loop and format. Renderers never see
the arrays, and the JSON renderer can publish the view as it is. Each section's view classes
and the functions that build them are in :mod:`reports.sections`, one module per section;
this module assembles them.

Rules the view keeps:

- Numbers shown are rounded half up: standings (0-100) to whole numbers, consensus, spread and
  gaps to one decimal. ``None`` means "no value" (the index did not score the subject, or too
  few indices did for a consensus).
- Standing rows are all subjects, highest consensus first; subjects without a consensus come
  last in roster order. Equal consensus shares a rank. Past a size the standing is shortened and
  the full one goes into a CSV file (:mod:`reports.sections.standing`): a view holds a Python
  object for the subjects it shows, not for the whole roster.
- A cell is marked as the dissenter only for a flagged subject (spread above the threshold):
  with no real disagreement there is no odd one out worth pointing at.
- Opted-out subjects are a count, never a name or an id.
- Outside text (subject names, vendor messages) is kept as plain text; escaping is the
  renderer's job. Vendor messages are cut to :data:`~reports.sections.health.MAX_MESSAGE_CHARS`.
- Nothing depends on the clock or on the order failures arrived in, so the same outcome gives
  the same view.
"""

from __future__ import annotations

import weakref
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version

import numpy as np
from numpy.typing import NDArray

from aggregator.analytics.outcome import RunOutcome
from aggregator.models import subject_ids
from reports.sections._common import SummaryLine, View, Wording, half_up, index_label, points_text
from reports.sections.agreement import AgreementView, agreement_view
from reports.sections.changes import MAX_MOVERS, ChangesView, changes_view
from reports.sections.disagreements import (
    Disagreement,
    LoneTopicRow,
    disagreement_rows,
    disputed_rows,
    explanations,
    lone_topics,
)
from reports.sections.headline import Headline, headline_view, story_line, summary_lines
from reports.sections.health import (
    MAX_FAILURES,
    FailureRow,
    IndexView,
    failure_rows,
    fault_examples,
    faults_of,
    health_for,
    in_report_order,
    index_view,
    latency_text,
    problem_lines,
)
from reports.sections.inversions import InversionsView, inversions_view
from reports.sections.method import MethodView, method_view
from reports.sections.people import PeopleView, people_view
from reports.sections.standing import (
    SHORTLIST_PAST,
    StandingRow,
    shortlist_note,
    shortlist_rows,
    standing_rows,
    standing_where,
)

_DIST_NAME = "influence-aggregator"
#: bins of 5 points over the spread's 0-100 range
SPREAD_BINS = 20


class Meta(View):
    """What the report is about: the run, its size and the method used."""

    title: str
    run_id: str
    #: ISO 8601, UTC, to the second (``2024-05-01T12:00:00Z``)
    started_at: str
    #: the same instant for people (``2024-05-01 12:00 UTC``)
    started_text: str
    finished_at: str | None
    finished_text: str | None
    generated_by: str
    subjects: int
    indices: int
    #: roster entries left out because they opted out: a count, never names
    opted_out: int
    #: of those, how many had their stored history erased by this run
    forgotten: int = 0
    #: set when the run collected one part of a roster (``aggregator run --shard``): what it means
    shard: str | None = None
    method: str
    #: what a 0-100 standing means under this method, for column headers
    standing_label: str
    threshold: float
    threshold_text: str
    #: set when the standing lists only some subjects (see :mod:`reports.sections.standing`): which, and where
    #: the rest are
    shortlist: str | None = None
    #: the CSV file beside the report that holds the full standing (a name relative to the report), when
    #: the standing is shortened and the report was written to a file (:mod:`reports.standing_csv`)
    standing_csv: str | None = None


class SectionInfo(View):
    """One section of the report: its anchor, its title and what it means for a non-statistician."""

    id: str
    title: str
    meaning: str


class ReportView(View):
    meta: Meta
    #: the sections this report has, in order (those without data are left out)
    sections: tuple[SectionInfo, ...]
    headline: Headline
    summary: tuple[SummaryLine, ...]
    indices: tuple[IndexView, ...]
    #: every subject up to :data:`~reports.sections.standing.SHORTLIST_PAST`, else a shortlist (see ``meta.shortlist``)
    standing: tuple[StandingRow, ...]
    #: how many subjects have each spread, in bins of 5 points (0-5, ..., 95-100), over the whole roster
    spread_bins: tuple[int, ...] = ()
    disagreements: tuple[Disagreement, ...]
    #: how many subjects are flagged in all (the list holds at most MAX_DISAGREEMENTS)
    flagged_total: int
    failures: tuple[FailureRow, ...]
    #: every subject an index did not score: coverage gaps ("not found") and faults together
    failures_total: int
    #: of those, the coverage gaps (the index does not know the subject) and the faults (errors)
    not_found_total: int
    faults_total: int
    #: failures left out of the list (beyond MAX_FAILURES)
    failures_more: int
    method: MethodView
    #: the analytics sections, present only when the comparison computed them
    inversions: InversionsView | None = None
    agreement: AgreementView | None = None
    changes: ChangesView | None = None
    #: topics only one index attributes to a subject (the "influential about bacon" claims)
    lone_topics: tuple[LoneTopicRow, ...] = ()
    #: how many runs the longest per-subject consensus history covers (0: no history to show)
    history_runs: int = 0
    #: each index against people's judgments, present only when judgments were given
    people: PeopleView | None = None


# --- the whole report -------------------------------------------------------------------------


def generated_by() -> str:
    try:
        return f"{_DIST_NAME} {version(_DIST_NAME)}"
    except PackageNotFoundError:
        return f"{_DIST_NAME} dev"


def _iso(moment: datetime) -> tuple[str, str]:
    if moment.tzinfo is None:  # naive times are UTC by our convention
        moment = moment.replace(tzinfo=UTC)
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ"), moment.strftime("%Y-%m-%d %H:%M UTC")


#: Section anchors, titles and one-line meanings, in report order.
SECTIONS: dict[str, tuple[str, str]] = {
    "headline": (
        "Headline",
        "The few things worth knowing from this run, in plain words.",
    ),
    "standing": (
        "Relative standing",
        "Where each subject stands among the others on each index, from 0 (lowest) to 100 "
        "(highest); the consensus is the middle of those standings, so one odd index cannot "
        "move it far.",
    ),
    "disagreements": (
        "Disagreements",
        "Subjects the indices rate very differently, and the index that is the odd one out: "
        "treat any single index's verdict on these people with care.",
    ),
    "inversions": (
        "Pairwise inversions",
        "Pairs of subjects that two indices put in opposite order, by a wide margin: which of "
        "the two is 'more influential' depends on whom you ask.",
    ),
    "agreement": (
        "Agreement between indices",
        "How much each pair of indices ranks people the same way: 1 means the same order, 0 "
        "no relation, below 0 opposite orders.",
    ),
    "people": (
        "Agreement with people",
        "How often each index puts first the person that people judged more influential, on pairs "
        "people compared: 50% is a coin toss, 100% agrees every time. Two indices really differ "
        "only when their intervals do not overlap.",
    ),
    "changes": (
        "Changes since the last run",
        "Who moved up or down relative to the others since the previous run, and which indices "
        "changed their whole scale (a rescale moves raw scores, not standings).",
    ),
    "health": (
        "Index health",
        "Whether each index answered: how many subjects it scored, what failed and how often "
        "we had to retry. Gaps here make the other sections less certain.",
    ),
    "method": (
        "Method",
        "How scores on different scales were made comparable, and what each index says it measures.",
    ),
}


def _sections(present: set[str]) -> tuple[SectionInfo, ...]:
    return tuple(
        SectionInfo(id=key, title=title, meaning=meaning)
        for key, (title, meaning) in SECTIONS.items()
        if key in present
    )


def _shard(outcome: RunOutcome) -> str | None:
    shard = outcome.run.shard
    if shard is None:
        return None
    return (f"shard {shard.index} of {shard.count} of a roster of {shard.size:,}: standings are among this "
            f"shard's subjects only; `aggregator export` joins the {shard.count} shards into one run")


def _meta(outcome: RunOutcome, wording: Wording) -> Meta:
    comparison = outcome.comparison
    started, started_text = _iso(outcome.run.started_at)
    finished, finished_text = (
        _iso(outcome.run.finished_at) if outcome.run.finished_at else (None, None)
    )
    return Meta(
        title=outcome.title, run_id=outcome.run.id, started_at=started, started_text=started_text,
        finished_at=finished, finished_text=finished_text, generated_by=generated_by(),
        subjects=len(outcome.subjects), indices=len(comparison.table.specs),
        opted_out=outcome.opted_out, forgotten=int(getattr(outcome, "forgotten", 0)), shard=_shard(outcome),
        method=comparison.method, standing_label=wording.label,
        threshold=comparison.threshold, threshold_text=points_text(comparison.threshold),
    )


def _standing_shown(outcome: RunOutcome, disputed: list[int]) -> tuple[NDArray[np.intp] | None, str | None]:
    """The rows the standing shows (None: all) and, when it is shortened, the note that says so."""
    total = len(outcome.subjects)
    if total <= SHORTLIST_PAST:
        return None, None
    shifts = getattr(outcome.comparison, "shifts", None)
    movers = [] if shifts is None else [int(i) for i in shifts.movers[:MAX_MOVERS]]
    shown = shortlist_rows(outcome.comparison, [*disputed, *movers])
    return shown, shortlist_note(len(shown), total, standing_where(total, None))


def _spread_bins(spread: NDArray[np.float64]) -> tuple[int, ...]:
    """How many subjects have each spread, in bins of 5 points; the last bin holds 100 too."""
    known = spread[~np.isnan(spread)]
    counts = np.bincount(np.clip((known // 5).astype(np.int64), 0, SPREAD_BINS - 1), minlength=SPREAD_BINS)
    return tuple(int(c) for c in counts)


#: the last outcome a view was built for, and that view with no CSV named
_last_built: tuple[weakref.ref[RunOutcome], int, ReportView] | None = None


def build_view(outcome: RunOutcome, *, standing_csv: str | None = None) -> ReportView:
    """Everything a renderer needs from a finished run, rounded, labelled and ordered.

    Past :data:`~reports.sections.standing.SHORTLIST_PAST` subjects the standing is shortened;
    ``standing_csv`` names the CSV file beside the report that holds all of it, when the caller
    writes one (:func:`reports.standing_csv.write_report`).

    Every section's figures are computed once per outcome: a run that writes its report and then
    mails it (``aggregator run`` with recipients, ``aggregator deliver``) asks for the view of the
    same outcome twice, and gets the one already built, with only the CSV's name set anew. The
    outcome is held by a weak reference, so the memo never keeps a run alive.
    """
    global _last_built
    size = SHORTLIST_PAST  # part of the key: the benchmark's baseline changes it to build a full page
    last = _last_built
    if last is not None and last[0]() is outcome and last[1] == size:
        view = last[2]
    else:
        view = _built_view(outcome)
        _last_built = (weakref.ref(outcome), size, view)
    if standing_csv is None or view.meta.shortlist is None:
        return view
    total = view.meta.subjects
    note = shortlist_note(len(view.standing), total, standing_where(total, standing_csv))
    return view.model_copy(update={"meta": view.meta.model_copy(update={"standing_csv": standing_csv,
                                                                        "shortlist": note})})


def _built_view(outcome: RunOutcome) -> ReportView:
    """The view with no CSV named (:func:`build_view` names it)."""
    comparison = outcome.comparison
    table = comparison.table
    subjects = outcome.subjects
    if tuple(subject_ids(subjects)) != table.subject_ids:
        raise ValueError(
            "outcome.subjects must be aligned with comparison.table.subject_ids "
            f"({len(subjects)} subjects vs {len(table.subject_ids)} rows)"
        )
    wording = Wording(comparison.method)
    labels = [spec.label or index_label(spec.name) for spec in table.specs]
    # the listed failures are the first MAX_FAILURES in report order; each index's examples come from its faults
    ordered = in_report_order(outcome.failures, subjects, table.index_names, limit=MAX_FAILURES)
    faults = in_report_order(faults_of(outcome.failures), subjects, table.index_names)
    indices = tuple(
        index_view(
            comparison.method, spec, health_for(comparison, j, spec), fault_examples(faults, spec.name),
            latency_text(outcome.timing.get(spec.name)),
        )
        for j, spec in enumerate(table.specs)
    )
    standing = half_up(comparison.normalized, 0)
    disputed = disputed_rows(comparison)
    disagreements = disagreement_rows(comparison, subjects, labels, standing, wording, disputed)
    explained = explanations(outcome, disputed, labels, wording)
    if explained:
        disagreements = [
            d.model_copy(update=dict(zip(("explanation", "components"), explained[i], strict=True)))
            if i in explained else d
            for i, d in zip(disputed, disagreements, strict=True)
        ]
    problems = problem_lines(indices, outcome.failures)
    summary = summary_lines(comparison, subjects, disagreements, problems, wording)
    listed = failure_rows(ordered, subjects, dict(zip(table.index_names, labels, strict=True)))
    inversions = inversions_view(comparison, subjects, labels, wording)
    agreement = agreement_view(comparison, labels)
    shown, note = _standing_shown(outcome, disputed)
    rows = tuple(standing_rows(comparison, subjects, outcome.history, shown))
    history = {row.subject_id: row.history for row in rows if row.history}
    changes, events = changes_view(comparison, subjects, labels, wording, history)
    present = {"headline", "standing", "disagreements", "health", "method"}
    present |= {name for name, part in (("inversions", inversions), ("agreement", agreement),
                                         ("changes", changes)) if part is not None}
    people = people_view(outcome.people, dict(zip(table.index_names, labels, strict=True)))
    if people is not None:
        present.add("people")
    return ReportView(
        meta=_meta(outcome, wording).model_copy(update={"shortlist": note}),
        sections=_sections(present),
        headline=headline_view(summary, disagreements, problems, events, story_line(comparison, len(subjects))),
        summary=tuple(summary),
        indices=indices,
        standing=rows,
        spread_bins=_spread_bins(comparison.spread),
        disagreements=tuple(disagreements),
        flagged_total=int(np.sum(comparison.flagged)),
        failures=tuple(listed),
        failures_total=len(outcome.failures),
        not_found_total=sum(index.not_found for index in indices),
        faults_total=sum(index.faults for index in indices),
        failures_more=len(outcome.failures) - len(listed),
        method=method_view(comparison.method, points_text(comparison.threshold), comparison.threshold_rule),
        inversions=inversions,
        agreement=agreement,
        changes=changes,
        lone_topics=tuple(lone_topics(comparison, subjects, labels)),
        history_runs=outcome.history.runs,
        people=people,
    )
