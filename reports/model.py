"""The report's view-model: a run's numbers, rounded and put into words, ready to lay out.

:func:`build_view` is the only place a report computes anything. It takes a
:class:`~aggregator.analytics.outcome.RunOutcome` and returns a frozen :class:`ReportView` whose values are
already rounded, labelled and ordered, so templates only loop and format. Renderers never see
the arrays, and the JSON renderer can publish the view as it is.

Rules the view keeps:

- Numbers shown are rounded half up: standings (0-100) to whole numbers, consensus, spread and
  gaps to one decimal. ``None`` means "no value" (the index did not score the subject, or too
  few indices did for a consensus).
- Standing rows are all subjects, highest consensus first; subjects without a consensus come
  last in roster order. Equal consensus shares a rank.
- A cell is marked as the dissenter only for a flagged subject (spread above the threshold):
  with no real disagreement there is no odd one out worth pointing at.
- Opted-out subjects are a count, never a name or an id.
- Outside text (subject names, vendor messages) is kept as plain text; escaping is the
  renderer's job. Vendor messages are cut to :data:`MAX_MESSAGE_CHARS`.
- Nothing depends on the clock or on the order failures arrived in, so the same outcome gives
  the same view.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from typing import Literal

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict

from aggregator.analytics.compare import Comparison, IndexHealth, row_nanmedian
from aggregator.analytics.normalize import normalize
from aggregator.analytics.outcome import Components, IndexTiming, RunOutcome
from aggregator.models import Failure, FailureKind, IndexSpec, Subject

#: How many leaders the summary names.
SUMMARY_LEADERS = 3
#: How many of the widest flagged disagreements the report lists.
MAX_DISAGREEMENTS = 20
#: How many failures the report lists; the rest are counted.
MAX_FAILURES = 200
#: How many distinct fault messages each index shows as examples.
MAX_EXAMPLES = 3
#: A dissenting score is explained by its components only if it has at least this many.
MIN_COMPONENTS = 2
#: Vendor messages longer than this are cut (with an ellipsis).
MAX_MESSAGE_CHARS = 300

_DIST_NAME = "influence-aggregator"

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


class _View(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Meta(_View):
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
    method: str
    #: what a 0-100 standing means under this method, for column headers
    standing_label: str
    threshold: float
    threshold_text: str


class SummaryLine(_View):
    text: str
    tone: Literal["info", "problem"] = "info"


class SectionInfo(_View):
    """One section of the report: its anchor, its title and what it means for a non-statistician."""

    id: str
    title: str
    meaning: str


class Headline(_View):
    """The ten-second read: who leads, the most striking disagreements, index events."""

    leaders: str
    #: up to three sentences, most striking first
    disputes: tuple[str, ...]
    #: outages, failures, recalibrations and algorithm changes, in plain sentences
    events: tuple[SummaryLine, ...]


class KindCount(_View):
    kind: str
    label: str
    count: int
    #: False for coverage gaps (the index not knowing a subject)
    fault: bool


class IndexView(_View):
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


class Cell(_View):
    """One index's standing for one subject."""

    #: 0-100, rounded; None when the index did not score the subject
    standing: int | None
    #: width of the standing bar in percent (0-100), for inline styles
    bar: int
    #: the raw value as text, up to 2 decimals, no trailing zeros
    raw: str | None
    dissenter: bool


class StandingRow(_View):
    rank: int | None
    subject_id: str
    name: str
    synthetic: bool
    consensus: float | None
    n_indices: int
    spread: float | None
    flagged: bool
    #: aligned with :attr:`ReportView.indices`
    cells: tuple[Cell, ...]
    #: consensus over the last runs up to this one, oldest first, rounded (None: not scored
    #: that run); empty unless the subject was scored in two runs at least
    history: tuple[int | None, ...] = ()


class IndexStanding(_View):
    index: str
    standing: int | None
    dissenter: bool


class Disagreement(_View):
    subject_id: str
    name: str
    spread: float
    #: label of the index farthest from the others; None with only two indices
    dissenter: str | None
    #: how far the dissenter is from the median of the others (points)
    gap: float | None
    #: the others' median standing, rounded
    others: int | None
    #: aligned with :attr:`ReportView.indices`
    standings: tuple[IndexStanding, ...]
    sentence: str
    #: which of the dissenting index's own components explains its score, when it has components
    explanation: str | None = None


class FailureRow(_View):
    index: str
    #: the subject's name, or "whole index"
    subject: str
    whole_index: bool
    kind: str
    kind_label: str
    fault: bool
    attempts: int
    message: str


class MethodView(_View):
    name: str
    title: str
    paragraphs: tuple[str, ...]


class InversionRow(_View):
    """Index ``by`` puts ``above`` over ``below``; index ``against`` says the opposite."""

    above: str
    below: str
    by: str
    against: str
    #: standings under each index, rounded: (above, below)
    by_standings: tuple[int, int]
    against_standings: tuple[int, int]
    sentence: str


