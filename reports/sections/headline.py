"""The headline, the ten-second read, and the summary lines it opens with (the text report shows
them as its summary): who leads, how much the indices disagree, the most striking disputes, and
index events and faults.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from aggregator.analytics.compare import Comparison
from aggregator.models import Subject
from reports.sections._common import SummaryLine, View, Wording, half_up, join, plural
from reports.sections.disagreements import Disagreement

#: How many leaders the summary names.
SUMMARY_LEADERS = 3


class Headline(View):
    """The ten-second read: who leads, the most striking disagreements, index events."""

    leaders: str
    #: up to three sentences, most striking first
    disputes: tuple[str, ...]
    #: outages, failures, recalibrations and algorithm changes, in plain sentences
    events: tuple[SummaryLine, ...]


def summary_lines(
    comparison: Comparison,
    subjects: Sequence[Subject],
    disagreements: Sequence[Disagreement],
    problems: Sequence[SummaryLine],
    wording: Wording,
) -> list[SummaryLine]:
    threshold = f"{comparison.threshold:g}"
    consensus = half_up(comparison.consensus, 1)
    leaders = [
        f"{subjects[i].name} ({consensus[i]:.1f})" for i in comparison.leaders(SUMMARY_LEADERS)
    ]
    if leaders:
        lines = [
            SummaryLine(
                text=(
                    f"Leading by consensus (the middle of the indices' {wording.plural}): "
                    f"{join(leaders)}."
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
            plural(comparable, "subject")
            if comparable == len(subjects)
            else f"the {plural(comparable, 'subject')} that two or more indices scored"
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


def headline_view(
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
