"""The headline, the ten-second read, and the summary lines it opens with (the text report shows
them as its summary): who leads, how much the indices disagree, the most striking disputes, and
index events and faults.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from aggregator.analytics.compare import Comparison
from aggregator.models import Subject
from reports.sections._common import SummaryLine, View, Wording, half_up, join, plural, points_text, top_rows
from reports.sections.agreement import strength
from reports.sections.disagreements import Disagreement

#: How many leaders the summary names.
SUMMARY_LEADERS = 3


class Headline(View):
    """The ten-second read: the story (agreement and disputes), who leads, the most striking disagreements,
    index events."""

    #: how much the indices agree overall and how many subjects are disputed
    story: str
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
    key = np.nan_to_num(comparison.consensus, nan=-1.0)
    # comparison.leaders(k), without sorting the whole roster for three rows
    leading = top_rows(key, min(SUMMARY_LEADERS, int(np.count_nonzero(key >= 0))))
    consensus = half_up(comparison.consensus[leading], 1)
    leaders = [f"{subjects[i].name} ({c:.1f})" for i, c in zip(leading.tolist(), consensus.tolist(), strict=True)]
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
    story = story_line(comparison, len(subjects))
    if story:
        lines.append(SummaryLine(text=story))
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
    events: Sequence[SummaryLine], story: str = "",
) -> Headline:
    disputes = tuple(
        f"{d.name} (spread {d.spread:.1f} points): {d.sentence}" for d in disagreements[:3]
    )
    return Headline(
        story=story,
        leaders=summary[0].text,
        disputes=disputes,
        events=tuple(events) + tuple(problems or [SummaryLine(text="Every index answered without faults.")]),
    )


def agreement_words(comparison: Comparison) -> str:
    """How much the indices agree overall, as the sentence that opens the disputes line ("" unknown)."""
    agreement = getattr(comparison, "agreement", None)
    alpha = float(agreement.alpha) if agreement is not None else float("nan")
    if not np.isfinite(alpha):
        return ""
    return f"The indices' overall agreement is {strength(alpha)} (Krippendorff's alpha {alpha:.2f}). "


def story_line(comparison: Comparison, n_subjects: int) -> str:
    """The run's story in one line: how much the indices agree, and how many subjects are disputed."""
    threshold = points_text(comparison.threshold)
    comparable = int(np.sum(~np.isnan(comparison.spread)))
    if not comparable:
        return ""
    n_flagged = int(np.sum(comparison.flagged))
    of = (
        plural(comparable, "subject")
        if comparable == n_subjects
        else f"the {plural(comparable, 'subject')} that two or more indices scored"
    )
    if n_flagged:
        unusual = ", further than is usual on this roster" if comparison.threshold_rule == "unusual" else ""
        text = f"{n_flagged:,} of {of} are disputed: their standings are more than {threshold} points apart{unusual}."
    else:
        text = f"No subject is disputed: no one's standings are more than {threshold} points apart ({of} compared)."
    return agreement_words(comparison) + text