class InversionsView(_View):
    rows: tuple[InversionRow, ...]
    #: how many inversions the comparison found (the list holds at most MAX_INVERSIONS)
    total: int


class AgreementCell(_View):
    #: Kendall's tau-b, two decimals; None when undefined
    kendall: float | None
    spearman: float | None
    #: subjects both indices scored
    n: int
    #: the 95% interval of tau-b as text ("0.55 to 0.69"), when known
    interval: str | None
    #: colour step (a fixed token, safe as a CSS class): neg, a0 ... a4, na, self
    level: str


class AgreementRow(_View):
    index: str
    cells: tuple[AgreementCell, ...]
    #: mean tau-b with the other indices
    mean: float | None


class AgreementView(_View):
    columns: tuple[str, ...]
    rows: tuple[AgreementRow, ...]
    #: Krippendorff's alpha (interval metric, on percentiles), two decimals
    alpha: float | None
    #: one sentence each: overall agreement, the outlier, robustness, activity meters
    sentences: tuple[str, ...]
    outlier: str | None


class Sparkline(_View):
    """A small line of a subject's consensus over past runs, drawn without script."""

    #: SVG polyline points in a SPARK_WIDTH x SPARK_HEIGHT box (0-100 mapped top to bottom)
    points: str
    #: the same figures in words, for screen readers and plain text
    text: str
    #: the line as block characters for terminals and mail, one per run (see :func:`spark_chars`)
    chars: str
    #: the first and last known figures, ``41→78``
    ends: str

    @property
    def compact(self) -> str:
        """``▂▄▅▇ 41→78``: the characters, then the first and last figures."""
        return f"{self.chars} {self.ends}"


SPARK_WIDTH, SPARK_HEIGHT = 80, 20
#: block heights for 0-100, lowest first (eight equal bands), and the mark for a run without a score
SPARK_BLOCKS, SPARK_GAP = "▁▂▃▄▅▆▇█", "·"


class MoverRow(_View):
    name: str
    before: float | None
    after: float | None
    change: float
    sentence: str
    trend: Sparkline | None = None


class IndexShiftRow(_View):
    index: str
    compared: int
    median_shift: str
    rank_corr: str
    version: str
    event: bool
    sentence: str


class ChangesView(_View):
    previous_run: str | None
    movers: tuple[MoverRow, ...]
    movers_total: int
    threshold_text: str
    indices: tuple[IndexShiftRow, ...]
    new_subjects: int


class LoneTopicRow(_View):
    name: str
    index: str
    topic: str


class ReportView(_View):
    meta: Meta
    #: the sections this report has, in order (those without data are left out)
    sections: tuple[SectionInfo, ...]
    headline: Headline
    summary: tuple[SummaryLine, ...]
    indices: tuple[IndexView, ...]
    standing: tuple[StandingRow, ...]
    disagreements: tuple[Disagreement, ...]
    #: how many subjects are flagged in all (the list holds at most MAX_DISAGREEMENTS)
    flagged_total: int
    failures: tuple[FailureRow, ...]
    failures_total: int
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


# --- small formatting helpers -----------------------------------------------------------------


def ordinal(n: int) -> str:
    """``1st``, ``2nd``, ``3rd``, ``11th``, ``92nd``.

    >>> [ordinal(n) for n in (1, 2, 3, 4, 11, 12, 13, 21, 92, 100)]
    ['1st', '2nd', '3rd', '4th', '11th', '12th', '13th', '21st', '92nd', '100th']
    """
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def raw_text(value: float) -> str | None:
    """A raw score as text: up to 2 decimals, trailing zeros dropped.

    >>> [raw_text(v) for v in (61.5, 700.0, 0.126, -0.001, float("nan"))]
    ['61.5', '700', '0.13', '0', None]
    """
    if not np.isfinite(value):
        return None
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def index_label(name: str) -> str:
    """How an index name (a config key) reads in prose: ``empire_avenue`` -> ``Empire Avenue``."""
    return " ".join(part.capitalize() for part in name.replace("-", " ").replace("_", " ").split())


def _half_up(values: NDArray[np.float64], digits: int) -> NDArray[np.float64]:
    scale = 10.0**digits
    return np.floor(values * scale + 0.5) / scale


def _opt_float(value: float) -> float | None:
    return None if np.isnan(value) else float(value)


