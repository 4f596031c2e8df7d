"""Agreement with people: how often each index, and the consensus, orders judged pairs as people did
(present only when judgments were given; see :mod:`aggregator.analytics.people`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from aggregator.analytics.people import FEW_PAIRS, IndexAgreement, PeopleAgreement
from reports.sections._common import View, join, plural

CONSENSUS_LABEL = "Consensus"


class PeopleRow(View):
    """One index (or the consensus) against people's judgments."""

    index: str
    is_consensus: bool
    #: judged pairs it scored both sides of
    n: int
    #: share agreeing with people, ties half, in whole percent (None without pairs)
    share: int | None
    #: the interval's ends, in whole percent (None with too few pairs for one)
    low: int | None
    high: int | None
    #: "74% (95% interval 69-79%)", or "no judged pair scored"
    text: str
    #: fitted on these judgments: its share is in-sample, not a test
    in_sample: bool
    #: fewer than FEW_PAIRS pairs: the share is rough and has no interval
    few: bool
    #: the other rows whose intervals do not overlap this one's
    differs_from: tuple[str, ...]
    #: the row as one line of prose, for text and email
    line: str


class PeopleView(View):
    #: best first; rows without pairs last
    rows: tuple[PeopleRow, ...]
    #: what the figures say, in a sentence or three
    sentences: tuple[str, ...]
    #: how the figures were computed (the interval's method)
    method: str
    #: the judgments file's name (no folder)
    source: str
    judged: int
    #: judged pairs naming a subject not in this run (not on the roster any more, or opted out)
    not_in_run: int
    #: rows of the file that could not be used (the log and `aggregator validate-config` list them)
    skipped: int
    judges: int
    #: where the pairs came from and which were not counted, as a sentence
    note: str


def _percent(value: float) -> int:
    return math.floor(value * 100 + 0.5)


def _row(entry: IndexAgreement, label: str, differs: tuple[str, ...], level: int) -> PeopleRow:
    fitted = " (in-sample: fitted on these judgments)" if entry.in_sample else ""
    if not entry.n:
        text = "no judged pair with both sides scored"
        return PeopleRow(index=label, is_consensus=entry.is_consensus, n=0, share=None, low=None, high=None,
                         text=text, in_sample=entry.in_sample, few=True, differs_from=(),
                         line=f"{label}{fitted}: {text}.")
    share = _percent(entry.share)
    few = math.isnan(entry.low)
    low, high = (None, None) if few else (_percent(entry.low), _percent(entry.high))
    text = f"{share}% (too few pairs for an interval)" if few else f"{share}% ({level}% interval {low}–{high}%)"
    apart = f"differs from {join(list(differs))}" if differs else "cannot be told apart from the others"
    line = f"{label}{fitted}: {text} of {plural(entry.n, 'judged pair')}; {apart}."
    return PeopleRow(
        index=label, is_consensus=entry.is_consensus, n=entry.n, share=share, low=low, high=high,
        text=text, in_sample=entry.in_sample, few=few, differs_from=differs, line=line,
    )


def _note(people: PeopleAgreement) -> str:
    by = f" by {plural(people.judges, 'judge')}" if people.judges else ""
    parts = [f"{plural(people.judged, 'judged pair')} from {people.source or 'the judgments'}{by}"]
    if people.not_in_run:
        one = people.not_in_run == 1
        parts.append(f"{people.not_in_run:,} {'names' if one else 'name'} a subject not in this run and "
                     f"{'is' if one else 'are'} not counted")
    if people.skipped:
        parts.append(f"{plural(people.skipped, 'row')} of the file could not be used "
                     "(`aggregator validate-config` lists them)")
    return "; ".join(parts) + "."


def _sentences(rows: tuple[PeopleRow, ...]) -> tuple[str, ...]:
    scored = [r for r in rows if r.n]
    if not scored:
        return ("No judged pair had both sides scored by any index, so no index can be checked against people.",)
    top = scored[0]
    out = [f"{top.index} orders judged pairs as people did most often: {top.share}% of {plural(top.n, 'pair')}."]
    others = scored[1:]
    below = [r.index for r in others if r.index in top.differs_from]
    close = [r.index for r in others if r.index not in top.differs_from]
    if below and close:
        out.append(f"Its interval does not overlap those of {join(below)}: it agrees with people more often than "
                   f"they do. The data cannot tell it apart from {join(close)}.")
    elif below:
        out.append("Its interval overlaps none of the others: it agrees with people more often than all of them.")
    elif close:
        out.append(f"The data cannot tell it apart from {join(close)}: their intervals overlap.")
    fitted = [r.index for r in scored if r.in_sample]
    if fitted:
        one = len(fitted) == 1
        out.append(f"{join(fitted)} {'was' if one else 'were'} fitted on these same judgments, so "
                   f"{'its figure is' if one else 'their figures are'} in-sample: a fit to them, not a test on "
                   "pairs never seen.")
        if any(r.is_consensus for r in scored):
            out.append(f"The consensus includes {'it' if one else 'them'}, so its figure is partly in-sample too.")
    if any(r.few for r in scored):
        out.append(f"Shares on fewer than {FEW_PAIRS} judged pairs are rough and get no interval; the data "
                   "cannot tell them apart from anything.")
    out.append("50% is what a coin toss would score; 100% means the order of every judged pair matches.")
    return tuple(out)


def people_view(people: PeopleAgreement | None, labels: Mapping[str, str]) -> PeopleView | None:
    """The section from the run's agreement with people; ``labels`` maps index names to how they read."""
    if people is None:
        return None
    level = _percent(people.level)
    ordered = people.best_first()

    def label(entry: IndexAgreement) -> str:
        return CONSENSUS_LABEL if entry.is_consensus else labels.get(entry.index, entry.index)

    rows = tuple(
        _row(entry, label(entry), tuple(label(o) for o in ordered if o is not entry and entry.differs_from(o)), level)
        for entry in ordered
    )
    method = (
        f"A judged pair counts for an index when it scored both people: 1 if it puts the people's winner higher, "
        f"½ if it gives both the same score, 0 if lower; the share is the mean. The {level}% interval is a "
        f"percentile bootstrap over the judged pairs ({people.resamples:,} resamples, fixed seed {people.seed}). "
        "Two orders differ when their intervals do not overlap; overlapping intervals do not make them equal. "
        "Each index is measured on the pairs it scored, so indices with different coverage are measured on "
        "partly different pairs."
    )
    return PeopleView(rows=rows, sentences=_sentences(rows), method=method, source=people.source,
                      judged=people.judged, not_in_run=people.not_in_run, skipped=people.skipped,
                      judges=people.judges, note=_note(people))


__all__ = ["CONSENSUS_LABEL", "PeopleRow", "PeopleView", "people_view"]