def _clip_message(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_MESSAGE_CHARS else text[: MAX_MESSAGE_CHARS - 1] + "…"


def _iso(moment: datetime) -> tuple[str, str]:
    if moment.tzinfo is None:  # naive times are UTC by our convention
        moment = moment.replace(tzinfo=UTC)
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ"), moment.strftime("%Y-%m-%d %H:%M UTC")


def _plural(n: int, word: str, words: str | None = None) -> str:
    return f"{n:,} {word if n == 1 else (words or word + 's')}"


def _join(items: Sequence[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def generated_by() -> str:
    try:
        return f"{_DIST_NAME} {version(_DIST_NAME)}"
    except PackageNotFoundError:
        return f"{_DIST_NAME} dev"


# --- method wording ---------------------------------------------------------------------------


class _Wording:
    """How standings read under one normalization method."""

    def __init__(self, method: str) -> None:
        self.percentile = method == "percentile"

    @property
    def label(self) -> str:
        return "percentile" if self.percentile else "score (0-100)"

    @property
    def plural(self) -> str:
        return "percentiles" if self.percentile else "0-100 scores"

    def at(self, standing: int) -> str:
        return f"at the {ordinal(standing)} percentile" if self.percentile else f"at {standing} of 100"

    def near(self, standing: int) -> str:
        return f"near the {ordinal(standing)}" if self.percentile else f"near {standing}"

    def bare(self, standing: int) -> str:
        return f"at the {ordinal(standing)}" if self.percentile else f"at {standing}"


def _normalization(method: str, spec: IndexSpec) -> str:
    flip = "" if spec.higher_is_better else "; lower is better, so the order is flipped"
    if method == "percentile":
        return f"percentile among the subjects it scored{flip}"
    if method == "range":
        if spec.scale.bounded:
            return f"documented scale {spec.scale.describe()} mapped onto 0-100{flip}"
        return f"no documented upper limit: log-range over this cohort{flip}"
    return f"normalized with the {method!r} method{flip}"


def _method(method: str, threshold: str) -> MethodView:
    if method == "percentile":
        title = "Relative standing (percentiles)"
        how = (
            "Every index uses its own scale, and vendors move their scales when they change "
            "their algorithms, so raw scores cannot be compared with each other or over time. "
            "This report shows relative standing instead: for each index, a subject's "
            "percentile says where they stand among the subjects that index scored, from 0 "
            "(lowest) to 100 (highest); ties share the middle place. The 90th percentile means "
            "ahead of about 90% of this group on that index. Where a lower score is better, "
            "the order is flipped, so 100 always means most influential. A vendor "
            "recalibrating its whole scale does not move anyone's percentile."
        )
    elif method == "range":
        title = "Documented scales mapped to 0-100"
        how = (
            "Each index's documented scale is mapped straight onto 0-100: the bottom of the "
            "scale becomes 0 and the top 100. An index with no upper limit (a follower count, a "
            "share price) is put on a logarithmic 0-100 range across this group instead: the "
            "lowest scored subject is 0, the highest 100, and each doubling counts the same. "
            "Where a lower score is better, the scale is flipped, so 100 always means most "
            "influential. Unlike percentiles, these numbers move when a vendor recalibrates "
            "its scale."
        )
    else:
        title = f"Method {method!r}"
        how = (
            f"Scores were brought to a common 0-100 scale with the {method!r} method, where "
            "100 always means most influential."
        )
    consensus = (
        "Consensus is the middle value (median) of a subject's standings across the indices "
        "that scored them, so one odd index cannot drag it far. It needs at least two indices."
    )
    spread = (
        "Spread is the gap, in points, between the highest and the lowest standing a subject "
        f"gets. Subjects whose spread is above {threshold} points are flagged as disputed; with "
        "three or more indices, the index farthest from the others' median is marked as the "
        "odd one out."
    )
    return MethodView(name=method, title=title, paragraphs=(how, consensus, spread))


# --- sections ---------------------------------------------------------------------------------

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


def _component_percentiles(components: Components) -> NDArray[np.float64]:
    """An index's components as percentiles within the cohort, ``[subjects × components]``."""
    specs = [IndexSpec(name=f"c{j}") for j in range(len(components.names))]
    return normalize(components.values, specs, "percentile") if components.names else components.values


def _explanations(
    outcome: RunOutcome, rows: Sequence[int], labels: Sequence[str], wording: _Wording
) -> dict[int, str]:
    """For each disputed row whose dissenting index has components, the component behind it.

    Descriptive, not causal: among the dissenter's own components (each as a standing in the
    cohort), the one lowest for this subject when the index rates them below the others,
    highest when above.
    """
    comparison = outcome.comparison
    if not outcome.components or not rows:
        return {}
    table = comparison.table
    cache: dict[int, tuple[tuple[str, ...], NDArray[np.float64]]] = {}
    out: dict[int, str] = {}
    for i in rows:
        d = int(comparison.dissenter[i])
        if d < 0:
            continue
        if d not in cache:
            given = outcome.components.get(table.specs[d].name, Components((), np.empty((0, 0))))
            cache[d] = given.names, _component_percentiles(given)
        names, pct = cache[d]
        mine = pct[i] if names else np.zeros(0)
        known = [k for k in range(len(names)) if not np.isnan(mine[k])]
        if len(known) < MIN_COMPONENTS:
            continue
        others = comparison.normalized[i].copy()
        others[d] = np.nan
        middle = float(row_nanmedian(others[None, :])[0])
        below = comparison.normalized[i, d] < middle
        pick = min(known, key=lambda k: mine[k]) if below else max(known, key=lambda k: mine[k])
        if (mine[pick] >= middle) if below else (mine[pick] <= middle):
            continue  # no component pulls the way the index does: nothing to point at
        rounded = _half_up(mine, 0)
        rest = [
            f"{index_label(names[k]).lower()} {wording.bare(int(rounded[k]))}" for k in known if k != pick
        ]
        text = (
            f"Of {labels[d]}'s components, {index_label(names[pick]).lower()} is "
            f"{'lowest' if below else 'highest'} for them ({wording.at(int(rounded[pick]))})"
        )
        out[i] = text + (f"; {_join(rest)}." if rest else ".")
    return out


def _headline(
    summary: Sequence[SummaryLine], disagreements: Sequence[Disagreement], problems: Sequence[SummaryLine],
    events: Sequence[SummaryLine],
) -> Headline:
    disputes = tuple(
        f"{d.name} (spread {d.spread:.1f} points): {d.sentence}" for d in disagreements[:3]
    )
    return Headline(
        leaders=summary[0].text,
        disputes=disputes,
        events=tuple(events) + tuple(problems or [SummaryLine(text="Every index answered without faults.")]),
    )


# --- analytics sections (present only when the comparison computed them) -----------------------

#: how many inversions, movers and lone topic claims the report lists
MAX_INVERSIONS = 20
MAX_MOVERS = 20
MAX_LONE_TOPICS = 20


def _r2(value: float) -> float | None:
    return None if not np.isfinite(value) else float(np.floor(value * 100 + 0.5) / 100)


def _inversions_view(
    comparison: Comparison, subjects: Sequence[Subject], labels: Sequence[str], wording: _Wording
) -> InversionsView | None:
    found = getattr(comparison, "inversions", None)
    if not found:
        return None
    standing = _half_up(comparison.normalized, 0)
    rows = []
    for inv in list(found)[:MAX_INVERSIONS]:
        a, b = subjects[inv.above].name, subjects[inv.below].name
        by = (int(standing[inv.above, inv.by]), int(standing[inv.below, inv.by]))
        against = (int(standing[inv.above, inv.against]), int(standing[inv.below, inv.against]))
        sentence = (
            f"{labels[inv.by]} puts {a} above {b} ({by[0]} vs {by[1]}); "
            f"{labels[inv.against]} puts {b} above {a} ({against[1]} vs {against[0]})."
        )
        rows.append(InversionRow(
            above=a, below=b, by=labels[inv.by], against=labels[inv.against],
            by_standings=by, against_standings=against, sentence=sentence,
        ))
    return InversionsView(rows=tuple(rows), total=len(found))


def _level(value: float | None) -> str:
    if value is None:
        return "na"
    if value < 0:
        return "neg"
    return f"a{min(int(value * 5), 4)}"


def _strength(alpha: float) -> str:
    if alpha >= 0.8:
        return "strong"
    if alpha >= 0.667:
        return "fair"
    if alpha >= 0.4:
        return "moderate"
    return "weak" if alpha >= 0 else "none (worse than chance)"


def _agreement_view(comparison: Comparison, labels: Sequence[str]) -> AgreementView | None:
    agreement = getattr(comparison, "agreement", None)
    if agreement is None:
        return None
    k = len(labels)
    kendall_ci = getattr(agreement, "kendall_ci", None)
    rows = []
    for i in range(k):
        cells = []
        for j in range(k):
            tau, rho = _r2(float(agreement.kendall[i, j])), _r2(float(agreement.spearman[i, j]))
            interval = None
            if kendall_ci is not None and i != j:
                lo, hi = _r2(float(kendall_ci[i, j, 0])), _r2(float(kendall_ci[i, j, 1]))
                interval = f"{lo:.2f} to {hi:.2f}" if lo is not None and hi is not None else None
            cells.append(AgreementCell(
                kendall=tau, spearman=rho, n=int(agreement.n[i, j]), interval=interval,
                level="self" if i == j else _level(tau),
            ))
        rows.append(AgreementRow(index=labels[i], cells=tuple(cells), mean=_r2(float(agreement.mean_kendall[i]))))
    alpha = _r2(float(agreement.alpha))
    sentences = []
    if alpha is not None:
        sentences.append(
            f"Overall agreement (Krippendorff's alpha on the {k} indices' percentiles): {alpha:.2f}, "
            f"{_strength(alpha)}; 1 would mean every index gives everyone the same standing."
        )
    outlier = labels[agreement.outlier] if 0 <= agreement.outlier < k else None
    if outlier is not None:
        o = agreement.outlier
        without = _r2(float(agreement.alpha_without[o]))
        mean = rows[o].mean
        text = f"{outlier} agrees least with the others (mean tau-b {mean:.2f})" if mean is not None else (
            f"{outlier} agrees least with the others")
        if without is not None and alpha is not None:
            text += f"; without it, alpha would be {without:.2f} instead of {alpha:.2f}"
        sentences.append(text + ".")
    robustness = getattr(comparison, "robustness", None)
    if robustness is not None and 0 <= robustness.most_influential < k:
        m = robustness.most_influential
        rho = _r2(float(robustness.rho_without[m]))
        shift = float(robustness.median_shift[m])
        if rho is not None:
            sentences.append(
                f"Leaving out {labels[m]} changes the consensus most: its order then correlates "
                f"{rho:.2f} with the full consensus, and a subject's consensus moves by "
                f"{shift:.1f} points (median)."
            )
    fingerprint = getattr(comparison, "fingerprint", None)
    if fingerprint is not None:
        meters = fingerprint.activity_meter
        for j, name in enumerate(fingerprint.indices):
            if j < len(meters) and meters[j]:
                label = labels[j] if j < k else index_label(name)
                act, resp = _r2(float(fingerprint.activity[j])), _r2(float(fingerprint.response[j]))
                feature = fingerprint.activity_feature[j] or "posting volume"
                answer = fingerprint.response_feature[j] or "the response received"
                resp_text = f"{resp:.2f}" if resp is not None else "n/a"
                sentences.append(
                    f"{label} behaves like an activity meter: it follows {index_label(feature).lower()} "
                    f"(rho = {act:.2f}) more than {index_label(answer).lower()} (rho = {resp_text})."
                )
    return AgreementView(
        columns=tuple(labels), rows=tuple(rows), alpha=alpha, sentences=tuple(sentences), outlier=outlier,
    )


def _signed(value: float, digits: int = 1) -> str:
    return f"{value:+.{digits}f}".replace("-", "−")


def spark_chars(history: Sequence[int | None]) -> str:
    """One block character per run on the same 0-100 scale as the drawn line, :data:`SPARK_GAP` where
    a run did not score the subject. The only place points become characters (text and email).

    >>> spark_chars([0, 12, 13, 50, None, 87, 88, 100])
    '▁▁▂▅·▇██'
    """
    top = len(SPARK_BLOCKS) - 1
    return "".join(
        SPARK_GAP if v is None else SPARK_BLOCKS[min(max(v * len(SPARK_BLOCKS) // 100, 0), top)] for v in history
    )


def sparkline(history: Sequence[int | None]) -> Sparkline | None:
    """Points for a subject's consensus history (oldest first; None where a run did not score them).

    >>> sparkline([50, None, 100]).points
    '0.0,10.0 80.0,0.0'
    >>> sparkline([50, None, 100]).text
    'consensus over the last 3 runs, oldest first: 50, not scored, 100'
    >>> sparkline([50, None, 100]).compact
    '▅·█ 50→100'
    """
    known = [(k, v) for k, v in enumerate(history) if v is not None]
    if len(known) < 2:
        return None
    step = SPARK_WIDTH / (len(history) - 1)
    points = " ".join(f"{k * step:.1f},{(100 - v) / 100 * SPARK_HEIGHT:.1f}" for k, v in known)
    words = ", ".join("not scored" if v is None else str(v) for v in history)
    return Sparkline(
        points=points, text=f"consensus over the last {len(history)} runs, oldest first: {words}",
        chars=spark_chars(history), ends=f"{known[0][1]}→{known[-1][1]}",
    )


def _changes_view(
    comparison: Comparison, subjects: Sequence[Subject], labels: Sequence[str], wording: _Wording,
    history: Mapping[str, Sequence[int | None]],
) -> tuple[ChangesView | None, list[SummaryLine]]:
    shifts = getattr(comparison, "shifts", None)
    if shifts is None:
        return None, []
    consensus = comparison.consensus
    movers = []
    for row in list(shifts.movers)[:MAX_MOVERS]:
        i = int(row)
        change = float(shifts.movement[i])
        now = _opt_float(float(_half_up(consensus[i : i + 1], 1)[0]))
        before_raw = consensus[i] - shifts.consensus_change[i]
        before = _opt_float(float(_half_up(np.array([before_raw]), 1)[0]))
        rounded = float(_half_up(np.array([abs(change)]), 1)[0])
        direction = "up" if change > 0 else "down"
        # movement is the median change over the indices that scored them both times; the
        # consensus can move by a different amount, so it is given as its own figure
        span = f"; consensus {before:.1f} → {now:.1f}" if before is not None and now is not None else ""
        movers.append(MoverRow(
            name=subjects[i].name, before=before, after=now, change=float(np.sign(change) * rounded),
            sentence=f"{subjects[i].name} moved {direction} {rounded:.1f} points in the typical index{span}.",
            trend=sparkline(history.get(subjects[i].id, ())),
        ))
    rows: list[IndexShiftRow] = []
    events: list[SummaryLine] = []
    label_of = dict(zip(comparison.table.index_names, labels, strict=True))
    for shift in shifts.indices:
        label = label_of.get(shift.index, index_label(shift.index))
        median = "—" if not np.isfinite(shift.median_shift) else _signed(shift.median_shift, 2)
        pct = "" if not np.isfinite(shift.median_shift_pct) else f" ({_signed(shift.median_shift_pct)}%)"
        corr = "—" if not np.isfinite(shift.rank_corr) else f"{shift.rank_corr:.2f}"
        version = (
            f"{shift.version_before} → {shift.version_after}" if shift.version_changed else shift.version_after
        )
        parts = []
        if shift.recalibrated:
            parts.append(
                f"{label} rescaled: median {median}{pct} in its own units, relative standing unchanged "
                f"(rank correlation with the last run {corr}). Nobody's influence changed with it."
            )
        if shift.version_changed:
            parts.append(f"{label} changed its algorithm (version {shift.version_before} → {shift.version_after}).")
        sentence = " ".join(parts) or (
            f"{label}: median raw change {median}{pct}; rank correlation with the last run {corr}."
        )
        rows.append(IndexShiftRow(
            index=label, compared=shift.n, median_shift=median + pct, rank_corr=corr, version=version,
            event=shift.is_event, sentence=sentence,
        ))
        events.extend(SummaryLine(text=text) for text in parts)
    view = ChangesView(
        previous_run=shifts.previous_run, movers=tuple(movers), movers_total=len(shifts.movers),
        threshold_text=f"{shifts.mover_threshold:g}", indices=tuple(rows), new_subjects=int(np.sum(shifts.new)),
    )
    return view, events


def _lone_topics(comparison: Comparison, subjects: Sequence[Subject], labels: Sequence[str]) -> list[LoneTopicRow]:
    topics = getattr(comparison, "topics", None)
    if topics is None:
        return []
    return [
        LoneTopicRow(name=subjects[t.row].name, index=labels[t.index], topic=t.topic)
        for t in list(topics.lone)[:MAX_LONE_TOPICS]
    ]


# --- the view ---------------------------------------------------------------------------------


def _health_for(comparison: Comparison, j: int, spec: IndexSpec) -> IndexHealth:
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
                f"{_plural(timing.requests, 'request')} in {_duration(timing.seconds)}")
    return f"collected in {_duration(timing.seconds)}"


def _index_view(
    method: str, spec: IndexSpec, health: IndexHealth, examples: tuple[str, ...], latency: str | None = None,
) -> IndexView:
    direction = "higher is better" if spec.higher_is_better else "lower is better"
    pct = float(_half_up(np.array([health.coverage * 100.0]), 1)[0])
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


def _problems(indices: Sequence[IndexView], failures: Sequence[Failure]) -> list[SummaryLine]:
    whole = {(f.index, f.kind) for f in failures if f.subject_id is None}
    lines = []
    for index in indices:
        for count in index.failures:
            kind = FailureKind(count.kind)
            if not count.fault:
                continue
            if (index.name, kind) in whole or count.count >= index.asked:
                scope = "for every subject"
            else:
                scope = f"for {count.count:,} of {_plural(index.asked, 'subject')}"
            text = _FAULT_SENTENCES[kind].format(index=index.label, scope=scope)
            lines.append(SummaryLine(text=text, tone="problem"))
        if index.scored == 0 and not index.faults:
            lines.append(SummaryLine(text=f"{index.label} scored none of the subjects.", tone="problem"))
    return lines


def _ranks(order: NDArray[np.intp], consensus: NDArray[np.float64]) -> list[int | None]:
    """Competition ranks ("1, 2, 2, 4") along ``order``; None where there is no consensus."""
    ranks: list[int | None] = []
    previous = np.nan
    rank = 0
    for position, row in enumerate(order, start=1):
        value = consensus[row]
        if np.isnan(value):
            ranks.append(None)
            continue
        if value != previous:
            rank, previous = position, value
        ranks.append(rank)
    return ranks


def _disagreements(
    comparison: Comparison,
    subjects: Sequence[Subject],
    labels: Sequence[str],
    standing: NDArray[np.float64],
    wording: _Wording,
) -> list[Disagreement]:
    rows = [int(i) for i in comparison.most_disputed(MAX_DISAGREEMENTS) if comparison.flagged[i]]
    if not rows:
        return []
    normalized = comparison.normalized[rows]
    dissenters = comparison.dissenter[rows]
    others_all = normalized.copy()
    has = dissenters >= 0
    others_all[np.flatnonzero(has), dissenters[has]] = np.nan
    others = _half_up(row_nanmedian(others_all), 0)
    out = []
    for k, i in enumerate(rows):
        name = subjects[i].name
        d = int(dissenters[k])
        cells = standing[i]
        if d >= 0:
            sentence = (
                f"{labels[d]} puts {name} {wording.at(int(cells[d]))}; "
                f"the others put them {wording.near(int(others[k]))}."
            )
        else:  # two indices: neither is the odd one out
            known = sorted(
                (j for j in range(len(labels)) if not np.isnan(cells[j])), key=lambda j: -cells[j]
            )
            first, *rest = known
            tail = "; ".join(f"{labels[j]} puts them {wording.bare(int(cells[j]))}" for j in rest)
            sentence = f"{labels[first]} puts {name} {wording.at(int(cells[first]))}; {tail}."
        out.append(
            Disagreement(
                subject_id=subjects[i].id,
                name=name,
                spread=float(_half_up(comparison.spread[i : i + 1], 1)[0]),
                dissenter=labels[d] if d >= 0 else None,
                gap=float(_half_up(comparison.dissent_gap[i : i + 1], 1)[0]) if d >= 0 else None,
                others=int(others[k]) if d >= 0 else None,
                standings=tuple(
                    IndexStanding(index=labels[j], standing=_opt_int(cells[j]), dissenter=j == d)
                    for j in range(len(labels))
                ),
                sentence=sentence,
            )
        )
    return out


def _opt_int(value: float) -> int | None:
    return None if np.isnan(value) else int(value)


def _in_report_order(
    failures: Sequence[Failure], subjects: Sequence[Subject], index_names: Sequence[str]
) -> list[Failure]:
    """Index by index, faults before coverage gaps, then kind, then roster order.

    Failures arrive in whatever order the fetches finished; sorting them keeps the report the
    same for the same run.
    """
    position = {s.id: n for n, s in enumerate(subjects)}
    column = {name: j for j, name in enumerate(index_names)}

    def key(f: Failure) -> tuple[int, str, bool, int, int, str]:
        subject = -1 if f.subject_id is None else position.get(f.subject_id, len(position))
        return (
            column.get(f.index, len(column)), f.index, f.kind.is_coverage_gap,
            _KIND_ORDER[f.kind], subject, f.message,
        )

    return sorted(failures, key=key)


def _examples(failures: Sequence[Failure], index: str) -> tuple[str, ...]:
    """The first few distinct fault messages of one index, in report order."""
    messages = (
        _clip_message(f.message)
        for f in failures
        if f.index == index and not f.kind.is_coverage_gap
    )
    return tuple(dict.fromkeys(messages))[:MAX_EXAMPLES]


def _failure_rows(
    ordered: Sequence[Failure], subjects: Sequence[Subject], labels: Mapping[str, str]
) -> list[FailureRow]:
    names = {s.id: s.name for s in subjects}
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


def _standing_rows(
    comparison: Comparison, subjects: Sequence[Subject], history: Mapping[str, tuple[float, ...]] | None = None,
) -> list[StandingRow]:
    """All subjects, highest consensus first; every number rounded once, vectorized."""
    past = {sid: tuple(_opt_int(v) for v in _half_up(np.array(points, dtype=np.float64), 0))
            for sid, points in (history or {}).items()}
    standing = _half_up(comparison.normalized, 0)
    bars = np.clip(np.nan_to_num(standing, nan=0.0), 0, 100).astype(np.int64)
    consensus = _half_up(comparison.consensus, 1)
    spread = _half_up(comparison.spread, 1)
    flagged = comparison.flagged
    dissent = np.zeros(standing.shape, dtype=bool)
    marked = np.flatnonzero(flagged & (comparison.dissenter >= 0))
    dissent[marked, comparison.dissenter[marked]] = True
    raws = [[raw_text(v) for v in row] for row in comparison.table.raw.tolist()]

    order = np.argsort(-np.nan_to_num(comparison.consensus, nan=-np.inf), kind="stable")
    columns = range(standing.shape[1])
    rows = []
    for rank, i in zip(_ranks(order, comparison.consensus), order.tolist(), strict=True):
        subject = subjects[i]
        rows.append(
            StandingRow(
                rank=rank, subject_id=subject.id, name=subject.name, synthetic=subject.synthetic,
                consensus=_opt_float(consensus[i]), n_indices=int(comparison.n_indices[i]),
                spread=_opt_float(spread[i]), flagged=bool(flagged[i]),
                cells=tuple(
                    Cell(
                        standing=_opt_int(standing[i, j]), bar=int(bars[i, j]),
                        raw=raws[i][j], dissenter=bool(dissent[i, j]),
                    )
                    for j in columns
                ),
                history=past.get(subject.id, ()),
            )
        )
    return rows


def _summary(
    comparison: Comparison,
    subjects: Sequence[Subject],
    disagreements: Sequence[Disagreement],
    problems: Sequence[SummaryLine],
    wording: _Wording,
) -> list[SummaryLine]:
    threshold = f"{comparison.threshold:g}"
    consensus = _half_up(comparison.consensus, 1)
    leaders = [
        f"{subjects[i].name} ({consensus[i]:.1f})" for i in comparison.leaders(SUMMARY_LEADERS)
    ]
    if leaders:
        lines = [
            SummaryLine(
                text=(
                    f"Leading by consensus (the middle of the indices' {wording.plural}): "
                    f"{_join(leaders)}."
                )
            )
        ]
    else:
        lines = [
            SummaryLine(text="No subject was scored by enough indices (two) to have a consensus.")
        ]
    comparable = int(np.sum(~np.isnan(comparison.spread)))
    n_flagged = int(np.sum(comparison.flagged))
    if comparable:
        of = (
            _plural(comparable, "subject")
            if comparable == len(subjects)
            else f"the {_plural(comparable, 'subject')} that two or more indices scored"
        )
        if n_flagged:
            text = (
                f"The indices disagree sharply on {n_flagged:,} of {of}: standings more than "
                f"{threshold} points apart."
            )
        else:
            text = (
                "The indices broadly agree: no subject's standings are more than "
                f"{threshold} points apart ({of} compared)."
            )
        lines.append(SummaryLine(text=text))
    if disagreements:
        top = disagreements[0]
        lines.append(
            SummaryLine(
                text=f"Most disputed: {top.name} (spread {top.spread:.1f} points). {top.sentence}"
            )
        )
    lines.extend(problems or [SummaryLine(text="Every index answered without faults.")])
    return lines


def _meta(outcome: RunOutcome, wording: _Wording) -> Meta:
    comparison = outcome.comparison
    started, started_text = _iso(outcome.run.started_at)
    finished, finished_text = (
        _iso(outcome.run.finished_at) if outcome.run.finished_at else (None, None)
    )
    return Meta(
        title=outcome.title, run_id=outcome.run.id, started_at=started, started_text=started_text,
        finished_at=finished, finished_text=finished_text, generated_by=generated_by(),
        subjects=len(outcome.subjects), indices=len(comparison.table.specs),
        opted_out=outcome.opted_out, forgotten=int(getattr(outcome, "forgotten", 0)),
        method=comparison.method, standing_label=wording.label,
        threshold=comparison.threshold, threshold_text=f"{comparison.threshold:g}",
    )


def build_view(outcome: RunOutcome) -> ReportView:
    """Everything a renderer needs from a finished run, rounded, labelled and ordered."""
    comparison = outcome.comparison
    table = comparison.table
    subjects = outcome.subjects
    if tuple(s.id for s in subjects) != table.subject_ids:
        raise ValueError(
            "outcome.subjects must be aligned with comparison.table.subject_ids "
            f"({len(subjects)} subjects vs {len(table.subject_ids)} rows)"
        )
    wording = _Wording(comparison.method)
    position = {sid: i for i, sid in enumerate(table.subject_ids)}
    labels = [spec.label or index_label(spec.name) for spec in table.specs]
    ordered = _in_report_order(outcome.failures, subjects, table.index_names)
    indices = tuple(
        _index_view(
            comparison.method, spec, _health_for(comparison, j, spec), _examples(ordered, spec.name),
            latency_text(outcome.timing.get(spec.name)),
        )
        for j, spec in enumerate(table.specs)
    )
    standing = _half_up(comparison.normalized, 0)
    disagreements = _disagreements(comparison, subjects, labels, standing, wording)
    explained = _explanations(outcome, [position[d.subject_id] for d in disagreements], labels, wording)
    if explained:
        disagreements = [
            d.model_copy(update={"explanation": explained.get(position[d.subject_id])}) for d in disagreements
        ]
    problems = _problems(indices, outcome.failures)
    summary = _summary(comparison, subjects, disagreements, problems, wording)
    failure_rows = _failure_rows(ordered, subjects, dict(zip(table.index_names, labels, strict=True)))
    inversions = _inversions_view(comparison, subjects, labels, wording)
    agreement = _agreement_view(comparison, labels)
    standing_rows = tuple(_standing_rows(comparison, subjects, outcome.history))
    history = {row.subject_id: row.history for row in standing_rows if row.history}
    changes, events = _changes_view(comparison, subjects, labels, wording, history)
    present = {"headline", "standing", "disagreements", "health", "method"}
    present |= {name for name, part in (("inversions", inversions), ("agreement", agreement),
                                         ("changes", changes)) if part is not None}
    return ReportView(
        meta=_meta(outcome, wording),
        sections=_sections(present),
        headline=_headline(summary, disagreements, problems, events),
        summary=tuple(summary),
        indices=indices,
        standing=standing_rows,
        disagreements=tuple(disagreements),
        flagged_total=int(np.sum(comparison.flagged)),
        failures=tuple(failure_rows),
        failures_total=len(outcome.failures),
        failures_more=len(outcome.failures) - len(failure_rows),
        method=_method(comparison.method, f"{comparison.threshold:g}"),
        inversions=inversions,
        agreement=agreement,
        changes=changes,
        lone_topics=tuple(_lone_topics(comparison, subjects, labels)),
        history_runs=max((len(r.history) for r in standing_rows), default=0),
    )
